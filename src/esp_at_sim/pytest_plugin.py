"""pytest plugin (registered as a ``pytest11`` entry point).

Fixtures:

* ``esp_world`` - an empty :class:`World`;
* ``esp_module`` - a booted ESP32-C3 module in that world with an in-memory
  UART; ``esp_module.host`` is an :class:`AtHost`.

The chip can be chosen per test with ``@pytest.mark.esp_chip("esp32")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from esp_at_sim.device.module import Module
from esp_at_sim.world.world import World


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "esp_chip(name): chip of the esp_module fixture")


@pytest.fixture
def esp_world() -> World:
    return World()


@pytest.fixture
async def esp_module(request: pytest.FixtureRequest, esp_world: World) -> AsyncIterator[Module]:
    marker = request.node.get_closest_marker("esp_chip")
    chip = marker.args[0] if marker else "esp32c3"
    async with Module.start(chip, world=esp_world) as m:
        yield m
