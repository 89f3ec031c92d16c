"""BLE SPP AT commands: AT+BLESPPCFG, AT+BLESPP (BLE_AT_Commands.rst)."""

from __future__ import annotations

from typing import Any

from esp_at_sim.at.events import Final
from esp_at_sim.at.params import Args
from esp_at_sim.at.registry import command
from esp_at_sim.at.state import EngineState
from esp_at_sim.commands.ble_gap import fail, ready
from esp_at_sim.commands.ble_report import AtBleReporter
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.services.ble import gatt_client
from esp_at_sim.services.ble import gatt_table as table
from esp_at_sim.services.ble.spp import BleSpp, SppConfig, SppError
from esp_at_sim.services.ble.stack import BleError, BleStack

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


# ------------------------------------------- AT+SAVETRANSLINK=2: BLE SPP at boot
# (the boot hook that decides is in ble_spp_boot.py: this chapter is imported on first use)
async def boot_passthrough(module: Module, cfg: dict[str, Any]) -> None:
    """Mode 2 of AT+SAVETRANSLINK: initialize BLE in the saved role, make the
    link (the client connects to ``peer_addr`` and discovers, the server
    advertises and waits for the client to subscribe) and enter BLE SPP
    passthrough, without a prompt, as the firmware does after power-up."""
    s = module.service(BleStack)
    role = int(cfg["role"])
    tx_srv, tx_char, rx_srv, rx_char = (int(cfg[k]) for k in ("tx_srv", "tx_char", "rx_srv", "rx_char"))
    s.listener = AtBleReporter(module)
    try:
        await s.init(role)
        sp = s.spp
        assert isinstance(sp, BleSpp)
        sp.configure(SppConfig(True, tx_srv, tx_char, rx_srv, rx_char, 1), persist=False)
        if role == 2:
            s.create_services()
            assert s.gatts is not None
            s.gatts.start(None)
            await s.start_advertising()
            while not (s.links and s.gatts.cccd(tx_srv, tx_char) & 0x03):
                await module.clock.sleep(0.1)
        else:
            while True:
                try:
                    link = await s.connect(0, str(cfg["peer_addr"]), 0, 10)
                    await gatt_client.discover_services(link)
                    for srv in sorted({tx_srv, rx_srv}):
                        await gatt_client.discover_characteristics(link, srv)
                    break
                except (BleError, gatt_client.GattClientError):
                    await module.clock.sleep(1.0)
        await sp.enter()
    except (BleError, SppError, table.TableError) as exc:
        module.chip_log(f"BLE passthrough at power-up failed: {exc}")
        return
    while module.engine.state is not EngineState.COMMAND:
        if module.engine.state is EngineState.PASSTHROUGH:
            return
        await module.clock.sleep(0.05)
    module.enter_passthrough(sp, prompt=False)
