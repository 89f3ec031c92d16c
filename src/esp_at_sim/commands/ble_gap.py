"""Bluetooth LE AT commands: initialization, addresses, advertising, scanning,
connections (BLE_AT_Commands.rst).

Every command but ``AT+BLEINIT`` needs LE initialized; scanning needs the
client (or dual) role and advertising the server (or dual) role. Failures
of the stack answer ``ERROR`` with the firmware's execution-failure code
(``ERR CODE:0x010a0001`` with AT+SYSLOG=1).
"""

from __future__ import annotations

from esp_at_sim.at.params import Args, Hex, Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.commands.ble_report import AtBleReporter
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.ble.stack import AdvParams, BleError, BleStack, ScanFilter, ScanParams

DOC = "BLE_AT_Commands.rst"
BT5_CHIPS = ("esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61")
BLUEDROID_CHIPS = ("esp32", "esp32c3")


def fail(message: str | None = None) -> ExecFail:
    """The firmware's answer when a handler returns ESP_AT_RESULT_CODE_ERROR."""
    return ExecFail(1, message)


def stack(ctx: CommandContext) -> BleStack:
    return ctx.module.service(BleStack)


def ready(ctx: CommandContext, roles: tuple[int, ...] = (1, 2, 3)) -> BleStack:
    s = stack(ctx)
    if not s.initialized or s.role not in roles:
        raise fail()
    return s


def parse_address(text: str, index: int) -> str:
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ParamInvalid(index)
    try:
        bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ParamInvalid(index) from None
    return text.lower()


# ------------------------------------------------------------------ AT+BLEINIT
bleinit = command("+BLEINIT", group="ble", doc=f"{DOC}#cmd-BINIT")


@bleinit.query
async def _bleinit_q(ctx: CommandContext) -> None:
    ctx.info("+BLEINIT", stack(ctx).role)


@bleinit.set(Int("init", lo=0, hi=3))
async def _bleinit_s(ctx: CommandContext, init: int) -> None:
    s = stack(ctx)
    m = ctx.module
    if init == 0:
        await s.deinit()
        return
    if m.vars.get("blufi.active") or m.vars.get("blehid.active"):
        raise fail("ble is already initialized")
    s.listener = AtBleReporter(m)
    try:
        await s.init(init)
    except BleError:
        raise fail() from None


# ------------------------------------------------------------------ AT+BLEADDR
bleaddr = command("+BLEADDR", group="ble", doc=f"{DOC}#cmd-BADDR")


@bleaddr.query
async def _bleaddr_q(ctx: CommandContext) -> None:
    ctx.info("+BLEADDR", ready(ctx).query_address())


@bleaddr.set(Int("addr_type", lo=0, hi=1), Str("random_addr", None, max_len=17, text=True))
async def _bleaddr_s(ctx: CommandContext, addr_type: int, random_addr: str | None) -> None:
    s = ready(ctx)
    if addr_type == 0:
        if random_addr is not None:
            raise ParamCount(1, 2)
        s.clear_random_address()
        return
    if random_addr is not None:
        addr = parse_address(random_addr, 1)
        raw = bytes.fromhex(addr.replace(":", ""))
        bits = int.from_bytes(raw, "big")
        rand = bits & ((1 << 46) - 1)
        if raw[0] >> 6 != 0b11 or rand == 0 or rand == (1 << 46) - 1:
            raise ParamInvalid(1)
    else:
        addr = None
    await s.set_random_address(addr)


# ------------------------------------------------------------------ AT+BLENAME
blename = command("+BLENAME", group="ble", doc=f"{DOC}#cmd-BNAME")


@blename.query
async def _blename_q(ctx: CommandContext) -> None:
    from esp_at_sim.at.render import Unquoted

    ctx.info("+BLENAME", Unquoted(ready(ctx).name))


@blename.set(Str("device_name", max_len=32, min_len=1, text=True))
async def _blename_s(ctx: CommandContext, name: str) -> None:
    s = ready(ctx)
    ctx.module.settings.set("ble", "name", name, persist=ctx.persist)
    if s.device is not None:
        s.device.name = name


