"""A pseudo-terminal that host programs open like ``/dev/ttyUSB0``.

Theory of operation
-------------------
The emulator holds the master side; the host opens the slave (through the
symlink given with ``--pty-link``) with termios or pyserial. The slave is put
in raw mode and the emulator keeps its own slave descriptor open, so the
master never sees ``EIO`` between host sessions and the port can be opened,
closed and opened again like a USB-serial adapter. Hosts such as pyserial
flush stale input when they open the port, as they do on real hardware.

Symlink rules: a dangling link (left by a run that was killed) is replaced
silently; a link to a live terminal is replaced with a warning (its target may
be a pty number the system has since given to someone else); anything that is
not a symlink is never touched. On close the link is removed only if it still
points to this pty, so a second emulator that took the name over keeps it.

Writes wait when the host does not read and the pty buffer is full
(back-pressure, like a UART with hardware flow control). The host's side of
the line discipline carries the baud rate the host configured; it is read back
(:meth:`host_baud`) to report mismatches with the module's rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import termios
import tty
from collections.abc import Callable
from pathlib import Path

from esp_at_sim.errors import TransportError
from esp_at_sim.transports.base import Transport

log = logging.getLogger(__name__)

#: termios speed constant -> bits per second
SPEEDS: dict[int, int] = {
    getattr(termios, name): int(name[1:]) for name in dir(termios) if name[:1] == "B" and name[1:].isdigit()
}


def _replace_link(link: Path, target: str) -> None:
    if link.is_symlink():
        old = os.readlink(link)
        if os.path.exists(link):
            log.warning("replacing %s, which pointed to %s (another emulator may be using it)", link, old)
        link.unlink()
    elif link.exists():
        raise TransportError(f"{link} exists and is not a symlink; not replacing it")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


class PtyTransport(Transport):
    def __init__(self, link: str | Path | None = None) -> None:
        self.link = Path(link) if link else None
        self.master = -1
        self.slave = -1
        self.path = ""
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._closed = False
        self._linked = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._host_speed: int | None = None
        self._deliver: Callable[[bytes], None] | None = None
        #: called with the new rate when the host reconfigures its side of the pty
        self.on_host_baud: Callable[[int], None] | None = None

    async def open(self) -> None:
        if self.master >= 0 or self._closed:
            return
        master, slave = os.openpty()
        try:
            tty.setraw(slave, termios.TCSANOW)
            os.set_blocking(master, False)
            path = os.ttyname(slave)
            if self.link is not None:
                try:
                    _replace_link(self.link, path)
                except OSError as exc:
                    raise TransportError(f"cannot create link {self.link}: {exc.strerror or exc}") from exc
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self.master, self.slave, self.path = master, slave, path
        self._linked = self.link is not None
        self._host_speed = termios.tcgetattr(slave)[5]
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._readable.set)

    # ---------------------------------------------------- push mode (hot path)
    def start_push(self, deliver: Callable[[bytes], None]) -> bool:
        if self.master < 0 or self._closed or self._loop is None:
            return False
        self._deliver = deliver
        self._loop.remove_reader(self.master)
        self._loop.add_reader(self.master, self._push_ready)
        return True

    def _push_ready(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            # no slave open (cannot happen while we hold ours): look again later
            self.pause_push()
            assert self._loop is not None
            self._loop.call_later(0.05, self.resume_push)
            return
        if data and self._deliver is not None:
            if self.on_host_baud is not None:
                self._check_host_speed()
            self._deliver(data)

    def pause_push(self) -> None:
        if self._loop is not None and self.master >= 0:
            self._loop.remove_reader(self.master)

    def resume_push(self) -> None:
        if self._loop is not None and self.master >= 0 and not self._closed and self._deliver is not None:
            self._loop.add_reader(self.master, self._push_ready)

    # ----------------------------------------------------------- pull mode
    async def read(self) -> bytes:
        if self.master < 0:
            await self.open()
        while not self._closed:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                data = b""
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                # no slave open (cannot happen while we hold ours): wait for a host
                await asyncio.sleep(0.05)
                continue
            if data:
                if self.on_host_baud is not None:
                    self._check_host_speed()
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
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                await self._wait_writable()
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                return  # nobody can read it: dropped, as on a UART without a listener

    def write_nowait(self, data: bytes) -> int:
        if self.master < 0 or self._closed:
            return 0
        try:
            return os.write(self.master, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            return len(data)

    async def _wait_writable(self) -> None:
        assert self._loop is not None
        self._writable.clear()
        self._loop.add_writer(self.master, self._writable.set)
        try:
            await self._writable.wait()
        finally:
            if self.master >= 0:
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
        if self._linked and self.link is not None and self.link.is_symlink():
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.path:
                    self.link.unlink()

    # ------------------------------------------------------------ baud rate
    def host_baud(self) -> int | None:
        """The baud rate the host configured on its side of the pty, if known."""
        if self.slave < 0:
            return None
        return SPEEDS.get(termios.tcgetattr(self.slave)[5])

    def _check_host_speed(self) -> None:
        with contextlib.suppress(termios.error):
            speed = termios.tcgetattr(self.slave)[5]
            if speed != self._host_speed:
                self._host_speed = speed
                baud = SPEEDS.get(speed)
                if baud is not None and self.on_host_baud is not None:
                    self.on_host_baud(baud)

    def describe(self) -> str:
        return f"{self.path} (link {self.link})" if self.link else self.path
