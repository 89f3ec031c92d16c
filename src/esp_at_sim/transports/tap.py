"""A wrapper that records every byte crossing a transport.

Used for the CLI's byte log and for test transcripts. Each record is
``(time, direction, bytes)`` with direction ``"in"`` (host to module) or
``"out"``; :func:`escape` renders bytes readably (``AT\\r\\n``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from esp_at_sim.transports.base import Transport


@dataclass(frozen=True, slots=True)
class Record:
    t: float
    direction: str
    data: bytes

    def to_json(self) -> str:
        return json.dumps(
            {"t": round(self.t, 6), "dir": self.direction, "hex": self.data.hex(), "text": escape(self.data)}
        )


_ESC = {0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x5C: "\\\\"}


def escape(data: bytes) -> str:
    out = []
    for b in data:
        if b in _ESC:
            out.append(_ESC[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


class TapTransport(Transport):
    def __init__(
        self,
        inner: Transport,
        *,
        on_record: Callable[[Record], None] | None = None,
        keep: bool = True,
        jsonl: IO[str] | None = None,
    ) -> None:
        self.inner = inner
        self.waits_for_ready = inner.waits_for_ready
        self.records: list[Record] = []
        self.keep = keep
        self.on_record = on_record
        self.jsonl = jsonl
        self._t0 = time.monotonic()

    def _record(self, direction: str, data: bytes) -> None:
        rec = Record(time.monotonic() - self._t0, direction, data)
        if self.keep:
            self.records.append(rec)
        if self.on_record is not None:
            self.on_record(rec)
        if self.jsonl is not None:
            self.jsonl.write(rec.to_json() + "\n")
            self.jsonl.flush()

    async def open(self) -> None:
        await self.inner.open()

    async def read(self) -> bytes:
        data = await self.inner.read()
        if data:
            self._record("in", data)
        return data

    async def write(self, data: bytes) -> None:
        self._record("out", data)
        await self.inner.write(data)

    def start_push(self, deliver: Callable[[bytes], None]) -> bool:
        def recorded(data: bytes) -> None:
            self._record("in", data)
            deliver(data)

        return self.inner.start_push(recorded)

    def pause_push(self) -> None:
        self.inner.pause_push()

    def resume_push(self) -> None:
        self.inner.resume_push()

    def write_nowait(self, data: bytes) -> int:
        taken = self.inner.write_nowait(data)
        if taken:
            self._record("out", data[:taken])
        return taken

    async def close(self) -> None:
        await self.inner.close()

    def describe(self) -> str:
        return self.inner.describe()

    def set_baud(self, baud: int) -> None:
        self.inner.set_baud(baud)
