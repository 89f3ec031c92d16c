"""Basic AT commands (Basic_AT_Commands.rst).

This module declares every command of the chapter, in the order the firmware
registers them (that order is what ``AT+CMD?`` lists), and implements the
small ones. The larger ones live next to it, by concept:

* ``basic_trans.py``      AT+SAVETRANSLINK, AT+TRANSINTVL
* ``basic_power.py``      AT+GSLP, AT+SLEEP, AT+SLEEPWKCFG, AT+RFPOWER, AT+RFCAL
* ``basic_flash.py``      AT+SYSFLASH
* ``basic_mfg.py``        AT+SYSMFG and the factory content of ``mfg_nvs``
* ``basic_msgfilter.py``  AT+SYSMSGFILTER, AT+SYSMSGFILTERCFG
* ``basic_uart.py``       AT+UART_CUR, AT+UART_DEF, AT+UART, AT+CIOBAUD

Echo is ``ATE0``/``ATE1``: two execute commands, as the firmware has them.
"""

from __future__ import annotations

import hashlib
import math

from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import REGISTRY, Form, command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module, on_boot
from esp_at_sim.device.profiles import PROFILES
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.firmware import FirmwareSlots
from esp_at_sim.services.systime import SystemTime

_DOC = "Basic_AT_Commands.rst#"

# --------------------------------------------------- the chapter, in firmware order
at = command("", doc=_DOC + "cmd-AT")
ate0 = command("E0", doc=_DOC + "cmd-ATE")
ate1 = command("E1", doc=_DOC + "cmd-ATE")
rst = command("+RST", doc=_DOC + "cmd-RST")
gmr = command("+GMR", doc=_DOC + "cmd-GMR")
cmd = command("+CMD", doc=_DOC + "cmd-CMD")
savetranslink = command("+SAVETRANSLINK", doc=_DOC + "cmd-SAVET")
transintvl = command("+TRANSINTVL", doc=_DOC + "cmd-TRANSINTVL", generations=(3, 99))
systimestamp = command("+SYSTIMESTAMP", doc=_DOC + "cmd-SETTIME")
gslp = command("+GSLP", doc=_DOC + "cmd-GSLP")
sleep = command("+SLEEP", doc=_DOC + "cmd-SLEEP")
sleepwkcfg = command("+SLEEPWKCFG", doc=_DOC + "cmd-WKCFG")
restore = command("+RESTORE", doc=_DOC + "cmd-RESTORE")
sysram = command("+SYSRAM", doc=_DOC + "cmd-SYSRAM")
sysflash = command("+SYSFLASH", doc=_DOC + "cmd-SYSFLASH")
sysmfg = command("+SYSMFG", doc=_DOC + "cmd-SYSMFG", generations=(3, 99))
sysmsgfilter = command("+SYSMSGFILTER", doc=_DOC + "cmd-SYSMSGFILTER", generations=(3, 99))
sysmsgfiltercfg = command("+SYSMSGFILTERCFG", doc=_DOC + "cmd-SYSMSGFILTERCFG", generations=(3, 99))
rfpower = command("+RFPOWER", doc=_DOC + "cmd-RFPOWER")
rfcal = command("+RFCAL", doc=_DOC + "cmd-RFCAL", generations=(4, 99))
sysmsg = command("+SYSMSG", doc=_DOC + "cmd-SYSMSG")
sysrollback = command("+SYSROLLBACK", doc=_DOC + "cmd-SYSROLLBACK")
syslog = command("+SYSLOG", doc=_DOC + "cmd-SYSLOG")
sysstore = command("+SYSSTORE", doc=_DOC + "cmd-SYSSTORE")
sysreg = command("+SYSREG", doc=_DOC + "cmd-SYSREG")
systemp = command("+SYSTEMP", doc=_DOC + "cmd-SYSTEMP", chips=[k for k, p in PROFILES.items() if p.temp_sensor])
# the UART commands come from a separate source file of the firmware, registered later
uart = command("+UART", doc=_DOC + "cmd-UARTD")
uart_cur = command("+UART_CUR", doc=_DOC + "cmd-UARTC")
uart_def = command("+UART_DEF", doc=_DOC + "cmd-UARTD")
ciobaud = command("+CIOBAUD", doc=_DOC + "cmd-UARTC", chips=["esp8266"], generations=(1, 2))


# --------------------------------------------------------------------------- AT
@at.execute
async def _at(ctx: CommandContext) -> None:
    return None


# ------------------------------------------------------------------- ATE0 / ATE1
@ate0.execute
async def _ate0(ctx: CommandContext) -> None:
    ctx.module.engine.echo = False


