"""MQTT AT commands (MQTT_AT_Commands.rst).

One link (ID 0). The link walks the states AT+MQTTCONN? reports: 0 nothing,
1 user configuration set, 2 connection configuration set, 3 disconnected,
4 connected, 5 connected without subscriptions left, 6 connected with
subscriptions. Failures answer ``ERROR`` with the MQTT error numbers of the
spec in the extension of ``ERR CODE:0x010a60xx``.

Formats as the firmware prints them: ``+MQTTCONNECTED:0,<scheme>,"<host>",
"<port>","<path>",<reconnect>`` (port quoted, WebSocket paths with their
leading ``/``), ``+MQTTDISCONNECTED:0``, ``+MQTTSUBRECV:0,"<topic>",<len>,
<data>\\r\\n``. A received message larger than the client's 1024-byte buffer
(MQTT header included) is printed in several ``+MQTTSUBRECV`` pieces.
After AT+MQTTPUBRAW's data, the result is the line ``+MQTTPUB:OK`` or
``+MQTTPUB:FAIL``.

Beyond the spec's parameter list, AT+MQTTCONNCFG takes an optional eighth
parameter, the protocol level (3: MQTT 3.1, 4: 3.1.1 (default), 5: 5.0).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

from esp_at_sim.at.codes import ErrorSub
from esp_at_sim.at.events import Final, Result
from esp_at_sim.at.params import MISSING, Args
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.heap import Allocation
from esp_at_sim.device.module import Module
from esp_at_sim.errors import AtError
from esp_at_sim.services.mqtt import Endpoint, Identity, Inbound, MqttFailure, MqttSession
from esp_at_sim.services.tls import TlsConfigError, client_context

BUFFER = 1024  # esp-mqtt's default buffer: larger messages arrive in pieces
MAX_TOPICS = 10
RECONNECT_INTERVAL = 10.0
TLS_SCHEMES = {2, 3, 4, 5, 7, 8, 9, 10}
WS_SCHEMES = {6, 7, 8, 9, 10}


class MqttError(AtError):
    sub = ErrorSub.CMD_EXEC_FAIL


# The MQTT error table (MQTT_AT_Commands.rst, MQTTErrCod)
NO_CONFIGURED = 0x6001
NOT_IN_CONFIGURED_STATE = 0x6002
UNINITIATED_OR_ALREADY_CLEAN = 0x6003
ALREADY_CONNECTED = 0x6004
MALLOC_FAILED = 0x6005
PARAMETER_COUNTS_IS_WRONG = 0x6008
TLS_CONFIG_ERROR = 0x6009
CLIENT_START_FAILED = 0x600B
CLIENT_PUBLISH_FAILED = 0x600C
CLIENT_SUBSCRIBE_FAILED = 0x600D
CLIENT_UNSUBSCRIBE_FAILED = 0x600E
LINK_ID_VALUE_IS_WRONG = 0x6011
SCHEME_VALUE_IS_WRONG = 0x6013
CLIENT_ID_IS_NULL = 0x6015
CLIENT_ID_IS_OVERLENGTH = 0x6016
USERNAME_IS_OVERLENGTH = 0x6019
PASSWORD_IS_OVERLENGTH = 0x601C
CERT_KEY_ID_VALUE_IS_WRONG = 0x601E
CA_ID_VALUE_IS_WRONG = 0x6020
PATH_IS_OVERLENGTH = 0x6029
VERSION_READ_FAILED = 0x602A
KEEPALIVE_VALUE_IS_WRONG = 0x602D
DISABLE_CLEAN_SESSION_VALUE_IS_WRONG = 0x602F
LWT_TOPIC_IS_OVERLENGTH = 0x6032
LWT_MSG_IS_OVERLENGTH = 0x6035
LWT_QOS_VALUE_IS_WRONG = 0x6037
LWT_RETAIN_VALUE_IS_WRONG = 0x6039
HOST_IS_NULL = 0x603B
HOST_IS_OVERLENGTH = 0x603C
PORT_VALUE_IS_WRONG = 0x603E
RECONNECT_VALUE_IS_WRONG = 0x6040
TOPIC_IS_NULL = 0x6042
TOPIC_IS_OVERLENGTH = 0x6043
DATA_IS_NULL = 0x6045
QOS_VALUE_IS_WRONG = 0x6048
RETAIN_VALUE_IS_WRONG = 0x604A
PUBLISH_LENGTH_VALUE_IS_WRONG = 0x604C
IN_DISCONNECTED_STATE = 0x6051


def fail(code: int) -> MqttError:
    return MqttError(code)


@dataclass
class MqttLink:
    """Per-boot MQTT state of link 0: ``module.service(MqttLink)``."""

    module: Module
    state: int = 0
    scheme: int = 0
    client_id: str = ""
    username: str = ""
    password: bytes = b""
    cert_key_id: int = 0
    ca_id: int = 0
    path: str = ""
    keepalive: int = 0
    clean_session: bool = True
    will: tuple[str, bytes, int, bool] | None = None
    protocol: int = 4
    alpn: list[str] = field(default_factory=list)
    sni: str = ""
    host: str = ""
    port: int = 0
    reconnect: int = 0
    topics: dict[str, int] = field(default_factory=dict)
    session: MqttSession | None = None
    ram: list[Allocation] = field(default_factory=list)
    configured: int = 1  # state to return to after AT+MQTTCLEAN... (1 or 2)

    def __post_init__(self) -> None:
        self.module.scope.on_close(self._power_loss)

    def _power_loss(self) -> None:
        if self.session is not None:
            self.session.abort()

    def reset(self) -> None:
        """Back to state 0, as after boot (AT+MQTTCLEAN)."""
        for f in fields(self):
            if f.name != "module":
                default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                setattr(self, f.name, default)

    def release(self) -> None:
        for a in self.ram:
            a.free()
        self.ram.clear()

    # ----------------------------------------------------------- receiving
    def on_message(self, msg: Inbound) -> None:
        self.module.scope.spawn(self._print(msg), name="mqtt-subrecv")

    async def _print(self, msg: Inbound) -> None:
        topic = msg.topic
        head = 2 + len(topic) + (2 if msg.qos else 0)
        remaining = head + len(msg.payload)
        fixed = 2 + (remaining >= 128) + (remaining >= 16384) + (remaining >= 2097152)
        first = max(0, BUFFER - fixed - head)
        pieces = [msg.payload[:first]]
        rest = msg.payload[first:]
        while rest:
            pieces.append(rest[:BUFFER])
            rest = rest[BUFFER:]
        out = b"".join(
            b'+MQTTSUBRECV:0,"' + topic + b'",' + str(len(p)).encode() + b"," + p + b"\r\n"
            for p in pieces
            if p or len(pieces) == 1
        )
        await self.module.send_data(out)

    def on_lost(self) -> None:
        self.state = 3
        self.module.urc("+MQTTDISCONNECTED:0")
        if self.reconnect:
            self.module.scope.spawn(self._reconnect(), name="mqtt-reconnect")

    async def _reconnect(self) -> None:
        while self.session is not None and self.state == 3:
            await self.module.clock.sleep(RECONNECT_INTERVAL)
            session = self.session
            if session is None or self.state != 3:
                return
            try:
                await session.connect(10.0, again=True)
            except MqttFailure as exc:
                self.module.chip_log(f"E mqtt_client: reconnect failed: {exc}")
                self.module.urc("+MQTTDISCONNECTED:0")
                continue
            self.state = 4
            self.module.urc(self.connected_line())
            for topic, qos in list(self.topics.items()):
                try:
                    await session.subscribe(topic, qos, 15.0)
                except MqttFailure:
                    self.module.chip_log(f"E at-mqtt: topic:{topic} sub failed")
            self.state = 6 if self.topics else 4
            return

    def connected_line(self) -> str:
        return f'+MQTTCONNECTED:0,{self.scheme},"{self.host}","{self.port}","{self.shown_path}",{self.reconnect}'

    @property
    def shown_path(self) -> str:
        return ("/" + self.path.lstrip("/")) if self.scheme in WS_SCHEMES else self.path


def _link(ctx: CommandContext) -> MqttLink:
    return ctx.module.service(MqttLink)


# ------------------------------------------------------------ parameter help


class _Args:
    """Reads parameters the way the MQTT commands check them: each failure has its own code."""

    def __init__(self, args: Args, counts: tuple[int, ...]) -> None:
        if len(args) not in counts:
            raise fail(PARAMETER_COUNTS_IS_WRONG)
        self.args = args

    def num(self, i: int, lo: int, hi: int, code: int, default: object = MISSING) -> int:
        if not self.args.present(i):
            if default is MISSING:
                raise fail(code - 1)
            return default  # type: ignore[return-value]
        try:
            value: int = self.args.int(i)
        except AtError:
            raise fail(code - 1) from None
        if not lo <= value <= hi:
            raise fail(code)
        return value

    def text(self, i: int, max_len: int, over_code: int, *, allow_empty: bool = True, null_code: int = 0) -> bytes:
        if not self.args.present(i):
            if allow_empty:
                return b""
            raise fail(null_code or over_code - 1)
        try:
            value: bytes = self.args.str(i)
        except AtError:
            raise fail(over_code - 2) from None
        if len(value) > max_len:
            raise fail(over_code)
        if not value and not allow_empty:
            raise fail(null_code or over_code - 1)
        return value


def _link_id(a: _Args) -> None:
    a.num(0, 0, 0, LINK_ID_VALUE_IS_WRONG)


def _timeout(a: _Args, i: int) -> float:
    ms = a.num(i, 3000, 60000, 0x6000, default=15000)  # out of range: parameter error
    return ms / 1000.0


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _need_config(link: MqttLink) -> None:
    if link.state == 0:
        raise fail(NO_CONFIGURED)
    if link.state not in (1, 2):
        raise fail(NOT_IN_CONFIGURED_STATE)


# ----------------------------------------------------------- AT+MQTTUSERCFG

mqttusercfg = command("+MQTTUSERCFG", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTUSERCFG")


@mqttusercfg.set()
async def _usercfg(ctx: CommandContext, args: Args) -> None:
    a = _Args(args, (8,))
    _link_id(a)
    link = _link(ctx)
    scheme = a.num(1, 1, 10, SCHEME_VALUE_IS_WRONG)
    client_id = a.text(2, 256, CLIENT_ID_IS_OVERLENGTH)
    username = a.text(3, 64, USERNAME_IS_OVERLENGTH)
    password = a.text(4, 64, PASSWORD_IS_OVERLENGTH)
    cert = a.num(5, 0, 0, CERT_KEY_ID_VALUE_IS_WRONG)
    ca = a.num(6, 0, 0, CA_ID_VALUE_IS_WRONG)
    path = a.text(7, 32, PATH_IS_OVERLENGTH)
    if link.state not in (0, 1, 2):
        raise fail(NOT_IN_CONFIGURED_STATE)
    link.scheme, link.client_id, link.username, link.password = scheme, _text(client_id), _text(username), password
    link.cert_key_id, link.ca_id, link.path = cert, ca, _text(path)
    link.state = max(link.state, 1)


def _simple_setter(name: str, attr: str, max_len: int, over_code: int, doc: str) -> None:
    cmd = command(name, group="mqtt", doc=doc)

    @cmd.set()
    async def _set(ctx: CommandContext, args: Args) -> None:
        a = _Args(args, (2,))
        _link_id(a)
        value = a.text(1, max_len, over_code)
        link = _link(ctx)
        _need_config(link)
        setattr(link, attr, value if attr == "password" else _text(value))


_simple_setter("+MQTTCLIENTID", "client_id", 256, CLIENT_ID_IS_OVERLENGTH, "MQTT_AT_Commands.rst#cmd-MQTTUSERCFG")
_simple_setter("+MQTTUSERNAME", "username", 64, USERNAME_IS_OVERLENGTH, "MQTT_AT_Commands.rst#cmd-MQTTUSERCFG")
_simple_setter("+MQTTPASSWORD", "password", 64, PASSWORD_IS_OVERLENGTH, "MQTT_AT_Commands.rst#cmd-MQTTUSERCFG")


def _long_setter(name: str, attr: str, over_code: int) -> None:
    cmd = command(name, group="mqtt", doc=f"MQTT_AT_Commands.rst#cmd-{name[1:]}")

    @cmd.set()
    async def _set(ctx: CommandContext, args: Args) -> None:
        a = _Args(args, (2,))
        _link_id(a)
        length = a.num(1, 1, 1024, over_code)
        link = _link(ctx)
        _need_config(link)
        got = await ctx.prompt(length)
        if not got.complete:
            raise fail(over_code - 2)
        setattr(link, attr, got.data if attr == "password" else _text(got.data))


_long_setter("+MQTTLONGCLIENTID", "client_id", CLIENT_ID_IS_OVERLENGTH)
_long_setter("+MQTTLONGUSERNAME", "username", USERNAME_IS_OVERLENGTH)
_long_setter("+MQTTLONGPASSWORD", "password", PASSWORD_IS_OVERLENGTH)


# ----------------------------------------------------------- AT+MQTTCONNCFG

mqttconncfg = command("+MQTTCONNCFG", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTCONNCFG")


@mqttconncfg.set()
async def _conncfg(ctx: CommandContext, args: Args) -> None:
    a = _Args(args, (7, 8))
    _link_id(a)
    keepalive = a.num(1, 0, 7200, KEEPALIVE_VALUE_IS_WRONG)
    disable_clean = a.num(2, 0, 1, DISABLE_CLEAN_SESSION_VALUE_IS_WRONG)
    lwt_topic = a.text(3, 128, LWT_TOPIC_IS_OVERLENGTH)
    lwt_msg = a.text(4, 128, LWT_MSG_IS_OVERLENGTH)
    lwt_qos = a.num(5, 0, 2, LWT_QOS_VALUE_IS_WRONG, default=0)
    lwt_retain = a.num(6, 0, 1, LWT_RETAIN_VALUE_IS_WRONG, default=0)
    version = 4
    if len(args) == 8:
        version = a.num(7, 3, 5, VERSION_READ_FAILED)
    link = _link(ctx)
    _need_config(link)
    link.keepalive, link.clean_session, link.protocol = keepalive, not disable_clean, version
    link.will = (_text(lwt_topic), lwt_msg, lwt_qos, bool(lwt_retain)) if lwt_topic else None
    link.state = 2
    link.configured = 2


# ------------------------------------------------------------ ALPN and SNI

mqttalpn = command("+MQTTALPN", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTALPN")


@mqttalpn.set()
async def _alpn(ctx: CommandContext, args: Args) -> None:
    if len(args) < 2:
        raise fail(PARAMETER_COUNTS_IS_WRONG)
    a = _Args(args, tuple(range(2, 8)))
    _link_id(a)
    count = a.num(1, 0, 5, 0x6000)
    if len(args) != 2 + count:
        raise fail(PARAMETER_COUNTS_IS_WRONG)
    names = [_text(a.text(2 + i, 255, 0x6000, allow_empty=False, null_code=0x6007)) for i in range(count)]
    link = _link(ctx)
    _need_config(link)
    link.alpn = names


mqttsni = command("+MQTTSNI", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTSNI")


@mqttsni.set()
async def _sni(ctx: CommandContext, args: Args) -> None:
    a = _Args(args, (2,))
    _link_id(a)
    sni = a.text(1, 255, 0x6000)
    link = _link(ctx)
    _need_config(link)
    link.sni = _text(sni)


# --------------------------------------------------------------- AT+MQTTCONN

mqttconn = command("+MQTTCONN", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTCONN")


@mqttconn.query
async def _conn_q(ctx: CommandContext) -> None:
    link = _link(ctx)
    if link.state < 3:
        ctx.raw(f'+MQTTCONN:0,{link.state},{link.scheme},"","","",0\r\n'.encode())
        return
    ctx.raw(
        f'+MQTTCONN:0,{link.state},{link.scheme},"{link.host}","{link.port}","{link.shown_path}",{link.reconnect}\r\n'.encode(
            "utf-8", "surrogateescape"
        )
    )


def _endpoint(ctx: CommandContext, link: MqttLink) -> Endpoint:
    tls = None
    if link.scheme in TLS_SCHEMES:
        verify = link.scheme in (3, 5, 8, 10)
        cert = link.scheme in (4, 5, 9, 10)
        try:
            tls = client_context(
                ctx.module,
                "mqtt",
                verify=verify,
                client_cert=cert,
                pki_index=link.cert_key_id,
                ca_index=link.ca_id,
                alpn=link.alpn or None,
            )
        except TlsConfigError as exc:
            ctx.module.chip_log(f"E at-mqtt: {exc}")
            raise fail(TLS_CONFIG_ERROR) from None
    return Endpoint(
        link.host,
        link.port,
        websocket=link.scheme in WS_SCHEMES,
        path="/" + link.path.lstrip("/"),
        tls=tls,
        sni=link.sni or None,
    )


@mqttconn.set()
async def _conn_s(ctx: CommandContext, args: Args) -> None:
    a = _Args(args, (4, 5))
    _link_id(a)
    host = a.text(1, 128, HOST_IS_OVERLENGTH, allow_empty=False, null_code=HOST_IS_NULL)
    port = a.num(2, 1, 65535, PORT_VALUE_IS_WRONG)
    reconnect = a.num(3, 0, 1, RECONNECT_VALUE_IS_WRONG)
    timeout = _timeout(a, 4)
    link = _link(ctx)
    module = ctx.module
    if link.state == 0:
        raise fail(NO_CONFIGURED)
    if link.state >= 4:
        raise fail(ALREADY_CONNECTED)
    if link.state == 3:
        raise fail(IN_DISCONNECTED_STATE)
    if not link.client_id and not link.clean_session:
        raise fail(CLIENT_ID_IS_NULL)
    link.host, link.port, link.reconnect = _text(host), port, reconnect
    endpoint = _endpoint(ctx, link)
    ram = [module.heap.alloc_kind("mqtt_client")]
    if endpoint.tls is not None:
        ram.append(module.heap.alloc_kind("tls_session"))
    identity = Identity(
        client_id=link.client_id,
        username=link.username or None,
        password=link.password or None,
        keepalive=link.keepalive or 120,
        clean_session=link.clean_session,
        protocol=link.protocol,
        will=link.will,
    )
    session = MqttSession(module, endpoint, identity, on_message=link.on_message, on_lost=link.on_lost)
    try:
        await session.connect(timeout)
    except (MqttFailure, TimeoutError) as exc:
        module.chip_log(f"E mqtt_client: {exc}")
        await session.close(graceful=False)
        for r in ram:
            r.free()
        # the client is gone again: the link is back to its configuration
        module.urc("+MQTTDISCONNECTED:0")
        raise fail(CLIENT_START_FAILED) from None
    link.session, link.ram = session, ram
    link.state = 4
    link.topics.clear()
    ctx.urc(link.connected_line())


# ------------------------------------------------------- AT+MQTTPUB / PUBRAW


def _topic(a: _Args, i: int) -> str:
    return _text(a.text(i, 128, TOPIC_IS_OVERLENGTH, allow_empty=False, null_code=TOPIC_IS_NULL))


def _connected(link: MqttLink) -> MqttSession:
    if link.session is None or link.state < 4:
        raise fail(IN_DISCONNECTED_STATE if link.state == 3 else NO_CONFIGURED if link.state == 0 else 0x6006)
    return link.session


mqttpub = command("+MQTTPUB", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTPUB")


@mqttpub.set()
async def _pub(ctx: CommandContext, args: Args) -> None:
    a = _Args(args, (5, 6))
    _link_id(a)
    topic = _topic(a, 1)
    data = a.text(2, 1024, 0x6046, allow_empty=False, null_code=DATA_IS_NULL)
    qos = a.num(3, 0, 2, QOS_VALUE_IS_WRONG)
    retain = a.num(4, 0, 1, RETAIN_VALUE_IS_WRONG)
    timeout = _timeout(a, 5)
    session = _connected(_link(ctx))
    try:
        await session.publish(topic, data, qos, bool(retain), timeout)
    except MqttFailure as exc:
        ctx.module.chip_log(f"E at-mqtt: {exc}")
        raise fail(CLIENT_PUBLISH_FAILED) from None


mqttpubraw = command("+MQTTPUBRAW", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTPUBRAW")


@mqttpubraw.set()
async def _pubraw(ctx: CommandContext, args: Args) -> Final:
    a = _Args(args, (5, 6))
    _link_id(a)
    topic = _topic(a, 1)
    length = a.num(2, 1, 0x7FFFFFFF, PUBLISH_LENGTH_VALUE_IS_WRONG)
    qos = a.num(3, 0, 2, QOS_VALUE_IS_WRONG)
    retain = a.num(4, 0, 1, RETAIN_VALUE_IS_WRONG)
    timeout = _timeout(a, 5)
    module = ctx.module
    session = _connected(_link(ctx))
    if length > module.heap.largest_block:
        raise fail(MALLOC_FAILED)
    buf = module.heap.alloc(length, "mqtt_pubraw")
    try:
        got = await ctx.prompt(length)
        ok = got.complete
        if ok:
            try:
                await session.publish(topic, got.data, qos, bool(retain), timeout)
            except MqttFailure as exc:
                module.chip_log(f"E at-mqtt: {exc}")
                ok = False
    finally:
        buf.free()
    ctx.raw(b"+MQTTPUB:OK\r\n" if ok else b"+MQTTPUB:FAIL\r\n")
    return Final(Result.NONE)


# ----------------------------------------------------------- SUB and UNSUB

mqttsub = command("+MQTTSUB", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTSUB")


@mqttsub.query
async def _sub_q(ctx: CommandContext) -> None:
    link = _link(ctx)
    if not link.topics:
        ctx.raw(f'+MQTTSUB:0,{link.state},"",0\r\n'.encode())
    for topic, qos in link.topics.items():
        ctx.raw(f'+MQTTSUB:0,{link.state},"{topic}",{qos}\r\n'.encode("utf-8", "surrogateescape"))


@mqttsub.set()
async def _sub_s(ctx: CommandContext, args: Args) -> Final | None:
    a = _Args(args, (3, 4))
    _link_id(a)
    topic = _topic(a, 1)
    qos = a.num(2, 0, 2, QOS_VALUE_IS_WRONG)
    timeout = _timeout(a, 3)
    link = _link(ctx)
    session = _connected(link)
    if topic in link.topics:
        return Final(Result.OK, message="ALREADY SUBSCRIBE")
    if len(link.topics) >= MAX_TOPICS:
        raise fail(CLIENT_SUBSCRIBE_FAILED)
    try:
        granted = await session.subscribe(topic, qos, timeout)
    except MqttFailure as exc:
        ctx.module.chip_log(f"E at-mqtt: topic:{topic} sub failed ({exc})")
        raise fail(CLIENT_SUBSCRIBE_FAILED) from None
    if not granted:
        ctx.module.chip_log(f"E at-mqtt: topic:{topic} sub failed")
        raise fail(CLIENT_SUBSCRIBE_FAILED)
    link.topics[topic] = qos
    link.state = 6
    return None


mqttunsub = command("+MQTTUNSUB", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTUNSUB")


@mqttunsub.set()
async def _unsub(ctx: CommandContext, args: Args) -> Final | None:
    a = _Args(args, (2, 3))
    _link_id(a)
    topic = _topic(a, 1)
    timeout = _timeout(a, 2)
    link = _link(ctx)
    session = _connected(link)
    if topic not in link.topics:
        return Final(Result.OK, message="NO UNSUBSCRIBE")
    try:
        await session.unsubscribe(topic, timeout)
    except MqttFailure as exc:
        ctx.module.chip_log(f"E at-mqtt: {exc}")
        raise fail(CLIENT_UNSUBSCRIBE_FAILED) from None
    del link.topics[topic]
    link.state = 6 if link.topics else 5
    return None


# -------------------------------------------------------------- AT+MQTTCLEAN

mqttclean = command("+MQTTCLEAN", group="mqtt", doc="MQTT_AT_Commands.rst#cmd-MQTTCLEAN")


@mqttclean.set()
async def _clean(ctx: CommandContext, args: Args) -> None:
    a = _Args(args, (1,))
    _link_id(a)
    link = _link(ctx)
    if link.state == 0:
        raise fail(UNINITIATED_OR_ALREADY_CLEAN)
    session, link.session = link.session, None
    if session is not None:
        await session.close(graceful=True)
    link.release()
    link.reset()
