"""GATT server and client AT commands (BLE_AT_Commands.rst, GATTS/GATTC).

Server indexes count the services of the module's own table (1..); client
indexes count what ``AT+BLEGATTCPRIMSRV`` found on the peer, which begins
with the peer's 0x1801 and 0x1800 services - so for an ESP-AT peer a
service's client index is its server index + 2, as the examples say.
"""

from __future__ import annotations

from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.commands.ble_gap import BLUEDROID_CHIPS, fail, ready
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ParamCount, ParamInvalid
from esp_at_sim.services.ble import gatt_client
from esp_at_sim.services.ble import gatt_table as table
from esp_at_sim.services.ble.gatt_client import GattClientError
from esp_at_sim.services.ble.stack import BleError, BleLink, BleStack

DOC = "BLE_AT_Commands.rst"
MAX_NOTIFY = 8192


def _link(s: BleStack, index: int) -> BleLink:
    link = s.links.get(index)
    if link is None:
        raise fail()
    return link


def _gatts(s: BleStack):  # type: ignore[no-untyped-def]
    if s.gatts is None or not s.gatts.created:
        raise fail()
    return s.gatts


# ------------------------------------------------------- AT+BLEGATTSSRVCRE
gattssrvcre = command("+BLEGATTSSRVCRE", group="ble", doc=f"{DOC}#cmd-GSSRVCRE", chips=BLUEDROID_CHIPS)


@gattssrvcre.execute
async def _srvcre(ctx: CommandContext) -> None:
    s = ready(ctx)
    if s.gatts is not None and s.gatts.created:
        return
    if s.links:
        raise fail()
    try:
        s.create_services()
    except (BleError, table.TableError):
        raise fail() from None


# ------------------------------------------------ AT+BLEGATTSSRVSTART / STOP
gattssrvstart = command("+BLEGATTSSRVSTART", group="ble", doc=f"{DOC}#cmd-GSSRVSTART", chips=BLUEDROID_CHIPS)
gattssrvstop = command("+BLEGATTSSRVSTOP", group="ble", doc=f"{DOC}#cmd-GSSRVSTOP", chips=BLUEDROID_CHIPS)


def _start_stop(ctx: CommandContext, index: int | None, start: bool) -> None:
    g = _gatts(ready(ctx))
    if index is not None and g.service(index) is None:
        raise ParamInvalid(0)
    if start:
        g.start(index)
    else:
        g.stop(index)


@gattssrvstart.execute
async def _srvstart_all(ctx: CommandContext) -> None:
    _start_stop(ctx, None, True)


@gattssrvstart.set(Int("srv_index", lo=1, hi=255))
async def _srvstart_one(ctx: CommandContext, index: int) -> None:
    _start_stop(ctx, index, True)


@gattssrvstop.execute
async def _srvstop_all(ctx: CommandContext) -> None:
    _start_stop(ctx, None, False)


@gattssrvstop.set(Int("srv_index", lo=1, hi=255))
async def _srvstop_one(ctx: CommandContext, index: int) -> None:
    _start_stop(ctx, index, False)


# ---------------------------------------------------------- AT+BLEGATTSSRV
gattssrv = command("+BLEGATTSSRV", group="ble", doc=f"{DOC}#cmd-GSSRV")


@gattssrv.query
async def _gattssrv_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    if s.gatts is None:
        return
    for srv in s.gatts.services:
        ctx.info("+BLEGATTSSRV", srv.index, int(srv.started), Unquoted(srv.uuid.at_text()), int(srv.primary))


# --------------------------------------------------------- AT+BLEGATTSCHAR
gattschar = command("+BLEGATTSCHAR", group="ble", doc=f"{DOC}#cmd-GSCHAR")


@gattschar.query
async def _gattschar_q(ctx: CommandContext) -> None:
    s = ready(ctx)
    if s.gatts is None:
        return
    for srv in s.gatts.services:
        for ch in srv.characteristics:
            ctx.line(f'+BLEGATTSCHAR:"char",{srv.index},{ch.index},{ch.uuid.at_text()},0x{ch.properties:02x}')
            for d in ch.descriptors:
                ctx.line(f'+BLEGATTSCHAR:"desc",{srv.index},{ch.index},{d.index},{d.uuid.at_text()}')


