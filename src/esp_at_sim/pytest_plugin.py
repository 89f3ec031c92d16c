"""pytest plugin for host-driver tests (registered as a ``pytest11`` entry point).

The world runs in a background thread with its own event loop, so the code
under test can be anything a host runs: a blocking pyserial driver, an async
driver, a C program started with ``subprocess``. Each module's UART is a pty.

Fixtures
--------
``esp_world``
    The running world (:class:`EspWorld`): from the scenario named by
    ``@pytest.mark.esp_scenario("world.toml")`` (a path relative to the test
    file, or a dict), else the ``esp_at_sim_scenario`` ini option, else one
    module. ``esp_world.modules["esp0"]``, ``esp_world.inject("ap_down", ssid="lab")``,
    ``esp_world.call(coroutine_function)`` (runs it in the world's loop).
``esp_module``
    The first module (:class:`EspModule`): ``esp_module.port`` is its pty path
    for the driver under test; ``esp_module.host`` a blocking AT helper on the
    same pty (``command``, ``send``, ``read_until``) for set-up and checks;
    ``esp_module.transcript()`` the UART log so far.
``esp_clock``
    The world's clock (:class:`EspClock`). Asking for it runs the world on
    virtual time: waits of the firmware (join timeouts, boot) take no real
    time; ``esp_clock.sleep(30)`` lets 30 s of world time pass at once.

Markers
-------
``esp_chip(name)`` and ``esp_generation(n)`` choose the module (chip profile and
firmware major version) when no scenario is given; ``esp_scenario(path_or_dict)``
the world; ``esp_virtual_time`` virtual time without asking for ``esp_clock``.

When a test that used these fixtures fails, its report gets one section per
module with the UART transcript; with ``--esp-transcripts DIR`` each is also
saved as a replayable JSON-lines file (``esp-at-sim replay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

_WORLDS_KEY = pytest.StashKey[list["EspWorld"]]()


# --------------------------------------------------------------------- pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("esp-at-sim")
    group.addoption("--esp-transcripts", metavar="DIR", help="save the UART transcripts of failing tests in DIR")
    parser.addini("esp_at_sim_scenario", "scenario file for the esp_world fixture (default: one ESP32-C3)")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "esp_chip(name): chip of the module the esp_* fixtures start (esp32c3, esp32, esp32c6...)",
        "esp_generation(n): firmware major version the module emulates (2, 3, 4...)",
        "esp_scenario(path_or_dict): the world the esp_* fixtures start",
        "esp_virtual_time: run the esp_world on virtual time",
    ):
        config.addinivalue_line("markers", line)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    worlds = item.stash.get(_WORLDS_KEY, [])
    if report.failed and worlds:
        out_dir = item.config.getoption("--esp-transcripts")
        for world in worlds:
            for name, mod in world.modules.items():
                with contextlib.suppress(Exception):
                    report.sections.append((f"esp-at-sim UART {name} ({report.when})", mod.transcript()))
                    if out_dir:
                        safe = re.sub(r"[^\w.-]+", "_", item.nodeid)
                        path = Path(out_dir) / f"{safe}.{name}.jsonl"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(mod.transcript_jsonl())
                        report.sections.append((f"esp-at-sim transcript {name}", f"saved as {path}"))
    return report


# ---------------------------------------------------------------- the world


class EspClock:
    """The world's clock, seen from the test's thread."""

    def __init__(self, world: EspWorld) -> None:
        self._world = world

    @property
    def virtual(self) -> bool:
        return self._world.virtual_time

    def now(self) -> float:
        return self._world.call(self._now)

    async def _now(self) -> float:
        return float(self._world.runner.world.clock.now())

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of world time pass (at once on virtual time, when idle)."""

        async def wait() -> None:
            await self._world.runner.world.clock.sleep(seconds)

        self._world.call(wait, timeout=None)


