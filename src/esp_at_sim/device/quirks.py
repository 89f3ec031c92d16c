"""Firmware quirks a module can switch on, so host drivers can prove they survive them.

Theory of operation
-------------------
A quirk is a behaviour real ESP-AT firmware shows in some generations or
versions and not in others (public bug reports, collected in
``shared/notes/field-reports.md``). The emulated module behaves like a
well-behaved board unless a quirk is switched on for it: in a scenario
(``[[module]] quirks = ["busy_after_ok"]``), in Python
(``Module.start(..., quirks=frozenset({...}))`` or :func:`set_quirks` on a
running module) or from the control API (the ``quirk`` fault, on or off).

:data:`QUIRKS` is the catalogue: for every quirk what the module does with it,
what the real firmware does and where, and the reports it comes from.

The quirks that live in the AT port's framing are switches of the sans-IO
engine (``busy_window``, ``busy_keeps_line``, ``deaf_until``), set here at
every boot and whenever the set changes; the others are checked where the
behaviour happens (``"cwjap_full_timeout" in module.quirks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import fault

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.world.world import World


@dataclass(frozen=True)
class Quirk:
    effect: str  # what the emulated module does with the quirk on
    firmware: str  # what the real firmware does, and which versions
    reports: tuple[str, ...]  # public reports (owner/repository#number)


#: name -> the quirk (the README's table is made from the same text)
QUIRKS: dict[str, Quirk] = {
    "busy_after_ok": Quirk(
        "input that starts within 10 ms after a final result is answered `busy p...` and lost",
        "the AT task still holds the port for a moment after OK/ERROR: a host that sends the next "
        "command at once sometimes gets `busy p...` (ESP32, 2023 release firmware)",
        ("espressif/esp-at#731",),
    ),
    "busy_still_runs": Quirk(
        "a command line answered `busy p...` still runs once the running command has ended",
        "the line reaches the command queue anyway: `busy p...` is followed later by that "
        "command's own output (Recv/SEND OK, +CIPRECVDATA), so retrying it runs it twice "
        "(ESP32 v1.x up to ESP32-C3 v4.1.1.0)",
        ("espressif/esp-at#89", "espressif/esp-at#731", "espressif/esp-at#993"),
    ),
    "boot_log_on_at_port": Quirk(
        "the ROM boot log also appears on the AT port",
        "ESP8266 boards whose AT port is UART0: the ROM prints its boot banner there, at 74880 baud, before `ready`",
        ("esp8266/Arduino#2325", "esp8266/Arduino#3047"),
    ),
    "cipstatus_stale": Quirk(
        "AT+CIPSTATUS keeps reporting STATUS:3 once a link was made, after it closes and Wi-Fi is lost",
        "STATUS:<stat> is not updated on UDP/TCP close nor on Wi-Fi loss (ESP32 v1.x, ESP8266 "
        "v2.2.1); Espressif's answer is that AT+CIPSTATUS is deprecated",
        ("espressif/esp-at#140", "espressif/esp-at#609"),
    ),
    "cwjap_full_timeout": Quirk(
        "a failing AT+CWJAP retries until its <jap_timeout> (15 s) has run out before answering",
        "a join that fails (wrong password, AP gone) is retried inside the command, which blocks "
        "(busy p... to everything) until the timeout, then answers +CWJAP:<code>",
        ("espressif/esp-at#25", "espressif/esp-at#139", "espressif/esp-at#388"),
    ),
    "uart_rx_overflow": Quirk(
        "in passthrough the host is not held back: bytes the link cannot take yet are lost "
        "beyond the UART receive buffer",
        "without RTS/CTS wired, a host that writes faster than the link drains overruns the "
        "UART ring buffer and passthrough bytes vanish without a word",
        ("espressif/esp-at#444", "espressif/esp-at#455", "espressif/esp-at#458"),
    ),
    "plus_exit_settle": Quirk(
        "for 1 s after `+++` left passthrough, the AT port ignores everything",
        "the spec asks the host to wait at least 1 s after `+++` before the next command; "
        "commands sent sooner are lost",
        ("espressif/esp-at#47", "espressif/esp-at#631"),
    ),
    "ble_mtu_reset_others": Quirk(
        "when one BLE client disconnects, the server's other connections fall back to MTU 23 "
        "(notifications longer than 20 bytes fail)",
        "GATT server with two clients: after one disconnects the other link's MTU is 23 again "
        "on the server side only, AT+BLEGATTSNTFY longer than 20 bytes answers ERROR (ESP32 "
        "AT 1.2.0.0)",
        ("espressif/esp-at#148",),
    ),
    "ble_mtu_stale": Quirk(
        "a new BLE connection reports the MTU of the previous connection on the same index until an exchange happens",
        "the MTU the firmware keeps for a connection and the one the link negotiated disagree "
        "(seen after pairing on ESP32-C6 v4.2.0.0-dev); which stale value wins is a guess",
        ("espressif/esp-at#952",),
    ),
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
    module.notify("quirks", quirks=sorted(module.quirks))


def uart_rx_buffer(module: Module) -> int:
    return UART_RX_BUFFER.get(module.chip, UART_RX_BUFFER_DEFAULT)


def markdown_table() -> str:
    """The catalogue as the README shows it."""
    rows = ["| quirk | with it on, the module... | the real firmware | reports |", "|---|---|---|---|"]
    for name, q in sorted(QUIRKS.items()):
        rows.append(f"| `{name}` | {q.effect} | {q.firmware} | {', '.join(q.reports)} |")
    return "\n".join(rows)


@fault(
    "quirk",
    "switch a firmware quirk of a module on or off (see device/quirks.py and the README's quirk table)",
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
