"""Wi-Fi benchmarks: join time (simulated and real CPU), scans and memory in a crowded world.

Figures, each with the reference measured in the same run:

* simulated AT+CWJAP time over many joins (min / median / p95 / max), in
  simulated seconds - the reference is the firmware's ~1-5 s of the FAQ;
* real CPU of one join (cold PMK cache and warm), as a ratio to one ``AT``
  round trip on the same module;
* a world of 100 APs and 50 modules: real CPU of one AT+CWLAP per AP on the
  air (ratio to a 10-AP world, which should be ~1: flat per-AP cost) and
  Python heap per module (ratio to a lone module's: flat per-module cost).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable

from benchmarks.figures import Figures, measure_on, print_figures
from esp_at_sim import Module, World
from esp_at_sim.world.clock import VirtualTimeLoop
from esp_at_sim.world.wifi import AccessPointSpec, WifiAir
from esp_at_sim.world.wifi_radio import Security
from esp_at_sim.world.wpa import psk_pmk


def _world(aps: int, seed: str = "bench") -> World:
    world = World(seed=seed)
    air = world.extension(WifiAir)
    for i in range(aps):
        air.add(
            AccessPointSpec(
                ssid=f"net-{i:03d}".encode(),
                password=b"benchpass",
                security=Security.WPA2 if i % 3 else Security.WPA2_WPA3,
                channel=1 + i % 13,
                rssi=-40 - (i * 7) % 50,
            )
        )
    return world


async def _quiet(m: Module) -> None:
    await m.host.send("ATE0")
    await m.host.read_until(b"OK\r\n")


async def join_times(samples: int = 60) -> list[float]:
    """Simulated duration of AT+CWJAP, over fresh modules in different worlds."""
    out = []
    for i in range(samples):
        world = _world(20, seed=f"join-{i}")
        async with Module.start("esp32c3", world=world, name=f"j{i}") as m:
            await _quiet(m)
            target = f"net-{(i * 7) % 20:03d}"
            t0 = m.clock.now()
            reply = await m.host.command(f'AT+CWJAP="{target}","benchpass"', timeout=60)
            assert reply.ok, reply.raw
            out.append(m.clock.now() - t0)
    return out


async def join_cpu() -> tuple[float, float, float, float]:
    """Real CPU seconds of: a WPA2 join with a cold PMK cache, a warm one, a WPA3
    (SAE) join, and one AT round trip."""
    world = _world(20)
    async with Module.start("esp32c3", world=world, name="cpu") as m:
        await _quiet(m)
        t0 = time.process_time()
        for _ in range(50):
            await m.host.command("AT")
        at = (time.process_time() - t0) / 50
        psk_pmk.cache_clear()
        t0 = time.process_time()
        assert (await m.host.command('AT+CWJAP="net-007","benchpass"', timeout=60)).ok
        cold = time.process_time() - t0
        t0 = time.process_time()
        for _ in range(10):
            assert (await m.host.command('AT+CWJAP="net-007","benchpass"', timeout=60)).ok
        warm = (time.process_time() - t0) / 10
        t0 = time.process_time()
        for _ in range(5):
            assert (await m.host.command('AT+CWJAP="net-006","benchpass"', timeout=60)).ok
        sae = (time.process_time() - t0) / 5
    return cold, warm, sae, at


async def crowded(aps: int, modules: int) -> tuple[float, float]:
    """(real CPU of one AT+CWLAP, Python heap bytes per module) in a world of ``aps`` APs."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    world = _world(aps)
    stack = []
    try:
        for i in range(modules):
            cm = Module.start("esp32c3", world=world, name=f"m{i}")
            m = await cm.__aenter__()
            stack.append(cm)
            await _quiet(m)
            if i % 2:
                assert (await m.host.command(f'AT+CWJAP="net-{i % aps:03d}","benchpass"', timeout=60)).ok
        gc.collect()
        per_module = (tracemalloc.get_traced_memory()[0] - base) / modules
        tracemalloc.stop()
        probe = world.modules["m0"]
        t0 = time.process_time()
        for _ in range(5):
            reply = await probe.host.command("AT+CWLAP", timeout=60)
            assert reply.ok
        scan = (time.process_time() - t0) / 5
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        for cm in reversed(stack):
            await cm.__aexit__(None, None, None)
    return scan, per_module


async def _all() -> Figures:
    figures: Figures = []
    times = sorted(await join_times())
    p95 = times[int(len(times) * 0.95) - 1]
    figures += [
        ("join, simulated, min", times[0], "s"),
        ("join, simulated, median", statistics.median(times), "s"),
        ("join, simulated, p95", p95, "s"),
        ("join, simulated, max", times[-1], "s"),
    ]
    cold, warm, sae, at = await join_cpu()
    figures += [
        ("one AT round trip (reference)", at * 1e3, "ms CPU"),
        ("WPA2 join, real CPU, cold PMK", cold * 1e3, f"ms CPU = {cold / at:.0f} x AT"),
        ("WPA2 join, real CPU, warm PMK", warm * 1e3, f"ms CPU = {warm / at:.0f} x AT"),
        ("WPA3 (SAE) join, real CPU", sae * 1e3, f"ms CPU = {sae / at:.0f} x AT"),
    ]
    scan10, mem1 = await crowded(10, 1)
    scan100, mem50 = await crowded(100, 50)
    figures += [
        ("CWLAP per AP, 10 APs (reference)", scan10 / 10 * 1e6, "us CPU"),
        ("CWLAP per AP, 100 APs x 50 modules", scan100 / 100 * 1e6, f"us CPU = {scan100 / 10 / scan10:.2f} x ref"),
        ("heap per module, alone (reference)", mem1 / 1024, "KiB"),
        ("heap per module, 50 modules / 100 APs", mem50 / 1024, f"KiB = {mem50 / mem1:.2f} x ref"),
    ]
    return figures


def run(loop_factory: Callable[[], asyncio.AbstractEventLoop] = VirtualTimeLoop) -> Figures:
    return measure_on(loop_factory, _all)


def main() -> None:
    print_figures("wifi", run(), name_width=42)


if __name__ == "__main__":
    main()
