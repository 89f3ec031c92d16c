"""Bluetooth LE HID AT commands (BLE_AT_Commands.rst, AT+BLEHIDINIT ...).

``+BLEHIDCONN`` and ``+BLEHIDDISCONN`` are printed, without parameters, when
a host connects or leaves (as the firmware's HID module does).
"""

from __future__ import annotations

import struct

from esp_at_sim.at.params import Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.commands.ble_gap import BLUEDROID_CHIPS, fail
from esp_at_sim.device.context import CommandContext
from esp_at_sim.services.ble.hid import REPORT_CONSUMER, REPORT_KEYBOARD, REPORT_MOUSE, BleHid, HidError
from esp_at_sim.services.ble.stack import BleStack

DOC = "BLE_AT_Commands.rst"


def hid(ctx: CommandContext) -> BleHid:
    return ctx.module.service(BleHid)


async def _send(ctx: CommandContext, report: int, value: bytes) -> None:
    try:
        await hid(ctx).send(report, value)
    except HidError:
        raise fail() from None


blehidinit = command("+BLEHIDINIT", group="ble_hid", doc=f"{DOC}#cmd-BLEHIDINIT", chips=BLUEDROID_CHIPS)


@blehidinit.query
async def _blehidinit_q(ctx: CommandContext) -> None:
    ctx.info("+BLEHIDINIT", int(hid(ctx).initialized))


@blehidinit.set(Int("init", lo=0, hi=1))
async def _blehidinit_s(ctx: CommandContext, init: int) -> None:
    h = hid(ctx)
    m = ctx.module
    if not init:
        await h.deinit()
        return
    if h.initialized:
        raise fail("hid profile is already initialized")
    if m.has_service(BleStack) and m.service(BleStack).role:
        raise fail("ble is already initialized")
    if m.vars.get("blufi.active"):
        raise fail("blufi is already initialized")
    h.on_connected = lambda _addr: m.urc("+BLEHIDCONN", "ble")
    h.on_disconnected = lambda: m.urc("+BLEHIDDISCONN", "ble")
    await h.init()


blehidname = command("+BLEHIDNAME", group="ble_hid", doc=f"{DOC}#cmd-BLEHIDINIT", chips=BLUEDROID_CHIPS)


@blehidname.query
async def _blehidname_q(ctx: CommandContext) -> None:
    ctx.info("+BLEHIDNAME", Unquoted(hid(ctx).name))


@blehidname.set(Str("device_name", max_len=32, min_len=1, text=True))
async def _blehidname_s(ctx: CommandContext, name: str) -> None:
    ctx.module.settings.set("blehid", "name", name, persist=ctx.persist)


blehidkb = command("+BLEHIDKB", group="ble_hid", doc=f"{DOC}#cmd-BLEHIDKB", chips=BLUEDROID_CHIPS)


@blehidkb.set(
    Int("modifier_keys", lo=0, hi=255),
    *(Int(f"key_{i}", lo=0, hi=255) for i in range(1, 7)),
)
async def _blehidkb_s(ctx: CommandContext, modifier: int, *keys: int) -> None:
    await _send(ctx, REPORT_KEYBOARD, bytes([modifier, 0, *keys]))


blehidmus = command("+BLEHIDMUS", group="ble_hid", doc=f"{DOC}#cmd-BLEHIDMUS", chips=BLUEDROID_CHIPS)


@blehidmus.set(
    Int("buttons", lo=0, hi=255),
    Int("x_displacement", lo=-127, hi=127),
    Int("y_displacement", lo=-127, hi=127),
    Int("wheel", lo=-127, hi=127),
)
async def _blehidmus_s(ctx: CommandContext, buttons: int, x: int, y: int, wheel: int) -> None:
    await _send(ctx, REPORT_MOUSE, struct.pack("<Bbbb", buttons, x, y, wheel))


blehidconsumer = command("+BLEHIDCONSUMER", group="ble_hid", doc=f"{DOC}#cmd-BLEHIDC", chips=BLUEDROID_CHIPS)


@blehidconsumer.set(Int("consumer_usage_id", lo=0, hi=0xFFFF))
async def _blehidconsumer_s(ctx: CommandContext, usage: int) -> None:
    await _send(ctx, REPORT_CONSUMER, struct.pack("<H", usage))
