"""BLE SPP AT commands: AT+BLESPPCFG, AT+BLESPP (BLE_AT_Commands.rst)."""

from __future__ import annotations

from esp_at_sim.at.events import Final
from esp_at_sim.at.params import Args
from esp_at_sim.at.registry import command
from esp_at_sim.commands.ble_gap import fail, ready
from esp_at_sim.device.context import CommandContext
from esp_at_sim.services.ble.spp import BleSpp, SppConfig, SppError

DOC = "BLE_AT_Commands.rst"


def spp(ctx: CommandContext) -> BleSpp:
    s = ready(ctx)
    if s.spp is None:
        raise fail()
    assert isinstance(s.spp, BleSpp)
    return s.spp


blesppcfg = command("+BLESPPCFG", group="ble", doc=f"{DOC}#cmd-BLESPPCFG")


@blesppcfg.query
async def _blesppcfg_q(ctx: CommandContext) -> None:
    c = spp(ctx).config
    ctx.info("+BLESPPCFG", c.tx_srv, c.tx_char, c.rx_srv, c.rx_char, c.auto_conn)


@blesppcfg.set()
async def _blesppcfg_s(ctx: CommandContext, args: Args) -> None:
    args.expect_count(1, 6)
    enable = args.int(0, 0, 1)
    sp = spp(ctx)
    if enable == 0:
        if len(args) > 1:
            args.expect_count(1)
        sp.configure(SppConfig(), ctx.persist)
        return
    args.expect_count(5, 6)
    tx_srv, tx_char, rx_srv, rx_char = (args.int(i, 1, 255) for i in range(1, 5))
    auto = args.int(5, 0, 1, default=1)
    sp.configure(SppConfig(True, tx_srv, tx_char, rx_srv, rx_char, auto), ctx.persist)


blespp = command("+BLESPP", group="ble", doc=f"{DOC}#cmd-BLESPP")


@blespp.execute
async def _blespp(ctx: CommandContext) -> Final:
    sp = spp(ctx)
    try:
        await sp.enter()
    except SppError:
        raise fail() from None
    return ctx.passthrough(sp)
