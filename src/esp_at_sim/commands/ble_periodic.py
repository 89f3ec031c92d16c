"""Periodic advertising and sync AT commands, and their absence on ESP32
(BLE_AT_Commands.rst, AT+BLEPERIODICDATA ... AT+BLESYNCSTOP).

Periodic advertising rides on extended non-connectable, non-scannable
advertising (``AT+BLEADVPARAM`` type 5) that must already run; a sync
needs a running scan and ends with it. Each periodic report is printed as
``+BLESYNC:"<addr>",<rssi>,<data>``.
"""

from __future__ import annotations

from esp_at_sim.at.params import Hex, Str
from esp_at_sim.at.registry import command
from esp_at_sim.commands.ble_gap import BT5_CHIPS, fail, parse_address, ready
from esp_at_sim.device.context import CommandContext
from esp_at_sim.services.ble.stack import BleError

DOC = "BLE_AT_Commands.rst"

periodicdata = command("+BLEPERIODICDATA", group="ble", doc=f"{DOC}#cmd-BLEPADATA", chips=BT5_CHIPS)


@periodicdata.set(Hex("periodic_data", max_bytes=247))
async def _periodicdata_s(ctx: CommandContext, data: bytes) -> None:
    s = ready(ctx, (2, 3))
    try:
        await s.set_periodic_data(data)
    except Exception:
        raise fail() from None


periodicstart = command("+BLEPERIODICSTART", group="ble", doc=f"{DOC}#cmd-BLEPASTART", chips=BT5_CHIPS)


@periodicstart.execute
async def _periodicstart(ctx: CommandContext) -> None:
    s = ready(ctx, (2, 3))
    try:
        await s.start_periodic()
    except BleError:
        raise fail() from None


periodicstop = command("+BLEPERIODICSTOP", group="ble", doc=f"{DOC}#cmd-BLEPASTOP", chips=BT5_CHIPS)


@periodicstop.execute
async def _periodicstop(ctx: CommandContext) -> None:
    await ready(ctx, (2, 3)).stop_periodic()


syncstart = command("+BLESYNCSTART", group="ble", doc=f"{DOC}#cmd-BLESYNCSTART", chips=BT5_CHIPS)


@syncstart.set(Str("target_address", max_len=17, text=True))
async def _syncstart_s(ctx: CommandContext, address: str) -> None:
    addr = parse_address(address, 0)
    s = ready(ctx, (1, 3))
    try:
        await s.start_sync(addr)
    except BleError:
        raise fail() from None


syncstop = command("+BLESYNCSTOP", group="ble", doc=f"{DOC}#cmd-BLESYNCSTOP", chips=BT5_CHIPS)


@syncstop.execute
async def _syncstop(ctx: CommandContext) -> None:
    await ready(ctx, (1, 3)).stop_sync()