# ------------------------------------------------------------- AT+BLESCANPARAM
blescanparam = command("+BLESCANPARAM", group="ble", doc=f"{DOC}#cmd-BSCANP")


@blescanparam.query
async def _blescanparam_q(ctx: CommandContext) -> None:
    p = ready(ctx).scan_params
    ctx.info("+BLESCANPARAM", p.scan_type, p.own_addr_type, p.filter_policy, p.interval, p.window)


@blescanparam.set(
    Int("scan_type", lo=0, hi=1),
    Int("own_addr_type", lo=0, hi=3),
    Int("filter_policy", lo=0, hi=3),
    Int("scan_interval", lo=0x0004, hi=0x4000),
    Int("scan_window", lo=0x0004, hi=0x4000),
)
async def _blescanparam_s(ctx: CommandContext, st: int, own: int, fp: int, interval: int, window: int) -> None:
    s = ready(ctx, (1, 3))
    if window > interval:
        raise ParamInvalid(4)
    s.scan_params = ScanParams(st, own, fp, interval, window)
    s.persist("scanparam", s.scan_params.__dict__, ctx.persist)


# ------------------------------------------------------------------ AT+BLESCAN
blescan = command("+BLESCAN", group="ble", doc=f"{DOC}#cmd-BSCAN")


@blescan.set()
async def _blescan_s(ctx: CommandContext, args: Args) -> None:
    args.expect_count(1, 5)
    enable = args.int(0, 0, 1)
    s = ready(ctx, (1, 3))
    if enable == 0:
        if len(args) > 1:
            raise ParamCount(1, len(args))
        await s.stop_scan()
        return
    duration = args.int(1, 0, 0xFFFF, default=0)
    flt = ScanFilter()
    if len(args) >= 3:
        kind = args.int(2, 1, 4)
        if not args.present(3):
            raise ParamCount(4, len(args))
        if kind == 4:
            flt = ScanFilter(4, args.int(3, -127, 20))
        elif kind == 1:
            text = args.str(3, max_len=17, text=True)
            if not all(c in "0123456789abcdefABCDEF:" for c in text):
                raise ParamInvalid(3)
            flt = ScanFilter(1, text.lower())
        elif kind == 2:
            flt = ScanFilter(2, args.str(3, max_len=31))
        else:
            text = args.str(3, max_len=32, text=True)
            try:
                raw = bytes.fromhex(text.removeprefix("0x").removeprefix("0X"))
            except ValueError:
                raise ParamInvalid(3) from None
            if len(raw) not in (2, 4, 16):
                raise ParamInvalid(3)
            flt = ScanFilter(3, raw)
        if len(args) == 5:
            flt.duplicates = bool(args.int(4, 0, 1))
    elif len(args) == 5:
        raise ParamCount(4, 5)
    try:
        await s.start_scan(duration, flt)
    except BleError:
        raise fail() from None


# ------------------------------------------------------------- AT+BLESCANRSPDATA
blescanrsp = command("+BLESCANRSPDATA", group="ble", doc=f"{DOC}#cmd-BSCANR")


@blescanrsp.set(Hex("scan_rsp_data", max_bytes=31))
async def _blescanrsp_s(ctx: CommandContext, data: bytes) -> None:
    s = ready(ctx, (2, 3))
    s.scan_rsp = data
    s.persist("scanrsp", data.hex(), ctx.persist)
    await s.refresh_advertising_data()


# -------------------------------------------------------------- AT+BLEADVPARAM
bleadvparam = command("+BLEADVPARAM", group="ble", doc=f"{DOC}#cmd-BADVP")


@bleadvparam.query
async def _bleadvparam_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    p = s.adv
    fields: list[object] = [
        p.int_min,
        p.int_max,
        p.adv_type,
        p.own_addr_type,
        p.channel_map,
        p.filter_policy,
        p.peer_addr_type,
        p.peer_addr,
    ]
    if ctx.module.chip != "esp32":
        fields += [p.primary_phy, p.secondary_phy]
    ctx.info("+BLEADVPARAM", *fields)


