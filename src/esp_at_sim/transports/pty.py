"""A pseudo-terminal that host programs open like ``/dev/ttyUSB0``.

The slave side is put in raw mode and kept open by the emulator so the master
never sees EIO between host sessions; a symlink (``--pty-link``) gives the
slave a stable name, replacing a stale link and removed on close. Writes wait
when the host does not read (back-pressure), as a UART with flow control would.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import termios
import tty
from pathlib import Path

from esp_at_sim.errors import TransportError
from esp_at_sim.transports.base import Transport


class PtyTransport(Transport):
    def __init__(self, link: str | Path | None = None) -> None:
        self.link = Path(link) if link else None
        self.master = -1
        self.slave = -1
        self.path = ""
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        if self.master >= 0:
            return
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave, termios.TCSANOW)
        attrs = termios.tcgetattr(self.slave)
        attrs[3] &= ~(termios.ECHO | termios.ICANON)
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        if self.link is not None:
            try:
                if self.link.is_symlink() or self.link.exists():
                    if not self.link.is_symlink():
                        raise TransportError(f"{self.link} exists and is not a symlink; not replacing it")
                    self.link.unlink()
                self.link.parent.mkdir(parents=True, exist_ok=True)
                self.link.symlink_to(self.path)
            except OSError as exc:
                raise TransportError(f"cannot create link {self.link}: {exc}") from exc
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._readable.set)

    async def read(self) -> bytes:
        if self.master < 0:
            await self.open()
        while not self._closed:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                data = None
            except OSError as exc:
                if exc.errno == errno.EIO:
                    data = None
                    await asyncio.sleep(0.05)
                    continue
                raise
            if data:
                return data
            self._readable.clear()
            await self._readable.wait()
        return b""

    async def write(self, data: bytes) -> None:
        if self.master < 0:
            await self.open()
        view = memoryview(data)
        while view and not self._closed:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                assert self._loop is not None
                self._writable.clear()
                self._loop.add_writer(self.master, self._writable.set)
                try:
                    await self._writable.wait()
                finally:
                    self._loop.remove_writer(self.master)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._readable.set()
        self._writable.set()
        if self._loop is not None and self.master >= 0:
            self._loop.remove_reader(self.master)
            self._loop.remove_writer(self.master)
        for fd in (self.master, self.slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = -1
        if self.link is not None and self.link.is_symlink():
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.path:
                    self.link.unlink()

    def host_baud(self) -> int | None:
        """The baud rate the host configured on its side of the pty, if any."""
        if self.slave < 0:
            return None
        speed = termios.tcgetattr(self.slave)[5]
        for name in dir(termios):
            if name.startswith("B") and name[1:].isdigit() and getattr(termios, name) == speed:
                return int(name[1:])
        return None

    def describe(self) -> str:
        return f"{self.path} (link {self.link})" if self.link else self.path
