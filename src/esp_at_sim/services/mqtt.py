"""The module's MQTT client: paho-mqtt's protocol engine on asyncio streams.

Theory of operation
-------------------
paho-mqtt knows MQTT (3.1, 3.1.1, 5.0: sessions, QoS 1/2 retries, will,
keepalive) but wants a socket. :class:`MqttSession` opens the connection
itself through the module's :class:`NetIf` - TCP, TLS, WebSocket or
WebSocket over TLS (binary frames, subprotocol ``mqtt``, via wsproto) - and
hands paho a :class:`StreamSocket`, a non-blocking socket look-alike whose
``recv`` drains bytes the reader task received and whose ``send`` writes to
the stream. paho is driven the way its external-loop API intends:
``loop_read`` when bytes arrive, ``loop_misc`` every second, writes happen
as packets are queued.

The same paho client survives a lost link: :meth:`reconnect` opens a new
stream and calls paho's ``reconnect()``, which replays unacknowledged QoS 1/2
messages of a persistent session, as esp-mqtt does from its outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from wsproto import ConnectionType
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from esp_at_sim.services.netif import NetIf, NoNetwork
from esp_at_sim.services.tls import TlsConfigError, check_validity

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

PROTOCOLS = {3: paho.MQTTv31, 4: paho.MQTTv311, 5: paho.MQTTv5}


def _loop_time() -> float:
    """paho's clock (keepalive, retries): the event loop's time when one runs, so a
    module's PINGREQs keep pace with the world clock (virtual time in tests)."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


paho.time_func = _loop_time
READ_SIZE = 4096


class MqttFailure(Exception):
    pass


@dataclass
class Endpoint:
    host: str
    port: int
    websocket: bool = False
    path: str = "/"
    tls: ssl.SSLContext | None = None
    sni: str | None = None


@dataclass
class Identity:
    client_id: str
    username: str | None = None
    password: bytes | None = None
    keepalive: int = 120
    clean_session: bool = True
    protocol: int = 4
    will: tuple[str, bytes, int, bool] | None = None  # topic, payload, qos, retain