class SyncHost:
    """A blocking AT host on a pty: what a simple host driver does, for set-up and checks."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        import termios
        import tty

        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd, termios.TCSANOW)
        self.buffer = bytearray()
        self.timeout = timeout

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                select.select([], [self.fd], [], 0.05)

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.write(data + b"\r\n")

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out; unread bytes: {bytes(self.buffer)!r}")
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if ready:
            with contextlib.suppress(BlockingIOError):
                self.buffer += os.read(self.fd, 65536)

    def read_until(self, pattern: bytes, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while (i := self.buffer.find(pattern)) < 0:
            self._fill(deadline)
        end = i + len(pattern)
        out = bytes(self.buffer[:end])
        del self.buffer[:end]
        return out

    def command(self, line: str | bytes, timeout: float | None = None) -> Any:
        """Send a command, read up to its final result; returns an :class:`esp_at_sim.testing.Reply`."""
        from esp_at_sim.testing import FINALS, Reply

        self.send(line)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        consumed = bytearray()
        lines: list[bytes] = []
        while True:
            i = self.buffer.find(b"\r\n")
            if i < 0:
                self._fill(deadline)
                continue
            ln = bytes(self.buffer[:i])
            consumed += self.buffer[: i + 2]
            del self.buffer[: i + 2]
            if ln in FINALS:
                return Reply(bytes(consumed), lines, ln)
            if ln:
                lines.append(ln)


class EspModule:
    """One module of an :class:`EspWorld`, as a test sees it."""

    def __init__(self, world: EspWorld, name: str, port: str) -> None:
        self.world = world
        self.name = name
        self.port = port  # the pty a driver opens
        self._host: SyncHost | None = None

    @property
    def module(self) -> Any:
        """The :class:`~esp_at_sim.device.module.Module` (touch it only through ``world.call``)."""
        return self.world.runner.ports[self.name].module

    @property
    def host(self) -> SyncHost:
        if self._host is None:
            self._host = SyncHost(self.port)
        return self._host

    def close_host(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    def _entries(self) -> list[Any]:
        async def get() -> list[Any]:
            return list(self.world.runner.ports[self.name].log)

        return self.world.call(get)

    def transcript(self) -> str:
        """The UART log: ``>>`` host to module, ``<<`` module to host, ``log|`` the chip's log port."""
        arrows = {"in": ">>", "out": "<<", "log": "log|"}
        return "\n".join(
            f"{e.t:10.3f} {arrows.get(e.direction, e.direction)} {e.to_dict()['text']}" for e in self._entries()
        )

    def transcript_jsonl(self) -> str:
        import json

        from esp_at_sim.replay import header_for

        header = json.dumps(header_for(self.module))
        return "\n".join([header, *(e.to_json() for e in self._entries())]) + "\n"

    def send(self, data: bytes) -> None:
        """Bytes into the UART as if the host sent them (without touching the pty)."""

        async def go() -> None:
            self.world.runner.send(self.name, data, "test")

        self.world.call(go)


class EspWorld:
    """A scenario running in a background thread (see the module docstring)."""

    def __init__(self, scenario: Any, *, virtual_time: bool = False, time_scale: float = 1.0) -> None:
        self.scenario = scenario
        self.virtual_time = virtual_time
        self.time_scale = time_scale
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner: Any = None
        self.modules: dict[str, EspModule] = {}
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        from esp_at_sim.world.clock import VirtualTimeLoop
        from esp_at_sim.world_runner import WorldRunner

        started: Future[None] = Future()
        uarts = [e.uart or "pty:" for e in self.scenario.modules]
        for u in uarts:
            if not u.startswith("pty:"):
                raise ValueError(f"esp_world needs pty UARTs (got {u})")

        async def main() -> None:
            self._stop = asyncio.Event()
            self.runner = WorldRunner(self.scenario, uarts, time_scale=self.time_scale)
            try:
                await self.runner.start()
                for port in self.runner.ports.values():
                    await port.module.wait_ready()
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(None)
            try:
                await self._stop.wait()
            finally:
                await self.runner.stop()

        def thread() -> None:
            loop = VirtualTimeLoop() if self.virtual_time else asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=thread, name="esp-at-sim world", daemon=True)
        self._thread.start()
        started.result(timeout=60)
        for name, port in self.runner.ports.items():
            self.modules[name] = EspModule(self, name, port.inner.path)

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float | None = 30.0) -> T:
        """Run ``fn()`` in the world's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)

    def inject(self, fault: str, **params: Any) -> None:
        """Inject a registered fault (see ``esp-at-sim ctl faults``)."""
        from esp_at_sim.control.faults_api import inject_checked

        async def go() -> None:
            await inject_checked(self.runner.world, fault, params)

        self.call(go)

    def stop(self) -> None:
        for mod in self.modules.values():
            mod.close_host()
        if self.loop is not None and self._stop is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __getitem__(self, name: str) -> EspModule:
        return self.modules[name]


# ------------------------------------------------------------------- fixtures


def _scenario_for(request: pytest.FixtureRequest) -> Any:
    from esp_at_sim.world.scenario import load_scenario, parse_scenario

    marker = request.node.get_closest_marker("esp_scenario")
    source: Any = marker.args[0] if marker else (request.config.getini("esp_at_sim_scenario") or None)
    if isinstance(source, dict):
        return parse_scenario(source)
    if source:
        path = Path(source)
        if not path.is_absolute():
            base = Path(str(request.node.fspath)).parent if marker else Path(str(request.config.rootpath))
            path = base / path
        return load_scenario(path)
    chip = request.node.get_closest_marker("esp_chip")
    gen = request.node.get_closest_marker("esp_generation")
    table: dict[str, Any] = {"name": "esp0", "chip": chip.args[0] if chip else "esp32c3"}
    if gen:
        table["generation"] = int(gen.args[0])
    return parse_scenario({"module": [table]})


@pytest.fixture
def esp_world(request: pytest.FixtureRequest) -> Iterator[EspWorld]:
    virtual = "esp_clock" in request.fixturenames or request.node.get_closest_marker("esp_virtual_time") is not None
    world = EspWorld(_scenario_for(request), virtual_time=virtual)
    world.start()
    request.node.stash.setdefault(_WORLDS_KEY, []).append(world)
    try:
        yield world
    finally:
        world.stop()


@pytest.fixture
def esp_module(esp_world: EspWorld) -> EspModule:
    return next(iter(esp_world.modules.values()))


@pytest.fixture
def esp_clock(esp_world: EspWorld) -> EspClock:
    return EspClock(esp_world)
