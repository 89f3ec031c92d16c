"""The world as plain data (access points, BLE peers, links between modules...).

Like :mod:`esp_at_sim.device.snapshot` for one module: each area registers a
section so the control API and the dashboard show it without importing the
area's internals::

    @world_section("access_points")
    def _aps(world: World) -> list[dict[str, Any]]:
        return [ap.as_dict() for ap in world.extension(WifiAir).aps]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from esp_at_sim.world.world import World

log = logging.getLogger(__name__)

WorldSection = Callable[[World], Any]
WORLD_SECTIONS: dict[str, WorldSection] = {}


def world_section(name: str) -> Callable[[WorldSection], WorldSection]:
    def deco(fn: WorldSection) -> WorldSection:
        WORLD_SECTIONS[name] = fn
        return fn

    return deco


def world_view(world: World) -> dict[str, Any]:
    out: dict[str, Any] = {
        "time": round(world.clock.now(), 3),
        "time_scale": world.clock.scale,
        "seed": world.seed,
        "modules": sorted(world.modules),
    }
    for name, fn in WORLD_SECTIONS.items():
        try:
            value = fn(world)
        except Exception as exc:
            log.debug("world section %s failed", name, exc_info=True)
            value = {"error": f"{type(exc).__name__}: {exc}"}
        if value is not None:
            out[name] = value
    return out
