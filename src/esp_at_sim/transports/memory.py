"""An in-process UART: two connected ends, for tests and the Python API."""

from __future__ import annotations

import asyncio

from esp_at_sim.transports.base import Transport


class _Pipe:
    def __init__(self, capacity: int) -> None:
        self.buf = bytearray()
        self.capacity = capacity
        self.readable = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.closed = False

    async def put(self, data: bytes) -> None:
        while len(self.buf) >= self.capacity and not self.closed:
            self.room.clear()
            await self.room.wait()
        if self.closed:
            return
        self.buf += data
        self.readable.set()

    async def get(self) -> bytes:
        while not self.buf:
            if self.closed:
                return b""
            self.readable.clear()
            await self.readable.wait()
        out = bytes(self.buf)
        self.buf.clear()
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
        if len(pipe.buf) >= pipe.capacity:
            return 0
        pipe.buf += data
        pipe.readable.set()
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