# ------------------------------------------------- AT+BLEGATTSNTFY / IND
gattsntfy = command("+BLEGATTSNTFY", group="ble", doc=f"{DOC}#cmd-GSNTFY")
gattsind = command("+BLEGATTSIND", group="ble", doc=f"{DOC}#cmd-GSIND")

_NOTIFY_SCHEMA = (
    Int("conn_index", lo=0, hi=2),
    Int("srv_index", lo=1, hi=255),
    Int("char_index", lo=1, hi=255),
    Int("length", lo=1, hi=MAX_NOTIFY),
)


async def _notify(ctx: CommandContext, conn: int, srv: int, char: int, length: int, *, indicate: bool) -> None:
    s = ready(ctx)
    g = _gatts(s)
    link = _link(s, conn)
    ch = g.characteristic(srv, char)
    if ch is None:
        raise fail()
    service = g.service(srv)
    prop = table.PROP_INDICATE if indicate else table.PROP_NOTIFY
    if not ch.properties & prop or service is None or not service.started:
        raise fail()
    # the client must have switched them on in the CCCD
    if not g.cccd(srv, char) & (0x02 if indicate else 0x01):
        raise fail()
    if conn in ctx.module.vars.get("ble_mtu_reset", ()) and length > 20:
        raise fail()  # the ble_mtu_reset_others quirk: this link is back at MTU 23
    data = await ctx.prompt(length)
    if not data.complete:
        raise fail()
    chunk = max(1, link.connection.att_mtu - 3)
    try:
        for i in range(0, len(data.data), chunk):
            await g.notify(link.connection, srv, char, data.data[i : i + chunk], indicate=indicate)
    except Exception:
        raise fail() from None


@gattsntfy.set(*_NOTIFY_SCHEMA)
async def _gattsntfy_s(ctx: CommandContext, conn: int, srv: int, char: int, length: int) -> None:
    await _notify(ctx, conn, srv, char, length, indicate=False)


@gattsind.set(*_NOTIFY_SCHEMA)
async def _gattsind_s(ctx: CommandContext, conn: int, srv: int, char: int, length: int) -> None:
    await _notify(ctx, conn, srv, char, length, indicate=True)


# ----------------------------------------------------- AT+BLEGATTSSETATTR
gattssetattr = command("+BLEGATTSSETATTR", group="ble", doc=f"{DOC}#cmd-GSSETA")


@gattssetattr.set()
async def _gattssetattr_s(ctx: CommandContext, args: Args) -> None:
    s = ready(ctx)
    if s.bluedroid:
        args.expect_count(4)
        srv_i = args.int(0, 1, 255)
        char_i = args.int(1, 1, 255)
        desc_i = args.int(2, 1, 255, default=None)
        length = args.int(3, 1, 512)
    else:
        args.expect_count(3)
        srv_i = args.int(0, 1, 255)
        char_i = args.int(1, 1, 255)
        desc_i = None
        length = args.int(2, 1, 512)
    g = _gatts(s)
    ch = g.characteristic(srv_i, char_i)
    if ch is None:
        raise fail()
    target: table.Characteristic | table.Descriptor = ch
    if desc_i is not None:
        d = next((d for d in ch.descriptors if d.index == desc_i), None)
        if d is None:
            raise fail()
        target = d
    if length > target.max_len:
        raise fail()
    data = await ctx.prompt(length)
    if not data.complete:
        raise fail()
    target.value = data.data


# -------------------------------------------------------- AT+BLEGATTCPRIMSRV
gattcprimsrv = command("+BLEGATTCPRIMSRV", group="ble", doc=f"{DOC}#cmd-GCPRIMSRV")


