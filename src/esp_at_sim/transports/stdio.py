"""The UART on standard input and output (``--stdio``), for piping and quick tries.

Theory of operation
-------------------
Bytes read from stdin go to the module; the module's bytes go to stdout,
unchanged. Pipes, terminals and sockets are served on the event loop; the
descriptors are re-opened through ``/proc/self/fd`` first, so making them
non-blocking does not affect the terminal that stderr (the CLI's log) shares.
Anything else (a regular file, ``/dev/null``) is read by a small daemon thread.

A pipe keeps what the host wrote until it is read, so this transport asks
the driver to start reading only once the module has printed ``ready``
(``waits_for_ready``): ``printf 'AT\\r\\n' | esp-at-sim --stdio`` works without
a sleep. End of input ends the session once the module has gone quiet.

When stdin is a terminal in line mode, Enter sends ``\\n``; it is turned into
``\\r\\n`` as a host would send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import sys
import threading

from esp_at_sim.transports.base import Transport


def _reopen(fd: int, flags: int) -> int | None:
    """A new open file description for what ``fd`` refers to (None if impossible)."""
    try:
        return os.open(f"/proc/self/fd/{fd}", flags | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return None


def _pollable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


class StdioTransport(Transport):
    waits_for_ready = True

    def __init__(self, stdin_fd: int | None = None, stdout_fd: int | None = None) -> None:
        self.stdin_fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
        self.stdout_fd = sys.stdout.fileno() if stdout_fd is None else stdout_fd
        self.rfd = -1
        self.wfd = -1
        self._opened = False
        self._closed = False
        self._eof = False
        self._crlf = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rx = bytearray()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._polled_reader = False
        self._polled_writer = False

    async def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        self._loop = asyncio.get_running_loop()
        self._crlf = os.isatty(self.stdin_fd)
        if _pollable(self.stdin_fd) and (fd := _reopen(self.stdin_fd, os.O_RDONLY)) is not None:
            self.rfd = fd
            self._polled_reader = True
            self._loop.add_reader(fd, self._on_readable)
        else:
            self.rfd = os.dup(self.stdin_fd)
            threading.Thread(target=self._read_blocking, name="esp-at-sim stdin", daemon=True).start()
        if _pollable(self.stdout_fd) and (fd := _reopen(self.stdout_fd, os.O_WRONLY)) is not None:
            self.wfd = fd
            self._polled_writer = True
        else:
            self.wfd = os.dup(self.stdout_fd)

    # ------------------------------------------------------------- input
    def _on_readable(self) -> None:
        try:
            data = os.read(self.rfd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            data = b""  # the terminal went away
        if not data:
            self._eof = True
            assert self._loop is not None
            self._loop.remove_reader(self.rfd)
        self._rx += data
        self._readable.set()

    def _read_blocking(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            try:
                data = os.read(self.rfd, 65536)
            except OSError:
                data = b""
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._deliver, data)
            if not data:
                return

    def _deliver(self, data: bytes) -> None:
        if not data:
            self._eof = True
        self._rx += data
        self._readable.set()

    async def read(self) -> bytes:
        if not self._opened:
            await self.open()
        while not self._rx:
            if self._eof or self._closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._rx)
        self._rx.clear()
        if self._crlf:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return data

    # ------------------------------------------------------------ output
    async def write(self, data: bytes) -> None:
        if not self._opened:
            await self.open()
        view = memoryview(data)
        while view and not self._closed:
            try:
                view = view[os.write(self.wfd, view) :]
            except BlockingIOError:
                await self._wait_writable()
            except BrokenPipeError:
                # nobody reads our output any more: drop it, as a UART would
                return

    def write_nowait(self, data: bytes) -> int:
        if not self._polled_writer or self.wfd < 0 or self._closed:
            return 0  # a blocking descriptor: only the pump writes to it
        try:
            return os.write(self.wfd, data)
        except BlockingIOError:
            return 0
        except BrokenPipeError:
            return len(data)

    async def _wait_writable(self) -> None:
        assert self._loop is not None
        self._writable.clear()
        self._loop.add_writer(self.wfd, self._writable.set)
        try:
            await self._writable.wait()
        finally:
            if self.wfd >= 0:
                self._loop.remove_writer(self.wfd)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._readable.set()
        self._writable.set()
        if self._loop is not None:
            if self._polled_reader and self.rfd >= 0:
                self._loop.remove_reader(self.rfd)
            if self._polled_writer and self.wfd >= 0:
                self._loop.remove_writer(self.wfd)
        # the reading thread (if any) owns its descriptor until the process ends
        if self._polled_reader and self.rfd >= 0:
            os.close(self.rfd)
        if self.wfd >= 0:
            os.close(self.wfd)
        self.rfd = self.wfd = -1

    def describe(self) -> str:
        return "stdin/stdout"
