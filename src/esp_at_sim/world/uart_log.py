"""The byte log of every module's UART, kept by the world for observers.

Theory of operation
-------------------
Whoever connects a module to a transport (the CLI's world runner, the pytest
plugin) taps it and appends every chunk here: ``in`` is host to module,
``out`` module to host, ``log`` a line of the chip's log port. Entries get a
sequence number per module so readers (the control API, the dashboard, a
``wait`` for a pattern) can ask for "everything after N" without missing or
repeating anything. The log is bounded in bytes: the oldest entries go first.

Appending is on the data path, so it only stores and wakes waiters; any
formatting happens in the reader.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esp_at_sim.transports.tap import escape

if TYPE_CHECKING:
    from esp_at_sim.world.world import World

DEFAULT_BUDGET = 2 * 1024 * 1024

# escape() of every byte value, for rendering large chunks quickly
_ESCAPED = [escape(bytes([b])) for b in range(256)]


def fast_escape(data: bytes) -> str:
    """Same as :func:`esp_at_sim.transports.tap.escape`, table-driven."""
    return "".join(map(_ESCAPED.__getitem__, data))


@dataclass(frozen=True, slots=True)
class UartEntry:
    seq: int
    t: float  # world clock, seconds
    direction: str  # "in" | "out" | "log"
    data: bytes
    source: str = "uart"  # "uart": the transport; "control": injected by the control API

    def to_dict(self, *, hex_data: bool = True, max_text: int | None = None) -> dict[str, Any]:
        data = self.data
        d: dict[str, Any] = {"seq": self.seq, "t": round(self.t, 6), "dir": self.direction}
        if max_text is not None and len(data) > max_text:
            d["truncated"] = len(data) - max_text
            data = data[:max_text]
        d["text"] = fast_escape(data)
        if hex_data:
            d["hex"] = self.data.hex()
        if self.source != "uart":
            d["source"] = self.source
        return d

    def to_json(self) -> str:
        """One line of a transcript (see ``esp_at_sim.replay``)."""
        return json.dumps(self.to_dict())


class UartLog:
    """The log of one module's UART."""

    def __init__(self, name: str, clock: Callable[[], float], budget: int = DEFAULT_BUDGET) -> None:
        self.name = name
        self._clock = clock
        self.budget = budget
        self.entries: deque[UartEntry] = deque()
        self.size = 0
        self.next_seq = 1
        self.totals = {"in": 0, "out": 0, "log": 0}
        self._waiters: list[asyncio.Future[None]] = []
        self._listeners: list[Callable[[UartEntry], None]] = []

    def append(self, direction: str, data: bytes, source: str = "uart") -> UartEntry:
        entry = UartEntry(self.next_seq, self._clock(), direction, bytes(data), source)
        self.next_seq += 1
        self.entries.append(entry)
        self.size += len(data)
        self.totals[direction] = self.totals.get(direction, 0) + len(data)
        while self.size > self.budget and len(self.entries) > 1:
            self.size -= len(self.entries.popleft().data)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        for fn in self._listeners:
            fn(entry)
        return entry

    def listen(self, fn: Callable[[UartEntry], None]) -> Callable[[], None]:
        """Call ``fn`` for every new entry (keep it cheap: it runs on the data path)."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def since(self, seq: int = 0, limit: int | None = None) -> list[UartEntry]:
        """Entries with a sequence number above ``seq`` (oldest first)."""
        out: list[UartEntry] = []
        for entry in reversed(self.entries):
            if entry.seq <= seq:
                break
            out.append(entry)
        out.reverse()
        return out if limit is None else out[:limit]

    def __iter__(self) -> Iterator[UartEntry]:
        return iter(self.entries)

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    async def changed(self) -> None:
        """Wait for the next append."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def text(self, direction: str = "out", since: int = 0) -> bytes:
        return b"".join(e.data for e in self.since(since) if e.direction == direction)


class UartLogs:
    """World extension: ``world.extension(UartLogs).log("esp0")``."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.logs: dict[str, UartLog] = {}

    def log(self, module: str) -> UartLog:
        log = self.logs.get(module)
        if log is None:
            log = UartLog(module, self.world.clock.now)
            self.logs[module] = log
        return log

    def has(self, module: str) -> bool:
        return module in self.logs

    def send(self, module: str, data: bytes, source: str = "control") -> UartEntry:
        """Bytes into a module's UART as if the host sent them (logged as ``in``)."""
        from esp_at_sim.world.uart_faults import module_of

        m = module_of(self.world, module)
        entry = self.log(module).append("in", data, source)
        m.receive(data)
        return entry