class StreamSocket:
    """What paho sees as its socket: a byte buffer fed from an asyncio stream."""

    def __init__(self, send: Callable[[bytes], None], close: Callable[[], None]) -> None:
        self._buf = bytearray()
        self._eof = False
        self._send = send
        self._close = close
        self.closed = False

    def feed(self, data: bytes) -> None:
        if data:
            self._buf += data
        else:
            self._eof = True

    @property
    def readable(self) -> bool:
        return bool(self._buf) or self._eof

    def recv(self, size: int) -> bytes:
        if self._buf:
            out = bytes(self._buf[:size])
            del self._buf[:size]
            return out
        if self._eof or self.closed:
            return b""
        raise BlockingIOError()

    def send(self, data: bytes | bytearray) -> int:
        if self.closed:
            raise BrokenPipeError()
        self._send(bytes(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._close()

    def fileno(self) -> int:
        return -1

    def setblocking(self, flag: bool) -> None:
        pass


class _Client(paho.Client):
    """paho's client, connecting through a socket prepared beforehand."""

    next_socket: StreamSocket | None = None

    def _create_socket(self) -> Any:
        sock, self.next_socket = self.next_socket, None
        if sock is None:
            raise ConnectionError("no stream prepared")
        return sock


class _WsChannel:
    """MQTT bytes in WebSocket binary frames."""

    def __init__(self) -> None:
        self.proto = FrameProtocol(client=True, extensions=[])

    def wrap(self, data: bytes) -> bytes:
        return bytes(self.proto._serialize_frame(Opcode.BINARY, data, True))

    def unwrap(self, data: bytes) -> tuple[bytes, bytes, bool]:
        """Payload bytes, bytes to send back (pongs), and whether the peer closed."""
        self.proto.receive_bytes(data)
        out = bytearray()
        reply = bytearray()
        closed = False
        try:
            for frame in self.proto.received_frames():
                if frame.opcode is Opcode.PING:
                    reply += self.proto.pong(bytes(frame.payload))  # type: ignore[arg-type]
                elif frame.opcode is Opcode.CLOSE:
                    closed = True
                elif frame.opcode in (Opcode.BINARY, Opcode.TEXT, Opcode.CONTINUATION):
                    p = frame.payload
                    out += p.encode() if isinstance(p, str) else bytes(p)  # type: ignore[arg-type]
        except ParseFailed:
            closed = True
        return bytes(out), bytes(reply), closed


@dataclass
class Inbound:
    topic: bytes
    payload: bytes
    qos: int
    retain: bool


@dataclass
class MqttSession:
    module: Module
    endpoint: Endpoint
    identity: Identity
    on_message: Callable[[Inbound], None]
    on_lost: Callable[[], None]
    client: _Client = field(init=False)
    connected: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        ident = self.identity
        kwargs: dict[str, Any] = {
            "callback_api_version": CallbackAPIVersion.VERSION2,
            "client_id": ident.client_id,
            "protocol": PROTOCOLS[ident.protocol],
            "reconnect_on_failure": False,
        }
        if ident.protocol != 5:
            kwargs["clean_session"] = ident.clean_session
        self.client = _Client(**kwargs)
        c = self.client
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        if ident.username is not None or ident.password is not None:
            c.username_pw_set(ident.username or "", ident.password)  # type: ignore[arg-type]  # paho sends bytes as they are
        if ident.will is not None:
            topic, payload, qos, retain = ident.will
            c.will_set(topic, payload, qos, retain)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        c.on_unsubscribe = self._on_unsubscribe
        self._connack: asyncio.Future[int] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._publishing: set[int] = set()
        self._reader_task: asyncio.Task[None] | None = None
        self._misc_task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closing = False

    # ------------------------------------------------------------ callbacks
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        code = reason.value if hasattr(reason, "value") else int(reason)
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(code)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        was = self.connected
        self.connected = False
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(MqttFailure("connection closed before CONNACK"))
        # unacknowledged publishes stay in paho's session and are sent again
        # after a reconnect (esp-mqtt's outbox); subscriptions fail now
        for mid in [m for m in self._acks if m not in self._publishing]:
            fut = self._acks.pop(mid)
            if not fut.done():
                fut.set_exception(MqttFailure("connection lost"))
        if was and not self._closing:
            self.on_lost()

    def _on_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        self.on_message(Inbound(msg._topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    def _resolve(self, mid: int, value: Any) -> None:
        fut = self._acks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(value)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._resolve(mid, reason)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self._resolve(mid, reasons)

    def _on_unsubscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self._resolve(mid, reasons)

    # ------------------------------------------------------------- connect
    async def _open(self) -> StreamSocket:
        ep = self.endpoint
        netif = self.module.service(NetIf)
        try:
            reader, writer = await netif.open_connection(
                ep.host, ep.port, ssl=ep.tls, server_hostname=(ep.sni or ep.host) if ep.tls else None
            )
        except (NoNetwork, LookupError, OSError, ssl.SSLError) as exc:
            raise MqttFailure(repr(exc)) from None
        if ep.tls is not None:
            try:
                check_validity(self.module, writer)
            except TlsConfigError as exc:
                writer.close()
                self.module.chip_log(f"E esp-tls-mbedtls: {exc}")
                raise MqttFailure(str(exc)) from None
        ws: _WsChannel | None = None
        if ep.websocket:
            ws = await self._ws_handshake(reader, writer)
        self._writer = writer
        channel = ws

        def send(data: bytes) -> None:
            writer.write(channel.wrap(data) if channel is not None else data)

        sock = StreamSocket(send, writer.close)
        self._reader_task = self.module.scope.spawn(self._read(reader, writer, sock, ws), name="mqtt-read")
        return sock

    async def _ws_handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> _WsChannel:
        ep = self.endpoint
        hs = H11Handshake(ConnectionType.CLIENT)
        host = ep.host if ep.port in (80, 443) else f"{ep.host}:{ep.port}"
        writer.write(hs.send(Request(host=host, target=ep.path, subprotocols=["mqtt"])))
        while True:
            try:
                data = await reader.read(READ_SIZE)
                hs.receive_data(data or None)
                for ev in hs.events():
                    if isinstance(ev, AcceptConnection):
                        channel = _WsChannel()
                        trailing = bytes(hs._h11_connection.trailing_data[0])
                        if trailing:
                            channel.proto.receive_bytes(trailing)
                        return channel
                    if isinstance(ev, RejectConnection | RejectData):
                        raise MqttFailure("websocket handshake rejected")
            except (OSError, ssl.SSLError, RemoteProtocolError) as exc:
                writer.close()
                raise MqttFailure(repr(exc)) from None
            if not data:
                writer.close()
                raise MqttFailure("closed during websocket handshake")

    async def _read(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sock: StreamSocket, ws: _WsChannel | None
    ) -> None:
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except (OSError, ssl.SSLError):
                data = b""
            if ws is not None and data:
                data, reply, closed = ws.unwrap(data)
                if reply:
                    writer.write(reply)
                if closed:
                    sock.feed(data)
                    data = b""
            sock.feed(data)
            while sock.readable and self.client._sock is sock:
                rc = self.client.loop_read()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            if not data:
                if self.client._sock is sock:
                    self.client._sock_close()
                    self.client._do_on_disconnect(packet_from_broker=False, v1_rc=MQTTErrorCode.MQTT_ERR_CONN_LOST)
                return

    async def _misc(self) -> None:
        while True:
            await self.module.clock.sleep(1.0)
            if self.client._sock is not None:
                self.client.loop_misc()

    async def connect(self, timeout: float, *, again: bool = False) -> None:
        """Open the link and wait for CONNACK; raises MqttFailure."""
        try:
            await self._connect(timeout, again)
        except BaseException as exc:
            if not isinstance(exc, MqttFailure | TimeoutError):
                # cancelled (the module reset while waiting): the socket is known to nobody else
                self.abort()
                self._drop()
            raise

    async def _connect(self, timeout: float, again: bool) -> None:
        loop = asyncio.get_running_loop()
        self._closing = False
        sock = await self.module.clock.wait_for(self._open(), timeout)
        self._connack = loop.create_future()
        self.client.next_socket = sock
        ident = self.identity
        if not again:
            kwargs: dict[str, Any] = {}
            if ident.protocol == 5:
                kwargs["clean_start"] = ident.clean_session
            self.client.connect_async(self.endpoint.host, self.endpoint.port, ident.keepalive, **kwargs)
        rc = self.client.reconnect()
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._drop()
            raise MqttFailure(f"paho reconnect: {rc}")
        try:
            code = await self.module.clock.wait_for(self._connack, timeout)
        except (TimeoutError, MqttFailure) as exc:
            self._drop()
            raise MqttFailure(f"no CONNACK: {exc!r}") from None
        if code != 0:
            self._drop()
            raise MqttFailure(f"broker refused: {code}")
        self.connected = True
        if self._misc_task is None or self._misc_task.done():
            self._misc_task = self.module.scope.spawn(self._misc(), name="mqtt-misc")

    def _drop(self) -> None:
        self.connected = False
        with contextlib.suppress(Exception):
            self.client._sock_close()
        if self._writer is not None:
            self._writer.close()

    # ----------------------------------------------------------- operations
    def _track(self, mid: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[mid] = fut
        return fut

    async def publish(self, topic: str | bytes, payload: bytes, qos: int, retain: bool, timeout: float) -> None:
        if not self.connected:
            raise MqttFailure("not connected")
        t = topic.decode("utf-8", "surrogateescape") if isinstance(topic, bytes) else topic
        info = self.client.publish(t, payload, qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise MqttFailure(f"publish: {info.rc}")
        if qos == 0:
            return
        if info.is_published():
            return
        fut = self._track(info.mid)
        self._publishing.add(info.mid)
        try:
            await self.module.clock.wait_for(fut, timeout)
        except TimeoutError:
            raise MqttFailure("no acknowledgement") from None
        finally:
            self._acks.pop(info.mid, None)
            self._publishing.discard(info.mid)

    async def subscribe(self, topic: str, qos: int, timeout: float) -> bool:
        if not self.connected:
            raise MqttFailure("not connected")
        rc, mid = self.client.subscribe(topic, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise MqttFailure(f"subscribe: {rc}")
        fut = self._track(mid)
        try:
            reasons = await self.module.clock.wait_for(fut, timeout)
        except TimeoutError:
            raise MqttFailure("no SUBACK") from None
        return all(not getattr(r, "is_failure", False) and int(getattr(r, "value", r)) < 0x80 for r in reasons)

    async def unsubscribe(self, topic: str, timeout: float) -> None:
        if not self.connected:
            raise MqttFailure("not connected")
        rc, mid = self.client.unsubscribe(topic)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise MqttFailure(f"unsubscribe: {rc}")
        try:
            await self.module.clock.wait_for(self._track(mid), timeout)
        except TimeoutError:
            raise MqttFailure("no UNSUBACK") from None

    async def close(self, *, graceful: bool = True) -> None:
        """Disconnect (with DISCONNECT when ``graceful``) and stop every task."""
        self._closing = True
        if graceful and self.connected:
            with contextlib.suppress(Exception):
                self.client.disconnect()
        self._drop()
        for task in (self._reader_task, self._misc_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._reader_task = self._misc_task = None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def abort(self) -> None:
        """The link dies without DISCONNECT (power loss, reset): the broker sends the will."""
        self._closing = True
        if self._writer is not None:
            transport = self._writer.transport
            transport.abort()
