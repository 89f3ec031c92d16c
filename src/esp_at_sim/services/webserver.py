"""A small HTTP/1.1 server for the module (h11 over NetIf's listening sockets).

Theory of operation
-------------------
:class:`HttpServer` listens through :meth:`NetIf.start_server`: on the host's
loopback at the module port (or its ``port_map`` entry) and at every virtual
address of the module. Each connection is an asyncio Protocol feeding h11;
a complete request (head and body) goes to the ``handler`` coroutine, which
returns a :class:`Reply`. Like esp_http_server it keeps connections alive and
closes a connection that stays idle longer than ``idle_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import h11

from esp_at_sim.services.netif import NetIf

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

MAX_BODY = 16 * 1024


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Reply]]


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY)
        self.transport: asyncio.Transport | None = None
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._busy = False
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()

    def _arm(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        delay = self.server.module.clock.real_seconds(self.server.idle_timeout)
        self._idle = loop.call_later(delay, self.close)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._arm()
        self.conn.receive_data(data)
        self._process()

    def eof_received(self) -> bool | None:
        self.conn.receive_data(b"")
        self._process()
        return None

    def _process(self) -> None:
        if self._busy:
            return
        while True:
            try:
                ev = self.conn.next_event()
            except h11.RemoteProtocolError:
                self._send_error(400)
                return
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                return
            if isinstance(ev, h11.Request):
                self._request = ev
                self._body.clear()
            elif isinstance(ev, h11.Data):
                self._body += ev.data
                if len(self._body) > MAX_BODY:
                    self._send_error(500)
                    return
            elif isinstance(ev, h11.EndOfMessage) and self._request is not None:
                req = self._request
                self._request = None
                self._busy = True
                self.server.module.scope.spawn(self._answer(req, bytes(self._body)), name="webserver-request")
                return
            elif isinstance(ev, h11.ConnectionClosed):
                self.close()
                return

    async def _answer(self, ev: h11.Request, body: bytes) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in ev.headers}
        target = ev.target.decode("latin-1")
        req = Request(ev.method.decode("ascii"), target.split("?", 1)[0], headers, body)
        try:
            reply = await self.server.handler(req)
        except Exception:
            self.server.module.log.exception("web server handler failed")
            reply = Reply(500, b"Internal Server Error", "text/plain")
        self._send(reply)
        self._busy = False
        if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
            self.close()
            return
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.start_next_cycle()
        self._process()

    def _send(self, reply: Reply) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        hdrs = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))), *reply.headers]
        try:
            out = self.conn.send(h11.Response(status_code=reply.status, headers=hdrs))
            out += self.conn.send(h11.Data(data=reply.body)) or b""
            out += self.conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            self.close()
            return
        self.transport.write(out)

    def _send_error(self, status: int) -> None:
        with contextlib.suppress(h11.LocalProtocolError):
            if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                self._send(Reply(status, b"", "text/plain"))
        self.close()


class HttpServer:
    def __init__(self, module: Module, handler: Handler, *, idle_timeout: float = 60.0) -> None:
        self.module = module
        self.handler = handler
        self.idle_timeout = idle_timeout
        self.connections: set[_Connection] = set()
        self._stop: Callable[[], None] | None = None
        self.port = 0

    async def start(self, port: int) -> None:
        netif = self.module.service(NetIf)

        def accept(peer: object, local: object) -> asyncio.Protocol:
            return _Connection(self)

        self._stop = await netif.start_server(accept, port)
        self.port = port

    @property
    def host_port(self) -> int:
        return self.module.service(NetIf).host_port(self.port)

    def stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()
        for c in list(self.connections):
            c.close()
