"""Declarative configuration of one emulated module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from esp_at_sim.device.builds import check_generation
from esp_at_sim.device.profiles import ChipProfile, get_profile
from esp_at_sim.device.quirks import QUIRKS
from esp_at_sim.errors import ConfigError

#: Firmware quirks a module can switch on, so drivers can prove they survive them
#: (the catalogue is in device/quirks.py and the README).
KNOWN_QUIRKS = frozenset(QUIRKS)


@dataclass(frozen=True)
class ModuleConfig:
    name: str = "esp0"
    chip: str = "esp32c3"
    module_name: str | None = None  # factory module name (MINI-1, WROOM-32...)
    state_dir: Path | None = None  # None: NVS in memory only
    generation: int | None = None  # firmware major version to emulate
    command_sets: str | tuple[str, ...] = "all"  # "all" | "official" | explicit groups
    quirks: frozenset[str] = field(default_factory=frozenset)
    boot_time: float | None = None  # seconds from reset to "ready"; None: the chip's typical time
    uart_buffer: int = 16 * 1024
    uart_baud: int | None = None  # initial baud; default from factory params
    mac: str | None = None  # base MAC override "aa:bb:cc:dd:ee:ff"
    seed: str = ""  # world seed mixed into generated MACs
    port_map: tuple[tuple[int, int], ...] = ()  # module port -> host port for servers (0: any free port)
    max_links: int | None = None  # raise the chip's link limit (AT_SOCKET_MAX_CONN_NUM in a custom build)

    def __post_init__(self) -> None:
        profile = get_profile(self.chip)  # raises ConfigError for unknown chips
        if self.generation is not None:
            if isinstance(self.generation, bool) or not isinstance(self.generation, int):
                raise ConfigError(f"generation must be a firmware major version (1 to 5), not {self.generation!r}")
            check_generation(profile, self.generation)
        if not self.name or any(c in self.name for c in "/\\\0"):
            raise ConfigError(f"invalid module name {self.name!r}")
        unknown = set(self.quirks) - KNOWN_QUIRKS
        if unknown:
            raise ConfigError(f"unknown quirks: {', '.join(sorted(unknown))}; known: {', '.join(sorted(QUIRKS))}")
        if isinstance(self.command_sets, str) and self.command_sets not in ("all", "official"):
            raise ConfigError("command_sets must be 'all', 'official' or a list of groups")
        if self.boot_time is not None and self.boot_time < 0:
            raise ConfigError("boot_time must not be negative")
        for pair in self.port_map:
            if len(pair) != 2 or not all(isinstance(p, int) and 0 <= p < 65536 for p in pair) or pair[0] == 0:
                raise ConfigError(f"port_map: {pair!r} is not a pair of ports")

    @property
    def ready_after(self) -> float:
        """Seconds from reset to ``ready``."""
        return self.profile.boot_time if self.boot_time is None else self.boot_time

    @property
    def profile(self) -> ChipProfile:
        return get_profile(self.chip)

    @property
    def groups(self) -> frozenset[str]:
        p = self.profile
        if self.command_sets == "all":
            return p.groups
        if self.command_sets == "official":
            return p.official_groups
        return frozenset(self.command_sets) & p.groups

    @property
    def nvs_path(self) -> Path | None:
        return None if self.state_dir is None else Path(self.state_dir) / f"{self.name}.nvs.sqlite3"
