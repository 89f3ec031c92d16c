"""TCP/IP benchmarks: throughput over a pty and loopback, links at scale.

Every figure is printed next to a reference measured in the same run:

* throughput (passthrough both ways, ``+IPD`` receive): a minimal asyncio relay
  that copies bytes between the same kind of pty and a loopback TCP peer with
  no AT processing at all - the ceiling for this machine;
* ``--pace``: the UART line rate (baud / 10 bytes per second);
* links: 5, 1,000 in one module and 5,000 across modules, each link echoing a
  message; memory per link from the process's resident set (target <= 16 KiB).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from esp_at_sim import AtHost, Module, World
from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.driver import serve
from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.transports.pty import PtyTransport

MiB = 1 << 20


@dataclass
class Figure:
    name: str
    value: float
    reference: float
    unit: str
    target: float | None = None  # minimum ratio

    @property
    def ratio(self) -> float:
        return self.value / self.reference if self.reference else 0.0

    def line(self) -> str:
        verdict = ""
        if self.target is not None:
            verdict = "  ok" if self.ratio >= self.target else f"  BELOW {self.target:.0%}"
        return (
            f"{self.name:<46} {self.value:>12,.1f} {self.unit:<7} ref {self.reference:>12,.1f}  "
            f"ratio {self.ratio:6.1%}{verdict}"
        )


# ------------------------------------------------------------------ peers
class Sink:
    """A loopback TCP peer that counts what it gets, or streams a blob to the client."""

    def __init__(self, blob: bytes = b"") -> None:
        self.blob = blob
        self.count = 0
        self.done = asyncio.Event()
        self.target = 0
        self.connected = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> Sink:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.connected.set()
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                self.count += len(data)
                if self.target and self.count >= self.target:
                    self.done.set()

    async def push(self) -> None:
        w = self.writers[-1]
        for i in range(0, len(self.blob), 65536):
            w.write(self.blob[i : i + 65536])
            await w.drain()

    async def close(self) -> None:
        for w in self.writers:
            w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@contextlib.asynccontextmanager
async def pty_module(
    *, pace: bool = False, baud: int | None = None, **config: object
) -> AsyncIterator[tuple[Module, AtHost]]:
    module = Module(ModuleConfig(name=f"bench{os.getpid()}", uart_baud=baud, **config))  # type: ignore[arg-type]
    transport = PtyTransport()
    await transport.open()
    task = asyncio.ensure_future(serve(module, transport, pace=pace))
    host = await AtHost.open_pty(transport.path)
    try:
        await module.power_on()
        await host.wait_ready()
        for cmd in ("ATE0",):
            await host.command(cmd)
        module.service(NetIf).up("sta", IpConfig("192.168.1.10", "192.168.1.1"))
        yield module, host
    finally:
        host.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await module.stop()
        await transport.close()


@contextlib.asynccontextmanager
async def pty_relay(port: int) -> AsyncIterator[AtHost]:
    """The reference: bytes copied between a pty and a TCP connection, nothing else."""
    transport = PtyTransport()
    await transport.open()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def up() -> None:
        while data := await transport.read():
            writer.write(data)
            await writer.drain()

    async def down() -> None:
        while data := await reader.read(65536):
            await transport.write(data)

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    host = await AtHost.open_pty(transport.path)
    try:
        yield host
    finally:
        host.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        await transport.close()


async def _write_all(host: AtHost, blob: bytes) -> None:
    for i in range(0, len(blob), 16384):
        await host.write(blob[i : i + 16384])


async def _timed(fn: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


# ------------------------------------------------------------ throughput
async def host_to_peer(size: int, *, emulator: bool) -> float:
    blob = os.urandom(size)
    sink = await Sink().start()
    sink.target = size
    try:
        if emulator:
            async with pty_module() as (_m, host):
                await host.command(f'AT+CIPSTART="TCP","127.0.0.1",{sink.port}')
                await host.command("AT+CIPMODE=1")
                await host.send("AT+CIPSEND")
                await host.read_until(b">")
                secs = await _timed(lambda: _send_and_wait(host, blob, sink))
        else:
            async with pty_relay(sink.port) as host:
                await sink.connected.wait()
                secs = await _timed(lambda: _send_and_wait(host, blob, sink))
    finally:
        await sink.close()
    return size / secs


async def _send_and_wait(host: AtHost, blob: bytes, sink: Sink) -> None:
    await _write_all(host, blob)
    await asyncio.wait_for(sink.done.wait(), 120)


async def peer_to_host(size: int, *, mode: str) -> float:
    """``mode``: "relay" (reference), "passthrough", "ipd"."""
    blob = os.urandom(size)
    sink = await Sink(blob).start()
    try:
        if mode == "relay":
            async with pty_relay(sink.port) as host:
                await sink.connected.wait()
                secs = await _timed(lambda: _receive_raw(host, sink, size))
        else:
            async with pty_module() as (_m, host):
                await host.command("AT+CIPMUX=1" if mode == "ipd" else "AT")
                start = (
                    f'AT+CIPSTART=0,"TCP","127.0.0.1",{sink.port}'
                    if mode == "ipd"
                    else f'AT+CIPSTART="TCP","127.0.0.1",{sink.port}'
                )
                await host.command(start)
                if mode == "passthrough":
                    await host.command("AT+CIPMODE=1")
                    await host.send("AT+CIPSEND")
                    await host.read_until(b">")
                    secs = await _timed(lambda: _receive_raw(host, sink, size))
                else:
                    secs = await _timed(lambda: _receive_ipd(host, sink, size, blob))
    finally:
        await sink.close()
    return size / secs


async def _receive_raw(host: AtHost, sink: Sink, size: int) -> None:
    push = asyncio.ensure_future(sink.push())
    got = 0
    while got < size:
        got += len(await host.read_exactly(min(65536, size - got), timeout=120))
    await push


async def _receive_ipd(host: AtHost, sink: Sink, size: int, blob: bytes) -> None:
    push = asyncio.ensure_future(sink.push())
    h = hashlib.sha256()
    got = 0
    while got < size:
        await host.read_until(b"+IPD,0,", timeout=120)
        n = int((await host.read_until(b":")).rstrip(b":"))
        h.update(await host.read_exactly(n, timeout=120))
        got += n
    await push
    assert h.digest() == hashlib.sha256(blob).digest(), "+IPD stream differs from what the peer sent"


# ---------------------------------------------------------------- pacing
async def paced_rate(baud: int, seconds: float = 2.0) -> float:
    size = int(baud / 10 * seconds)
    blob = os.urandom(size)
    sink = await Sink(blob).start()
    try:
        async with pty_module(pace=True, baud=baud) as (_m, host):
            await host.command(f'AT+CIPSTART="TCP","127.0.0.1",{sink.port}')
            await host.command("AT+CIPMODE=1")
            await host.send("AT+CIPSEND")
            await host.read_until(b">")
            secs = await _timed(lambda: _receive_raw(host, sink, size))
    finally:
        await sink.close()
    return size / secs


# ----------------------------------------------------------------- links
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def links_at_scale(modules: int, per_module: int) -> tuple[float, float, int]:
    """Open ``per_module`` links in each of ``modules`` modules (in-memory UART), echo a
    message on each; returns (seconds, bytes of memory per link, links that echoed)."""
    from esp_at_sim.services.links import LinkTable

    echo = await asyncio.start_server(_echo, "127.0.0.1", 0, backlog=4096)
    port = echo.sockets[0].getsockname()[1]
    world = World()
    ok = 0
    gc.collect()
    base = _rss()
    start = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        mods = []
        for i in range(modules):
            m = await stack.enter_async_context(
                Module.start("esp32c3", world=world, name=f"scale{i}", max_links=per_module, uart_buffer=256 * 1024)
            )
            m.heap.baseline = 1 << 40  # a custom build with the memory for it
            m.service(NetIf).up("sta", IpConfig(f"10.0.{i // 250}.{i % 250 + 1}", "10.0.0.254"))
            await m.host.command("AT+CIPMUX=1")
            mods.append(m)
        for m in mods:
            table = m.service(LinkTable)
            from esp_at_sim.services.connections import open_client

            await asyncio.gather(*(open_client(table, k, "TCP", "127.0.0.1", port) for k in range(per_module)))
        gc.collect()
        per_link = (_rss() - base) / (modules * per_module)
        for m in mods:
            for link in m.service(LinkTable).links.values():
                await link.send(f"L{link.id:05d}".encode())
        for m in mods:
            seen: set[int] = set()
            while len(seen) < per_module:
                await m.host.read_until(b"+IPD,", timeout=60)
                head = await m.host.read_until(b":")
                lid, n = (int(x) for x in head.rstrip(b":").split(b","))
                body = await m.host.read_exactly(n)
                if body == f"L{lid:05d}".encode():
                    seen.add(lid)
            ok += len(seen)
    secs = time.perf_counter() - start
    echo.close()
    await echo.wait_closed()
    return secs, per_link, ok


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
    writer.close()


# ------------------------------------------------------------------ main
async def measure(pace: bool = False, quick: bool = False) -> list[Figure]:
    size = 2 * MiB if quick else 8 * MiB
    figs: list[Figure] = []
    ref_up = await host_to_peer(size, emulator=False)
    emu_up = await host_to_peer(size, emulator=True)
    figs.append(Figure("passthrough host->peer (unpaced)", emu_up / 1e3, ref_up / 1e3, "kB/s", 0.5))
    ref_down = await peer_to_host(size, mode="relay")
    emu_down = await peer_to_host(size, mode="passthrough")
    figs.append(Figure("passthrough peer->host (unpaced)", emu_down / 1e3, ref_down / 1e3, "kB/s", 0.5))
    ipd = await peer_to_host(size, mode="ipd")
    figs.append(Figure("+IPD receive, normal mode (unpaced)", ipd / 1e3, ref_down / 1e3, "kB/s", 0.4))
    if pace:
        for baud in (115200, 921600):
            rate = await paced_rate(baud)
            figs.append(Figure(f"passthrough peer->host paced at {baud}", rate, baud / 10, "B/s", 0.95))
    for modules, per in ((1, 5), (1, 1000), (5, 1000)):
        secs, per_link, ok = await links_at_scale(modules, per)
        total = modules * per
        figs.append(Figure(f"{total} links ({modules} module(s)): echoed", ok, total, "links", 1.0))
        # value: the budget; reference: what one link costs (both ends live in this process)
        figs.append(Figure(f"{total} links: 16 KiB budget / bytes per link", 16384, max(per_link, 1), "B", 1.0))
        print(f"  {total} links opened and echoed in {secs:.2f} s, {per_link / 1024:.1f} KiB per link")
    return figs


def run() -> list[tuple[str, float, str]]:
    """For ``python -m benchmarks``: every figure, its unit carrying the ratio to its reference."""
    out = []
    for f in asyncio.run(measure(pace=True)):
        verdict = "" if f.target is None else (" ok" if f.ratio >= f.target else f" BELOW target {f.target:.0%}")
        out.append((f.name, f.value, f"{f.unit} = {f.ratio:.1%} of {f.reference:,.1f}{verdict}"))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmarks.tcpip")
    ap.add_argument("--pace", action="store_true", help="also measure paced UART throughput")
    ap.add_argument("--all", action="store_true", help="everything (what `make bench` runs)")
    ap.add_argument("--quick", action="store_true", help="smaller transfers")
    args = ap.parse_args(argv)
    figs = asyncio.run(measure(pace=args.pace or args.all, quick=args.quick))
    print("TCP/IP")
    for f in figs:
        print("  " + f.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