@bleadvparam.set()
async def _bleadvparam_s(ctx: CommandContext, args: Args) -> None:
    bt5 = ctx.module.chip != "esp32"
    args.expect_count(5, 10 if bt5 else 8)
    int_min = args.int(0, 0x20, 0x4000)
    int_max = args.int(1, 0x20, 0x4000)
    adv_type = args.int(2, 0, 7 if bt5 else 4)
    own = args.int(3, 0, 1)
    channel_map = args.int(4, 1, 7)
    policy = args.int(5, 0, 3, default=0)
    peer_type = args.int(6, 0, 1, default=0)
    peer = args.str(7, max_len=17, default=None, text=True)
    primary = args.int(8, 1, 3, default=1)
    secondary = args.int(9, 1, 3, default=1)
    if int_min > int_max:
        raise ParamInvalid(1)
    if primary == 2:
        raise ParamInvalid(8)
    s = ready(ctx, (2, 3))
    addr = "00:00:00:00:00:00" if peer is None else parse_address(peer, 7)
    s.adv = AdvParams(
        int_min, int_max, adv_type, own, channel_map, policy, peer_type, addr, primary, secondary, configured=True
    )
    s.persist("advparam", s.adv.__dict__, ctx.persist)


# --------------------------------------------------------------- AT+BLEADVDATA
bleadvdata = command("+BLEADVDATA", group="ble", doc=f"{DOC}#cmd-BADVD")


@bleadvdata.set(Hex("adv_data", max_bytes=119))
async def _bleadvdata_s(ctx: CommandContext, data: bytes) -> None:
    s = ready(ctx, (2, 3))
    limit = 119 if ctx.module.chip != "esp32" and s.adv.adv_type >= 5 else 31
    if len(data) > limit:
        raise ParamInvalid(0)
    s.adv_data = data
    s.advdataex = None
    s.persist("advdata", data.hex(), ctx.persist)
    s.persist("advdataex", None, ctx.persist)
    await s.refresh_advertising_data()


# ------------------------------------------------------------- AT+BLEADVDATAEX
bleadvdataex = command("+BLEADVDATAEX", group="ble", doc=f"{DOC}#cmd-BADVDEX")


@bleadvdataex.query
async def _bleadvdataex_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    name, uuid, manuf, power = s.advdataex or (s.name, "", "", 0)
    ctx.info("+BLEADVDATAEX", name, uuid, manuf, power)


def build_adv_data(name: str, uuid: bytes, manufacturer: bytes, power: int, tx_power: int) -> bytes:
    """The advertising data AT+BLEADVDATAEX assembles, cut at 31 bytes."""
    out = bytes([2, 0x01, 0x06])
    if name:
        raw = name.encode()
        out += bytes([len(raw) + 1, 0x09]) + raw
    if uuid:
        kind = {2: 0x03, 4: 0x05, 16: 0x07}[len(uuid)]
        out += bytes([len(uuid) + 1, kind]) + bytes(reversed(uuid))
    if manufacturer:
        out += bytes([len(manufacturer) + 1, 0xFF]) + manufacturer
    if power:
        out += bytes([2, 0x0A, tx_power & 0xFF])
    return out[:31]


@bleadvdataex.set(
    Str("dev_name", max_len=32, text=True),
    Str("uuid", max_len=32, text=True),
    Hex("manufacturer_data", max_bytes=31),
    Int("include_power", lo=0, hi=1),
)
async def _bleadvdataex_s(ctx: CommandContext, name: str, uuid_text: str, manuf: bytes, power: int) -> None:
    s = ready(ctx, (2, 3))
    try:
        uuid = bytes.fromhex(uuid_text.removeprefix("0x").removeprefix("0X")) if uuid_text else b""
    except ValueError:
        raise ParamInvalid(1) from None
    if uuid and len(uuid) not in (2, 4, 16):
        raise ParamInvalid(1)
    tx = round(s.radio.controller.node.tx_power) if s.radio.controller is not None else 0
    s.adv_data = build_adv_data(name, uuid, manuf, power, tx)
    s.advdataex = (name, uuid_text.upper(), manuf.hex().upper(), power)
    s.adv.adv_type = 0
    s.persist("advdataex", list(s.advdataex), ctx.persist)
    s.persist("advdata", s.adv_data.hex(), ctx.persist)
    try:
        await s.start_advertising()
    except BleError:
        raise fail() from None


