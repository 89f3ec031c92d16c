"""(c) Memory per idle module: 100 booted modules in one process, tracemalloc.

Each module is booted (``boot_time = 0``) with its in-memory UART served by
the driver's pump, then left idle; the figure is the Python heap they add,
divided by 100, after one warm-up module has paid for the one-time costs
(imported code, the command registry). The reference, measured the same way
in the same run, is a minimal asyncio echo responder per UART: an in-memory
UART pair and a task answering lines with OK. Target: <= 64 KiB per module.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.stats import Figure
from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.module import Module
from esp_at_sim.driver import serve
from esp_at_sim.transports.memory import memory_pair
from esp_at_sim.world.world import World

COUNT = 100
BUDGET = 64 * 1024

Starter = Callable[[int], Awaitable[Callable[[], Awaitable[None]]]]


async def _start_module(world: World, i: int) -> Callable[[], Awaitable[None]]:
    module = Module(ModuleConfig(name=f"m{i}", boot_time=0), world=world)
    module_end, host_end = memory_pair()
    pump = asyncio.ensure_future(serve(module, module_end))
    await module.power_on(wait_ready=True)
    await host_end.read()  # "ready"

    async def stop() -> None:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await module.stop()

    return stop


async def _start_echo(i: int) -> Callable[[], Awaitable[None]]:
    module_end, _host_end = memory_pair()

    async def respond() -> None:
        pending = b""
        while True:
            pending += await module_end.read()
            while (k := pending.find(b"\r\n")) >= 0:
                pending = pending[k + 2 :]
                await module_end.write(b"\r\nOK\r\n")

    task = asyncio.ensure_future(respond())
    await asyncio.sleep(0)

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return stop


async def _per_instance(start: Callable[[int], Awaitable[Callable[[], Awaitable[None]]]]) -> float:
    warm = await start(-1)  # one-time costs: imports, registry, caches
    await asyncio.sleep(0.05)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    stops = [await start(i) for i in range(COUNT)]
    await asyncio.sleep(0.1)  # idle: nothing left to do
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    for stop in (*stops, warm):
        await stop()
    return grown / COUNT


async def measure() -> tuple[float, float]:
    world = World()

    async def module(i: int) -> Callable[[], Awaitable[None]]:
        return await _start_module(world, i)

    per_module = await _per_instance(module)
    per_echo = await _per_instance(_start_echo)
    return per_module, per_echo


def figures(quick: bool = False) -> list[Figure]:
    per_module, per_echo = asyncio.run(measure())
    return [
        Figure(
            "memory per idle module (100 in one process)",
            per_module,
            per_echo,
            "B",
            "asyncio echo per UART",
            "<= 64 KiB",
            per_module <= BUDGET,
        )
    ]


def run(quick: bool = False) -> list[tuple[str, float, str]]:
    """For ``python -m benchmarks``."""
    return [f.as_tuple() for f in figures(quick)]


def breakdown(top: int = 15) -> list[tuple[str, int]]:
    """Where an idle module's memory goes (by source line), for profiling."""

    async def go() -> list[Any]:
        world = World()
        warm = await _start_module(world, -1)
        gc.collect()
        tracemalloc.start(5)
        before = tracemalloc.take_snapshot()
        stops = [await _start_module(world, i) for i in range(20)]
        await asyncio.sleep(0.1)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = after.compare_to(before, "lineno")
        for stop in (*stops, warm):
            await stop()
        return stats

    stats = asyncio.run(go())
    return [(str(s.traceback), s.size_diff // 20) for s in stats[:top]]


if __name__ == "__main__":
    for where, size in breakdown():
        print(f"{size:8d} B  {where}")
