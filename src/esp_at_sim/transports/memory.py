"""An in-process UART: two connected ends, for tests and the Python API."""

from __future__ import annotations

import asyncio
from collections import deque

from esp_at_sim.transports.base import Transport

JOIN_UP_TO = 64 * 1024  # small pieces are handed out together, larger ones one by one


class _Pipe:
    """One direction. Written pieces are kept as they came: a read takes them all
    (joined) while they are small, and one at a time once they are large, so a
    megabyte of ``+HTTPCGET`` is not copied on its way through."""

    def __init__(self, capacity: int) -> None:
        self.pieces: deque[bytes] = deque()
        self.size = 0
        self.capacity = capacity
        self.readable = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.closed = False

    def append(self, data: bytes) -> None:
        self.pieces.append(data)
        self.size += len(data)
        self.readable.set()

    async def put(self, data: bytes) -> None:
        while self.size >= self.capacity and not self.closed:
            self.room.clear()
            await self.room.wait()
        if self.closed:
            return
        self.append(data)

    async def get(self) -> bytes:
        while not self.size:
            if self.closed:
                return b""
            self.readable.clear()
            await self.readable.wait()
        pieces = self.pieces
        if len(pieces) == 1 or self.size <= JOIN_UP_TO:
            out = pieces.popleft() if len(pieces) == 1 else b"".join(pieces)
            pieces.clear()
        else:
            out = pieces.popleft()  # a bulk reply: one large piece per read, not copied
        self.size -= len(out)
        if not self.size:
            self.readable.clear()
        self.room.set()
        return out

    def close(self) -> None:
        self.closed = True
        self.readable.set()
        self.room.set()


class MemoryEnd(Transport):
    def __init__(self, rx: _Pipe, tx: _Pipe, name: str) -> None:
        self._rx = rx
        self._tx = tx
        self.name = name

    async def read(self) -> bytes:
        return await self._rx.get()

    async def write(self, data: bytes) -> None:
        await self._tx.put(bytes(data))

    def write_nowait(self, data: bytes) -> int:
        pipe = self._tx
        if pipe.closed:
            return len(data)
        if pipe.size >= pipe.capacity:
            return 0
        # kept, not copied: only bytes cannot change under us
        pipe.append(data if type(data) is bytes else bytes(data))
        return len(data)

    async def close(self) -> None:
        self._rx.close()
        self._tx.close()

    def describe(self) -> str:
        return f"memory ({self.name})"


def memory_pair(capacity: int = 256 * 1024) -> tuple[MemoryEnd, MemoryEnd]:
    """Returns (module end, host end)."""
    to_module = _Pipe(capacity)
    to_host = _Pipe(capacity)
    return MemoryEnd(to_module, to_host, "module"), MemoryEnd(to_host, to_module, "host")
