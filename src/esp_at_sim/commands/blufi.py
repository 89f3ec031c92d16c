"""BluFi AT commands: AT+BLUFI, AT+BLUFINAME, AT+BLUFISEND (BLE_AT_Commands.rst).

Messages: ``+BLUFICONN`` / ``+BLUFIDISCONN`` when a phone comes and goes,
``+SSID:<ssid>`` and ``+PASSWORD:<password>`` as the phone sends them,
``+BLUFIDATA:<len>,<data>`` for custom data.
"""

from __future__ import annotations

from esp_at_sim.at.params import Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.commands.ble_gap import fail
from esp_at_sim.commands.ble_report import data_pipe
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.services.ble.blufi import MAX_CUSTOM, Blufi, BlufiError, BlufiEvents
from esp_at_sim.services.ble.stack import BleStack

DOC = "BLE_AT_Commands.rst"


class AtBlufiEvents(BlufiEvents):
    def __init__(self, module: Module) -> None:
        self.module = module

    def connected(self) -> None:
        self.module.urc("+BLUFICONN", "ble")

    def disconnected(self) -> None:
        self.module.urc("+BLUFIDISCONN", "ble")

    def ssid(self, ssid: bytes) -> None:
        self.module.urc("+SSID:" + ssid.decode("utf-8", "surrogateescape"), "ble")

    def password(self, password: bytes) -> None:
        self.module.urc("+PASSWORD:" + password.decode("utf-8", "surrogateescape"), "ble")

    def custom(self, data: bytes) -> None:
        data_pipe(self.module).put(f"+BLUFIDATA:{len(data)},".encode() + data + b"\r\n")


def blufi(ctx: CommandContext) -> Blufi:
    return ctx.module.service(Blufi)


cmd_blufi = command("+BLUFI", group="blufi", doc=f"{DOC}#cmd-BLUFI")


@cmd_blufi.query
async def _blufi_q(ctx: CommandContext) -> None:
    ctx.info("+BLUFI", int(blufi(ctx).active))


@cmd_blufi.set(Int("option", lo=0, hi=1), Int("auth_floor", 0, lo=0, hi=15))
async def _blufi_s(ctx: CommandContext, option: int, floor: int) -> None:
    b = blufi(ctx)
    m = ctx.module
    if m.has_service(BleStack) and m.service(BleStack).role:
        raise fail("ble is already initialized")
    if option == 0:
        await b.stop()
        return
    if m.vars.get("blehid.active"):
        raise fail("hid is already initialized")
    if b.active:
        return
    b.events = AtBlufiEvents(m)
    await b.start(floor)


cmd_blufiname = command("+BLUFINAME", group="blufi", doc=f"{DOC}#cmd-BLUFINAME")


@cmd_blufiname.query
async def _blufiname_q(ctx: CommandContext) -> None:
    ctx.info("+BLUFINAME", blufi(ctx).name)


@cmd_blufiname.set(Str("device_name", max_len=26, min_len=1, text=True))
async def _blufiname_s(ctx: CommandContext, name: str) -> None:
    ctx.module.settings.set("blufi", "name", name, persist=ctx.persist)


cmd_blufisend = command("+BLUFISEND", group="blufi", doc=f"{DOC}#cmd-BLUFISEND")


@cmd_blufisend.set(Int("length", lo=1, hi=MAX_CUSTOM))
async def _blufisend_s(ctx: CommandContext, length: int) -> None:
    b = blufi(ctx)
    if not b.active or b.connection is None:
        raise fail()
    data = await ctx.prompt(length)
    if not data.complete:
        raise fail()
    try:
        await b.send_custom(data.data)
    except BlufiError:
        raise fail() from None
