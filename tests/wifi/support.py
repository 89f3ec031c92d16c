"""What the Wi-Fi tests share: worlds with access points, quick joins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from esp_at_sim import Module, World
from esp_at_sim.world.scenario import load_scenario, parse_scenario
from host_setup import quiet as quiet  # re-exported: the Wi-Fi tests import it with the rest of this module

ROOT = Path(__file__).resolve().parents[2]


def default_world() -> World:
    """The world of ``scenarios/default.toml`` (without its modules)."""
    return load_scenario(ROOT / "scenarios" / "default.toml").build_world()


def world_with(*aps: dict[str, Any], seed: str = "test", **tables: Any) -> World:
    data: dict[str, Any] = {"world": {"seed": seed}, "access_point": list(aps)}
    data.update(tables)
    return parse_scenario(data).build_world()


async def join(m: Module, ssid: str = "esp-at-sim", pwd: str = "espressif", timeout: float = 30) -> bytes:
    reply = await m.host.command(f'AT+CWJAP="{ssid}","{pwd}"', timeout=timeout)
    assert reply.ok, reply.raw
    return reply.raw