@gattcprimsrv.set(Int("conn_index", lo=0, hi=2))
async def _primsrv_s(ctx: CommandContext, conn: int) -> None:
    s = ready(ctx)
    link = _link(s, conn)
    try:
        services = await gatt_client.discover_services(link)
    except Exception:
        raise fail() from None
    for srv in services:
        ctx.info("+BLEGATTCPRIMSRV", conn, srv.index, Unquoted(srv.uuid.at_text()), int(srv.primary))


# -------------------------------------------------------- AT+BLEGATTCINCLSRV
gattcinclsrv = command("+BLEGATTCINCLSRV", group="ble", doc=f"{DOC}#cmd-GCINCLSRV")


@gattcinclsrv.set(Int("conn_index", lo=0, hi=2), Int("srv_index", lo=1, hi=255))
async def _inclsrv_s(ctx: CommandContext, conn: int, srv_index: int) -> None:
    s = ready(ctx)
    link = _link(s, conn)
    try:
        srv = await gatt_client.discover_included(link, srv_index)
    except Exception:
        raise fail() from None
    for inc in srv.included or []:
        ctx.info(
            "+BLEGATTCINCLSRV",
            conn,
            srv.index,
            Unquoted(srv.uuid.at_text()),
            int(srv.primary),
            Unquoted(inc.uuid.at_text()),
            int(inc.primary),
        )


# ----------------------------------------------------------- AT+BLEGATTCCHAR
gattcchar = command("+BLEGATTCCHAR", group="ble", doc=f"{DOC}#cmd-GCCHAR")


@gattcchar.set(Int("conn_index", lo=0, hi=2), Int("srv_index", lo=1, hi=255))
async def _gattcchar_s(ctx: CommandContext, conn: int, srv_index: int) -> None:
    s = ready(ctx)
    link = _link(s, conn)
    try:
        srv = await gatt_client.discover_characteristics(link, srv_index)
    except Exception:
        raise fail() from None
    for ch in srv.characteristics or []:
        ctx.line(f'+BLEGATTCCHAR:"char",{conn},{srv.index},{ch.index},{ch.uuid.at_text()},0x{ch.properties:02x}')
        for d in ch.descriptors:
            ctx.line(f'+BLEGATTCCHAR:"desc",{conn},{srv.index},{ch.index},{d.index},{d.uuid.at_text()}')


# ------------------------------------------------------------ AT+BLEGATTCRD
gattcrd = command("+BLEGATTCRD", group="ble", doc=f"{DOC}#cmd-GCRD")


@gattcrd.set()
async def _gattcrd_s(ctx: CommandContext, args: Args) -> None:
    args.expect_count(3, 4)
    conn = args.int(0, 0, 2)
    srv_i = args.int(1, 1, 255)
    char_i = args.int(2, 1, 255)
    desc_i = args.int(3, 1, 255, default=None)
    s = ready(ctx)
    link = _link(s, conn)
    try:
        value = await gatt_client.read(link, srv_i, char_i, desc_i)
    except (GattClientError, Exception):
        raise fail() from None
    ctx.raw(f"+BLEGATTCRD:{conn},{len(value)},".encode() + value + b"\r\n")


# ------------------------------------------------------------ AT+BLEGATTCWR
gattcwr = command("+BLEGATTCWR", group="ble", doc=f"{DOC}#cmd-GCWR")


@gattcwr.set()
async def _gattcwr_s(ctx: CommandContext, args: Args) -> None:
    if len(args) == 4:
        raise ParamCount(5, 4)
    args.expect_count(5)
    conn = args.int(0, 0, 2)
    srv_i = args.int(1, 1, 255)
    char_i = args.int(2, 1, 255)
    desc_i = args.int(3, 1, 255, default=None)
    length = args.int(4, 1, 512)
    s = ready(ctx)
    link = _link(s, conn)
    try:
        gatt_client.characteristic(link, srv_i, char_i)
    except GattClientError:
        raise fail() from None
    data = await ctx.prompt(length)
    if not data.complete:
        raise fail()
    try:
        await gatt_client.write(link, srv_i, char_i, desc_i, data.data, s.notification_sink(link))
    except Exception:
        raise fail() from None
