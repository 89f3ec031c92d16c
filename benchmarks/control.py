"""Control server benchmarks: API latency, and what a dashboard costs the data path.

* latency of control requests (GET a module's state, POST bytes to a UART,
  GET the fault list, GET the UART log) against a trivial aiohttp handler on
  the same machine in the same run (the reference);
* the data path - a module in TCP passthrough, host to a loopback peer over a
  pty, run by the same :class:`WorldRunner` as the CLI (UART tap, log, control
  server) - with and without a dashboard client on the event WebSocket. The
  client runs in another process, as a browser would; the figure is the
  throughput with the client as a ratio of the throughput without it (target
  >= 90 %), and the events per second the client received.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.tcpip import Sink
from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.testing import AtHost
from esp_at_sim.world.scenario import parse_scenario
from esp_at_sim.world_runner import ControlOptions, WorldRunner

TOKEN = "bench"
SIZE = 8 * 1024 * 1024
REQUESTS = 300

_CLIENT = r"""
import asyncio, json, sys, time
import aiohttp

async def main(url):
    msgs = entries = 0
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        print("connected", flush=True)
        loop = asyncio.get_running_loop()
        stop = asyncio.ensure_future(loop.run_in_executor(None, sys.stdin.readline))
        while not stop.done():
            recv = asyncio.ensure_future(ws.receive())
            done, _ = await asyncio.wait([recv, stop], return_when=asyncio.FIRST_COMPLETED)
            if recv in done:
                msg = recv.result()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(msg.data)
                msgs += 1
                entries += len(data.get("entries", []))
            else:
                recv.cancel()
    print(json.dumps({"messages": msgs, "entries": entries}), flush=True)

asyncio.run(main(sys.argv[1]))
"""


def _line(
    name: str, value: float, unit: str, ref: float | None = None, target: float | None = None
) -> tuple[str, float, str]:
    if ref:
        ratio = value / ref
        verdict = "" if target is None else ("  ok" if ratio >= target else f"  BELOW {target:.0%}")
        return name, value, f"{unit} (ref {ref:.3f}, ratio {ratio:.1%}{verdict})"
    return name, value, unit


# ----------------------------------------------------------------- latency


async def _latency(session: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> list[float]:
    out = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        async with session.request(method, url, json=body) as r:
            await r.read()
            assert r.status < 300, r.status
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def _reference_latency() -> list[float]:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as s:
            return await _latency(s, "GET", f"http://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()


def _world() -> WorldRunner:
    sc = parse_scenario({"module": [{"name": "esp0", "boot_time": 0.05}]})
    return WorldRunner(sc, ["pty:"], control=ControlOptions(port=0, token=TOKEN))


async def latency_figures() -> list[tuple[str, float, str]]:
    ref = statistics.median(await _reference_latency())
    figures = []
    async with _world() as world:
        await world.ports["esp0"].module.wait_ready()
        base = world.control_server.url
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as s:
            for name, method, path, body in (
                ("GET /api/modules/esp0", "GET", "/api/modules/esp0", None),
                ("POST /api/modules/esp0/uart (AT)", "POST", "/api/modules/esp0/uart", {"text": "AT\r\n"}),
                ("GET /api/faults", "GET", "/api/faults", None),
                ("GET /api/modules/esp0/uart?since=N", "GET", "/api/modules/esp0/uart?since=1000000", None),
            ):
                samples = await _latency(s, method, base + path, body)
                med = statistics.median(samples)
                p99 = sorted(samples)[int(len(samples) * 0.99) - 1]
                figures.append(_line(f"latency {name} median", med, "ms", ref))
                figures.append(_line(f"latency {name} p99", p99, "ms"))
    return figures


# -------------------------------------------------------------- data path


async def _passthrough_run(with_client: bool) -> tuple[float, dict[str, int], float]:
    """Host to peer in passthrough; returns (bytes/s, client counts, seconds)."""
    blob = os.urandom(SIZE)
    sink = await Sink().start()
    sink.target = SIZE
    client = None
    try:
        async with _world() as world:
            port = world.ports["esp0"]
            module = port.module
            await module.wait_ready()
            host = await AtHost.open_pty(port.inner.path)  # type: ignore[attr-defined]
            try:
                module.service(NetIf).up("sta", IpConfig("192.168.1.10", "192.168.1.1"))
                await host.command("ATE0")
                await host.command(f'AT+CIPSTART="TCP","127.0.0.1",{sink.port}')
                await host.command("AT+CIPMODE=1")
                await host.send("AT+CIPSEND")
                await host.read_until(b">")
                if with_client:
                    url = f"{world.control_server.url}/api/events?token={TOKEN}"
                    client = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-c",
                        _CLIENT,
                        url,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                    )
                    assert client.stdout is not None
                    await client.stdout.readline()  # connected
                    await asyncio.sleep(0.3)  # hello received, the pusher is running
                t0 = time.perf_counter()
                for i in range(0, len(blob), 16384):
                    await host.write(blob[i : i + 16384])
                await asyncio.wait_for(sink.done.wait(), 300)
                secs = time.perf_counter() - t0
                counts = {"messages": 0, "entries": 0}
                if client is not None:
                    assert client.stdin is not None and client.stdout is not None
                    client.stdin.write(b"\n")
                    await client.stdin.drain()
                    counts = json.loads((await client.stdout.readline()).decode())
                    await client.wait()
                    client = None
            finally:
                host.close()
    finally:
        if client is not None:
            client.kill()
            await client.wait()
        await sink.close()
    return SIZE / secs, counts, secs


async def dashboard_figures() -> list[tuple[str, float, str]]:
    without: list[float] = []
    with_: list[float] = []
    rates: list[float] = []
    for _ in range(2):  # alternate, best of each, so machine noise hits both alike
        rate, _c, _s = await _passthrough_run(False)
        without.append(rate)
        rate, counts, secs = await _passthrough_run(True)
        with_.append(rate)
        rates.append(counts["messages"] / secs)
    base, dash = max(without), max(with_)
    mib = 1024 * 1024
    return [
        _line("passthrough host->peer, no dashboard", base / mib, "MiB/s"),
        _line("passthrough host->peer, dashboard connected", dash / mib, "MiB/s", base / mib, target=0.90),
        _line("events pushed to the dashboard", max(rates), "msg/s"),
    ]


def run() -> list[tuple[str, float, str]]:
    async def main() -> list[tuple[str, float, str]]:
        return [*(await latency_figures()), *(await dashboard_figures())]

    return asyncio.run(main())


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"control: {name:44s} {value:10.3f} {unit}")