# ------------------------------------------------------ AT+BLEADVSTART / STOP
bleadvstart = command("+BLEADVSTART", group="ble", doc=f"{DOC}#cmd-BADVSTART")


@bleadvstart.execute
async def _bleadvstart(ctx: CommandContext) -> None:
    s = ready(ctx, (2, 3))
    if not s.bluedroid and not s.adv.configured:
        raise fail()
    try:
        await s.start_advertising()
    except BleError:
        raise fail() from None


bleadvstop = command("+BLEADVSTOP", group="ble", doc=f"{DOC}#cmd-BADVSTOP")


@bleadvstop.execute
async def _bleadvstop(ctx: CommandContext) -> None:
    await ready(ctx, (2, 3)).stop_advertising()


# ------------------------------------------------------------------ AT+BLECONN
bleconn = command("+BLECONN", group="ble", doc=f"{DOC}#cmd-BCONN")


@bleconn.query
async def _bleconn_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    for index in sorted(s.links):
        ctx.info("+BLECONN", index, s.links[index].address)


@bleconn.set()
async def _bleconn_s(ctx: CommandContext, args: Args) -> None:
    args.expect_count(2, 4)
    s = stack(ctx)
    index = args.int(0, 0, s.max_links - 1)
    address = parse_address(args.str(1, max_len=17, text=True), 1)
    addr_type = args.int(2, 0, 1, default=0)
    timeout = args.int(3, 3, 30, default=30)
    s = ready(ctx)
    existing = next((link for link in s.links.values() if link.address == address), None)
    if existing is not None:
        # the GATT client of a connection the peer made: no new link
        if existing.index != index or existing.central:
            raise fail()
        return
    if index in s.links:
        raise fail()
    try:
        await s.connect(index, address, addr_type, timeout)
    except BleError:
        ctx.line(f"+BLECONN:{index},-1")
        raise fail() from None
    ctx.info("+BLECONN", index, address)


# ------------------------------------------------------------- AT+BLECONNPARAM
bleconnparam = command("+BLECONNPARAM", group="ble", doc=f"{DOC}#cmd-BCONNP")


@bleconnparam.query
async def _bleconnparam_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    for index in sorted(s.links):
        p = s.conn_params(s.links[index])
        ctx.info("+BLECONNPARAM", index, p.min_interval, p.max_interval, p.interval, p.latency, p.timeout)


@bleconnparam.set(
    Int("conn_index", lo=0, hi=2),
    Int("min_interval", lo=0x0006, hi=0x0C80),
    Int("max_interval", lo=0x0006, hi=0x0C80),
    Int("latency", lo=0, hi=0x01F3),
    Int("timeout", lo=0x000A, hi=0x0C80),
)
async def _bleconnparam_s(ctx: CommandContext, index: int, min_i: int, max_i: int, lat: int, timeout: int) -> None:
    if min_i > max_i:
        raise ParamInvalid(2)
    s = ready(ctx)
    if index not in s.links:
        raise fail()
    await s.update_conn_params(index, min_i, max_i, lat, timeout)


# --------------------------------------------------------------- AT+BLEDISCONN
bledisconn = command("+BLEDISCONN", group="ble", doc=f"{DOC}#cmd-BDISC")


@bledisconn.set(Int("conn_index", lo=0, hi=2))
async def _bledisconn_s(ctx: CommandContext, index: int) -> None:
    s = ready(ctx)
    if index not in s.links:
        raise fail()
    await s.disconnect(index)


# --------------------------------------------------------------- AT+BLEDATALEN
bledatalen = command("+BLEDATALEN", group="ble", doc=f"{DOC}#cmd-BDLEN", chips=BLUEDROID_CHIPS)


