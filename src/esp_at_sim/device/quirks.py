"""Firmware quirks a module can switch on, so host drivers can prove they survive them.

Theory of operation
-------------------
A quirk is a misbehaviour real ESP-AT firmware shows now and then (public bug
reports, see the README's table "Firmware quirks you can switch on"). The
emulated module behaves like a well-behaved board unless a quirk is switched
on for it: in a scenario (``[[module]] quirks = ["busy_after_ok"]``), in
Python (``Module.start(..., quirks=frozenset({...}))`` or :func:`set_quirks`
on a running module) or from the control API (the ``quirk`` fault).

The quirks that live in the AT port's framing are switches of the sans-IO
engine (``busy_window``, ``busy_keeps_line``, ``deaf_until``), set here at
every boot and whenever the set changes; the others are checked where the
behaviour happens (``"cwjap_full_timeout" in module.quirks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import fault

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.world.world import World

#: name -> what the module does with it switched on
QUIRKS: dict[str, str] = {
    "busy_after_ok": "input that starts within 10 ms after a final result is answered `busy p...` and lost",
    "busy_still_runs": "a command line answered `busy p...` still runs once the running command has ended",
    "boot_log_on_at_port": "the ROM boot log also appears on the AT port (ESP8266 boards with UART0 as AT port)",
    "cipstatus_stale": "AT+CIPSTATUS keeps reporting STATUS:3 once a link was made, after it closes and Wi-Fi is lost",
    "cwjap_full_timeout": "a failing AT+CWJAP retries until its <jap_timeout> (15 s) has run out before answering",
    "uart_rx_overflow": "in passthrough the host is not held back: bytes the link cannot take yet are lost "
    "beyond the UART receive buffer",
    "plus_exit_settle": "for 1 s after `+++` left passthrough, the AT port ignores everything",
    "ble_mtu_reset_others": "when one BLE client disconnects, the server's other connections fall back to "
    "MTU 23 (notifications longer than 20 bytes fail)",
    "ble_mtu_stale": "a new BLE connection reports the MTU of the previous connection on the same index "
    "until an exchange happens",
}

#: seconds after a final result during which ``busy_after_ok`` refuses input
BUSY_WINDOW = 0.010
#: seconds of deafness after ``+++`` under ``plus_exit_settle`` (the spec asks hosts to wait 1 s)
PLUS_SETTLE = 1.0
#: the AT port's UART receive ring buffer (at_uart.h: 1024 bytes on the ESP32-C2, 2048 elsewhere)
UART_RX_BUFFER = {"esp32c2": 1024}
UART_RX_BUFFER_DEFAULT = 2048


def check(quirks: Iterable[str]) -> frozenset[str]:
    names = frozenset(quirks)
    unknown = names - set(QUIRKS)
    if unknown:
        raise ConfigError(f"unknown quirks: {', '.join(sorted(unknown))}; known: {', '.join(sorted(QUIRKS))}")
    return names


def configure_engine(module: Module) -> None:
    """Set the AT engine's switches from the module's quirks (every boot, every change)."""
    engine = module.engine
    engine.busy_window = BUSY_WINDOW if "busy_after_ok" in module.quirks else 0.0
    engine.busy_keeps_line = "busy_still_runs" in module.quirks


def after_passthrough(module: Module) -> None:
    """``+++`` has just ended passthrough."""
    if "plus_exit_settle" in module.quirks:
        module.engine.deaf_until = module.clock.now() + PLUS_SETTLE
        module.chip_log("at-base: leaving passthrough, AT port not listening for 1 s")


def set_quirks(module: Module, quirks: Iterable[str]) -> None:
    """Switch the quirks of a running module (the Python API)."""
    module.quirks = check(quirks)
    configure_engine(module)


def uart_rx_buffer(module: Module) -> int:
    return UART_RX_BUFFER.get(module.chip, UART_RX_BUFFER_DEFAULT)


@fault(
    "quirk",
    "switch a firmware quirk of a module on or off (see the README's quirk table)",
    module="module name",
    quirk="quirk name",
    on="true to switch on, false to switch off",
)
def _quirk(world: World, module: str, quirk: str, on: bool = True) -> None:
    m = world.modules.get(module)
    if m is None:
        raise ConfigError(f"no module named {module!r} in this world")
    check([quirk])
    enabled = str(on).lower() not in ("false", "0", "off", "no")
    set_quirks(m, (m.quirks | {quirk}) if enabled else (m.quirks - {quirk}))
