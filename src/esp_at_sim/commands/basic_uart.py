"""AT+UART_CUR, AT+UART_DEF, AT+UART (Basic_AT_Commands.rst) and ESP8266's AT+CIOBAUD.

The firmware (``at_uart_cmd.c``) registers three names: ``AT+UART_CUR`` (query:
the live hardware values, set: RAM only), ``AT+UART_DEF`` (query: what NVS
holds, set: saved and applied) and the older ``AT+UART`` (query like
``_CUR``, set like ``_DEF``). A set answers ``OK`` at the old rate and only
then switches (``Module.set_uart_baud`` leaves that timing to the driver).
See ``device/uart.py`` for where the values live.
"""

from __future__ import annotations

from esp_at_sim.at.params import Int
from esp_at_sim.commands.basic import ciobaud, uart, uart_cur, uart_def
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.uart import (
    MIN_BAUD,
    UartConfig,
    actual_baud,
    apply_config,
    current_config,
    default_config,
)
from esp_at_sim.errors import ParamInvalid

_SCHEMA = (
    Int("baudrate"),
    Int("databits", lo=5, hi=8),
    Int("stopbits", lo=1, hi=3),
    Int("parity", lo=0, hi=2),
    Int("flow control", lo=0, hi=3),
)


def _check_baud(ctx: CommandContext, baud: int) -> None:
    if not MIN_BAUD <= baud <= ctx.module.profile.uart_max_baud:
        raise ParamInvalid(0)


def _report_current(ctx: CommandContext, name: str) -> None:
    cfg = current_config(ctx.module)
    ctx.info(
        name,
        actual_baud(ctx.module.profile, cfg.baudrate),
        cfg.data_bits,
        cfg.stop_bits,
        cfg.parity,
        cfg.flow_control,
    )


@uart_cur.query
async def _uart_cur_q(ctx: CommandContext) -> None:
    _report_current(ctx, "+UART_CUR")


@uart.query
async def _uart_q(ctx: CommandContext) -> None:
    _report_current(ctx, "+UART")


@uart_def.query
async def _uart_def_q(ctx: CommandContext) -> None:
    ctx.info("+UART_DEF", *default_config(ctx.module).as_list())


@uart_cur.set(*_SCHEMA)
async def _uart_cur_s(ctx: CommandContext, baud: int, data: int, stop: int, parity: int, flow: int) -> None:
    _check_baud(ctx, baud)
    apply_config(ctx.module, UartConfig(baud, data, stop, parity, flow), save=False)


@uart_def.set(*_SCHEMA)
async def _uart_def_s(ctx: CommandContext, baud: int, data: int, stop: int, parity: int, flow: int) -> None:
    _check_baud(ctx, baud)
    apply_config(ctx.module, UartConfig(baud, data, stop, parity, flow), save=True)


# AT+UART=... behaves as AT+UART_DEF=... (same handler in the firmware)
uart.set(*_SCHEMA)(_uart_def_s)


# ------------------------------------------------- AT+CIOBAUD (early ESP8266 firmware)
_CIOBAUD_RANGE = (9600, 921600)


@ciobaud.test
async def _ciobaud_t(ctx: CommandContext) -> None:
    lo, hi = _CIOBAUD_RANGE
    ctx.line(f"+CIOBAUD:({lo}-{hi})")


@ciobaud.query
async def _ciobaud_q(ctx: CommandContext) -> None:
    ctx.info("+CIOBAUD", current_config(ctx.module).baudrate)


@ciobaud.set(Int("baudrate", lo=_CIOBAUD_RANGE[0], hi=_CIOBAUD_RANGE[1]))
async def _ciobaud_s(ctx: CommandContext, baud: int) -> None:
    cfg = current_config(ctx.module)
    apply_config(ctx.module, UartConfig(baud, cfg.data_bits, cfg.stop_bits, cfg.parity, cfg.flow_control), save=True)
