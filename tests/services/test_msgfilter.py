"""System message filters: which parts of a message go and which stay."""

from __future__ import annotations

import pytest

from esp_at_sim.services.msgfilter import FilterPatternError, MessageFilter


def f(head: bytes, tail: bytes, cflags: int = 0) -> MessageFilter:
    return MessageFilter.compile(head, tail, cflags)


@pytest.mark.parametrize(
    ("flt", "data", "left"),
    [
        # the spec's case: head matches data[0..i], tail data[j..n-1] -> data[i+1..j-1]
        (f(b"^+HTTPCGET:[0-9]*,", b"\r\n$"), b"+HTTPCGET:5,hello\r\n", b"hello"),
        (f(b"", b"\r\nOK\r\n$"), b"\r\nOK\r\n", b""),
        (f(b"^WIFI CONNECTED\r\n", b""), b"WIFI CONNECTED\r\n", b""),
        # unanchored: the matched spans go, the rest stays as it is
        (f(b"SYSMSG:", b""), b"+SYSMSG:0\r\n", b"+0\r\n"),
        (f(b"a", b"c"), b"xaybcz", b"xybz"),
        # the tail is looked for after the head
        (f(b"^ab", b"b"), b"abxb", b"x"),
        # no match: untouched (None)
        (f(b"^+IPD", b""), b"WIFI GOT IP\r\n", None),
        (f(b"^W", b"Z$"), b"WIFI\r\n", None),
    ],
)
def test_match(flt: MessageFilter, data: bytes, left: bytes | None) -> None:
    assert flt.match(data) == left


def test_bad_patterns_say_which_part() -> None:
    with pytest.raises(FilterPatternError) as info:
        f(b"ok", b"\\(")
    assert info.value.part == "tail"
    assert info.value.code == "REG_EPAREN"
