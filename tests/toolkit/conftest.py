"""A running world with two modules on ptys, as ``esp-at-sim --scenario`` starts it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from esp_at_sim.testing import AtHost, ExpectTimeout
from esp_at_sim.world.scenario import parse_scenario
from esp_at_sim.world_runner import ControlOptions, WorldRunner

TOKEN = "test-token-123"


def two_modules(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "world": {"seed": "toolkit"},
        "module": [
            {"name": "esp0", "chip": "esp32c3", "boot_time": 0.05},
            {"name": "esp1", "chip": "esp32", "boot_time": 0.05},
        ],
    }
    data.update(extra)
    return data


async def start_runner(data: dict[str, Any], *, control: bool = True, **kw: Any) -> WorldRunner:
    sc = parse_scenario(data)
    runner = WorldRunner(
        sc,
        ["pty:"] * len(sc.modules),
        control=ControlOptions(port=0, token=TOKEN) if control else None,
        **kw,
    )
    await runner.start()
    for port in runner.ports.values():
        await port.module.wait_ready()
    return runner


@pytest.fixture
async def runner() -> AsyncIterator[WorldRunner]:
    r = await start_runner(two_modules())
    try:
        yield r
    finally:
        await r.stop()


async def open_host(runner: WorldRunner, name: str) -> AtHost:
    """A host on a module's pty, after its "ready" (opening a pty in raw mode flushes what is pending)."""
    port = runner.ports[name]
    while port.log.totals["out"] < len(b"\r\nready\r\n"):
        await port.log.changed()
    host = await AtHost.open_pty(port.inner.path)  # type: ignore[attr-defined]
    with contextlib.suppress(ExpectTimeout):
        await host.read_until(b"ready\r\n", timeout=0.2)
    host.buffer.clear()
    return host


@pytest.fixture
async def host0(runner: WorldRunner) -> AsyncIterator[AtHost]:
    host = await open_host(runner, "esp0")
    try:
        yield host
    finally:
        host.close()


async def in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking client code (urllib, selenium) in a thread while keeping the
    virtual-time loop from jumping ahead: real clients take real time, and a jump
    would fire server timeouts under them."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    while not task.done():
        await asyncio.wait([task], timeout=0.002)
    return task.result()
