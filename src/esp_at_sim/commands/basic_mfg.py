"""AT+SYSMFG (Basic_AT_Commands.rst) and the factory content of ``mfg_nvs``.

Reply layouts, from the firmware and ``sysmfg_at_examples.rst``:

* namespaces: ``+SYSMFG:"<namespace>"`` one per line;
* keys: ``+SYSMFG:"<namespace>","<key>",<type>``;
* a value: ``+SYSMFG:"<namespace>","<key>",<type>,<length>,<value>`` where a
  number is printed in decimal and ``<length>`` is the number of its digits,
  a string or blob is printed raw and ``<length>`` counts its bytes.

Writing types 1-6 takes the value in the command; types 7 (string) and 8
(binary) take a length, print ``>`` and take exactly that many bytes.

Factory parameters are read by the firmware at boot: a changed module name or
TX power shows after AT+RST, as on the chip (``basic.factory_snapshot``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from esp_at_sim.at.events import Raw
from esp_at_sim.at.params import Args, Str
from esp_at_sim.commands.basic import sysmfg
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module, on_mfg_init
from esp_at_sim.device.nvs import INT_RANGES, NvsType
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid

ERASE, READ, WRITE = 0, 1, 2
NAME_MAX = 15  # NVS namespace and key names: 16 bytes with the terminator
STR_MAX = 3999  # NVS strings: 4000 bytes with the terminator
BLOB_MAX = 508_000  # NVS blobs (version 2 layout)
FACTORY_NS = "factory_param"

# ------------------------------------------------------------------ factory data


@on_mfg_init(order=0)
def _factory_params(module: Module) -> None:
    """Fill ``factory_param`` as the factory does (factory_param_type.csv order)."""
    fp = module.factory
    mfg = module.nvs.mfg
    rows: list[tuple[str, NvsType, object]] = [
        ("version", NvsType.I8, fp.version),
        ("module_name", NvsType.STR, fp.module_name),
        ("max_tx_power", NvsType.I8, fp.max_tx_power),
        ("country_code", NvsType.STR, fp.country_code),
        ("start_channel", NvsType.U8, fp.start_channel),
        ("channel_num", NvsType.U8, fp.channel_num),
        ("uart_port", NvsType.I8, fp.uart_port),
        ("uart_baudrate", NvsType.I32, fp.uart_baudrate),
        ("uart_tx_pin", NvsType.I32, fp.uart_tx_pin),
        ("uart_rx_pin", NvsType.I32, fp.uart_rx_pin),
        ("uart_cts_pin", NvsType.I32, fp.uart_cts_pin),
        ("uart_rts_pin", NvsType.I32, fp.uart_rts_pin),
        ("sys_store", NvsType.U8, fp.sys_store),
    ]
    for key, typ, value in rows:
        mfg.set(FACTORY_NS, key, value, typ)


def gatts_rows() -> list[str]:
    """The rows of the default GATT service table, as the firmware stores them."""
    text = (Path(__file__).parent.parent / "device" / "data" / "gatts_data.csv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line)
    return rows


@on_mfg_init(order=200)
def _ble_data(module: Module) -> None:
    """``ble_data``: one string ``cfg<index>`` per GATT table row (BLE chips only)."""
    if not module.has_group("ble"):
        return
    for row in gatts_rows():
        index = next(csv.reader([row]))[0]
        module.nvs.mfg.set("ble_data", f"cfg{index}", row, NvsType.STR)


# ---------------------------------------------------------------------- AT+SYSMFG


def _name(args: Args, index: int) -> str:
    name: str = args.get(index, Str("name", max_len=NAME_MAX, text=True))
    if not name:
        raise ParamInvalid(index)
    return name


def _list_namespaces(ctx: CommandContext) -> None:
    for ns in ctx.module.nvs.mfg.namespaces():
        ctx.info("+SYSMFG", ns)


@sysmfg.query
async def _sysmfg_q(ctx: CommandContext) -> None:
    _list_namespaces(ctx)


@sysmfg.set()
async def _sysmfg_s(ctx: CommandContext, args: Args) -> None:
    op = args.int(0, 0, 2)
    if op == ERASE:
        _erase(ctx, args)
    elif op == READ:
        _read(ctx, args)
    else:
        await _write(ctx, args)


def _erase(ctx: CommandContext, args: Args) -> None:
    args.expect_count(2, 3)
    mfg = ctx.module.nvs.mfg
    ns = _name(args, 1)
    if len(args) == 3:
        key = _name(args, 2)
        if mfg.get_typed(ns, key) is None:
            ctx.module.chip_log(f"E at-partition: erase {ns}.{key} failed (ESP_ERR_NVS_NOT_FOUND)")
            raise ExecFail()
        mfg.erase(ns, key)
    else:
        mfg.erase(ns)


def _read(ctx: CommandContext, args: Args) -> None:
    n = len(args)
    if n not in (1, 2, 3, 5):
        raise ParamCount(5, n)
    mfg = ctx.module.nvs.mfg
    if n == 1:
        _list_namespaces(ctx)
        return
    ns = _name(args, 1)
    keys = mfg.keys(ns)
    if not keys:
        ctx.module.chip_log(f"E at-partition: open namespace {ns} failed (ESP_ERR_NVS_NOT_FOUND)")
        raise ExecFail()
    if n == 2:
        for key, typ in keys:
            ctx.info("+SYSMFG", ns, key, int(typ))
        return
    key = _name(args, 2)
    got = mfg.get_typed(ns, key)
    if got is None:
        ctx.module.chip_log(f"E at-partition: read {ns}.{key} failed (ESP_ERR_NVS_NOT_FOUND)")
        raise ExecFail()
    typ, value = got
    if typ.is_int:
        text = str(value)
        ctx.info("+SYSMFG", ns, key, int(typ), len(text), value)
        return
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    if n == 5:
        offset = args.int(3, 0, 0x7FFFFFFF)
        length = args.int(4, 1, 0x7FFFFFFF)
        if offset >= len(data):
            raise ParamInvalid(3)
        data = data[offset : offset + length]
    ctx.info("+SYSMFG", ns, key, int(typ), len(data), Raw(data))


async def _write(ctx: CommandContext, args: Args) -> None:
    if len(args) != 5:
        raise ParamCount(5, len(args))
    ns = _name(args, 1)
    key = _name(args, 2)
    typ = NvsType(args.int(3, 1, 8))
    mfg = ctx.module.nvs.mfg
    if typ.is_int:
        lo, hi = INT_RANGES[typ]
        mfg.set(ns, key, args.int(4, lo, hi), typ)
        return
    limit = STR_MAX if typ is NvsType.STR else BLOB_MAX
    length = args.int(4, 1, limit)
    with ctx.module.heap.alloc(length, "sysmfg"):
        got = await ctx.prompt(length)
        if not got.complete:
            raise ExecFail()
        ctx.module.chip_log(f"I at-partition: recv {len(got.data)} bytes")
        value: object = got.data.decode("utf-8", "surrogateescape") if typ is NvsType.STR else got.data
        mfg.set(ns, key, value, typ)
