"""Bluetooth benchmarks: modules over AT against bare Bumble devices, same run.

Figures (real CPU, ``time.process_time``; the virtual clock makes modeled air
time free, so what is measured is what the simulator costs on top of Bumble):

* LE connection + disconnection: two modules (AT+BLECONN / AT+BLEDISCONN /
  AT+BLEADVSTART) against two stock Bumble devices on Bumble's ``LocalLink``;
  also the simulated connection time;
* GATT notification throughput: AT+BLEGATTSNTFY of 8 KiB blocks at MTU 517
  against ``notify_subscriber`` of 514-byte values;
* SPP throughput: Classic SPP passthrough between two ESP32 modules against a
  bare RFCOMM channel, and BLE SPP passthrough between two modules;
* a crowd of 100 advertising modules and 10 scanning modules: Python heap per
  module (target <= 128 KiB), against a module without Bluetooth, and real CPU
  per simulated second.

"Performance" figures are bare CPU / module CPU (target >= 60 %).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable

from benchmarks.figures import Figures, measure_on, print_figures
from esp_at_sim import AtHost, Module, World
from esp_at_sim.services.ble import bare
from esp_at_sim.world.clock import VirtualTimeLoop

ADDR = re.compile(rb'\+BLEADDR:"([0-9a-f:]{17})"')
DISC = re.compile(rb'\+BTSTARTDISC:"([0-9a-f:]{17})"')
TOTAL = 1 << 18  # bytes per throughput run


async def _ok(host: AtHost, line: str, timeout: float = 60.0) -> bytes:
    reply = await host.command(line, timeout=timeout)
    assert reply.ok, (line, reply.raw)
    return reply.raw


@contextlib.asynccontextmanager
async def _two(chip: str, seed: str) -> AsyncIterator[tuple[AtHost, AtHost]]:
    world = World(seed=seed)
    async with Module.start(chip, world=world, name="srv") as a, Module.start(chip, world=world, name="cli") as b:
        for h in (a.host, b.host):
            await _ok(h, "ATE0")
        yield a.host, b.host


async def _linked(s: AtHost, c: AtHost) -> None:
    await _ok(s, "AT+BLEINIT=2")
    await _ok(s, "AT+BLEGATTSSRVCRE")
    await _ok(s, "AT+BLEGATTSSRVSTART")
    await _ok(s, "AT+BLEADVSTART")
    m = ADDR.search(await _ok(s, "AT+BLEADDR?"))
    assert m
    await _ok(c, "AT+BLEINIT=1")
    await _ok(c, f'AT+BLECONN=0,"{m.group(1).decode()}"')
    await s.read_until(b"+BLECONN:", timeout=10)
    await s.read_until(b"\r\n", timeout=10)
    await _ok(c, "AT+BLECFGMTU=0,517")
    await c.read_until(b"+BLECFGMTU:0,517\r\n", timeout=10)
    await s.read_until(b"+BLECFGMTU:0,517\r\n", timeout=10)
    await _ok(c, "AT+BLEDATALEN=0,251")


async def module_connect(times: int) -> tuple[float, float]:
    """(CPU per connect + disconnect, simulated seconds per AT+BLECONN)."""
    async with _two("esp32c3", "bench-conn") as (s, c):
        await _ok(s, "AT+BLEINIT=2")
        m = ADDR.search(await _ok(s, "AT+BLEADDR?"))
        assert m
        addr = m.group(1).decode()
        await _ok(c, "AT+BLEINIT=1")
        loop = asyncio.get_running_loop()
        sim = 0.0
        t0 = time.process_time()
        for _ in range(times):
            await _ok(s, "AT+BLEADVSTART")
            start = loop.time()
            await _ok(c, f'AT+BLECONN=0,"{addr}"')
            sim += loop.time() - start
            await s.read_until(b"+BLECONN:", timeout=10)
            await _ok(c, "AT+BLEDISCONN=0")
            await c.read_until(b"+BLEDISCONN:", timeout=10)
            await s.read_until(b"+BLEDISCONN:", timeout=10)
        return (time.process_time() - t0) / times, sim / times


async def module_notify(total: int) -> float:
    """CPU of ``total`` bytes of AT+BLEGATTSNTFY (8 KiB blocks) read as +NOTIFY lines."""
    block = 8192
    async with _two("esp32c3", "bench-ntfy") as (s, c):
        await _linked(s, c)
        await _ok(c, "AT+BLEGATTCPRIMSRV=0")
        await _ok(c, "AT+BLEGATTCCHAR=0,3")
        await c.send("AT+BLEGATTCWR=0,3,6,1,2")
        await c.read_until(b">", timeout=10)
        await c.write(b"\x01\x00")
        await c.read_until(b"OK\r\n", timeout=10)
        await s.read_until(b"+WRITE:", timeout=10)
        await s.read_until(b"\r\n", timeout=10)
        chunk = 514
        lines = [len(f"+NOTIFY:0,3,6,{n},".encode()) + n + 2 for n in _split(block, chunk)]
        expected = sum(lines) * (total // block)
        payload = b"x" * block

        async def reader() -> None:
            left = expected
            while left:
                left -= len(await c.read_exactly(min(65536, left), timeout=600))

        t0 = time.process_time()
        task = asyncio.ensure_future(reader())
        for _ in range(total // block):
            await s.send(f"AT+BLEGATTSNTFY=0,1,6,{block}")
            await s.read_until(b">", timeout=10)
            await s.write(payload)
            await s.read_until(b"OK\r\n", timeout=60)
        await asyncio.wait_for(task, 600)
        return time.process_time() - t0


def _split(n: int, size: int) -> list[int]:
    return [min(size, n - i) for i in range(0, n, size)]


async def _stream(src: AtHost, dst: AtHost, total: int) -> float:
    data = os.urandom(total)

    async def reader() -> None:
        left = total
        while left:
            left -= len(await dst.read_exactly(min(65536, left), timeout=600))

    t0 = time.process_time()
    task = asyncio.ensure_future(reader())
    for i in range(0, total, 8192):
        await src.write(data[i : i + 8192])
    await asyncio.wait_for(task, 600)
    return time.process_time() - t0


async def module_ble_spp(total: int) -> float:
    async with _two("esp32c3", "bench-blespp") as (s, c):
        await _linked(s, c)
        await _ok(c, "AT+BLEGATTCPRIMSRV=0")
        await _ok(c, "AT+BLEGATTCCHAR=0,3")
        await _ok(c, "AT+BLESPPCFG=1,3,5,3,7")
        await c.send("AT+BLESPP")
        await c.read_until(b">", timeout=10)
        await s.read_until(b"+WRITE:", timeout=10)
        await s.read_until(b"\r\n", timeout=10)
        await _ok(s, "AT+BLESPPCFG=1,1,7,1,5")
        await s.send("AT+BLESPP")
        await s.read_until(b">", timeout=10)
        return await _stream(c, s, total)


async def module_bt_spp(total: int) -> float:
    async with _two("esp32", "bench-btspp") as (s, m):
        for line in ("AT+BTINIT=1", "AT+BTSPPINIT=2", "AT+BTSCANMODE=2", 'AT+BTSECPARAM=3,1,"9527"', "AT+BTSPPSTART"):
            await _ok(s, line)
        await _ok(m, "AT+BTINIT=1")
        await _ok(m, "AT+BTSPPINIT=1")
        found = DISC.search(await _ok(m, "AT+BTSTARTDISC=0,1,1"))
        assert found
        await _ok(m, f'AT+BTSPPCONN=0,0,"{found.group(1).decode()}"')
        await m.read_until(b"+BTSPPCONN:0,", timeout=60)
        await s.read_until(b"+BTSPPCONN:0,", timeout=60)
        await m.read_until(b"\r\n", timeout=10)
        await s.read_until(b"\r\n", timeout=10)
        for h in (m, s):
            await h.send("AT+BTSPPSEND")
            await h.read_until(b">", timeout=10)
        return await _stream(m, s, total)


async def crowd(advertisers: int, scanners: int, seconds: float) -> tuple[float, float, float]:
    """(heap per BLE module, heap per module without BLE, CPU per simulated second)."""
    world = World(seed="bench-crowd")
    gc.collect()
    tracemalloc.start()
    stack = contextlib.AsyncExitStack()
    try:
        async with stack:
            base = tracemalloc.get_traced_memory()[0]
            plain = [
                await stack.enter_async_context(Module.start("esp32c3", world=world, name=f"p{i}")) for i in range(5)
            ]
            for m in plain:
                await _ok(m.host, "ATE0")
            gc.collect()
            per_plain = (tracemalloc.get_traced_memory()[0] - base) / len(plain)
            base = tracemalloc.get_traced_memory()[0]
            mods = []
            for i in range(advertisers + scanners):
                m = await stack.enter_async_context(Module.start("esp32c3", world=world, name=f"b{i}"))
                await _ok(m.host, "ATE0")
                if i < advertisers:
                    await _ok(m.host, "AT+BLEINIT=2")
                    await _ok(m.host, f'AT+BLEADVDATA="0201060709626561{i:04x}"')
                    await _ok(m.host, "AT+BLEADVSTART")
                else:
                    await _ok(m.host, "AT+BLEINIT=1")
                mods.append(m)
            gc.collect()
            per_ble = (tracemalloc.get_traced_memory()[0] - base) / len(mods)
            tracemalloc.stop()
            scanning = mods[advertisers:]
            t0 = time.process_time()
            for m in scanning:
                await m.host.send(f"AT+BLESCAN=1,{int(seconds)}")
            for m in scanning:
                await m.host.read_until(b"OK\r\n", timeout=60)
            # +BLESCAN reports stream until the scan ends with +BLESCANDONE
            for m in scanning:
                raw = await m.host.read_until(b"+BLESCANDONE", timeout=seconds + 30)
                assert raw.count(b"+BLESCAN:") >= advertisers // 2, raw.count(b"+BLESCAN:")
            cpu = (time.process_time() - t0) / seconds
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    return per_ble, per_plain, cpu


async def _all() -> Figures:
    figures: Figures = []
    n = 20
    bare_conn = await bare.connect_cpu(n)
    mod_conn, sim = await module_connect(n)
    figures += [
        ("LE connect, simulated time", sim * 1e3, "ms"),
        ("LE connect+disconnect, bare Bumble (ref)", bare_conn * 1e3, "ms CPU"),
        ("LE connect+disconnect, modules over AT", mod_conn * 1e3, f"ms CPU = {bare_conn / mod_conn:.0%} of bare"),
    ]
    bare_ntf = await bare.notify_cpu(TOTAL, 514)
    mod_ntf = await module_notify(TOTAL)
    figures += [
        ("GATT notify, bare Bumble (ref)", TOTAL / bare_ntf / 1024, "KiB/s CPU"),
        ("GATT notify, modules over AT", TOTAL / mod_ntf / 1024, f"KiB/s CPU = {bare_ntf / mod_ntf:.0%} of bare"),
    ]
    bare_spp = await bare.rfcomm_cpu(TOTAL)
    mod_spp = await module_bt_spp(TOTAL)
    ble_spp = await module_ble_spp(TOTAL)
    figures += [
        ("SPP (RFCOMM), bare Bumble (ref)", TOTAL / bare_spp / 1024, "KiB/s CPU"),
        ("Classic SPP passthrough, modules", TOTAL / mod_spp / 1024, f"KiB/s CPU = {bare_spp / mod_spp:.0%} of bare"),
        ("BLE SPP passthrough, modules", TOTAL / ble_spp / 1024, f"KiB/s CPU = {bare_ntf / ble_spp:.0%} of bare ntf"),
    ]
    per_ble, per_plain, cpu = await crowd(100, 10, 5.0)
    figures += [
        ("heap per module without BLE (ref)", per_plain / 1024, "KiB"),
        ("heap per BLE module, 100 adv + 10 scan", per_ble / 1024, f"KiB, +{(per_ble - per_plain) / 1024:.0f} for BLE"),
        ("crowd CPU per simulated second", cpu, "s CPU"),
    ]
    return figures


def run(loop_factory: Callable[[], asyncio.AbstractEventLoop] = VirtualTimeLoop) -> Figures:
    return measure_on(loop_factory, _all)


def main() -> None:
    print_figures("ble", run())


if __name__ == "__main__":
    main()
