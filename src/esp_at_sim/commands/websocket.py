"""WebSocket AT commands (websocket_at_commands.rst).

Up to three client links (0-2). ``+WS_DATA`` follows AT+WSDATAFMT:
``+WS_DATA:<id>[,<opcode>][,<fin>][,<payload_len>][,<payload_offset>][,<data_len>],<data>[\\r\\n]``
with the default mask 48 giving ``+WS_DATA:<id>,<len>,<data>\\r\\n``. Level 0
prints each piece as the socket delivers it (``<buffer_size>`` at most),
level 1 one line per frame, level 2 one per message. Data frames and pongs
are reported; pings are answered by the client itself.

Link ends: ``+WS_DISCONNECTED:<id>`` when the connection is lost (the client
retries every 10 s and prints ``+WS_CONNECTED:<id>`` again) or a close
handshake finished; ``+WS_CLOSED:<id>`` once AT+WSCLOSE stopped the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esp_at_sim.at.events import Final, Result
from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.heap import Allocation
from esp_at_sim.device.module import Module
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.http import parse_url
from esp_at_sim.services.tls import TlsConfigError, auth_mode_context
from esp_at_sim.services.websocket import Piece, WsError, WsLink, WsState

LINKS = 3
MAX_SEND = 16 * 1024


@dataclass
class LinkConfig:
    ping_interval: int = 10
    ping_timeout: int = 120
    buffer_size: int = 1024
    auth_mode: int = 0
    pki_number: int = 0
    ca_number: int = 0
    level: int = 0
    mask: int = 48


@dataclass
class Assembly:
    """A frame or message being gathered for data levels 1 and 2."""

    opcode: int = 0
    data: bytearray = field(default_factory=bytearray)


class WsLinks:
    """Per-boot WebSocket state: ``module.service(WsLinks)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.configs = [LinkConfig() for _ in range(LINKS)]
        self.headers: list[str] = []
        self.links: dict[int, WsLink] = {}
        self.uris: dict[int, str] = {}
        self.ram: dict[int, list[Allocation]] = {}
        self.assembly: dict[int, Assembly] = {}
        module.scope.on_close(self._shutdown)

    async def _shutdown(self) -> None:
        for link in list(self.links.values()):
            await link._drop_socket()

    def release(self, link_id: int) -> None:
        self.links.pop(link_id, None)
        self.assembly.pop(link_id, None)
        for a in self.ram.pop(link_id, []):
            a.free()

    # ---------------------------------------------------------- +WS_DATA
    async def deliver(self, link_id: int, piece: Piece) -> None:
        cfg = self.configs[link_id]
        if cfg.level == 0:
            await self._print(link_id, piece.opcode, piece.fin, piece.payload_len, piece.offset, piece.data)
            return
        asm = self.assembly.setdefault(link_id, Assembly())
        if not asm.data and (cfg.level == 1 or piece.opcode != 0 or not asm.opcode):
            asm.opcode = piece.opcode if not asm.data else asm.opcode
        asm.data += piece.data
        done = piece.frame_done if cfg.level == 1 else piece.message_done
        if not done:
            return
        data, opcode = bytes(asm.data), asm.opcode
        self.assembly.pop(link_id, None)
        fin = piece.fin if cfg.level == 1 else True
        await self._print(link_id, opcode, fin, len(data), 0, data)

    async def _print(self, link_id: int, opcode: int, fin: bool, total: int, offset: int, data: bytes) -> None:
        mask = self.configs[link_id].mask
        fields = [str(link_id)]
        for bit, value in ((1, opcode), (2, int(fin)), (4, total), (8, offset), (16, len(data))):
            if mask & bit:
                fields.append(str(value))
        out = b"+WS_DATA:" + ",".join(fields).encode() + b"," + data + (b"\r\n" if mask & 32 else b"")
        await self.module.send_data(out)


def _links(ctx: CommandContext) -> WsLinks:
    return ctx.module.service(WsLinks)


def _link_id(args: Args) -> int:
    value: int = args.int(0, 0, LINKS - 1)
    return value


# ------------------------------------------------------------------ AT+WSCFG

