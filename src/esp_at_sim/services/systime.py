"""The module's system time (what SNTP sets, AT+CIPSNTPTIME? and TLS read).

A chip starts at the epoch (Thu Jan  1 00:00:00 1970) and counts up with its
uptime until SNTP or AT+SYSTIMESTAMP sets it. The time lives in the RTC: it
survives a software reset but not a power cycle; the ESP32-C2 keeps nothing
(TCP-IP_AT_Commands.rst, AT+CIPSNTPTIME notes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from esp_at_sim.world.world import World

#: ``module.vars`` key with the offset from the module clock to Unix time (shared with services/tls.py)
WALL_CLOCK_OFFSET = "sntp.wall_offset"

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module


class RtcMemory:
    """World extension: per module name, the epoch time at a given world-clock instant."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.anchors: dict[str, tuple[float, float]] = {}


class SystemTime:
    """Per-boot service: ``module.service(SystemTime)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.rtc = module.world.extension(RtcMemory)
        keep = module.boot_reason != "poweron" and module.chip != "esp32c2"
        if not keep or module.name not in self.rtc.anchors:
            # the epoch at this boot's start
            self.rtc.anchors[module.name] = (0.0, module.booted_at or module.clock.now())
        self.synced = False

    def now(self) -> float:
        """Seconds since the epoch, as the chip believes."""
        offset = self.module.vars.get(WALL_CLOCK_OFFSET)
        if offset is not None:
            return float(self.module.clock.now() + float(offset))
        epoch, at = self.rtc.anchors[self.module.name]
        return epoch + (self.module.clock.now() - at)

    def set(self, epoch: float) -> None:
        now = self.module.clock.now()
        self.rtc.anchors[self.module.name] = (float(epoch), now)
        self.module.vars[WALL_CLOCK_OFFSET] = float(epoch) - now
        self.synced = True
