"""The CLI's log: every UART byte, readable, plus the chip's log port and notes.

Bytes arrive in whatever pieces the host and the scheduler produce; the log
cuts them into lines instead (a host writing one byte at a time still reads
as ``>> AT\\r\\n``). A partial line is printed once the direction changes or
after :data:`PARTIAL_AFTER` seconds without more bytes (so a ``>`` prompt
shows up at once). Blank lines stay with the line that follows them, so a
result reads ``<< \\r\\nOK\\r\\n``.

::

    14:02:11.208 esp0 >> AT+GMR\\r\\n
    14:02:11.209 esp0 << \\r\\nOK\\r\\n
    14:02:11.000 esp0 log| rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import IO, Any

from esp_at_sim.transports.tap import escape

PARTIAL_AFTER = 0.02

ConsoleWriter = Callable[[str, str, str, str], None]  # (stamp, module, kind, text)


def _stamp(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


class _Stream:
    """The bytes of one direction of one module that have not been printed yet."""

    __slots__ = ("buf", "started", "timer")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.started = 0.0
        self.timer: asyncio.TimerHandle | None = None


class ByteLog:
    def __init__(self, console: ConsoleWriter | None, file: IO[str] | None) -> None:
        self.console = console
        self.file = file
        self._streams: dict[tuple[str, str], _Stream] = {}

    # ------------------------------------------------------------- sinks
    def _emit(self, t: float, module: str, kind: str, text: str) -> None:
        stamp = _stamp(t)
        if self.console is not None:
            self.console(stamp, module, kind, text)
        if self.file is not None:
            self.file.write(f"{stamp} {module} {kind} {text}\n")
            self.file.flush()

    # -------------------------------------------------------------- bytes
    def record(self, module: str, direction: str, data: bytes) -> None:
        """Bytes crossing a UART: ``direction`` is ``"in"`` (from the host) or ``"out"``."""
        other = self._streams.get((module, "out" if direction == "in" else "in"))
        if other is not None and other.buf:
            self._flush(module, "out" if direction == "in" else "in", other)
        key = (module, direction)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        if not stream.buf:
            stream.started = time.time()
        stream.buf += data
        self._cut_lines(module, direction, stream)
        if stream.timer is not None:
            stream.timer.cancel()
            stream.timer = None
        if stream.buf:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._flush(module, direction, stream)
            else:
                stream.timer = loop.call_later(PARTIAL_AFTER, self._flush, module, direction, stream)

    def _cut_lines(self, module: str, direction: str, stream: _Stream) -> None:
        buf = stream.buf
        start = 0
        while True:
            j = buf.find(b"\n", start)
            if j < 0:
                break
            start = j + 1
            if buf[:start].strip(b"\r\n"):  # not only blank lines so far: a line of its own
                self._emit(stream.started, module, ">>" if direction == "in" else "<<", escape(bytes(buf[:start])))
                del buf[:start]
                start = 0
                stream.started = time.time()

    def _flush(self, module: str, direction: str, stream: _Stream) -> None:
        if stream.timer is not None:
            stream.timer.cancel()
            stream.timer = None
        if stream.buf:
            self._emit(stream.started, module, ">>" if direction == "in" else "<<", escape(bytes(stream.buf)))
            stream.buf.clear()

    def flush(self) -> None:
        for (module, direction), stream in self._streams.items():
            self._flush(module, direction, stream)

    # -------------------------------------------------------------- lines
    def chip(self, module: str, line: str) -> None:
        """A line from the chip's log port."""
        self._emit(time.time(), module, "log|", line)

    def note(self, module: str, text: str) -> None:
        """Something about the UART itself (baud rate changes...)."""
        self._emit(time.time(), module, "--", text)


def rich_console_writer(stderr: bool) -> tuple[ConsoleWriter, Any]:
    """A console writer with colours (rich), and the rich Console it uses."""
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    styles = {">>": "cyan", "<<": "green", "log|": "dim", "--": "yellow"}

    def write(stamp: str, module: str, kind: str, text: str) -> None:
        console.print(Text.assemble((stamp, "dim"), " ", module, " ", (f"{kind} {text}", styles.get(kind, ""))))

    return write, console
