"""What a chip prints while it boots, and when.

Theory of operation
-------------------
On reset the ROM prints its lines on the log port at once, the second-stage
bootloader prints ``I (<ms>) ...`` lines stamped with milliseconds since reset,
the application starts and ESP-AT finally prints ``ready`` on the AT port.
:func:`boot_log` returns the profile's lines with the second each one appears
at, the reset line rewritten for the reason of this boot (power-on, software
reset, wake from deep sleep), as the ROM reports it. The stamps are compressed
proportionally when the configured time to ``ready`` is shorter than the log,
so every line still comes before ``ready`` (``boot_time = 0`` prints them all
at once).
"""

from __future__ import annotations

import re

from esp_at_sim.device.profiles import ChipProfile

_STAMP = re.compile(r"^[IWE] \((\d+)\) ")
_RST = re.compile(r"rst:0x[0-9a-f]+ \([A-Z_]+\)")
_RST_CAUSE = re.compile(r"rst cause:\d+")

#: the ROM's reset line per reason: (ESP32 wording, ROM of C2/C3/S2, ROM of C5/C6/C61)
_RESET_WORDS: dict[str, tuple[str, str, str]] = {
    "poweron": ("rst:0x1 (POWERON_RESET)", "rst:0x1 (POWERON)", "rst:0x1 (POWERON)"),
    "software": ("rst:0xc (SW_CPU_RESET)", "rst:0xc (RTC_SW_CPU_RST)", "rst:0xc (SW_CPU)"),
    "deepsleep": ("rst:0x5 (DEEPSLEEP_RESET)", "rst:0x5 (DSLEEP)", "rst:0x5 (DSLEEP)"),
}
_NEW_ROMS = frozenset({"esp32c5", "esp32c6", "esp32c61"})
#: ESP8266 ROM: 1 power-on; a software restart and the wake from deep sleep
#: (GPIO16 wired to RST) both come up as an external reset, cause 2
_ESP8266_CAUSE = {"poweron": 1}


def reset_line(profile: ChipProfile, line: str, reason: str) -> str:
    """``line`` with its reset cause replaced by the one for ``reason``."""
    if profile.key == "esp8266":
        return _RST_CAUSE.sub(f"rst cause:{_ESP8266_CAUSE.get(reason, 2)}", line, count=1)
    words = _RESET_WORDS.get(reason, _RESET_WORDS["software"])
    word = words[0] if profile.key == "esp32" else words[2] if profile.key in _NEW_ROMS else words[1]
    return _RST.sub(word, line, count=1)


def boot_log(profile: ChipProfile, reason: str, ready_after: float) -> list[tuple[float, str]]:
    """The log-port lines of one boot, each with the second (since reset) it appears at."""
    lines = [reset_line(profile, line, reason) for line in profile.rom_banner]
    stamps: list[float] = []
    last = 0.0
    for line in lines:
        m = _STAMP.match(line)
        if m:
            last = max(last, int(m.group(1)) / 1000.0)
        stamps.append(last)
    scale = 1.0 if last <= ready_after or last == 0 else ready_after / last
    return [(t * scale, line) for t, line in zip(stamps, lines, strict=True)]
