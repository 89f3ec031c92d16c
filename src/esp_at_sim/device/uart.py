"""The AT port's UART configuration (AT+UART_CUR, AT+UART_DEF).

Theory of operation
-------------------
A :class:`UartConfig` is the five values of the UART commands: baud rate,
data bits (5-8), stop bits (1: 1, 2: 1.5, 3: 2), parity (0 none, 1 odd,
2 even) and flow control (0 none, 1 RTS, 2 CTS, 3 both).

*Default* is what the firmware starts with: the value saved by AT+UART_DEF
(user NVS, settings ``"base"/"uart_def"`` as a five-element list), or else
the factory baud rate from ``mfg_nvs`` (``factory_param/uart_baudrate``)
with 8 data bits, 1 stop bit, no parity and RTS flow control (the firmware's
Kconfig defaults). *Current* is the per-boot RAM copy that AT+UART_CUR
changes; it starts as the default.

The query of the current configuration reports what the hardware divider
produces, not what was asked for: the divider has 4 fractional bits (none on
ESP8266), so 115200 reads back as 115201 on an 80 MHz ESP32 and 115273 on an
ESP8266.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esp_at_sim.device.profiles import ChipProfile

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

MIN_BAUD = 80
SETTINGS_NS = "base"
SETTINGS_KEY = "uart_def"
_VARS_KEY = "base.uart"
_MAX_INT_DIV = (1 << 12) - 1  # integer part of the divider register


@dataclass(frozen=True)
class UartConfig:
    baudrate: int
    data_bits: int = 8
    stop_bits: int = 1
    parity: int = 0
    flow_control: int = 1

    def as_list(self) -> list[int]:
        return [self.baudrate, self.data_bits, self.stop_bits, self.parity, self.flow_control]

    @classmethod
    def from_list(cls, values: Any, fallback: UartConfig) -> UartConfig:
        """Rebuild a saved configuration; bad or missing fields keep ``fallback``'s,
        as the firmware ignores out-of-range values it reads from NVS."""
        if not isinstance(values, list | tuple):
            return fallback
        vals = [*list(values), *fallback.as_list()[len(values) :]][:5]
        if not all(isinstance(v, int) for v in vals):
            return fallback
        baud, data, stop, parity, flow = vals
        return cls(
            baud if baud >= MIN_BAUD else fallback.baudrate,
            data if 5 <= data <= 8 else fallback.data_bits,
            stop if 1 <= stop <= 3 else fallback.stop_bits,
            parity if 0 <= parity <= 2 else fallback.parity,
            flow if 0 <= flow <= 3 else fallback.flow_control,
        )


def actual_baud(profile: ChipProfile, baud: int) -> int:
    """The rate the UART divider really produces for a requested ``baud``."""
    sclk = profile.uart_sclk_hz
    if baud <= 0:
        return 0
    if not profile.uart_frac_div:
        div = max(1, sclk // baud)
        return sclk // div
    pre = max(1, -(-sclk // (_MAX_INT_DIV * baud)))  # a clock pre-divider for slow rates
    div = max(1, (sclk << 4) // (baud * pre))
    return (sclk << 4) // (div * pre)


def factory_config(module: Module) -> UartConfig:
    """The configuration without anything saved by AT+UART_DEF."""
    baud = module.config.uart_baud
    if not baud:
        stored = module.nvs.mfg.get("factory_param", "uart_baudrate", module.factory.uart_baudrate)
        baud = stored if isinstance(stored, int) and stored >= MIN_BAUD else 115200
    return UartConfig(baud)


def default_config(module: Module) -> UartConfig:
    """What AT+UART_DEF? reports and what a boot starts with."""
    return UartConfig.from_list(module.settings.get(SETTINGS_NS, SETTINGS_KEY), factory_config(module))


def current_config(module: Module) -> UartConfig:
    cfg = module.vars.get(_VARS_KEY)
    if not isinstance(cfg, UartConfig):
        base = default_config(module)
        # the boot may have been told another rate (scenario, command line)
        cfg = UartConfig(module.uart_baud, base.data_bits, base.stop_bits, base.parity, base.flow_control)
        module.vars[_VARS_KEY] = cfg
    return cfg


def apply_config(module: Module, cfg: UartConfig, *, save: bool) -> None:
    """Make ``cfg`` current (and the saved default with ``save``).

    The baud switch itself goes through :meth:`Module.set_uart_baud`, which the
    driver applies only after the command's result has left at the old rate.
    """
    if save:
        module.settings.set(SETTINGS_NS, SETTINGS_KEY, cfg.as_list(), persist=True)
    module.vars[_VARS_KEY] = cfg
    module.set_uart_baud(cfg.baudrate)
