"""POSIX regular expressions (``regcomp``) translated to Python ``re``.

Theory of operation
-------------------
The firmware compiles AT+SYSMSGFILTERCFG patterns with newlib's ``regcomp``
(Henry Spencer's implementation). :func:`compile_posix` parses a pattern the
way that implementation does and emits an equivalent Python pattern over
bytes, so a pattern the chip rejects is rejected here too (:class:`PosixRegexError`
carries the ``REG_*`` error name).

Basic syntax (default): ``\\( \\)`` group, ``\\{m,n\\}`` interval, ``\\1``-``\\9``
back-references, ``*`` is literal at the start of an expression, ``^`` is an
anchor only first and ``$`` only last (of the whole pattern or a group), and
``+ ? | { } ( )`` are ordinary characters. ``REG_EXTENDED`` switches to
extended syntax: ``( ) | + ? {m,n}`` are operators, ``^``/``$`` anchor
anywhere and ``\\c`` is the character ``c``.

Bracket expressions are shared: ``]`` first is literal, a backslash is
literal, ``[:class:]``, ``[=c=]`` and ``[.c.]`` are understood.

Flags: ``REG_ICASE`` ignores case; ``REG_NEWLINE`` makes ``.`` and ``[^...]``
stop at ``\\n`` and lets ``^``/``$`` match at line boundaries; without it
``.`` matches a newline and ``^``/``$`` match only at the ends of the data.

Known difference: POSIX picks the longest of the leftmost matches, Python the
first found; they differ only for alternations such as ``(a|ab)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REG_EXTENDED = 1
REG_ICASE = 2
REG_NEWLINE = 4
DUP_MAX = 255

_CLASSES: dict[bytes, bytes] = {
    b"alpha": rb"a-zA-Z",
    b"digit": rb"0-9",
    b"alnum": rb"0-9a-zA-Z",
    b"upper": rb"A-Z",
    b"lower": rb"a-z",
    b"space": rb" \t\n\r\f\v",
    b"blank": rb" \t",
    b"punct": re.escape(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    b"print": rb"\x20-\x7e",
    b"graph": rb"\x21-\x7e",
    b"cntrl": rb"\x00-\x1f\x7f",
    b"xdigit": rb"0-9A-Fa-f",
}


class PosixRegexError(ValueError):
    """``regcomp`` would fail; ``code`` is the ``REG_*`` name."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass
class _Item:
    text: bytes
    quantifiable: bool = True
    quantified: bool = False


def _lit(c: int) -> bytes:
    return re.escape(bytes([c]))