@ate1.execute
async def _ate1(ctx: CommandContext) -> None:
    ctx.module.engine.echo = True


# ----------------------------------------------------------------------- AT+RST
@rst.execute
async def _rst(ctx: CommandContext) -> None:
    ctx.after(lambda: ctx.module.reboot("software"))


@rst.set(Int("mode", lo=0, hi=1), chips=[k for k, p in PROFILES.items() if p.rst_mode])
async def _rst_mode(ctx: CommandContext, mode: int) -> None:
    if mode == 1:
        # download mode: the ROM waits for a flasher and the AT port stays silent
        def download() -> None:
            ctx.module.chip_log("waiting for download")
            ctx.module.deep_sleep(None)

        ctx.after(download)
    else:
        ctx.after(lambda: ctx.module.reboot("software"))


# ----------------------------------------------------------------------- AT+GMR
_MODULE_NAME = "base.module_name"


@on_boot
def factory_snapshot(module: Module) -> None:
    """What the firmware reads from ``mfg_nvs`` ``factory_param`` at boot (the
    module name AT+GMR prints; the TX power AT+RFPOWER starts from)."""
    name = module.nvs.mfg.get("factory_param", "module_name", module.factory.module_name)
    module.vars[_MODULE_NAME] = name if isinstance(name, str) else module.factory.module_name
    from esp_at_sim.commands.basic_power import rf_power

    rf_power(module)


def module_name(module: Module) -> str:
    name = module.vars.get(_MODULE_NAME)
    if not isinstance(name, str):
        factory_snapshot(module)
        name = module.vars[_MODULE_NAME]
    assert isinstance(name, str)
    return name


@gmr.execute
async def _gmr(ctx: CommandContext) -> None:
    module = ctx.module
    bin_version = module.service(FirmwareSlots).running_version
    for line in module.firmware.gmr_lines(module.profile.target, module_name(module), bin_version):
        ctx.line(line)


# ----------------------------------------------------------------------- AT+CMD
_FORMS = (Form.TEST, Form.QUERY, Form.SET, Form.EXECUTE)


@cmd.query
async def _cmd(ctx: CommandContext) -> None:
    module = ctx.module
    for i, c in enumerate(module.registry.available(module)):
        ctx.info("+CMD", i, c.display_name, *(int(c.supports(f, module)) for f in _FORMS))


# -------------------------------------------------------------- AT+SYSTIMESTAMP
@systimestamp.query
async def _systimestamp_q(ctx: CommandContext) -> None:
    ctx.info("+SYSTIMESTAMP", int(ctx.module.service(SystemTime).now()))


@systimestamp.set(Int("Unix_timestamp", lo=0, hi=0x7FFFFFFF))
async def _systimestamp_s(ctx: CommandContext, ts: int) -> None:
    ctx.module.service(SystemTime).set(ts)


# ------------------------------------------------------------------- AT+RESTORE
@restore.execute
async def _restore(ctx: CommandContext) -> None:
    def factory_reset() -> None:
        ctx.module.nvs.user.erase()
        ctx.module.reboot("restore")

    ctx.after(factory_reset)


# -------------------------------------------------------------------- AT+SYSRAM
# heap_caps bits of the one internal heap the model has (esp_heap_caps.h):
# MALLOC_CAP_32BIT | 8BIT | DMA | INTERNAL | DEFAULT
_HEAP_CAPS = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 11) | (1 << 12)
_MALLOC_CAP_INVALID = 1 << 31


@sysram.query
async def _sysram_q(ctx: CommandContext) -> None:
    heap = ctx.module.heap
    ctx.info("+SYSRAM", heap.free, heap.min_free)


@sysram.set(Int("caps", lo=0, hi=0xFFFFFFFF))
async def _sysram_s(ctx: CommandContext, caps: int) -> None:
    heap = ctx.module.heap
    if caps & _MALLOC_CAP_INVALID:
        raise ParamInvalid(0)
    if caps & ~_HEAP_CAPS:
        # no region has those capabilities (no PSRAM, no separate IRAM heap modelled)
        ctx.info("+SYSRAM", 0, 0, 0, 0)
        return
    ctx.info("+SYSRAM", heap.largest_block, heap.free, heap.min_free, heap.total)


# -------------------------------------------------------------------- AT+SYSMSG
def sysmsg_state(module: Module) -> int:
    """The AT+SYSMSG bits (0: +QUITT, 1: +LINK_CONN, 2: status in passthrough)."""
    value = module.settings.get("base", "sysmsg", 0)
    return value if isinstance(value, int) else 0


