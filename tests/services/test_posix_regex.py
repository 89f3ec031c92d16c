"""POSIX regcomp/regexec semantics on top of Python ``re``."""

from __future__ import annotations

import pytest

from esp_at_sim.services.posix_regex import REG_EXTENDED, REG_ICASE, REG_NEWLINE, PosixRegexError, compile_posix

BRE, ERE = 0, REG_EXTENDED


@pytest.mark.parametrize(
    ("pattern", "flags", "data", "match"),
    [
        # BRE: + ? | { } ( ) are ordinary characters
        (b"^+HTTPCGET:[0-9]*,", BRE, b"+HTTPCGET:1024,data", b"+HTTPCGET:1024,"),
        (b"a+b", BRE, b"xa+by", b"a+b"),
        (b"a|b", BRE, b"a|b", b"a|b"),
        (b"(x)", BRE, b"(x)", b"(x)"),
        (b"a{2}", BRE, b"a{2}", b"a{2}"),
        # BRE operators: \( \) \{ \} and back-references
        (b"\\(ab\\)\\1", BRE, b"xxabab", b"abab"),
        (b"a\\{2,3\\}", BRE, b"aaaa", b"aaa"),
        (b"a\\{2,\\}", BRE, b"aaaaa", b"aaaaa"),
        # * first is literal; ^ only first and $ only last are anchors
        (b"*a", BRE, b"x*a", b"*a"),
        (b"a^b", BRE, b"a^b", b"a^b"),
        (b"a$b", BRE, b"a$b", b"a$b"),
        (b"\\(^a\\)", BRE, b"ab", b"a"),
        # ERE
        (b"(ab|cd)+", ERE, b"xabcdab", b"abcdab"),
        (b"a{2}", ERE, b"aaa", b"aa"),
        (b"a{x", ERE, b"a{x", b"a{x"),
        (b"colou?r", ERE, b"color", b"color"),
        (b"\\(", ERE, b"(", b"("),
        # brackets: ] first, classes, a literal backslash, negation
        (b"[]x]+", ERE, b"a]x]b", b"]x]"),
        (b"[[:digit:]]+", ERE, b"ab123c", b"123"),
        (b"[\\]", BRE, b"a\\b", b"\\"),
        (b"[^a]", BRE, b"a\n", b"\n"),
        # newlines: . matches one unless REG_NEWLINE; $ is the very end unless REG_NEWLINE
        (b"a.b", BRE, b"a\nb", b"a\nb"),
        (b"\r\n$", BRE, b"x\r\nOK\r\n", b"\r\n"),
        (b"^OK", BRE | REG_NEWLINE, b"x\r\nOK\r\n", b"OK"),
        (b"x$", ERE | REG_NEWLINE, b"ax\nb", b"x"),
        # case
        (b"wifi connected", BRE | REG_ICASE, b"WIFI CONNECTED\r\n", b"WIFI CONNECTED"),
    ],
)
def test_matches(pattern: bytes, flags: int, data: bytes, match: bytes | None) -> None:
    m = compile_posix(pattern, flags).search(data)
    assert (m.group(0) if m else None) == match


@pytest.mark.parametrize(
    ("pattern", "flags", "data"),
    [
        (b"^OK", BRE, b"x\r\nOK\r\n"),  # ^ is the start of the data only
        (b"x$", BRE, b"x\n"),  # Python's $ would match before the newline
        (b"[^a]", BRE | REG_NEWLINE, b"a\n"),
        (b"a.b", BRE | REG_NEWLINE, b"a\nb"),
        (b"Wifi", BRE, b"WIFI"),
    ],
)
def test_does_not_match(pattern: bytes, flags: int, data: bytes) -> None:
    assert compile_posix(pattern, flags).search(data) is None


@pytest.mark.parametrize(
    ("pattern", "flags", "code"),
    [
        (b"\\(a", BRE, "REG_EPAREN"),
        (b"a\\)", BRE, "REG_EPAREN"),
        (b"(a", ERE, "REG_EPAREN"),
        (b"a)", ERE, "REG_EPAREN"),
        (b"[a", BRE, "REG_EBRACK"),
        (b"[[:nope:]]", BRE, "REG_ECTYPE"),
        (b"[z-a]", BRE, "REG_ERANGE"),
        (b"a\\{3,2\\}", BRE, "REG_BADBR"),
        (b"a\\{1", BRE, "REG_EBRACE"),
        (b"a{256}", ERE, "REG_BADBR"),
        (b"\\1", BRE, "REG_ESUBREG"),
        (b"*a", ERE, "REG_BADRPT"),
        (b"a||b", ERE, "REG_EMPTY"),
        (b"()", ERE, "REG_EMPTY"),
        (b"", ERE, "REG_EMPTY"),
        (b"ab\\", BRE, "REG_EESCAPE"),
    ],
)
def test_regcomp_errors(pattern: bytes, flags: int, code: str) -> None:
    with pytest.raises(PosixRegexError) as info:
        compile_posix(pattern, flags)
    assert info.value.code == code
