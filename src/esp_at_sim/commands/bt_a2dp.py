"""Classic Bluetooth A2DP AT commands (BT_AT_Commands.rst, AT+BTA2DP...).

Messages: ``+BTA2DPCONN:0,"<addr>"`` when the connection is up (also when
the peer connected), ``+BTA2DPCONN:0,-1`` when it failed,
``+BTA2DPDISCONN:0,"<addr>"`` when the peer ended it.
``AT+BTA2DPSRC?`` answers ``+BTA2DPSRC:<url>,<type>`` (``NULL,NULL`` when
unset). The audio is synthetic (see :mod:`esp_at_sim.services.bt.a2dp`).
"""

from __future__ import annotations

from esp_at_sim.at.params import Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.commands.ble_gap import fail, parse_address
from esp_at_sim.commands.bt import connect_later, ready
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.services.bt.a2dp import BtA2dp, BtA2dpEvents
from esp_at_sim.services.bt.stack import BtError

DOC = "BT_AT_Commands.rst"
SCHEMES = ("http://", "https://", "flash://")


class AtA2dpEvents(BtA2dpEvents):
    def __init__(self, module: Module) -> None:
        self.module = module

    def connected(self, address: str) -> None:
        self.module.urc(f'+BTA2DPCONN:0,"{address}"', "bt")

    def disconnected(self, address: str) -> None:
        self.module.urc(f'+BTA2DPDISCONN:0,"{address}"', "bt")


def a2dp(ctx: CommandContext) -> BtA2dp:
    ready(ctx)
    return ctx.module.service(BtA2dp)


bta2dpinit = command("+BTA2DPINIT", group="bt_a2dp", doc=f"{DOC}#cmd-BTA2DPINIT")


@bta2dpinit.query
async def _bta2dpinit_q(ctx: CommandContext) -> None:
    role = ctx.module.service(BtA2dp).role if ctx.module.has_service(BtA2dp) else 0
    ctx.info("+BTA2DPINIT", role)


@bta2dpinit.set(Int("role", lo=0, hi=2))
async def _bta2dpinit_s(ctx: CommandContext, role: int) -> None:
    a = a2dp(ctx)
    if role == 0:
        await a.deinit()
        return
    if a.role and a.role != role:
        raise fail()
    a.events = AtA2dpEvents(ctx.module)
    a.init(role)


bta2dpconn = command("+BTA2DPCONN", group="bt_a2dp", doc=f"{DOC}#cmd-BTA2DPCONN")


@bta2dpconn.query
async def _bta2dpconn_q(ctx: CommandContext) -> None:
    a = a2dp(ctx)
    if a.connection is not None:
        ctx.info("+BTA2DPCONN", 0, a.peer or "")


@bta2dpconn.set(Int("conn_index", lo=0, hi=0), Str("remote_address", max_len=17, text=True))
async def _bta2dpconn_s(ctx: CommandContext, _index: int, address: str) -> None:
    addr = parse_address(address, 1)
    a = a2dp(ctx)
    if a.role == 0 or a.connection is not None or a.connecting:
        raise fail()
    connect_later(
        ctx,
        a,
        lambda: a.connect(addr),
        connected=f'+BTA2DPCONN:0,"{addr}"',
        failed="+BTA2DPCONN:0,-1",
        name="bta2dpconn",
    )


bta2dpdisconn = command("+BTA2DPDISCONN", group="bt_a2dp", doc=f"{DOC}#cmd-BTA2DPDISCONN")


@bta2dpdisconn.set(Int("conn_index", lo=0, hi=0))
async def _bta2dpdisconn_s(ctx: CommandContext, _index: int) -> None:
    a = a2dp(ctx)
    if a.connection is None:
        raise fail()
    peer = await a.disconnect()
    ctx.info("+BTA2DPDISCONN", 0, peer)


bta2dpsrc = command("+BTA2DPSRC", group="bt_a2dp", doc=f"{DOC}#cmd-BTA2DPSRC")


@bta2dpsrc.query
async def _bta2dpsrc_q(ctx: CommandContext) -> None:
    url = a2dp(ctx).url
    if url is None:
        ctx.line("+BTA2DPSRC:NULL,NULL")
    else:
        ctx.line(f"+BTA2DPSRC:{url},{url.rsplit('.', 1)[-1]}")


@bta2dpsrc.set(Int("conn_index", lo=0, hi=0), Str("url", max_len=256, text=True))
async def _bta2dpsrc_s(ctx: CommandContext, _index: int, url: str) -> None:
    a = a2dp(ctx)
    if a.role != 1 or not url.lower().startswith(SCHEMES) or not url.lower().endswith(".mp3"):
        raise fail()
    a.url = url


bta2dpctrl = command("+BTA2DPCTRL", group="bt_a2dp", doc=f"{DOC}#cmd-BTA2DPCTRL")


@bta2dpctrl.set(Int("conn_index", lo=0, hi=0), Int("ctrl", lo=0, hi=5))
async def _bta2dpctrl_s(ctx: CommandContext, _index: int, ctrl: int) -> None:
    a = a2dp(ctx)
    try:
        await a.control(ctrl)
    except BtError:
        raise fail() from None
