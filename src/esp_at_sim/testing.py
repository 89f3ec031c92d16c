"""Speaking to a module the way a host MCU does: bytes out, bytes in.

:class:`AtHost` wraps any byte stream (the in-memory UART, a pty opened with
termios, a TCP socket) and offers what a test or a host driver needs::

    await host.send("AT+CWMODE?")            # appends \\r\\n
    reply = await host.command("AT+GMR")     # lines up to OK / ERROR
    await host.expect(b"\\r\\nOK\\r\\n")       # exact bytes next in the stream
    await host.read_until(b"WIFI GOT IP\\r\\n", timeout=20)

Every byte is kept in ``transcript`` (direction, bytes) for failure reports.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from esp_at_sim.transports.base import Transport

FINALS = (
    b"OK",
    b"ERROR",
    b"SEND OK",
    b"SEND FAIL",
    b"SET OK",
    b"SEND Canceled",
    b"SEND CANCELLED",
    b"WRITE OK",
    b"FAIL",
)


@dataclass
class Reply:
    """What a command produced: the raw bytes, its lines and its final line."""

    raw: bytes
    lines: list[bytes] = field(default_factory=list)
    final: bytes = b""

    @property
    def ok(self) -> bool:
        return self.final in (b"OK", b"SEND OK", b"SET OK", b"WRITE OK")

    def info(self, prefix: str) -> list[str]:
        p = prefix.encode()
        return [ln.decode("utf-8", "replace") for ln in self.lines if ln.startswith(p)]

    def __str__(self) -> str:
        return self.raw.decode("utf-8", "replace")


class ExpectTimeout(AssertionError):
    pass


class AtHost:
    def __init__(
        self,
        read: Callable[[], Awaitable[bytes]],
        write: Callable[[bytes], Awaitable[None]],
    ) -> None:
        self._read = read
        self._write = write
        self.buffer = bytearray()
        self.transcript: list[tuple[str, bytes]] = []
        self.default_timeout = 10.0

    # ------------------------------------------------------------ factories
    @classmethod
    def over(cls, transport: Transport) -> AtHost:
        return cls(transport.read, transport.write)

    @classmethod
    async def open_pty(cls, path: str) -> AtHost:
        """Open a pty (or any tty) as a host program would, raw, 115200 8N1."""
        import termios
        import tty

        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[4] = attrs[5] = termios.B115200
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(fd, readable.set)

        async def read() -> bytes:
            while True:
                try:
                    data = os.read(fd, 65536)
                    if data:
                        return data
                except BlockingIOError:
                    pass
                readable.clear()
                await readable.wait()

        async def write(data: bytes) -> None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    await asyncio.sleep(0.001)

        host = cls(read, write)

        def close() -> None:
            loop.remove_reader(fd)
            os.close(fd)

        host.close = close  # type: ignore[method-assign]
        return host

    @classmethod
    async def open_tcp(cls, host: str, port: int) -> AtHost:
        reader, writer = await asyncio.open_connection(host, port)

        async def read() -> bytes:
            return await reader.read(65536)

        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        h = cls(read, write)
        h.close = writer.close  # type: ignore[method-assign]
        return h

    def close(self) -> None:
        """Release the underlying stream (for pty/TCP hosts)."""

    # --------------------------------------------------------------- writing
    async def write(self, data: bytes) -> None:
        self.transcript.append(("in", bytes(data)))
        await self._write(bytes(data))

    async def send(self, line: str | bytes) -> None:
        data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
        await self.write(data + b"\r\n")

    # --------------------------------------------------------------- reading
    async def _fill(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise ExpectTimeout(self._timeout_message())
        try:
            data = await asyncio.wait_for(self._read(), remaining)
        except TimeoutError:
            raise ExpectTimeout(self._timeout_message()) from None
        if not data:
            raise ExpectTimeout("stream closed; " + self._timeout_message())
        self.transcript.append(("out", data))
        self.buffer += data

    async def receive(self, deadline: float) -> bool:
        """Wait (until the loop time ``deadline``) for more bytes into ``buffer``;
        False when nothing came."""
        try:
            await self._fill(deadline)
        except ExpectTimeout:
            return False
        return True

    def _timeout_message(self) -> str:
        return f"timed out; unread bytes: {bytes(self.buffer)!r}"

    def _deadline(self, timeout: float | None) -> float:
        return asyncio.get_running_loop().time() + (self.default_timeout if timeout is None else timeout)

    async def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float | None = None) -> bytes:
        """Consume and return everything up to and including ``pattern``."""
        deadline = self._deadline(timeout)
        while True:
            if isinstance(pattern, bytes):
                i = self.buffer.find(pattern)
                if i >= 0:
                    end = i + len(pattern)
                    out = bytes(self.buffer[:end])
                    del self.buffer[:end]
                    return out
            else:
                m = pattern.search(self.buffer)
                if m:
                    out = bytes(self.buffer[: m.end()])
                    del self.buffer[: m.end()]
                    return out
            await self._fill(deadline)

    async def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        deadline = self._deadline(timeout)
        while len(self.buffer) < n:
            await self._fill(deadline)
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    async def expect(self, expected: bytes | str, timeout: float | None = None) -> bytes:
        """The next bytes in the stream must be exactly ``expected``."""
        exp = expected.encode() if isinstance(expected, str) else expected
        got = await self.read_exactly(len(exp), timeout)
        if got != exp:
            raise AssertionError(f"expected {exp!r}, got {got!r} (then {bytes(self.buffer)!r})")
        return got

    async def expect_silence(self, seconds: float = 0.2) -> None:
        """Nothing more arrives for ``seconds``."""
        try:
            await self._fill(asyncio.get_running_loop().time() + seconds)
        except ExpectTimeout:
            if not self.buffer:
                return
        raise AssertionError(f"unexpected output: {bytes(self.buffer)!r}")

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self.read_until(b"ready\r\n", timeout)

    async def read_reply(self, timeout: float | None = None, finals: tuple[bytes, ...] = FINALS) -> Reply:
        """Read lines up to a final result line."""
        deadline = self._deadline(timeout)
        consumed = bytearray()
        lines: list[bytes] = []
        while True:
            i = self.buffer.find(b"\r\n")
            if i < 0:
                await self._fill(deadline)
                continue
            line = bytes(self.buffer[:i])
            consumed += self.buffer[: i + 2]
            del self.buffer[: i + 2]
            if line in finals:
                return Reply(bytes(consumed), lines, line)
            if line:
                lines.append(line)

    async def command(self, line: str | bytes, timeout: float | None = None) -> Reply:
        """Send a command and read its reply (echo, if any, is among ``lines``)."""
        await self.send(line)
        return await self.read_reply(timeout)

    def transcript_text(self) -> str:
        from esp_at_sim.transports.tap import escape

        return "\n".join(f"{'>>' if d == 'in' else '<<'} {escape(b)}" for d, b in self.transcript)
