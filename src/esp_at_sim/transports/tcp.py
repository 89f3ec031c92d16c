"""The UART as a raw TCP byte stream (``tcp-server:HOST:PORT``), one host at a time.

Theory of operation
-------------------
A listening socket stands in for the UART connector. The first host that
connects is attached; any other connection while one is attached is accepted
and closed at once (with a log line), so a second host learns immediately
that the port is taken instead of hanging. When the host goes away the module
keeps running and the next host may connect. Bytes the module writes while
no host is attached are dropped, as on a UART with nobody listening.

The byte path uses an asyncio Protocol (no stream wrappers): received bytes
go to a buffer that :meth:`read` drains; :meth:`write` waits while the
socket's send buffer is full (back-pressure), and stops waiting if that host
disconnects. Reading from the host is paused when the module falls far behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from esp_at_sim.errors import TransportError
from esp_at_sim.transports.base import Transport

log = logging.getLogger(__name__)

#: stop reading from the host when this much input is waiting for the module
_RX_HIGH_WATER = 256 * 1024


class _HostConnection(asyncio.Protocol):
    """One accepted TCP connection; hands its bytes to the owning transport."""

    def __init__(self, owner: TcpServerTransport) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.lost = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.owner._attach(self)

    def data_received(self, data: bytes) -> None:
        self.owner._received(self, data)

    def eof_received(self) -> bool:
        return False  # close our side too: a UART has no half-close

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()
        self.can_write.set()
        self.owner._detach(self)

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()


class TcpServerTransport(Transport):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.current: _HostConnection | None = None
        self._server: asyncio.Server | None = None
        self._rx = bytearray()
        self._readable = asyncio.Event()
        self._closed = False
        self._rx_paused = False
        self._deliver: Callable[[bytes], None] | None = None
        self._push_paused = False
        self.connected = asyncio.Event()  # a host is attached (for tests and tools)
        self.hosts_served = 0

    # ------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _HostConnection(self), self.host, self.port, reuse_address=True
            )
        except OSError as exc:
            raise TransportError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        sockname = self._server.sockets[0].getsockname()
        self.port = int(sockname[1])

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._readable.set()
        if self.current is not None and self.current.transport is not None:
            self.current.transport.abort()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    # -------------------------------------------------- protocol callbacks
    def _attach(self, conn: _HostConnection) -> None:
        assert conn.transport is not None
        if self._closed:
            conn.transport.abort()
            return
        if self.current is not None:
            log.warning(
                "UART on %s:%d: refused %s, host %s is connected", self.host, self.port, conn.peer, self.current.peer
            )
            conn.transport.close()
            return
        self.current = conn
        if self._push_paused:
            conn.transport.pause_reading()
        self.hosts_served += 1
        self.connected.set()
        log.info("UART on %s:%d: host %s connected", self.host, self.port, conn.peer)

    def _received(self, conn: _HostConnection, data: bytes) -> None:
        if conn is not self.current:
            return
        if self._deliver is not None:
            self._deliver(data)
            return
        self._rx += data
        self._readable.set()
        if len(self._rx) >= _RX_HIGH_WATER and not self._rx_paused and conn.transport is not None:
            self._rx_paused = True
            conn.transport.pause_reading()

    def _detach(self, conn: _HostConnection) -> None:
        if conn is not self.current:
            return
        self.current = None
        self._rx_paused = False
        self.connected.clear()
        log.info("UART on %s:%d: host %s disconnected", self.host, self.port, conn.peer)

    # ---------------------------------------------------- push mode (hot path)
    def start_push(self, deliver: Callable[[bytes], None]) -> bool:
        if self._rx:  # bytes that came in before: they go first
            data = bytes(self._rx)
            self._rx.clear()
            deliver(data)
        self._deliver = deliver
        return True

    def pause_push(self) -> None:
        self._push_paused = True
        if self.current is not None and self.current.transport is not None:
            self.current.transport.pause_reading()

    def resume_push(self) -> None:
        self._push_paused = False
        if self.current is not None and self.current.transport is not None:
            self.current.transport.resume_reading()

    # ------------------------------------------------------------ byte path
    async def read(self) -> bytes:
        while not self._rx:
            if self._closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._rx)
        self._rx.clear()
        if self._rx_paused:
            self._rx_paused = False
            conn = self.current
            if conn is not None and conn.transport is not None:
                conn.transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        conn = self.current
        if conn is None or conn.transport is None or conn.transport.is_closing():
            return  # nobody on the line: the bytes are gone
        conn.transport.write(data)
        if not conn.can_write.is_set():
            await conn.can_write.wait()

    def write_nowait(self, data: bytes) -> int:
        conn = self.current
        if conn is None or conn.transport is None or conn.transport.is_closing():
            return len(data)  # nobody on the line
        if not conn.can_write.is_set():
            return 0
        conn.transport.write(data)
        return len(data)

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"