@bledatalen.set(Int("conn_index", lo=0, hi=2), Int("pkt_data_len", lo=0x1B, hi=0xFB))
async def _bledatalen_s(ctx: CommandContext, index: int, length: int) -> None:
    s = ready(ctx)
    if index not in s.links:
        raise fail()
    try:
        await s.set_data_length(index, length)
    except BleError:
        raise fail() from None


# ---------------------------------------------------------------- AT+BLECFGMTU
blecfgmtu = command("+BLECFGMTU", group="ble", doc=f"{DOC}#cmd-BMTU")


@blecfgmtu.query
async def _blecfgmtu_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    for index in sorted(s.links):
        ctx.info("+BLECFGMTU", index, s.links[index].mtu)


@blecfgmtu.set()
async def _blecfgmtu_s(ctx: CommandContext, args: Args) -> None:
    s = stack(ctx)
    if s.bluedroid:
        args.expect_count(2)
        index = args.int(0, 0, s.max_links - 1)
        mtu = args.int(1, 23, 517)
    else:
        args.expect_count(1)
        index = args.int(0, 0, s.max_links - 1)
        mtu = 203  # NimBLE's preferred MTU of the AT build
    s = ready(ctx)
    if index not in s.links:
        raise fail()
    await s.exchange_mtu(index, mtu)


# -------------------------------------------------------------------- AT+BLEWL
blewl = command("+BLEWL", group="ble", doc=f"{DOC}#cmd-BLEWL", chips=BLUEDROID_CHIPS)


@blewl.set()
async def _blewl_s(ctx: CommandContext, args: Args) -> None:
    if len(args) == 2:
        raise ParamCount(3, 2)
    args.expect_count(1, 3)
    add = args.int(0, 0, 1)
    if len(args) == 1:
        if add:
            raise ParamCount(3, 1)
        s = ready(ctx)
        await s.whitelist(False, None, None)
        return
    addr_type = args.int(1, 0, 1)
    address = parse_address(args.str(2, max_len=17, text=True), 2)
    s = ready(ctx)
    try:
        await s.whitelist(bool(add), addr_type, address)
    except BleError:
        raise fail() from None


# ---------------------------------------------------------------- AT+BLERDRSSI
blerdrssi = command("+BLERDRSSI", group="ble", doc=f"{DOC}#cmd-BLERDRSSI", chips=BLUEDROID_CHIPS)


@blerdrssi.set(Int("conn_index", lo=0, hi=2))
async def _blerdrssi_s(ctx: CommandContext, index: int) -> None:
    s = ready(ctx)
    if index not in s.links:
        raise fail()
    try:
        rssi = await s.read_rssi(index)
    except Exception:
        ctx.line(f"+BLERDRSSI:{index},Fail")
        return
    ctx.info("+BLERDRSSI", index, rssi)


# -------------------------------------------------------- AT+BLEREADPHY / SETPHY
blereadphy = command("+BLEREADPHY", group="ble", doc=f"{DOC}#cmd-BLERDPHY", chips=BT5_CHIPS)


@blereadphy.set(Int("conn_index", lo=0, hi=2))
async def _blereadphy_s(ctx: CommandContext, index: int) -> None:
    s = ready(ctx)
    link = s.links.get(index)
    if link is None:
        ctx.line("+BLEREADPHY:-1")
        return
    tx, rx = await s.read_phy(index)
    ctx.info("+BLEREADPHY", link.address, tx, rx)


blesetphy = command("+BLESETPHY", group="ble", doc=f"{DOC}#cmd-BLESETPHY", chips=BT5_CHIPS)


@blesetphy.set(Int("conn_index", lo=0, hi=2), Int("tx_rx_phy", lo=1, hi=3))
async def _blesetphy_s(ctx: CommandContext, index: int, phy: int) -> None:
    s = ready(ctx)
    link = s.links.get(index)
    if link is None:
        ctx.line("+BLESETPHY:-1")
        return
    try:
        tx, rx = await s.set_phy(index, phy)
    except Exception:
        ctx.line("+BLESETPHY:-1")
        return
    ctx.info("+BLESETPHY", link.address, tx, rx)
