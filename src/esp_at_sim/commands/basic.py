"""Basic AT commands (Basic_AT_Commands.rst)."""

from __future__ import annotations

from esp_at_sim.at.events import Raw
from esp_at_sim.at.params import Int
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module, on_mfg_init
from esp_at_sim.device.nvs import NvsType
from esp_at_sim.errors import ParamInvalid

# ------------------------------------------------------------------ factory data


@on_mfg_init
def _factory_params(module: Module) -> None:
    """Fill the ``factory_param`` namespace of mfg_nvs as the factory would."""
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
        mfg.set("factory_param", key, value, typ)


# --------------------------------------------------------------------------- AT

at = command("", doc="Basic_AT_Commands.rst#cmd-AT")


@at.execute
async def _at(ctx: CommandContext) -> None:
    return None


# ------------------------------------------------------------------------ ATE

ate = command("E", doc="Basic_AT_Commands.rst#cmd-ATE")


@ate.set(Int("echo", lo=0, hi=1))
async def _ate(ctx: CommandContext, echo: int) -> None:
    ctx.module.engine.echo = bool(echo)


# --------------------------------------------------------------------- AT+RST

rst = command("+RST", doc="Basic_AT_Commands.rst#cmd-RST")


@rst.execute
async def _rst(ctx: CommandContext) -> None:
    ctx.after(lambda: ctx.module.reboot("software"))


@rst.set(Int("mode", lo=0, hi=1))
async def _rst_mode(ctx: CommandContext, mode: int) -> None:
    if not ctx.module.profile.rst_mode:
        raise ParamInvalid(0)
    if mode == 1:
        # download mode: the chip waits for a flasher and prints nothing more
        ctx.after(lambda: ctx.module.deep_sleep(None))
    else:
        ctx.after(lambda: ctx.module.reboot("software"))


# --------------------------------------------------------------------- AT+GMR

gmr = command("+GMR", doc="Basic_AT_Commands.rst#cmd-GMR")


@gmr.execute
async def _gmr(ctx: CommandContext) -> None:
    p = ctx.module.profile
    name = ctx.module.nvs.mfg.get("factory_param", "module_name", ctx.module.factory.module_name)
    ctx.line(f"AT version:{p.at_version}({p.at_commit} - {p.target} - {p.build_date})")
    ctx.line(f"SDK version:{p.sdk_version}")
    ctx.line(f"compile time({p.at_commit.removeprefix('s-')}):{p.build_date}")
    ctx.line(f"Bin version:v{p.at_version}({name})")


# --------------------------------------------------------------------- AT+CMD

cmd = command("+CMD", doc="Basic_AT_Commands.rst#cmd-CMD")


@cmd.query
async def _cmd(ctx: CommandContext) -> None:
    from esp_at_sim.at.registry import Form

    module = ctx.module
    for i, c in enumerate(c for c in module.registry.available(module) if c.base is None):
        flags = [int(c.supports(f)) for f in (Form.TEST, Form.QUERY, Form.SET, Form.EXECUTE)]
        ctx.info("+CMD", i, c.display_name, *flags)


# ------------------------------------------------------------------ AT+SYSLOG

syslog = command("+SYSLOG", doc="Basic_AT_Commands.rst#cmd-SYSLOG")


@syslog.query
async def _syslog_q(ctx: CommandContext) -> None:
    ctx.info("+SYSLOG", int(ctx.module.engine.syslog))


@syslog.set(Int("status", lo=0, hi=1))
async def _syslog_s(ctx: CommandContext, status: int) -> None:
    ctx.module.engine.syslog = bool(status)


# ---------------------------------------------------------------- AT+SYSSTORE

sysstore = command("+SYSSTORE", doc="Basic_AT_Commands.rst#cmd-SYSSTORE")


@sysstore.query
async def _sysstore_q(ctx: CommandContext) -> None:
    ctx.info("+SYSSTORE", int(ctx.module.settings.sysstore))


@sysstore.set(Int("store_mode", lo=0, hi=1))
async def _sysstore_s(ctx: CommandContext, mode: int) -> None:
    ctx.module.settings.sysstore = bool(mode)
    ctx.module.settings.set("base", "sysstore", mode, persist=True)


# ------------------------------------------------------------------ AT+SYSRAM

sysram = command("+SYSRAM", doc="Basic_AT_Commands.rst#cmd-SYSRAM")


@sysram.query
async def _sysram_q(ctx: CommandContext) -> None:
    heap = ctx.module.heap
    ctx.info("+SYSRAM", heap.free, heap.min_free)


@sysram.set(Int("caps", lo=0, hi=0xFFFFFFFF))
async def _sysram_s(ctx: CommandContext, caps: int) -> None:
    heap = ctx.module.heap
    if caps & ~0x7FFF:
        raise ParamInvalid(0)
    ctx.info("+SYSRAM", heap.largest_block, heap.free, heap.min_free, heap.baseline)


# -------------------------------------------------------------------- AT+GSLP

gslp = command("+GSLP", doc="Basic_AT_Commands.rst#cmd-GSLP")


@gslp.set(Int("time", lo=0, hi=0x7FFFFFFF))
async def _gslp(ctx: CommandContext, ms: int) -> None:
    if ms < ctx.module.profile.gslp_min_ms:
        raise ParamInvalid(0)
    ctx.raw(Raw(f"{ms}\r\n".encode()).data)
    ctx.after(lambda: ctx.module.deep_sleep(ms / 1000.0) if ms else ctx.module.reboot("deepsleep"))


# ----------------------------------------------------------------- AT+RESTORE

restore = command("+RESTORE", doc="Basic_AT_Commands.rst#cmd-RESTORE")


@restore.execute
async def _restore(ctx: CommandContext) -> None:
    def factory_reset() -> None:
        ctx.module.nvs.user.erase()
        ctx.module.reboot("restore")

    ctx.after(factory_reset)
