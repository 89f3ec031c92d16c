"""A WebSocket client link, as esp_websocket_client runs one (wsproto).

Theory of operation
-------------------
:class:`WsLink` opens a TCP/TLS stream through the module's :class:`NetIf`,
performs the opening handshake with wsproto's :class:`H11Handshake` (extra
headers, subprotocol, ``Authorization``), then speaks frames with wsproto's
:class:`FrameProtocol`. The reader task reads the socket into a
``buffer_size`` buffer, as the firmware does, and reports every piece of
payload with its frame facts (:class:`Piece`): opcode (0 for continuation
frames), FIN, the frame's payload length and the piece's offset in it, so
the AT layer can print any of the +WS_DATA layouts.

Pings from the server are answered; the client pings every ``ping_interval``
and gives up when no pong came for ``ping_timeout``. A lost connection is
reported to ``on_disconnected`` and retried every ``reconnect_interval`` until
the link is closed; a close handshake (either side) ends the link for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from wsproto import ConnectionType
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode, ParseFailed
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from esp_at_sim.services.http import Url
from esp_at_sim.services.netif import NetIf, NoNetwork
from esp_at_sim.services.tls import TlsConfigError, check_validity

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module


class WsState(IntEnum):
    """States of AT+WSOPEN? (websocket_at_commands.rst)."""

    CLOSED = 0
    RECONNECTING = 1
    CONNECTED = 2
    WAIT_RECONNECT = 3
    CLOSING = 4


@dataclass(frozen=True)
class Piece:
    opcode: int
    fin: bool
    payload_len: int
    offset: int
    data: bytes
    frame_done: bool
    message_done: bool


class WsError(Exception):
    pass


class WsLink:
    def __init__(
        self,
        module: Module,
        url: Url,
        *,
        headers: list[tuple[str, str]],
        subprotocol: str | None,
        tls: ssl.SSLContext | None,
        buffer_size: int = 1024,
        ping_interval: float = 10.0,
        ping_timeout: float = 120.0,
        reconnect_interval: float = 10.0,
        on_piece: Callable[[Piece], object],
        on_connected: Callable[[], None],
        on_disconnected: Callable[[], None],
        on_closed: Callable[[], None],
    ) -> None:
        self.module = module
        self.url = url
        self.headers = headers
        self.subprotocol = subprotocol
        self.tls = tls
        self.buffer_size = buffer_size
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.reconnect_interval = reconnect_interval
        self.on_piece = on_piece
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.on_closed = on_closed
        self.state = WsState.CLOSED
        self.proto: FrameProtocol | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_pong = 0.0
        self._closing = False
        self._send_lock = asyncio.Lock()

    # ----------------------------------------------------------- opening
    async def connect(self, timeout: float) -> None:
        """Open and handshake once; raises WsError on failure."""
        try:
            await self.module.clock.wait_for(self._open(), timeout or None)
        except TimeoutError:
            await self._drop_socket()
            raise WsError("timeout") from None
        except WsError:
            await self._drop_socket()
            raise
        except BaseException:
            # cancelled (the module reset mid-handshake): nobody else knows this socket yet
            self._abort_socket()
            raise
        self.state = WsState.CONNECTED
        self._task = self.module.scope.spawn(self._run(), name=f"{self.module.name}-ws")

    async def _open(self) -> None:
        netif = self.module.service(NetIf)
        try:
            self._reader, self._writer = await netif.open_connection(
                self.url.host, self.url.port, ssl=self.tls, server_hostname=self.url.host if self.tls else None
            )
        except (NoNetwork, LookupError, OSError, ssl.SSLError) as exc:
            raise WsError(repr(exc)) from None
        if self.tls is not None:
            try:
                check_validity(self.module, self._writer)
            except TlsConfigError as exc:
                self.module.chip_log(f"E esp-tls-mbedtls: {exc}")
                raise WsError(str(exc)) from None
        hs = H11Handshake(ConnectionType.CLIENT)
        extra = [(k.encode(), v.encode()) for k, v in self.headers]
        req = Request(
            host=self.url.host_header,
            target=self.url.target,
            subprotocols=[self.subprotocol] if self.subprotocol else [],
            extra_headers=extra,
        )
        self._writer.write(hs.send(req))
        while True:
            try:
                data = await self._reader.read(self.buffer_size)
                hs.receive_data(data or None)
            except (OSError, ssl.SSLError, RemoteProtocolError) as exc:
                raise WsError(repr(exc)) from None
            try:
                for ev in hs.events():
                    if isinstance(ev, AcceptConnection):
                        trailing = hs._h11_connection.trailing_data[0]
                        self.proto = FrameProtocol(client=True, extensions=[])
                        self.proto.receive_bytes(bytes(trailing))
                        self._last_pong = self.module.clock.now()
                        return
                    if isinstance(ev, RejectConnection | RejectData):
                        raise WsError("handshake rejected")
            except RemoteProtocolError as exc:
                raise WsError(str(exc)) from None
            if not data:
                raise WsError("closed during handshake")

    # ----------------------------------------------------------- running
    async def _run(self) -> None:
        while True:
            reason = await self._serve()
            await self._drop_socket()
            if reason == "closed" or self._closing:
                self.state = WsState.CLOSED
                self.on_disconnected()
                return
            self.state = WsState.WAIT_RECONNECT
            self.on_disconnected()
            while True:
                await self.module.clock.sleep(self.reconnect_interval)
                self.state = WsState.RECONNECTING
                try:
                    await self.module.clock.wait_for(self._open(), 10.0)
                except (WsError, TimeoutError):
                    await self._drop_socket()
                    self.state = WsState.WAIT_RECONNECT
                    continue
                self.state = WsState.CONNECTED
                self.on_connected()
                break

    async def _serve(self) -> str:
        pinger = self.module.scope.spawn(self._ping_loop(), name=f"{self.module.name}-ws-ping")
        try:
            return await self._read_loop()
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping_loop(self) -> None:
        while True:
            await self.module.clock.sleep(self.ping_interval)
            if self.module.clock.now() - self._last_pong > self.ping_timeout:
                self.module.chip_log("W websocket_client: No PONG received within timeout")
                if self._writer is not None:
                    self._writer.close()
                return
            with contextlib.suppress(WsError, OSError):
                await self.send_frame(Opcode.PING, b"", True)

    async def _read_loop(self) -> str:
        assert self._reader is not None and self.proto is not None
        frame_len = offset = 0
        in_frame = in_message = False
        while True:
            frames = list(self._frames())
            for frame in frames:
                op, payload = frame.opcode, frame.payload
                if op is Opcode.CLOSE:
                    code, reason = payload if isinstance(payload, tuple) else (CloseReason.NORMAL_CLOSURE, "")
                    if not self._closing:
                        self.state = WsState.CLOSING
                        with contextlib.suppress(OSError, WsError):
                            await self._write(self.proto.close(code, reason))
                    return "closed"
                if op is Opcode.PING:
                    with contextlib.suppress(OSError, WsError):
                        await self.send_frame(Opcode.PONG, bytes(payload), True)
                    continue
                data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
                if op is Opcode.PONG:
                    self._last_pong = self.module.clock.now()
                    await _call(self.on_piece(Piece(int(op), True, len(data), 0, data, True, True)))
                    continue
                if not in_frame:
                    frame_len = len(data) if frame.frame_finished else self._header_len(len(data))
                    offset = 0
                    real_op = 0 if in_message else int(op)
                    in_frame = True
                await _call(
                    self.on_piece(
                        Piece(
                            real_op,
                            frame.message_finished,
                            frame_len,
                            offset,
                            data,
                            frame.frame_finished,
                            frame.frame_finished and frame.message_finished,
                        )
                    )
                )
                offset += len(data)
                if frame.frame_finished:
                    in_frame = False
                    in_message = not frame.message_finished
            try:
                data = await self._reader.read(self.buffer_size)
            except (OSError, ssl.SSLError):
                return "lost"
            if not data:
                return "lost"
            self.proto.receive_bytes(data)

    def _frames(self) -> list:  # type: ignore[type-arg]
        assert self.proto is not None
        try:
            return list(self.proto.received_frames())
        except ParseFailed as exc:
            self.module.chip_log(f"E transport_ws: {exc}")
            if self._writer is not None:
                self._writer.close()
            return []

    def _header_len(self, fallback: int) -> int:
        """Payload length of the frame being received (its header is parsed already)."""
        assert self.proto is not None
        header = self.proto._frame_decoder.header
        return header.payload_len if header is not None else fallback

    # ------------------------------------------------------------ sending
    async def send_frame(self, opcode: int, payload: bytes, fin: bool) -> None:
        if self.proto is None or self._writer is None or self.state is not WsState.CONNECTED:
            raise WsError("not connected")
        op = Opcode(opcode)
        if op is Opcode.CLOSE:
            self._closing = True
            self.state = WsState.CLOSING
        frame = self.proto._serialize_frame(op, payload, fin)
        await self._write(frame)

    async def _write(self, data: bytes | bytearray) -> None:
        if self._writer is None:
            raise WsError("not connected")
        async with self._send_lock:
            try:
                self._writer.write(bytes(data))
                await self._writer.drain()
            except (OSError, ssl.SSLError) as exc:
                raise WsError(repr(exc)) from None

    # ------------------------------------------------------------ closing
    async def close(self) -> None:
        """AT+WSCLOSE: stop the client, with a close frame if still connected."""
        self._closing = True
        if self.state is WsState.CONNECTED and self.proto is not None:
            with contextlib.suppress(WsError, OSError):
                await self._write(self.proto.close(CloseReason.NORMAL_CLOSURE, ""))
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._drop_socket()
        self.state = WsState.CLOSED
        self.on_closed()

    def _abort_socket(self) -> None:
        writer, self._writer = self._writer, None
        self._reader = None
        if writer is not None:
            writer.transport.abort()
            writer.close()

    async def _drop_socket(self) -> None:
        writer, self._writer = self._writer, None
        self._reader = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _call(result: object) -> None:
    if asyncio.iscoroutine(result):
        await result
