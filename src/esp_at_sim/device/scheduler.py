"""Output scheduling: what the module writes to its UART, in which order.

Three classes of output:

* replies of the running command (and the URCs it causes, such as ``WIFI
  CONNECTED`` during ``AT+CWJAP``) and status messages go out at once;
* received data (``+IPD``, ``+MQTTSUBRECV``, ``+WS_DATA``, notifications) is
  held while a command is running, so it never lands inside a reply and
  ``SEND OK`` always comes before newly received data; it is also subject to
  back-pressure: when the host stops reading and the UART buffer is full,
  producers wait, which in turn stops them reading their sockets;
* passthrough data is raw and only back-pressured.

Every event is written as one piece, so lines never interleave.

Whoever drains the scheduler (the driver's pump) may install ``sink``: while
nothing is queued, ``write_now`` hands the bytes straight to it and queues only
what it did not take. A reply then leaves in the same turn of the event loop
as the command that caused it, instead of waking the pump first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class OutputScheduler:
    def __init__(self, capacity: int = 16 * 1024) -> None:
        self.capacity = capacity
        self._buf = bytearray()
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._released = asyncio.Event()
        self._released.set()
        self.filter: Callable[[bytes], bytes] | None = None
        #: takes bytes at once if it can, returns how many it took
        self.sink: Callable[[bytes], int] | None = None
        self.total_out = 0

    # ---------------------------------------------------------------- writers
    def write_now(self, data: bytes, *, filtered: bool = True) -> None:
        if filtered and self.filter is not None and data:
            data = self.filter(data)
        if not data:
            return
        if self.sink is not None and not self._buf:
            taken = self.sink(data)
            if taken:
                self.total_out += taken
                if taken >= len(data):
                    return
                data = data[taken:]
        self._buf += data
        self._readable.set()
        if len(self._buf) >= self.capacity:
            self._room.clear()

    async def write_data(self, data: bytes, *, filtered: bool = True, held: bool = True) -> None:
        """Write received data: waits for the running command to end (``held``)
        and for room in the UART buffer."""
        while True:
            if held and not self._released.is_set():
                await self._released.wait()
                continue
            if len(self._buf) >= self.capacity:
                self._room.clear()
                await self._room.wait()
                continue
            break
        self.write_now(data, filtered=filtered)

    def hold(self, on: bool) -> None:
        if on:
            self._released.clear()
        else:
            self._released.set()

    @property
    def held(self) -> bool:
        return not self._released.is_set()

    # ---------------------------------------------------------------- reader
    async def read(self, max_bytes: int = 65536) -> bytes:
        await self.wait_readable()
        return self.take(max_bytes)

    async def wait_readable(self) -> None:
        """Returns once there is output to take."""
        while not self._buf:
            self._readable.clear()
            await self._readable.wait()

    def take(self, max_bytes: int = 65536) -> bytes:
        """Up to ``max_bytes`` of the queued output (``b""`` if there is none)."""
        out = bytes(self._buf[:max_bytes])
        del self._buf[:max_bytes]
        self.total_out += len(out)
        if not self._buf:
            self._readable.clear()
        if len(self._buf) < self.capacity:
            self._room.set()
        return out

    def pending(self) -> int:
        return len(self._buf)

    def clear(self) -> None:
        self._buf.clear()
        self._readable.clear()
        self._room.set()
