"""What a host-driver test needs around the module: a world file, a module on a
pty (in this process or as an ``esp-at-sim`` process), the board's reset line,
and the servers the driver talks to (aiohttp, a UDP echo), all on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from aiohttp import web

from esp_at_sim.device.module import Module
from esp_at_sim.driver import serve
from esp_at_sim.transports.pty import PtyTransport
from esp_at_sim.world.scenario import load_scenario

WORLD = """\
[world]
seed = "host-drivers"

[[module]]
name = "esp0"
chip = "{chip}"
boot_time = 0.05

[[access_point]]
ssid = "esp-at-sim"
password = "espressif"
security = "wpa2"
channel = 6
rssi = -55
bssid = "aa:bb:cc:00:00:01"
subnet = "192.168.1.0/24"

[[access_point]]
ssid = "esp-at-sim-open"
security = "open"
channel = 1
rssi = -67
subnet = "10.10.0.0/24"

[dns]
"example.test" = "127.0.0.1"
"""


def write_world(tmp_path: Path, chip: str = "esp32c3") -> Path:
    path = tmp_path / "world.toml"
    path.write_text(WORLD.format(chip=chip))
    return path


@contextlib.asynccontextmanager
async def module_on_pty(world_file: Path, link: Path) -> AsyncIterator[Module]:
    """The scenario's first module, booted, its UART on a pty with a symlink at ``link``."""
    scenario = load_scenario(world_file)
    world = scenario.build_world()
    module = Module(scenario.modules[0].config, world=world)
    transport = PtyTransport(link)
    await transport.open()
    pump = asyncio.ensure_future(serve(module, transport))
    try:
        await module.power_on(wait_ready=True)
        yield module
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await module.stop()
        await transport.close()


@contextlib.contextmanager
def shared_interpreter() -> Iterator[None]:
    """A blocking driver in a thread of this process spins on ``in_waiting`` and
    holds the GIL for whole switch intervals, which would delay the module's
    output by many of them; a short interval keeps the two close to the timing of
    a host MCU and a module that each have a CPU of their own."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class ResetLine:
    """The board's EN pin as a ``digitalio.DigitalInOut``: driving it low and
    releasing it power-cycles the chip, as the RC reset circuit of a dev board does."""

    def __init__(self, module: Module, loop: asyncio.AbstractEventLoop) -> None:
        self._module = module
        self._loop = loop
        self.direction: object = None
        self._value = True
        self.resets = 0

    @property
    def value(self) -> bool:
        return self._value

    @value.setter
    def value(self, level: bool) -> None:
        if level and not self._value:
            self.resets += 1
            self._loop.call_soon_threadsafe(self._module.reboot, "poweron")
        self._value = bool(level)


class EspAtSimProcess:
    """``esp-at-sim --scenario FILE --pty-link PATH`` as a user runs it."""

    def __init__(self, world_file: Path, link: Path, state_dir: Path) -> None:
        self.link = link
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "esp_at_sim",
                "--scenario",
                str(world_file),
                "--pty-link",
                str(link),
                "--state-dir",
                str(state_dir),
                "-v",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out = b""

    def wait_for(self, pattern: str, timeout: float = 30.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.out.decode("utf-8", "replace")):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"no {pattern!r} from esp-at-sim: {self.out[-2000:]!r}")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(remaining, 0.5))
            if ready:
                self.out += os.read(self.proc.stdout.fileno(), 65536)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode


@contextlib.contextmanager
def esp_at_sim_process(world_file: Path, link: Path, state_dir: Path) -> Iterator[EspAtSimProcess]:
    process = EspAtSimProcess(world_file, link, state_dir)
    try:
        process.wait_for(r"UART on /dev/pts/\d+")
        process.wait_for(r"esp0 << \\r\\nready\\r\\n")
        yield process
    finally:
        process.stop()


# ------------------------------------------------------------------ peers
#: Loopback answers in microseconds, so a reply would reach the UART glued to the
#: ``SEND OK`` of the request; over Wi-Fi it comes at least a round trip later, and
#: drivers (adafruit_espatcontrol's socket_send) rely on reading ``SEND OK`` alone.
#: The module does not model air latency, so the servers take it.
ROUND_TRIP = 0.05


def http_app() -> web.Application:
    """What the driver's requests helpers talk to."""

    async def hello(request: web.Request) -> web.Response:
        await asyncio.sleep(ROUND_TRIP)
        return web.Response(text="hello from aiohttp\n" * 40)

    async def echo_json(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(ROUND_TRIP)
        return web.json_response({"got": body, "agent": request.headers.get("User-Agent", "")})

    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_post("/json", echo_json)
    return app


class UdpEcho(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(b"echo:" + data, addr)


@contextlib.asynccontextmanager
async def peers() -> AsyncIterator[tuple[int, int]]:
    """An aiohttp server and a UDP echo on 127.0.0.1: (http port, udp port)."""
    runner = web.AppRunner(http_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None and server.sockets
    http_port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    echo = UdpEcho()
    transport, _ = await loop.create_datagram_endpoint(lambda: echo, local_addr=("127.0.0.1", 0))
    echo.transport = transport
    try:
        yield http_port, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()
        await runner.cleanup()


@contextlib.contextmanager
def peers_in_thread() -> Iterator[tuple[int, int]]:
    """The same peers on an event loop of their own, for a test that blocks."""
    ports: list[tuple[int, int]] = []
    started = threading.Event()
    stop: list[asyncio.Event] = []
    loop = asyncio.new_event_loop()

    async def main() -> None:
        async with peers() as p:
            ports.append(p)
            stop.append(asyncio.Event())
            started.set()
            await stop[0].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        assert started.wait(10), "peers did not start"
        yield ports[0]
    finally:
        if stop:
            loop.call_soon_threadsafe(stop[0].set)
        thread.join(10)
        loop.close()
