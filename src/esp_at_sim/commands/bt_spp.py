"""Classic Bluetooth SPP AT commands (BT_AT_Commands.rst, AT+BTSPP...).

Messages: ``+BTSPPCONN:0,"<addr>"`` when a master connects to this slave,
``+BTSPPDISCONN:0,"<addr>"`` when the peer ends the connection,
``+BTDATA:<len>,<data>`` for received bytes (raw in passthrough).
"""

from __future__ import annotations

from esp_at_sim.at.events import Final
from esp_at_sim.at.params import Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.commands.ble_gap import fail, parse_address
from esp_at_sim.commands.ble_report import data_pipe
from esp_at_sim.commands.bt import connect_later, ready
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.services.bt.spp import BtSpp, BtSppEvents
from esp_at_sim.services.bt.stack import BtError

DOC = "BT_AT_Commands.rst"


class AtSppEvents(BtSppEvents):
    def __init__(self, module: Module, spp: BtSpp) -> None:
        self.module = module
        self.spp = spp
        self.quiet_disconnect = False

    def connected(self, address: str) -> None:
        self.module.urc(f'+BTSPPCONN:0,"{address}"', "bt")

    def disconnected(self, address: str) -> None:
        if self.quiet_disconnect:
            self.quiet_disconnect = False
            return
        if self.module.in_passthrough:
            self.module.leave_passthrough()
        self.module.urc(f'+BTSPPDISCONN:0,"{address}"', "bt")

    def data(self, data: bytes) -> None:
        pipe = data_pipe(self.module)
        if self.spp.passthrough and self.module.in_passthrough:
            pipe.put(data)
        else:
            pipe.put(f"+BTDATA:{len(data)},".encode() + data + b"\r\n")


def spp(ctx: CommandContext) -> BtSpp:
    ready(ctx)
    return ctx.module.service(BtSpp)


btsppinit = command("+BTSPPINIT", group="bt_spp", doc=f"{DOC}#cmd-BTSPPINIT")


@btsppinit.query
async def _btsppinit_q(ctx: CommandContext) -> None:
    role = ctx.module.service(BtSpp).role if ctx.module.has_service(BtSpp) else 0
    ctx.info("+BTSPPINIT", int(bool(role)))


@btsppinit.set(Int("init", lo=0, hi=2))
async def _btsppinit_s(ctx: CommandContext, init: int) -> None:
    s = spp(ctx)
    if init == 0:
        await s.deinit()
        return
    if s.role and s.role != init:
        raise fail()
    s.events = AtSppEvents(ctx.module, s)
    s.init(init)


btsppstart = command("+BTSPPSTART", group="bt_spp", doc=f"{DOC}#cmd-BTSPPSTART")


@btsppstart.execute
async def _btsppstart(ctx: CommandContext) -> None:
    try:
        spp(ctx).start()
    except BtError:
        raise fail() from None


btsppconn = command("+BTSPPCONN", group="bt_spp", doc=f"{DOC}#cmd-BTSPPCONN")


@btsppconn.query
async def _btsppconn_q(ctx: CommandContext) -> None:
    s = spp(ctx)
    if s.dlc is None:
        ctx.line("+BTSPPCONN:-1")
    else:
        ctx.info("+BTSPPCONN", 0, s.peer or "")


@btsppconn.set(
    Int("conn_index", lo=0, hi=0), Int("sec_mode", lo=0, hi=0xFFFF), Str("remote_address", max_len=17, text=True)
)
async def _btsppconn_s(ctx: CommandContext, _index: int, sec_mode: int, address: str) -> None:
    addr = parse_address(address, 2)
    s = spp(ctx)
    if s.role != 1 or s.dlc is not None or s.connecting:
        raise fail()
    connect_later(
        ctx,
        s,
        lambda: s.connect(sec_mode, addr),
        connected=f'+BTSPPCONN:0,"{addr}"',
        failed="+BTSPPCONN:-1",
        name="btsppconn",
    )


btsppdisconn = command("+BTSPPDISCONN", group="bt_spp", doc=f"{DOC}#cmd-BTSPPDISCONN")


@btsppdisconn.set(Int("conn_index", lo=0, hi=0))
async def _btsppdisconn_s(ctx: CommandContext, _index: int) -> None:
    s = spp(ctx)
    if s.connection is None:
        ctx.line("+BTSPPDISCONN:-1")
        raise fail()
    if isinstance(s.events, AtSppEvents):
        s.events.quiet_disconnect = True
    peer = await s.disconnect()
    ctx.info("+BTSPPDISCONN", 0, peer)


btsppsend = command("+BTSPPSEND", group="bt_spp", doc=f"{DOC}#cmd-BTSPPSEND")


@btsppsend.set(Int("conn_index", lo=0, hi=0), Int("data_len", lo=1, hi=8192))
async def _btsppsend_s(ctx: CommandContext, _index: int, length: int) -> None:
    s = spp(ctx)
    if s.dlc is None:
        raise fail()
    data = await ctx.prompt(length)
    if not data.complete:
        raise fail()
    try:
        await s.send(data.data)
    except BtError:
        raise fail() from None


@btsppsend.execute
async def _btsppsend_e(ctx: CommandContext) -> Final:
    s = spp(ctx)
    if s.dlc is None:
        raise fail()
    s.passthrough = True
    return ctx.passthrough(s)
