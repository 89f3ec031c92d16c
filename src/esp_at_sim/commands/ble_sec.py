"""Bluetooth LE security AT commands: parameters, pairing, bonds
(BLE_AT_Commands.rst, AT+BLESECPARAM ... AT+BLESETKEY)."""

from __future__ import annotations

from esp_at_sim.at.params import Int
from esp_at_sim.at.registry import command
from esp_at_sim.commands.ble_gap import BLUEDROID_CHIPS, fail, ready
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ParamInvalid
from esp_at_sim.services.ble.security import SecParams, SecurityManager
from esp_at_sim.services.ble.stack import BleStack

DOC = "BLE_AT_Commands.rst"
AUTH_REQS = (0, 1, 4, 5, 8, 9, 12, 13)


def security(ctx: CommandContext) -> tuple[BleStack, SecurityManager]:
    s = ready(ctx)
    if s.security is None:
        raise fail()
    return s, s.security


def _linked(s: BleStack, index: int) -> None:
    if index not in s.links:
        raise fail()


# -------------------------------------------------------------- AT+BLESECPARAM
secparam = command("+BLESECPARAM", group="ble", doc=f"{DOC}#cmd-BLESMPPAR")


@secparam.query
async def _secparam_q(ctx: CommandContext) -> None:
    _s, sec = security(ctx)
    p = sec.params
    ctx.info("+BLESECPARAM", p.auth_req, p.iocap, p.key_size, p.init_key, p.rsp_key, p.auth_option)


@secparam.set(
    Int("auth_req", choices=AUTH_REQS),
    Int("iocap", lo=0, hi=4),
    Int("enc_key_size", lo=7, hi=16),
    Int("init_key", lo=0, hi=15),
    Int("rsp_key", lo=0, hi=15),
    Int("auth_option", 0, lo=0, hi=1),
)
async def _secparam_s(ctx: CommandContext, auth: int, iocap: int, size: int, ik: int, rk: int, opt: int) -> None:
    _s, sec = security(ctx)
    sec.set_params(SecParams(auth, iocap, size, ik, rk, opt), ctx.persist)


# ------------------------------------------------------------------- AT+BLEENC
bleenc = command("+BLEENC", group="ble", doc=f"{DOC}#cmd-BLEENC")


@bleenc.set(Int("conn_index", lo=0, hi=2), Int("sec_act", lo=0, hi=3))
async def _bleenc_s(ctx: CommandContext, index: int, sec_act: int) -> None:
    s, sec = security(ctx)
    _linked(s, index)
    if sec_act == 0:
        return
    await sec.encrypt(index, sec_act)


# ---------------------------------------------------------------- AT+BLEENCRSP
bleencrsp = command("+BLEENCRSP", group="ble", doc=f"{DOC}#cmd-BLEENCRSP", chips=BLUEDROID_CHIPS)


@bleencrsp.set(Int("conn_index", lo=0, hi=2), Int("accept", lo=0, hi=1))
async def _bleencrsp_s(ctx: CommandContext, index: int, accept: int) -> None:
    s, sec = security(ctx)
    _linked(s, index)
    sec.answer(index, "accept", bool(accept))


# -------------------------------------------------------------- AT+BLEKEYREPLY
blekeyreply = command("+BLEKEYREPLY", group="ble", doc=f"{DOC}#cmd-BLEKEYREPLY")


@blekeyreply.set(Int("conn_index", lo=0, hi=2), Int("key", lo=0, hi=999_999))
async def _blekeyreply_s(ctx: CommandContext, index: int, key: int) -> None:
    s, sec = security(ctx)
    _linked(s, index)
    sec.answer(index, "passkey", key)


# ------------------------------------------------------------- AT+BLECONFREPLY
bleconfreply = command("+BLECONFREPLY", group="ble", doc=f"{DOC}#cmd-BLECONFREPLY")


@bleconfreply.set(Int("conn_index", lo=0, hi=2), Int("confirm", lo=0, hi=1))
async def _bleconfreply_s(ctx: CommandContext, index: int, confirm: int) -> None:
    s, sec = security(ctx)
    _linked(s, index)
    sec.answer(index, "confirm", bool(confirm))


# ---------------------------------------------------------------- AT+BLEENCDEV
bleencdev = command("+BLEENCDEV", group="ble", doc=f"{DOC}#cmd-BLEENCDEV")


@bleencdev.query
async def _bleencdev_q(ctx: CommandContext) -> None:
    _s, sec = security(ctx)
    for i, addr in enumerate(sec.bonds()):
        ctx.info("+BLEENCDEV", i, addr)


# -------------------------------------------------------------- AT+BLEENCCLEAR
bleencclear = command("+BLEENCCLEAR", group="ble", doc=f"{DOC}#cmd-BLEENCCLEAR")


@bleencclear.execute
async def _bleencclear_all(ctx: CommandContext) -> None:
    _s, sec = security(ctx)
    await sec.clear(None)


@bleencclear.set(Int("enc_dev_index", lo=0, hi=14))
async def _bleencclear_one(ctx: CommandContext, index: int) -> None:
    _s, sec = security(ctx)
    if not await sec.clear(index):
        raise ParamInvalid(0)


# ---------------------------------------------------------------- AT+BLESETKEY
blesetkey = command("+BLESETKEY", group="ble", doc=f"{DOC}#cmd-BLESETKEY")


@blesetkey.query
async def _blesetkey_q(ctx: CommandContext) -> None:
    _s, sec = security(ctx)
    key = sec.static_key
    ctx.info("+BLESETKEY", -1 if key is None else key)


@blesetkey.set(Int("static_key", lo=0, hi=999_999))
async def _blesetkey_s(ctx: CommandContext, key: int) -> None:
    _s, sec = security(ctx)
    sec.set_static_key(key, ctx.persist)
