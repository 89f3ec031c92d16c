"""What a chip prints while it boots, and when.

Theory of operation
-------------------
On reset the ROM prints its lines on the log port at once, the second-stage
bootloader prints ``I (<ms>) ...`` lines stamped with milliseconds since reset,
the application starts and ESP-AT finally prints ``ready`` on the AT port.
:func:`boot_log` returns the profile's ROM lines, followed by the bootloader's
and ESP-AT's for the firmware build (device/builds.py), each with the second
it appears at. The ROM's reset line says why the chip booted, in the words of
that chip's ROM (:data:`RESET_CAUSES`): power-on, a software restart (AT+RST,
AT+RESTORE, an OTA, a panic), the wake from deep sleep, a watchdog or the
brown-out detector. After any reset but power-on the RISC-V and S2 ROMs also
print the program counter the CPU had. The stamps are compressed
proportionally when the configured time to ``ready`` is shorter than the log,
so every line still comes before ``ready`` (``boot_time = 0`` prints them all
at once).
"""

from __future__ import annotations

import hashlib
import re

from esp_at_sim.device.builds import FirmwareBuild, app_start_lines, build_for
from esp_at_sim.device.profiles import ChipProfile, FactoryParams

_STAMP = re.compile(r"^[IWE] \((\d+)\) ")
_RST = re.compile(r"rst:0x[0-9a-f]+ \([A-Z0-9_]+\)")
_RST_CAUSE = re.compile(r"rst cause:\d+")

#: Why a module boots (``Module.boot_reason``) -> what the ROM reports, per ROM
#: family: (code, ESP32 name, C2/C3/S2 name, C5/C6/C61 name). ESP-IDF restarts
#: by resetting the CPU (esp_restart_noos), so AT+RST, AT+RESTORE, an OTA and a
#: panic all read "software CPU reset"; the interrupt watchdog, when its panic
#: cannot finish, resets the system from timer group 1 (group 0 on the ESP32-C2,
#: which has one); the RTC watchdog catches a chip hung before that.
RESET_CAUSES: dict[str, tuple[int, str, str, str]] = {
    "poweron": (0x1, "POWERON_RESET", "POWERON", "POWERON"),
    "software": (0xC, "SW_CPU_RESET", "RTC_SW_CPU_RST", "SW_CPU"),
    "deepsleep": (0x5, "DEEPSLEEP_RESET", "DSLEEP", "DSLEEP"),
    "watchdog": (0x8, "TG1WDT_SYS_RESET", "TG1WDT_SYS_RST", "TG1_WDT_HPSYS"),
    "rtc_watchdog": (0x10, "RTCWDT_RTC_RESET", "RTCWDT_RTC_RST", "LP_WDT_SYS"),
    "brownout": (0xF, "RTCWDT_BROWN_OUT_RESET", "BROWNOUT_RST", "LP_BOD_SYS"),
}
#: reasons that reach the ROM as another one
_SAME_AS = {"panic": "software", "restore": "software", "ota": "software", "en": "poweron"}
_NEW_ROMS = frozenset({"esp32c5", "esp32c6", "esp32c61"})
#: ESP8266 ROM: 1 power-on (and a brown-out, which it cannot tell apart), 4 the
#: hardware watchdog; everything else - the EN pin, a restart, an exception, the
#: wake from deep sleep (GPIO16 wired to RST) - comes up as cause 2
_ESP8266_CAUSE = {"poweron": 1, "brownout": 1, "watchdog": 4, "rtc_watchdog": 4}


def rom_reason(reason: str) -> str:
    """The key of :data:`RESET_CAUSES` a boot for ``reason`` shows."""
    reason = _SAME_AS.get(reason, reason)
    return reason if reason in RESET_CAUSES else "software"


def reset_word(profile: ChipProfile, reason: str) -> str:
    """``rst:0xc (SW_CPU_RESET)`` for ``reason`` on ``profile``'s ROM
    (``rst cause:2`` on an ESP8266)."""
    if profile.key == "esp8266":
        return f"rst cause:{_ESP8266_CAUSE.get(reason, 2)}"
    code, esp32, c3, c6 = RESET_CAUSES[rom_reason(reason)]
    if profile.key == "esp32c2" and reason == "watchdog":
        code, c3 = 0x7, "TG0WDT_SYS_RST"
    name = esp32 if profile.key == "esp32" else c6 if profile.key in _NEW_ROMS else c3
    return f"rst:0x{code:x} ({name})"


def reset_line(profile: ChipProfile, line: str, reason: str) -> str:
    """``line`` with its reset cause replaced by the one for ``reason``."""
    if profile.key == "esp8266":
        return _RST_CAUSE.sub(reset_word(profile, reason), line, count=1)
    return _RST.sub(reset_word(profile, reason), line, count=1)


def _saved_pc(profile: ChipProfile, reason: str, boot_count: int) -> str | None:
    """The ``Saved PC`` line of the RISC-V and S2 ROMs after any reset but power-on."""
    if profile.key in ("esp32", "esp8266") or rom_reason(reason) == "poweron":
        return None
    seed = hashlib.sha256(f"{profile.key}/{reason}/{boot_count}".encode()).digest()
    pc = 0x40380000 + (int.from_bytes(seed[:2], "big") << 2)
    return f"{'Core0 ' if profile.key == 'esp32c61' else ''}Saved PC:0x{pc:08x}"


def boot_log(
    profile: ChipProfile,
    reason: str,
    ready_after: float,
    build: FirmwareBuild | None = None,
    factory: FactoryParams | None = None,
    boot_count: int = 1,
) -> list[tuple[float, str]]:
    """The log-port lines of one boot, each with the second (since reset) it appears at."""
    build = build or build_for(profile)
    factory = factory or profile.factory()
    lines: list[str] = []
    for line in profile.rom_banner:
        lines.append(reset_line(profile, line, reason))
        if line.startswith("rst:"):
            pc = _saved_pc(profile, reason, boot_count)
            if pc is not None:
                lines.append(pc)
    lines.extend(app_start_lines(profile, build, factory, profile.app_ms))
    stamps: list[float] = []
    last = 0.0
    for line in lines:
        m = _STAMP.match(line)
        if m:
            last = max(last, int(m.group(1)) / 1000.0)
        stamps.append(last)
    scale = 1.0 if last <= ready_after or last == 0 else ready_after / last
    # min(): the scaled stamp of the last line must not round past ready_after
    return [(min(t * scale, ready_after) if scale != 1.0 else t, line) for t, line in zip(stamps, lines, strict=True)]
