"""System message filters (AT+SYSMSGFILTER, AT+SYSMSGFILTERCFG).

Theory of operation
-------------------
A filter is a pair of POSIX regular expressions, a head and a tail (either
may be absent), compiled with the ``cflags`` of the command (see
``posix_regex.py``). Everything the module writes to the AT port passes
through :meth:`MessageFilters.apply` while filtering is enabled; each write
is one *system message* and is matched on its own (nothing is cached between
writes, as the spec says).

A message matches a filter when the head matches (its leftmost match, ending
at ``i``) and the tail matches in what follows the head (leftmost match from
``i`` on, starting at ``j``). The matched spans are removed and the rest is
passed on: for a head anchored with ``^`` and a tail anchored with ``$`` the
host receives ``data[i:j]``, the spec's ``data[i+1]~data[j-1]``. The first
matching filter wins. An absent head matches the empty string at the start,
an absent tail the empty string at the end.

Filters live in RAM for one boot and take heap (the compiled automata).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from esp_at_sim.device.heap import Allocation
from esp_at_sim.services.posix_regex import PosixRegexError, compile_posix

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module


class FilterPatternError(ValueError):
    """The head or tail pattern does not compile (``part`` says which)."""

    def __init__(self, part: str, error: PosixRegexError) -> None:
        super().__init__(f"wrong {part} regular expression ({error.code})")
        self.part = part
        self.code = error.code


#: heap one compiled filter costs besides its pattern text (two regex_t automata)
FILTER_HEAP = 512


@dataclass
class MessageFilter:
    head: bytes
    tail: bytes
    cflags: int
    head_re: re.Pattern[bytes] | None
    tail_re: re.Pattern[bytes] | None
    allocation: Allocation | None = None

    @classmethod
    def compile(cls, head: bytes, tail: bytes, cflags: int) -> MessageFilter:
        """Raises :class:`FilterPatternError` for a pattern ``regcomp`` rejects."""
        compiled: list[re.Pattern[bytes] | None] = []
        for part, text in (("head", head), ("tail", tail)):
            if not text:
                compiled.append(None)
                continue
            try:
                compiled.append(compile_posix(text, cflags))
            except PosixRegexError as exc:
                raise FilterPatternError(part, exc) from None
        return cls(head, tail, cflags, compiled[0], compiled[1])

    def same_as(self, other: MessageFilter) -> bool:
        return (self.head, self.tail, self.cflags) == (other.head, other.tail, other.cflags)

    def match(self, data: bytes) -> bytes | None:
        """What is left of ``data`` after removing the matched spans; None: no match."""
        hs = he = 0
        if self.head_re is not None:
            m = self.head_re.search(data)
            if m is None:
                return None
            hs, he = m.span()
        ts = te = len(data)
        if self.tail_re is not None:
            m = self.tail_re.search(data, he)
            if m is None:
                return None
            ts, te = m.span()
        return data[:hs] + data[he:ts] + data[te:]


class MessageFilters:
    """``module.service(MessageFilters)``: the filters and the on/off switch of one boot."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.filters: list[MessageFilter] = []
        self.enabled = False

    def add(self, flt: MessageFilter) -> None:
        flt.allocation = self.module.heap.alloc(FILTER_HEAP + len(flt.head) + len(flt.tail), "filter")
        self.filters.append(flt)

    def remove(self, flt: MessageFilter) -> bool:
        for i, f in enumerate(self.filters):
            if f.same_as(flt):
                if f.allocation is not None:
                    f.allocation.free()
                del self.filters[i]
                return True
        return False

    def clear(self) -> None:
        for f in self.filters:
            if f.allocation is not None:
                f.allocation.free()
        self.filters.clear()

    def enable(self, on: bool) -> None:
        self.enabled = on
        self.module.output.filter = self.apply if on else None

    def apply(self, data: bytes) -> bytes:
        for f in self.filters:
            left = f.match(data)
            if left is not None:
                return left
        return data