class _Parser:
    def __init__(self, pattern: bytes, cflags: int) -> None:
        self.p = pattern
        self.i = 0
        self.extended = bool(cflags & REG_EXTENDED)
        self.newline = bool(cflags & REG_NEWLINE)
        self.groups = 0
        self.closed: set[int] = set()

    # ------------------------------------------------------------ helpers
    def more(self) -> bool:
        return self.i < len(self.p)

    def peek(self, k: int = 0) -> int | None:
        j = self.i + k
        return self.p[j] if j < len(self.p) else None

    def bol(self) -> bytes:
        return rb"(?m:^)" if self.newline else rb"\A"

    def eol(self) -> bytes:
        return rb"(?m:$)" if self.newline else rb"\Z"

    def any_char(self) -> bytes:
        return rb"[^\n]" if self.newline else rb"(?s:.)"

    @staticmethod
    def quantify(items: list[_Item], q: bytes) -> None:
        last = items[-1]
        if last.quantified:
            last.text = b"(?:" + last.text + b")" + q
        else:
            last.text = last.text + q
        last.quantified = True

    # ------------------------------------------------------------ brackets
    def bracket(self) -> bytes:
        """Parse after ``[`` up to and including ``]``."""
        negate = False
        if self.peek() == 0x5E:  # ^
            negate = True
            self.i += 1
        parts: list[bytes] = []
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise PosixRegexError("REG_EBRACK", "unterminated bracket expression")
            if c == 0x5D and not first:  # ]
                self.i += 1
                break
            first = False
            start = self.element()
            if isinstance(start, bytes):  # [:class:]
                parts.append(start)
                continue
            if self.peek() == 0x2D and self.peek(1) not in (0x5D, None):  # a range a-z
                self.i += 1
                end = self.element()
                if isinstance(end, bytes):
                    raise PosixRegexError("REG_ERANGE", "class as range end")
                if end < start:
                    raise PosixRegexError("REG_ERANGE", "range out of order")
                parts.append(_lit(start) + b"-" + _lit(end))
            else:
                parts.append(_lit(start))
        body = b"".join(parts)
        if negate:
            if self.newline:
                body += rb"\n"
            return b"[^" + body + b"]"
        return b"[" + body + b"]"

    def element(self) -> int | bytes:
        """One element of a bracket expression: a byte, or the body of a class."""
        c = self.p[self.i]
        if c == 0x5B and self.peek(1) in (0x3A, 0x3D, 0x2E):  # [: [= [.
            kind = self.p[self.i + 1]
            end = self.p.find(bytes([kind, 0x5D]), self.i + 2)
            if end < 0:
                raise PosixRegexError("REG_EBRACK", "unterminated [: [= or [.")
            name = self.p[self.i + 2 : end]
            self.i = end + 2
            if kind == 0x3A:
                if name not in _CLASSES:
                    raise PosixRegexError("REG_ECTYPE", f"unknown class {name!r}")
                return _CLASSES[name]
            if len(name) != 1:
                raise PosixRegexError("REG_ECOLLATE", f"unknown collating element {name!r}")
            return name[0]
        self.i += 1
        return c

    # ------------------------------------------------------------ intervals
    def interval(self, closing: bytes) -> bytes:
        """Parse ``m``, ``m,`` or ``m,n`` and the closing ``}`` / ``\\}``."""
        m = re.match(rb"(\d+)(,(\d*))?", self.p[self.i :])
        if m is None:
            raise PosixRegexError("REG_BADBR", "interval needs a count")
        self.i += m.end()
        if not self.p.startswith(closing, self.i):
            raise PosixRegexError("REG_EBRACE", "unterminated interval")
        self.i += len(closing)
        lo = int(m.group(1))
        hi = None if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
        if lo > DUP_MAX or (hi is not None and hi > DUP_MAX) or (hi is not None and hi >= 0 and hi < lo):
            raise PosixRegexError("REG_BADBR", "bad interval")
        if hi is None:
            return b"{%d}" % lo
        if hi < 0:
            return b"{%d,}" % lo
        return b"{%d,%d}" % (lo, hi)

    # ------------------------------------------------------------ basic syntax
    def bre(self, depth: int) -> bytes:
        items: list[_Item] = []
        start = True
        while self.more():
            c = self.p[self.i]
            if c == 0x5C and self.peek(1) == 0x29:  # \)
                if depth == 0:
                    raise PosixRegexError("REG_EPAREN", "unmatched \\)")
                break
            if start and c == 0x5E:  # ^ first
                self.i += 1
                items.append(_Item(self.bol(), quantifiable=False))
                continue
            at_end = self.i == len(self.p) - 1 or self.p.startswith(b"\\)", self.i + 1)
            if c == 0x24 and at_end:  # $ last
                self.i += 1
                items.append(_Item(self.eol(), quantifiable=False))
                continue
            if c == 0x2A:  # *
                self.i += 1
                if not items or not items[-1].quantifiable:
                    items.append(_Item(_lit(c)))  # literal at the start
                else:
                    self.quantify(items, b"*")
                start = False
                continue
            if c == 0x5C:
                nxt = self.peek(1)
                if nxt is None:
                    raise PosixRegexError("REG_EESCAPE", "trailing backslash")
                self.i += 2
                if nxt == 0x28:  # \(
                    self.groups += 1
                    n = self.groups
                    inner = self.bre(depth + 1)
                    if not self.p.startswith(b"\\)", self.i):
                        raise PosixRegexError("REG_EPAREN", "unmatched \\(")
                    self.i += 2
                    self.closed.add(n)
                    items.append(_Item(b"(" + inner + b")"))
                elif nxt == 0x7B:  # \{
                    if not items or not items[-1].quantifiable:
                        raise PosixRegexError("REG_BADRPT", "interval without an atom")
                    self.quantify(items, self.interval(b"\\}"))
                elif 0x31 <= nxt <= 0x39:  # \1..\9
                    n = nxt - 0x30
                    if n not in self.closed:
                        raise PosixRegexError("REG_ESUBREG", f"no group {n}")
                    items.append(_Item(b"(?:\\%d)" % n))
                else:
                    items.append(_Item(_lit(nxt)))
                start = False
                continue
            self.i += 1
            if c == 0x2E:
                items.append(_Item(self.any_char()))
            elif c == 0x5B:
                items.append(_Item(self.bracket()))
            else:
                items.append(_Item(_lit(c)))
            start = False
        return b"".join(it.text for it in items)

    # --------------------------------------------------------- extended syntax
    def ere(self, depth: int) -> bytes:
        branches: list[bytes] = []
        items: list[_Item] = []
        while self.more():
            c = self.p[self.i]
            if c == 0x29:  # )
                if depth == 0:
                    raise PosixRegexError("REG_EPAREN", "unmatched )")
                break
            self.i += 1
            if c == 0x7C:  # |
                if not items:
                    raise PosixRegexError("REG_EMPTY", "empty alternative")
                branches.append(b"".join(it.text for it in items))
                items = []
                continue
            is_interval = c == 0x7B and self.peek() is not None and 0x30 <= (self.peek() or 0) <= 0x39
            if c in (0x2A, 0x2B, 0x3F) or is_interval:  # * + ? {
                if not items or not items[-1].quantifiable:
                    raise PosixRegexError("REG_BADRPT", "repetition without an atom")
                self.quantify(items, self.interval(b"}") if is_interval else bytes([c]))
                continue
            if c == 0x28:  # (
                self.groups += 1
                n = self.groups
                inner = self.ere(depth + 1)
                if self.peek() != 0x29:
                    raise PosixRegexError("REG_EPAREN", "unmatched (")
                self.i += 1
                if not inner:
                    raise PosixRegexError("REG_EMPTY", "empty group")
                self.closed.add(n)
                items.append(_Item(b"(" + inner + b")"))
            elif c == 0x5E:
                items.append(_Item(self.bol(), quantifiable=False))
            elif c == 0x24:
                items.append(_Item(self.eol(), quantifiable=False))
            elif c == 0x2E:
                items.append(_Item(self.any_char()))
            elif c == 0x5B:
                items.append(_Item(self.bracket()))
            elif c == 0x5C:
                nxt = self.peek()
                if nxt is None:
                    raise PosixRegexError("REG_EESCAPE", "trailing backslash")
                self.i += 1
                items.append(_Item(_lit(nxt)))
            else:
                items.append(_Item(_lit(c)))
        if branches:
            if not items:
                raise PosixRegexError("REG_EMPTY", "empty alternative")
            branches.append(b"".join(it.text for it in items))
            return b"(?:" + b"|".join(branches) + b")"
        return b"".join(it.text for it in items)


def translate(pattern: bytes, cflags: int = 0) -> bytes:
    """The Python pattern (bytes) equivalent to a POSIX ``pattern``."""
    parser = _Parser(pattern, cflags)
    out = parser.ere(0) if parser.extended else parser.bre(0)
    if parser.more():
        raise PosixRegexError("REG_EPAREN", "unmatched group end")
    return out


def compile_posix(pattern: bytes, cflags: int = 0) -> re.Pattern[bytes]:
    """Compile like ``regcomp(pattern, cflags)``; raises :class:`PosixRegexError`."""
    if not pattern and cflags & REG_EXTENDED:
        raise PosixRegexError("REG_EMPTY", "empty pattern")
    flags = re.IGNORECASE if cflags & REG_ICASE else 0
    try:
        return re.compile(translate(pattern, cflags), flags)
    except re.error as exc:  # a construct the translation let through
        raise PosixRegexError("REG_BADPAT", str(exc)) from None