@sysmsg.query
async def _sysmsg_q(ctx: CommandContext) -> None:
    ctx.info(ctx.command.name, sysmsg_state(ctx.module))  # +SYSMSG, or +SYSMSG_CUR on 1.x


@sysmsg.set(Int("state", lo=0, hi=7))
async def _sysmsg_s(ctx: CommandContext, state: int) -> None:
    if ctx.variant is not None and state > 3:
        raise ParamInvalid(0)  # NONOS AT 1.x knows bits 0 and 1 only
    ctx.module.settings.set("base", "sysmsg", state, persist=ctx.persist)


# NONOS AT 1.x had only the _CUR (RAM) and _DEF (flash) names
for _variant in ("cur", "def"):
    REGISTRY.alias(f"+SYSMSG_{_variant.upper()}", sysmsg, variant=_variant, generations=(1, 1))


# --------------------------------------------------------------- AT+SYSROLLBACK
@sysrollback.query
async def _sysrollback_q(ctx: CommandContext) -> None:
    slots = ctx.module.service(FirmwareSlots)
    ctx.info(
        "+SYSROLLBACK",
        Unquoted(f"0x{slots.running_addr:x}"),
        slots.running_version,
        Unquoted(f"0x{slots.other_addr:x}"),
        slots.other_version or "unknown",
    )


@sysrollback.execute
async def _sysrollback(ctx: CommandContext) -> None:
    slots = ctx.module.service(FirmwareSlots)
    if not slots.can_roll_back():
        ctx.module.chip_log("E at-base: no valid app in the other ota partition")
        raise ExecFail()
    slots.roll_back()
    ctx.after(lambda: ctx.module.reboot("software"))


# -------------------------------------------------------------------- AT+SYSLOG
@syslog.query
async def _syslog_q(ctx: CommandContext) -> None:
    ctx.info("+SYSLOG", int(ctx.module.engine.syslog))


@syslog.set(Int("status", lo=0, hi=1))
async def _syslog_s(ctx: CommandContext, status: int) -> None:
    ctx.module.engine.syslog = bool(status)


# ------------------------------------------------------------------ AT+SYSSTORE
@sysstore.query
async def _sysstore_q(ctx: CommandContext) -> None:
    ctx.info("+SYSSTORE", int(ctx.module.settings.sysstore))


@sysstore.set(Int("store_mode", lo=0, hi=1))
async def _sysstore_s(ctx: CommandContext, mode: int) -> None:
    ctx.module.settings.sysstore = bool(mode)
    ctx.module.settings.set("base", "sysstore", mode, persist=True)


# -------------------------------------------------------------------- AT+SYSREG
# A register file: reads of registers nobody wrote return 0; writes last until
# the next boot (a reset restores the hardware defaults).
_REGS = "base.sysreg"


@sysreg.set()
async def _sysreg(ctx: CommandContext, args: Args) -> None:
    direct = args.int(0, 0, 1)
    want = 2 if direct == 0 else 3
    if len(args) != want:
        raise ParamCount(want, len(args))
    address = args.int(1, 0, 0xFFFFFFFF)
    value = args.int(2, 0, 0xFFFFFFFF) if direct == 1 else 0
    if address % 4:
        # a misaligned 32-bit access faults: the chip panics and reboots
        kind = "Load" if direct == 0 else "Store"
        ctx.module.chip_log(f"Guru Meditation Error: Core  0 panic'ed ({kind} address misaligned).")
        ctx.module.chip_log(f"MTVAL   : 0x{address:08x}")
        ctx.module.chip_log("Rebooting...")
        ctx.module.reboot("panic")
        return None
    regs = ctx.module.vars.setdefault(_REGS, {})
    if direct == 0:
        ctx.info("+SYSREG", Unquoted(f"0x{regs.get(address, 0):x}"))
    else:
        regs[address] = value
    return None


# ------------------------------------------------------------------- AT+SYSTEMP
def chip_temperature(module: Module) -> float:
    """A plausible die temperature: a per-chip ambient offset, a slow warm-up
    after boot and a small drift, all a function of uptime (deterministic)."""
    seed = hashlib.sha256(module.name.encode()).digest()
    ambient = 26.0 + (seed[0] / 255.0) * 3.0
    t = module.uptime
    warm = 11.0 * (1.0 - math.exp(-t / 300.0))
    drift = 0.35 * math.sin(t / 47.0 + seed[1]) + 0.15 * math.sin(t / 11.0 + seed[2])
    return round(ambient + warm + drift, 2)


@systemp.query
async def _systemp(ctx: CommandContext) -> None:
    ctx.info("+SYSTEMP", chip_temperature(ctx.module))