wscfg = command("+WSCFG", group="websocket", doc="websocket_at_commands.rst#cmd-WSCFG")


@wscfg.set()
async def _wscfg(ctx: CommandContext, args: Args) -> None:
    if len(args) not in (3, 4, 5, 6, 7):
        raise ParamCount(7, len(args))
    link_id = _link_id(args)
    cfg = _links(ctx).configs[link_id]
    interval = args.int(1, 1, 7200)
    timeout = args.int(2, 1, 7200)
    size = args.int(3, 1, 16384, default=cfg.buffer_size)
    auth = pki = ca = 0
    if len(args) >= 5:
        auth = args.int(4, 0, 3)
        if auth and len(args) != 7:
            raise ParamCount(7, len(args))
        pki = args.int(5, 0, 255, default=0)
        ca = args.int(6, 0, 255, default=0)
    cfg.ping_interval, cfg.ping_timeout, cfg.buffer_size = interval, timeout, size
    cfg.auth_mode, cfg.pki_number, cfg.ca_number = auth, pki, ca


# ----------------------------------------------------------------- AT+WSHEAD

wshead = command("+WSHEAD", group="websocket", doc="websocket_at_commands.rst#cmd-WSHEAD")


@wshead.query
async def _wshead_q(ctx: CommandContext) -> None:
    for i, h in enumerate(_links(ctx).headers):
        ctx.info("+WSHEAD", i, h)


@wshead.set(Int("req_header_len", lo=0, hi=8192))
async def _wshead_s(ctx: CommandContext, length: int) -> None:
    links = _links(ctx)
    if length == 0:
        links.headers = []
        return
    got = await ctx.prompt(length)
    if not got.complete:
        raise ExecFail()
    text = got.data.decode("utf-8", "surrogateescape")
    if "\r" in text or "\n" in text or ":" not in text:
        ctx.module.chip_log("E at-ws: req header shouldn't contain CR-LF")
        raise ExecFail()
    key = text.split(":", 1)[0].strip().lower()
    links.headers = [h for h in links.headers if h.split(":", 1)[0].strip().lower() != key] + [text]


# ----------------------------------------------------------------- AT+WSOPEN

wsopen = command("+WSOPEN", group="websocket", doc="websocket_at_commands.rst#cmd-WSOPEN")


@wsopen.query
async def _wsopen_q(ctx: CommandContext) -> None:
    links = _links(ctx)
    for link_id, link in sorted(links.links.items()):
        ctx.info("+WSOPEN", link_id, int(link.state), links.uris[link_id])


@wsopen.set()
async def _wsopen_s(ctx: CommandContext, args: Args) -> Final | None:
    if not 2 <= len(args) <= 5:
        raise ParamCount(5, len(args))
    link_id = _link_id(args)
    uri: str = args.str(1, max_len=8192, text=True)
    subprotocol: str = args.str(2, max_len=256, default="", text=True)
    timeout_ms: int = args.int(3, 0, 180000, default=15000)
    auth: str = args.str(4, max_len=1024, default="", text=True)
    links = _links(ctx)
    module = ctx.module
    if link_id in links.links:
        module.chip_log(f"E at-ws: ws:{link_id} already established")
        raise ExecFail()
    try:
        url = parse_url(uri, schemes=("ws", "wss"))
    except ValueError:
        raise ParamInvalid(1) from None
    cfg = links.configs[link_id]
    ram = [module.heap.alloc_kind("ws_client", 2 * cfg.buffer_size)]
    tls = None
    try:
        if url.secure:
            ram.append(module.heap.alloc_kind("tls_session"))
            tls = auth_mode_context(module, "ws", cfg.auth_mode, pki_index=cfg.pki_number, ca_index=cfg.ca_number)
    except TlsConfigError as exc:
        module.chip_log(f"E at-ws: {exc}")
        for a in ram:
            a.free()
        raise ExecFail() from None
    headers = [(h.split(":", 1)[0].strip(), h.split(":", 1)[1].strip()) for h in links.headers]
    if auth:
        headers.append(("Authorization", auth))

    def connected() -> None:
        module.urc(f"+WS_CONNECTED:{link_id}")

    def disconnected() -> None:
        module.urc(f"+WS_DISCONNECTED:{link_id}")

    def closed() -> None:
        module.urc(f"+WS_CLOSED:{link_id}")

    link = WsLink(
        module,
        url,
        headers=headers,
        subprotocol=subprotocol or None,
        tls=tls,
        buffer_size=cfg.buffer_size,
        ping_interval=cfg.ping_interval,
        ping_timeout=cfg.ping_timeout,
        on_piece=lambda p: links.deliver(link_id, p),
        on_connected=connected,
        on_disconnected=disconnected,
        on_closed=closed,
    )
    try:
        await link.connect(timeout_ms / 1000.0)
    except WsError as exc:
        module.chip_log(f"E websocket_client: {exc}")
        for a in ram:
            a.free()
        raise ExecFail() from None
    links.links[link_id] = link
    links.uris[link_id] = uri
    links.ram[link_id] = ram
    connected()
    return None


