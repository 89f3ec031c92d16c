"""esp-at-sim: a software ESP-AT module.

The public API::

    from esp_at_sim import Module, ModuleConfig, World, AtHost

    async with Module.start(chip="esp32c3") as m:
        reply = await m.host.command("AT+GMR")

The names are loaded on first use (PEP 562), so that ``import esp_at_sim.cli``
and other entry points that need only part of the package start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from esp_at_sim import dataclass_code_cache

# before any module of the package declares a dataclass
dataclass_code_cache.install()

if TYPE_CHECKING:
    from esp_at_sim.device.config import ModuleConfig
    from esp_at_sim.device.module import Module
    from esp_at_sim.device.profiles import PROFILES, ChipProfile, get_profile
    from esp_at_sim.errors import AtError, ConfigError, EspAtSimError
    from esp_at_sim.testing import AtHost, Reply
    from esp_at_sim.world.clock import Clock, VirtualTimeLoop, VirtualTimePolicy
    from esp_at_sim.world.world import World

__version__ = "0.1.0"

#: public name -> the module that defines it
_WHERE = {
    "ModuleConfig": "esp_at_sim.device.config",
    "Module": "esp_at_sim.device.module",
    "PROFILES": "esp_at_sim.device.profiles",
    "ChipProfile": "esp_at_sim.device.profiles",
    "get_profile": "esp_at_sim.device.profiles",
    "AtError": "esp_at_sim.errors",
    "ConfigError": "esp_at_sim.errors",
    "EspAtSimError": "esp_at_sim.errors",
    "AtHost": "esp_at_sim.testing",
    "Reply": "esp_at_sim.testing",
    "Clock": "esp_at_sim.world.clock",
    "VirtualTimeLoop": "esp_at_sim.world.clock",
    "VirtualTimePolicy": "esp_at_sim.world.clock",
    "World": "esp_at_sim.world.world",
}

__all__ = [
    "PROFILES",
    "AtError",
    "AtHost",
    "ChipProfile",
    "Clock",
    "ConfigError",
    "EspAtSimError",
    "Module",
    "ModuleConfig",
    "Reply",
    "VirtualTimeLoop",
    "VirtualTimePolicy",
    "World",
    "__version__",
    "get_profile",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'esp_at_sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # found once, then a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
