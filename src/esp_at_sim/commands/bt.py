"""Classic Bluetooth AT commands: GAP and security (BT_AT_Commands.rst).

ESP32 only (the other chips have no BR/EDR radio). Messages of pairing:
``+BTCFMREQ:"<addr>",<number>``, ``+BTKEYNTF:0,<passkey>``,
``+BTKEYREQ:"<addr>"``, ``+BTPINREQ:"<addr>"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from esp_at_sim.at.params import Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.commands.ble_gap import fail
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.errors import ParamInvalid
from esp_at_sim.services.bt.stack import BtError, BtListener, BtSecParams, BtStack

DOC = "BT_AT_Commands.rst"


class AtBtListener(BtListener):
    def __init__(self, module: Module) -> None:
        self.module = module

    def confirm_request(self, address: str, number: int) -> None:
        self.module.urc(f'+BTCFMREQ:"{address}",{number}', "bt")

    def passkey_notify(self, passkey: int) -> None:
        self.module.urc(f"+BTKEYNTF:0,{passkey}", "bt")

    def passkey_request(self, address: str) -> None:
        self.module.urc(f'+BTKEYREQ:"{address}"', "bt")

    def pin_request(self, address: str) -> None:
        self.module.urc(f'+BTPINREQ:"{address}"', "bt")


def bt(ctx: CommandContext) -> BtStack:
    return ctx.module.service(BtStack)


def ready(ctx: CommandContext) -> BtStack:
    s = bt(ctx)
    if not s.initialized:
        raise fail()
    return s


class Connecting(Protocol):
    """A Classic profile service with one outgoing connection at a time (SPP, A2DP)."""

    connecting: bool


def connect_later(
    ctx: CommandContext,
    profile: Connecting,
    connect: Callable[[], Awaitable[None]],
    *,
    connected: str,
    failed: str,
    name: str,
) -> None:
    """Run ``connect`` after the command's OK and report its outcome as a message:
    paging and the profile's set-up take seconds, and the host may have to answer
    pairing prompts meanwhile."""
    m = ctx.module

    async def run() -> None:
        try:
            await connect()
        except BtError:
            m.urc(failed, "bt")
            return
        m.urc(connected, "bt")

    profile.connecting = True
    task = m.scope.spawn(run(), name=f"{m.name}-{name}")
    task.add_done_callback(lambda _t: setattr(profile, "connecting", False))


# -------------------------------------------------------------------- AT+BTINIT
btinit = command("+BTINIT", group="bt", doc=f"{DOC}#cmd-BTINIT")


@btinit.query
async def _btinit_q(ctx: CommandContext) -> None:
    ctx.info("+BTINIT", int(bt(ctx).initialized))


@btinit.set(Int("init", lo=0, hi=1))
async def _btinit_s(ctx: CommandContext, init: int) -> None:
    s = bt(ctx)
    if not init:
        from esp_at_sim.services.bt.a2dp import BtA2dp
        from esp_at_sim.services.bt.spp import BtSpp

        if ctx.module.has_service(BtSpp):
            await ctx.module.service(BtSpp).deinit()
        if ctx.module.has_service(BtA2dp):
            await ctx.module.service(BtA2dp).deinit()
        await s.deinit()
        return
    s.listener = AtBtListener(ctx.module)
    await s.init()


# -------------------------------------------------------------------- AT+BTNAME
btname = command("+BTNAME", group="bt", doc=f"{DOC}#cmd-BTNAME")


@btname.query
async def _btname_q(ctx: CommandContext) -> None:
    ctx.info("+BTNAME", Unquoted(ready(ctx).name))


@btname.set(Str("device_name", max_len=32, min_len=1, text=True))
async def _btname_s(ctx: CommandContext, name: str) -> None:
    await ready(ctx).set_name(name, persist=ctx.persist)


# ---------------------------------------------------------------- AT+BTSCANMODE
btscanmode = command("+BTSCANMODE", group="bt", doc=f"{DOC}#cmd-BTSCANMODE")


@btscanmode.set(Int("scan_mode", lo=0, hi=3))
async def _btscanmode_s(ctx: CommandContext, mode: int) -> None:
    await ready(ctx).set_scan_mode(mode)


# --------------------------------------------------------------- AT+BTSTARTDISC
btstartdisc = command("+BTSTARTDISC", group="bt", doc=f"{DOC}#cmd-BTDISC")


@btstartdisc.set(Int("inq_mode", lo=0, hi=1), Int("inq_len", lo=1, hi=0x30), Int("inq_num_rsps", lo=0, hi=255))
async def _btstartdisc_s(ctx: CommandContext, mode: int, length: int, count: int) -> None:
    s = ready(ctx)
    try:
        async for r in s.discover(bool(mode), length, count):
            line = f'+BTSTARTDISC:"{r.address}",{r.name}'
            cod = r.class_of_device
            if cod:
                line += f",0x{(cod >> 8) & 0x1F:x},0x{(cod >> 2) & 0x3F:x},0x{cod >> 13:x}"
            else:
                line += ",,,"
            ctx.line(f"{line},{r.rssi}")
    except BtError:
        raise fail() from None


# --------------------------------------------------------------------- AT+BTCOD
btcod = command("+BTCOD", group="bt", doc=f"{DOC}#cmd-BTCOD")


@btcod.set(Int("major", lo=0, hi=0x1F), Int("minor", lo=0, hi=0x3F), Int("service", lo=0, hi=0x7FF))
async def _btcod_s(ctx: CommandContext, major: int, minor: int, service: int) -> None:
    await ready(ctx).set_class_of_device((service << 13) | (major << 8) | (minor << 2), persist=ctx.persist)


# ------------------------------------------------------------------- AT+BTPOWER
btpower = command("+BTPOWER", group="bt", doc=f"{DOC}#cmd-BTPWR")


@btpower.query
async def _btpower_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    ctx.info("+BTPOWER", s.power[0], s.power[1])


@btpower.set(Int("min_tx_power", lo=0, hi=7), Int("max_tx_power", lo=0, hi=7))
async def _btpower_s(ctx: CommandContext, lo: int, hi: int) -> None:
    if lo > hi:
        raise ParamInvalid(1)
    s = ready(ctx)
    s.power = [lo, hi]
    ctx.module.settings.set("bt", "power", [lo, hi], persist=ctx.persist)


# ----------------------------------------------------------------- AT+BTSECPARAM
btsecparam = command("+BTSECPARAM", group="bt", doc=f"{DOC}#cmd-BTSECPARAM")


@btsecparam.query
async def _btsecparam_q(ctx: CommandContext) -> None:
    p = ready(ctx).sec_params
    ctx.info("+BTSECPARAM", p.io_cap, p.pin_type, Unquoted(p.pin_code))


@btsecparam.set(Int("io_cap", lo=0, hi=3), Int("pin_type", lo=0, hi=1), Str("pin_code", max_len=16, text=True))
async def _btsecparam_s(ctx: CommandContext, io: int, pin_type: int, pin: str) -> None:
    ready(ctx).set_sec_params(BtSecParams(io, pin_type, pin), ctx.persist)


# ------------------------------------------------ AT+BTKEYREPLY / PINREPLY / SECCFM
btkeyreply = command("+BTKEYREPLY", group="bt", doc=f"{DOC}#cmd-BTKEYREPLY")


@btkeyreply.set(Int("conn_index", lo=0, hi=0), Int("key", lo=0, hi=999_999))
async def _btkeyreply_s(ctx: CommandContext, _index: int, key: int) -> None:
    ready(ctx).answer("passkey", key)


btpinreply = command("+BTPINREPLY", group="bt", doc=f"{DOC}#cmd-BTPINREPLY")


@btpinreply.set(Int("conn_index", lo=0, hi=0), Str("pin", max_len=16, min_len=1, text=True))
async def _btpinreply_s(ctx: CommandContext, _index: int, pin: str) -> None:
    ready(ctx).answer("pin", pin)


btseccfm = command("+BTSECCFM", group="bt", doc=f"{DOC}#cmd-BTSECCFM")


@btseccfm.set(Int("conn_index", lo=0, hi=0), Int("accept", lo=0, hi=1))
async def _btseccfm_s(ctx: CommandContext, _index: int, accept: int) -> None:
    ready(ctx).answer("confirm", bool(accept))


# ------------------------------------------------------- AT+BTENCDEV / BTENCCLEAR
btencdev = command("+BTENCDEV", group="bt", doc=f"{DOC}#cmd-BTENCDEV")


@btencdev.query
async def _btencdev_q(ctx: CommandContext) -> None:
    for i, addr in enumerate(ready(ctx).bonds()):
        ctx.info("+BTENCDEV", i, addr)


btencclear = command("+BTENCCLEAR", group="bt", doc=f"{DOC}#cmd-BTENCCLEAR")


@btencclear.execute
async def _btencclear_all(ctx: CommandContext) -> None:
    await ready(ctx).clear_bonds(None)


@btencclear.set(Int("enc_dev_index", lo=0, hi=14))
async def _btencclear_one(ctx: CommandContext, index: int) -> None:
    if not await ready(ctx).clear_bonds(index):
        raise ParamInvalid(0)