# ----------------------------------------------------------------- AT+WSSEND

wssend = command("+WSSEND", group="websocket", doc="websocket_at_commands.rst#cmd-WSSEND")


@wssend.set()
async def _wssend(ctx: CommandContext, args: Args) -> Final:
    if not 2 <= len(args) <= 5:
        raise ParamCount(5, len(args))
    link_id = _link_id(args)
    length: int = args.int(1, 0, MAX_SEND)
    opcode: int = args.int(2, 0, 0xF, default=1)
    timeout_ms: int = args.int(3, 0, 60000, default=10000)
    fin: int = args.int(4, 0, 1, default=1)
    module = ctx.module
    if (3 <= opcode <= 7) or opcode >= 0xB or (opcode >= 8 and not fin):
        module.chip_log(f"E at-ws: unsupported opcode:{opcode} fin:{fin} combination")
        raise ParamInvalid(2)
    link = _links(ctx).links.get(link_id)
    if link is None or link.state is not WsState.CONNECTED:
        module.chip_log(f"E at-ws: no ws: {link_id}")
        raise ExecFail()
    if opcode >= 8 and length > 125:
        raise ParamInvalid(1)
    if length > module.heap.largest_block:
        raise ParamInvalid(1)
    buf = module.heap.alloc(length, "ws_send")
    try:
        got = await ctx.prompt(length) if length else None
        if got is not None and not got.complete:
            raise ExecFail()
        payload = got.data if got is not None else b""
        try:
            await module.clock.wait_for(link.send_frame(opcode, payload, bool(fin)), timeout_ms / 1000.0 or None)
        except (WsError, TimeoutError):
            raise ExecFail() from None
    finally:
        buf.free()
    return Final(Result.SEND_OK)


# -------------------------------------------------------------- AT+WSDATAFMT

wsdatafmt = command("+WSDATAFMT", group="websocket", doc="websocket_at_commands.rst#cmd-WSDATAFMT")


@wsdatafmt.set(Int("link_id", lo=0, hi=LINKS - 1), Int("level", 0, lo=0, hi=2), Int("mask", 48, lo=0, hi=63))
async def _wsdatafmt(ctx: CommandContext, link_id: int, level: int, mask: int) -> None:
    cfg = _links(ctx).configs[link_id]
    cfg.level, cfg.mask = level, mask


# ---------------------------------------------------------------- AT+WSCLOSE

wsclose = command("+WSCLOSE", group="websocket", doc="websocket_at_commands.rst#cmd-WSCLOSE")


@wsclose.set(Int("link_id", lo=0, hi=LINKS - 1))
async def _wsclose(ctx: CommandContext, link_id: int) -> None:
    links = _links(ctx)
    link = links.links.get(link_id)
    if link is None:
        ctx.module.chip_log(f"E at-ws: no ws: {link_id}")
        raise ExecFail()
    links.release(link_id)

    async def stop() -> None:
        await link.close()

    # OK only says the close was issued; +WS_CLOSED follows when the client stopped
    ctx.after(lambda: ctx.module.scope.spawn(stop(), name=f"{ctx.module.name}-ws-close"))
