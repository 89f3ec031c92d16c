"""(a) AT round trip over a real pty: ``AT\\r\\n`` -> ``\\r\\nOK\\r\\n`` (echo off).

The module is served by the CLI's code path (PtyTransport + driver pump) in
this process; the host is another process (:mod:`benchmarks.pty_host`) that
opens the pty's link like a driver would. The reference is a minimal asyncio
responder on the same pty setup (same PtyTransport) that answers every line
with ``\\r\\nOK\\r\\n`` and does nothing else. Rounds alternate between the two
so load from elsewhere on the machine hits both alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from benchmarks.stats import Figure, median, percentile
from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.module import Module
from esp_at_sim.driver import serve
from esp_at_sim.transports.pty import PtyTransport

Server = Callable[[Path], contextlib.AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def module_server(link: Path) -> AsyncIterator[None]:
    transport = PtyTransport(link)
    await transport.open()
    module = Module(ModuleConfig(name="bench", boot_time=0))
    pump = asyncio.ensure_future(serve(module, transport))
    try:
        await module.power_on(wait_ready=True)
        gc.freeze()  # as the CLI does once everything is up
        yield
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await module.stop()
        await transport.close()


@contextlib.asynccontextmanager
async def echo_server(link: Path) -> AsyncIterator[None]:
    """The reference: answers each line with OK from the pty's reader callback, nothing more."""
    transport = PtyTransport(link)
    await transport.open()
    pending = bytearray()

    def on_bytes(data: bytes) -> None:
        pending.extend(data)
        while (i := pending.find(b"\r\n")) >= 0:
            del pending[: i + 2]
            transport.write_nowait(b"\r\nOK\r\n")

    transport.start_push(on_bytes)
    try:
        yield
    finally:
        await transport.close()


async def _round(server: Server, link: Path, count: int) -> list[float]:
    async with server(link):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.pty_host",
            str(link),
            str(count),
            stdout=subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"pty host failed ({proc.returncode})")
        samples: list[float] = json.loads(out)
        return samples[count // 10 :]  # the first tenth warms caches up


async def measure(count: int = 1500, rounds: int = 4) -> tuple[list[float], list[float]]:
    module: list[float] = []
    echo: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "bench.pty"
        for _ in range(rounds):
            echo += await _round(echo_server, link, count)
            module += await _round(module_server, link, count)
    return module, echo


def run(quick: bool = False) -> list[tuple[str, float, str]]:
    """For ``python -m benchmarks``."""
    return [f.as_tuple() for f in figures(quick)]


def figures(quick: bool = False) -> list[Figure]:
    module, echo = asyncio.run(measure(count=600 if quick else 1500, rounds=2 if quick else 4))
    med, ref_med = median(module), median(echo)
    p99, ref_p99 = percentile(module, 99), percentile(echo, 99)
    return [
        Figure(
            "AT round trip over a pty, median",
            med,
            ref_med,
            "s",
            "asyncio echo",
            "<= 2x",
            med <= 2 * ref_med,
            [f"{len(module)} samples"],
        ),
        Figure(
            "AT round trip over a pty, p99",
            p99,
            ref_p99,
            "s",
            "asyncio echo",
            "<= 3x and < 1 ms",
            p99 <= 3 * ref_p99 and p99 < 1e-3,
        ),
    ]
