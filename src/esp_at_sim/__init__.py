"""esp-at-sim: a software ESP-AT module.

The public API::

    from esp_at_sim import Module, ModuleConfig, World, AtHost

    async with Module.start(chip="esp32c3") as m:
        reply = await m.host.command("AT+GMR")
"""

from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.module import Module
from esp_at_sim.device.profiles import PROFILES, ChipProfile, get_profile
from esp_at_sim.errors import AtError, ConfigError, EspAtSimError
from esp_at_sim.testing import AtHost, Reply
from esp_at_sim.world.clock import Clock, VirtualTimeLoop, VirtualTimePolicy
from esp_at_sim.world.world import World

__version__ = "0.1.0"

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
