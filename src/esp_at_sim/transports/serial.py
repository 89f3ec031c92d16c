"""A real serial device (``serial:/dev/ttyUSB0[,BAUD]``) through pyserial.

Theory of operation
-------------------
pyserial opens and configures the port (raw 8N1 at the given rate, exclusive
access); after that the byte path runs on the event loop: the descriptor is
non-blocking and watched with ``add_reader``/``add_writer``, so a slow or
absent host never blocks the emulator. Writes wait while the kernel's transmit
buffer is full (back-pressure).

When the module changes its baud rate (``AT+UART_CUR``), the bytes already
written at the old rate are drained first and only then is the port
reconfigured, so ``OK`` leaves at the old rate as it does on the chip. A port
that goes away (USB adapter unplugged: ``EIO``/``ENXIO``) ends the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import termios
from typing import Any

from esp_at_sim.errors import TransportError
from esp_at_sim.transports.base import Transport

log = logging.getLogger(__name__)

_GONE = (errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF)


class SerialTransport(Transport):
    def __init__(self, device: str, baud: int = 115200) -> None:
        if not device:
            raise TransportError("serial transport needs a device, e.g. serial:/dev/ttyUSB0")
        self.device = device
        self.baud = baud
        self.port: Any = None  # serial.Serial once open
        self.fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._closed = False
        self._gone = False
        self._switch: asyncio.Task[None] | None = None

    async def open(self) -> None:
        if self.port is not None:
            return
        import serial  # pyserial: imported only when a serial port is used

        try:
            port = serial.Serial(
                self.device,
                self.baud,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=0,
                write_timeout=0,
                exclusive=True,
            )
        except (serial.SerialException, ValueError, OSError) as exc:
            raise TransportError(f"cannot open {self.device}: {exc}") from exc
        self.port = port
        self.fd = port.fileno()
        os.set_blocking(self.fd, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._readable.set)

    async def read(self) -> bytes:
        if self.port is None:
            await self.open()
        idle_wakeups = 0
        while not self._closed and not self._gone:
            try:
                # a tty with VMIN=0 answers b"" rather than EAGAIN when it has nothing
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                data = b""
            except OSError as exc:
                if exc.errno in _GONE:
                    self._went_away(exc)
                    break
                raise
            if data:
                return data
            idle_wakeups += 1
            if idle_wakeups > 1000:  # readable yet never any data: the line hung up
                self._went_away(None)
                break
            self._readable.clear()
            await self._readable.wait()
        return b""

    async def write(self, data: bytes) -> None:
        if self.port is None:
            await self.open()
        if self._switch is not None:
            await self._switch
        view = memoryview(data)
        while view and not self._closed and not self._gone:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                await self._wait_writable()
            except OSError as exc:
                if exc.errno in _GONE:
                    self._went_away(exc)
                    return
                raise

    def write_nowait(self, data: bytes) -> int:
        if self.port is None or self._switch is not None or self._closed:
            return 0
        if self._gone:
            return len(data)
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno in _GONE:
                self._went_away(exc)
                return len(data)
            raise

    async def _wait_writable(self) -> None:
        assert self._loop is not None
        self._writable.clear()
        self._loop.add_writer(self.fd, self._writable.set)
        try:
            await self._writable.wait()
        finally:
            if self.fd >= 0:
                self._loop.remove_writer(self.fd)

    def _went_away(self, exc: OSError | None) -> None:
        if not self._gone:
            log.warning("serial device %s went away%s", self.device, f": {exc.strerror}" if exc else "")
        self._gone = True
        if self._loop is not None and self.fd >= 0:
            self._loop.remove_reader(self.fd)

    def set_baud(self, baud: int) -> None:
        """Switch the port's rate once what was written at the old rate has left."""
        if self.port is None or baud == self.baud:
            self.baud = baud
            return
        self.baud = baud
        previous = self._switch
        self._switch = asyncio.get_running_loop().create_task(self._apply_baud(baud, previous))

    async def _apply_baud(self, baud: int, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await previous
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError, termios.error):
            await loop.run_in_executor(None, termios.tcdrain, self.fd)
        if self.port is not None and not self._closed:
            try:
                self.port.baudrate = baud
            except (ValueError, OSError) as exc:
                log.warning("serial device %s cannot run at %d baud: %s", self.device, baud, exc)
        if self._switch is asyncio.current_task():
            self._switch = None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._readable.set()
        self._writable.set()
        if self._switch is not None:
            self._switch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._switch
        if self._loop is not None and self.fd >= 0:
            self._loop.remove_reader(self.fd)
            self._loop.remove_writer(self.fd)
        if self.port is not None:
            with contextlib.suppress(Exception):
                self.port.close()
        self.fd = -1

    def describe(self) -> str:
        return f"{self.device} at {self.baud} baud"
