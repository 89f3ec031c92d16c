"""Scenarios: TOML files that describe a world.

Only the parts other chapters have not claimed are read here; each area adds
its tables (``[[access_point]]``, ``[dns]``, ``[[ble_peer]]``...) through
:data:`SECTION_LOADERS`, keyed by table name, so a scenario stays one file.

::

    [world]
    seed = "lab-1"

    [[module]]
    name = "esp0"
    chip = "esp32c3"
    uart = "pty:/tmp/esp0"
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.errors import ConfigError
from esp_at_sim.world.world import World


@dataclass(frozen=True)
class ModuleEntry:
    config: ModuleConfig
    uart: str | None = None


@dataclass
class Scenario:
    path: Path | None
    data: dict[str, Any]
    modules: list[ModuleEntry] = field(default_factory=list)
    seed: str = ""

    def build_world(self, world: World | None = None) -> World:
        world = world or World(seed=self.seed)
        for name, loader in SECTION_LOADERS.items():
            if name in self.data:
                loader(world, self.data[name])
        for index, raw in enumerate(self.data.get("module", [])):
            for key, key_loader in MODULE_KEY_LOADERS.items():
                if isinstance(raw, dict) and key in raw:
                    key_loader(world, str(raw.get("name", f"esp{index}")), raw[key])
        return world


SectionLoader = Callable[[World, Any], None]
#: table name -> loader; chapters register theirs (world.wifi registers "access_point"...)
SECTION_LOADERS: dict[str, SectionLoader] = {}
_KNOWN = {"world", "module", "event"}


ModuleKeyLoader = Callable[[World, str, Any], None]
#: extra ``[[module]]`` keys claimed by chapters: key -> loader(world, module name, value)
MODULE_KEY_LOADERS: dict[str, ModuleKeyLoader] = {}


def module_key(name: str) -> Callable[[ModuleKeyLoader], ModuleKeyLoader]:
    """Claim a ``[[module]]`` key (``ble_hci = "tcp-server:..."``) for a chapter."""

    def deco(fn: ModuleKeyLoader) -> ModuleKeyLoader:
        MODULE_KEY_LOADERS[name] = fn
        return fn

    return deco


def section(name: str) -> Callable[[SectionLoader], SectionLoader]:
    def deco(fn: SectionLoader) -> SectionLoader:
        SECTION_LOADERS[name] = fn
        return fn

    return deco


def _module_entry(raw: dict[str, Any], index: int, seed: str, state_dir: Path | None) -> ModuleEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"[[module]] #{index} must be a table")
    allowed = {
        "name",
        "chip",
        "module_name",
        "uart",
        "generation",
        "command_sets",
        "quirks",
        "boot_time",
        "uart_buffer",
        "baud",
        "mac",
        "state_dir",
        "port_map",
        "max_links",
    }
    unknown = set(raw) - allowed - set(MODULE_KEY_LOADERS)
    if unknown:
        raise ConfigError(f"[[module]] {raw.get('name', index)}: unknown keys {', '.join(sorted(unknown))}")
    sets = raw.get("command_sets", "all")
    port_map = raw.get("port_map", {})
    if not isinstance(port_map, dict):
        raise ConfigError(f"[[module]] {raw.get('name', index)}: port_map must be a table such as {{80 = 8080}}")
    try:
        pairs = tuple((int(k), int(v)) for k, v in port_map.items())
    except (TypeError, ValueError):
        raise ConfigError(f"[[module]] {raw.get('name', index)}: port_map keys and values must be ports") from None
    cfg = ModuleConfig(
        name=str(raw.get("name", f"esp{index}")),
        chip=str(raw.get("chip", "esp32c3")),
        module_name=raw.get("module_name"),
        state_dir=Path(raw["state_dir"]) if "state_dir" in raw else state_dir,
        generation=raw.get("generation"),
        command_sets=tuple(sets) if isinstance(sets, list) else sets,
        quirks=frozenset(raw.get("quirks", [])),
        boot_time=float(raw["boot_time"]) if "boot_time" in raw else None,
        uart_buffer=int(raw.get("uart_buffer", 16 * 1024)),
        uart_baud=raw.get("baud"),
        mac=raw.get("mac"),
        seed=seed,
        port_map=pairs,
        max_links=raw.get("max_links"),
    )
    return ModuleEntry(cfg, raw.get("uart"))


def parse_scenario(data: dict[str, Any], path: Path | None = None, *, state_dir: Path | None = None) -> Scenario:
    # make sure every chapter has registered its scenario tables
    from esp_at_sim.device.module import load_commands

    load_commands()
    unknown = set(data) - _KNOWN - set(SECTION_LOADERS)
    if unknown:
        raise ConfigError(f"unknown scenario tables: {', '.join(sorted(unknown))}")
    world = data.get("world", {})
    seed = str(world.get("seed", ""))
    entries = [_module_entry(m, i, seed, state_dir) for i, m in enumerate(data.get("module", []))]
    names = [e.config.name for e in entries]
    if len(names) != len(set(names)):
        raise ConfigError("module names in a scenario must be unique")
    return Scenario(path, data, entries, seed)


def load_scenario(path: str | Path, *, state_dir: Path | None = None) -> Scenario:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"scenario {p} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scenario {p}: {exc}") from None
    return parse_scenario(data, p, state_dir=state_dir)
