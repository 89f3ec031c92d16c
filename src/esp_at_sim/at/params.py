"""Parameters of a set command: tokenizing and typed validation.

Theory of operation
-------------------
``tokenize`` splits the bytes after ``=`` into tokens following the rules of the
spec's "AT Command Types": parameters are separated by ``,``; strings are in
double quotes, inside which ``\\`` escapes the next byte (``\\,`` ``\\"`` ``\\\\``,
and ``\\<any>`` drops the backslash); an empty field is an omitted parameter.
Numbers are decimal (optionally signed) or ``0x`` hexadecimal.

A command declares its parameters as a list of :class:`Param` (``Int``,
``Str``, ``Float``, ``Hex``...). :func:`bind` checks count, type, range and
length and raises the ``AtError`` whose code the firmware prints after
``ERR CODE:`` with AT+SYSLOG=1:

* more parameters than declared, or fewer than required: ``ParamCount``
  (expected << 8 | given);
* a number where a string is declared or the reverse: ``ParamTypeMismatch``;
* a required parameter left empty, an unterminated string: ``ParamParseFail``;
* a value out of range or not among the choices: ``ParamInvalid``;
* a string longer than allowed: ``ParamLength``.

Indices in error extensions are 0-based, as in ``esp_at_core.h``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from esp_at_sim.errors import (
    ParamCount,
    ParamInvalid,
    ParamLength,
    ParamParseFail,
    ParamTypeMismatch,
)


class Kind(Enum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BARE = "bare"  # unquoted text that is not a number
    OMITTED = "omitted"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    raw: bytes  # the field as written (for numbers) or the unescaped string
    value: int | float | bytes | None = None


class TokenizeError(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


_INT_LIMIT = 1 << 64


def _number(raw: bytes) -> Token:
    text = raw.strip(b" ")
    try:
        s = text.decode("ascii")
    except UnicodeDecodeError:
        return Token(Kind.BARE, raw)
    body = s[1:] if s[:1] in "+-" else s
    try:
        if body[:2].lower() == "0x" and len(body) > 2:
            v = int(s, 16)
        elif body.isdigit():
            v = int(s, 10)
        else:
            raise ValueError
    except ValueError:
        try:
            if body and any(c in body for c in ".eE") and not any(c.isalpha() and c not in "eE" for c in body):
                return Token(Kind.FLOAT, raw, float(s))
        except ValueError:
            pass
        return Token(Kind.BARE, raw)
    if abs(v) >= _INT_LIMIT:
        return Token(Kind.BARE, raw)
    return Token(Kind.INT, raw, v)


def tokenize(args: bytes) -> list[Token]:
    """Split the argument bytes of a set command into tokens.

    Raises :class:`TokenizeError` with the 0-based index of a malformed
    parameter (unterminated string, garbage after a closing quote).
    """
    tokens: list[Token] = []
    i = 0
    n = len(args)
    index = 0
    while True:
        if i < n and args[i] == 0x22:  # '"'
            i += 1
            out = bytearray()
            closed = False
            while i < n:
                c = args[i]
                if c == 0x5C:  # backslash
                    if i + 1 >= n:
                        raise TokenizeError(index)
                    out.append(args[i + 1])
                    i += 2
                    continue
                if c == 0x22:
                    closed = True
                    i += 1
                    break
                out.append(c)
                i += 1
            if not closed:
                raise TokenizeError(index)
            if i < n and args[i] != 0x2C:
                raise TokenizeError(index)
            tokens.append(Token(Kind.STR, bytes(out), bytes(out)))
        else:
            j = args.find(b",", i)
            if j < 0:
                j = n
            field = args[i:j]
            if field == b"":
                tokens.append(Token(Kind.OMITTED, b""))
            elif b'"' in field:
                raise TokenizeError(index)
            else:
                tokens.append(_number(field))
            i = j
        if i >= n:
            break
        # args[i] is a comma
        i += 1
        index += 1
        if i == n:
            tokens.append(Token(Kind.OMITTED, b""))
            break
    return tokens


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Param:
    """Base of the declared parameter types. ``default`` MISSING = required."""

    name: str
    default: Any = MISSING

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def convert(self, token: Token, index: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class Int(Param):
    lo: int | None = None
    hi: int | None = None
    choices: tuple[int, ...] | None = None

    def convert(self, token: Token, index: int) -> int:
        if token.kind is not Kind.INT:
            raise ParamTypeMismatch(index)
        v = token.value
        assert isinstance(v, int)
        if self.choices is not None and v not in self.choices:
            raise ParamInvalid(index)
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise ParamInvalid(index)
        return v

    def describe(self) -> str:
        if self.choices is not None:
            return "(" + ",".join(str(c) for c in self.choices) + ")"
        if self.lo is not None and self.hi is not None:
            return f"({self.lo}-{self.hi})"
        return self.name


@dataclass(frozen=True)
class Float(Param):
    lo: float | None = None
    hi: float | None = None

    def convert(self, token: Token, index: int) -> float:
        if token.kind not in (Kind.INT, Kind.FLOAT):
            raise ParamTypeMismatch(index)
        v = float(token.value)  # type: ignore[arg-type]
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise ParamInvalid(index)
        return v


@dataclass(frozen=True)
class Str(Param):
    """A quoted string. Yields bytes, or str (UTF-8, surrogateescape) when ``text``."""

    max_len: int | None = None
    min_len: int = 0
    text: bool = False
    choices: tuple[str, ...] | None = None
    casefold: bool = False

    def convert(self, token: Token, index: int) -> bytes | str:
        if token.kind is not Kind.STR:
            raise ParamTypeMismatch(index)
        v = token.value
        assert isinstance(v, bytes)
        if (self.max_len is not None and len(v) > self.max_len) or len(v) < self.min_len:
            raise ParamLength(index)
        if self.choices is not None:
            s = v.decode("utf-8", "replace")
            allowed = self.choices
            if self.casefold:
                s = s.upper()
                allowed = tuple(c.upper() for c in allowed)
            if s not in allowed:
                raise ParamInvalid(index)
            return s
        if self.text:
            return v.decode("utf-8", "surrogateescape")
        return v


@dataclass(frozen=True)
class Hex(Param):
    """A quoted string of hex digits (BLE data and the like); yields bytes."""

    max_bytes: int | None = None

    def convert(self, token: Token, index: int) -> bytes:
        if token.kind is not Kind.STR:
            raise ParamTypeMismatch(index)
        raw = token.value
        assert isinstance(raw, bytes)
        if len(raw) % 2:
            raise ParamInvalid(index)
        try:
            data = bytes.fromhex(raw.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ParamInvalid(index) from None
        if self.max_bytes is not None and len(data) > self.max_bytes:
            raise ParamLength(index)
        return data


@dataclass(frozen=True)
class Any_(Param):
    """Accepts a string or a number as given (``str``/``int``)."""

    def convert(self, token: Token, index: int) -> Any:
        if token.kind is Kind.STR:
            return token.value
        if token.kind in (Kind.INT, Kind.FLOAT):
            return token.value
        raise ParamTypeMismatch(index)


def bind(schema: Sequence[Param], tokens: Sequence[Token]) -> list[Any]:
    """Check ``tokens`` against ``schema`` and return the converted values.

    Omitted optional parameters get their default.
    """
    given = len(tokens)
    required = sum(1 for p in schema if p.required)
    last_required = max((i for i, p in enumerate(schema) if p.required), default=-1)
    if given > len(schema) or given <= last_required:
        raise ParamCount(len(schema) if given > len(schema) else required, given)
    values: list[Any] = []
    for i, param in enumerate(schema):
        if i >= given or tokens[i].kind is Kind.OMITTED:
            if param.required:
                raise ParamParseFail(i)
            values.append(param.default)
            continue
        values.append(param.convert(tokens[i], i))
    return values


def parse_args(schema: Sequence[Param], args: bytes) -> list[Any]:
    """Tokenize and bind in one step (what the registry does for set commands)."""
    try:
        tokens = tokenize(args)
    except TokenizeError as exc:
        raise ParamParseFail(exc.index) from None
    return bind(schema, tokens)


class Args:
    """Typed access to raw tokens for commands whose layout depends on a value
    (``AT+SYSMFG=<operation>,...``, ``AT+SYSMSGFILTERCFG=<operator>,...``)."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = list(tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def present(self, index: int) -> bool:
        return index < len(self.tokens) and self.tokens[index].kind is not Kind.OMITTED

    def expect_count(self, lo: int, hi: int | None = None) -> None:
        n = len(self.tokens)
        top = lo if hi is None else hi
        if n < lo or n > top:
            raise ParamCount(top if n > top else lo, n)

    def get(self, index: int, param: Param) -> Any:
        if not self.present(index):
            if param.required:
                raise ParamParseFail(index)
            return param.default
        return param.convert(self.tokens[index], index)

    def int(self, index: int, lo: int | None = None, hi: int | None = None, default: Any = MISSING) -> Any:
        return self.get(index, Int("", default, lo, hi))

    def str(
        self, index: builtins.int, max_len: builtins.int | None = None, default: Any = MISSING, text: bool = False
    ) -> Any:
        return self.get(index, Str("", default, max_len, text=text))
