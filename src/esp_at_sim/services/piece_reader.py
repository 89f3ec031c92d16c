"""A stream reader that hands out received bytes without copying them.

Theory of operation
-------------------
:class:`asyncio.StreamReader` appends every piece the socket delivers to one
``bytearray`` and copies the requested bytes out of it again on ``read()``.
For a bulk body (a megabyte over AT+HTTPCGET) those two copies into freshly
grown buffers cost more than anything else on the way. :class:`PieceReader`
keeps the pieces as the transport delivered them, and ``read(n)`` returns the
first piece itself when it fits in ``n`` (it slices or joins only otherwise).
Flow control is the StreamReader's: the transport pauses above twice the limit
and resumes at or below it.

Only ``read()`` and ``at_eof()`` are served this way (all the HTTP client uses);
the line-oriented reads of StreamReader are refused rather than quietly
reading an empty buffer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn, SupportsIndex


class PieceReader(asyncio.StreamReader):
    # StreamReader's own state, which its stubs do not declare
    _eof: bool
    _paused: bool
    _limit: int
    _transport: Any
    _exception: BaseException | None
    if TYPE_CHECKING:

        def _wakeup_waiter(self) -> None: ...

        async def _wait_for_data(self, func_name: str) -> None: ...

    def __init__(self, limit: int = 2**16, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(limit=limit, loop=loop)
        self._pieces: deque[bytes] = deque()
        self._size = 0

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        assert not self._eof, "feed_data after feed_eof"
        if not data:
            return
        piece = data if type(data) is bytes else bytes(data)  # a buffer the caller may reuse is copied
        self._pieces.append(piece)
        self._size += len(piece)
        self._wakeup_waiter()
        transport = self._transport
        if transport is not None and not self._paused and self._size > 2 * self._limit:
            try:
                transport.pause_reading()
            except NotImplementedError:
                self._transport = None
            else:
                self._paused = True

    def _maybe_resume_transport(self) -> None:
        if self._paused and self._size <= self._limit:
            self._paused = False
            self._transport.resume_reading()

    def at_eof(self) -> bool:
        return self._eof and not self._size

    async def read(self, n: int = -1) -> bytes:
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            blocks = []
            while block := await self.read(self._limit):
                blocks.append(block)
            return b"".join(blocks)
        if not self._size and not self._eof:
            await self._wait_for_data("read")
        pieces = self._pieces
        if pieces and len(pieces[0]) <= n:
            first = pieces.popleft()
            if not pieces or len(first) + len(pieces[0]) > n:
                data = first  # the common case: one piece, handed out as it is
            else:
                taken, room = [first], n - len(first)
                while pieces and len(pieces[0]) <= room:
                    room -= len(pieces[0])
                    taken.append(pieces.popleft())
                data = b"".join(taken)
        elif pieces:
            first = pieces[0]
            data, pieces[0] = first[:n], first[n:]
        else:
            data = b""
        self._size -= len(data)
        self._maybe_resume_transport()
        return data

    def _line_reads(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("PieceReader serves read() only")

    readline = readuntil = readexactly = _line_reads
