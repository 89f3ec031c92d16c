"""Runs a whole scenario: every module on its UART, the timeline, the control server.

Theory of operation
-------------------
:class:`WorldRunner` is what ``esp-at-sim --scenario world.toml`` and the pytest
plugin start. It builds the world from the scenario, makes one module per
``[[module]]`` and opens its UART transport (``pty:``, ``tcp-server:``,
``serial:``, ``rfc2217:``...). Each transport is wrapped in a tap whose records
go to the world's :class:`~esp_at_sim.world.uart_log.UartLogs` (read by the
control API, the dashboard and ``wait``), to an optional transcript file per
module (``record_dir``) and to an optional callback (the CLI's byte log).
Transports that see modem lines (RFC 2217) get a reset hook wired to the
module, like the auto-reset circuit of a dev board.

``start()`` returns once every UART is open and the modules are booting;
``wait()`` runs until a ``stop`` event, ``stop()`` or cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from esp_at_sim.device.module import Module
from esp_at_sim.driver import serve
from esp_at_sim.transports.base import Transport, open_transport
from esp_at_sim.transports.tap import Record, TapTransport
from esp_at_sim.world.clock import Clock
from esp_at_sim.world.scenario import Scenario
from esp_at_sim.world.timeline import TimedEvent, parse_events, play
from esp_at_sim.world.uart_log import UartEntry, UartLog, UartLogs
from esp_at_sim.world.world import World

log = logging.getLogger(__name__)


@dataclass
class ControlOptions:
    host: str = "127.0.0.1"
    port: int = 8800
    token: str | None = None  # None: generate one
    allow_remote: bool = False
    info_file: Path | None = None  # where to write {"url", "token"} for `esp-at-sim ctl`


@dataclass
class UartPort:
    """One module and the UART it is served on."""

    module: Module
    url: str
    inner: Transport
    transport: Transport
    log: UartLog
    recording: IO[str] | None = None
    task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        return self.transport.describe()


@dataclass
class WorldRunner:
    scenario: Scenario
    uarts: list[str]
    time_scale: float = 1.0
    pace: bool = False
    record_dir: Path | None = None
    on_record: Callable[[str, Record], None] | None = None
    on_chip_log: Callable[[str, str], None] | None = None
    report: Callable[[str], None] | None = None
    control: ControlOptions | None = None
    world: World = field(init=False)
    ports: dict[str, UartPort] = field(init=False, default_factory=dict)
    events: list[TimedEvent] = field(init=False, default_factory=list)
    control_server: Any = field(init=False, default=None)
    _stopped: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        names = [e.config.name for e in self.scenario.modules]
        # checked before anything is opened: a bad event fails at start-up
        self.events = parse_events(self.scenario.data.get("event"), names)

    # ----------------------------------------------------------- start/stop
    async def start(self) -> None:
        self.world = self.scenario.build_world()
        self.world.clock = Clock(self.time_scale)
        logs = self.world.extension(UartLogs)
        try:
            for entry, url in zip(self.scenario.modules, self.uarts, strict=True):
                module = Module(entry.config, world=self.world)
                port = await self._open_port(module, url, logs.log(module.name))
                self.ports[module.name] = port
            if self.control is not None:
                from esp_at_sim.control.server import ControlServer

                self.control_server = ControlServer(self.world, runner=self, **_control_kwargs(self.control))
                await self.control_server.start()
            for port in self.ports.values():
                port.task = asyncio.get_running_loop().create_task(
                    serve(port.module, port.transport, pace=self.pace), name=f"serve-{port.module.name}"
                )
                await port.module.power_on()
            self._tasks.append(asyncio.get_running_loop().create_task(self._play()))
        except BaseException:
            await self.stop()
            raise

    async def _open_port(self, module: Module, url: str, ulog: UartLog) -> UartPort:
        try:
            inner = open_transport(url)
        except BaseException:
            await module.stop()
            raise
        recording = None
        if self.record_dir is not None:
            from esp_at_sim.replay import open_recording

            recording = open_recording(self.record_dir / f"{module.name}.jsonl", module)

        def on_record(rec: Record, name: str = module.name) -> None:
            ulog.append(rec.direction, rec.data)
            if self.on_record is not None:
                self.on_record(name, rec)

        if recording is not None:
            from esp_at_sim.replay import entry_line

            rec_file = recording

            def write_entry(e: UartEntry) -> None:
                rec_file.write(entry_line(e))
                rec_file.flush()

            ulog.listen(write_entry)

        def on_chip_log(line: str, name: str = module.name) -> None:
            ulog.append("log", line.encode("utf-8", "replace"))
            if self.on_chip_log is not None:
                self.on_chip_log(name, line)

        module.log_sink = on_chip_log
        _wire_modem_lines(inner, module)
        tap = TapTransport(inner, keep=False, on_record=on_record)
        try:
            await inner.open()
        except BaseException:
            if recording is not None:
                recording.close()
            await module.stop()
            raise
        return UartPort(module, url, inner, tap, ulog, recording)

    async def _play(self) -> None:
        await play(self.world, self.events, send=self.send, stop=self.request_stop, report=self.report)

    def request_stop(self) -> None:
        self._stopped.set()

    async def wait(self) -> None:
        """Run until a ``stop`` event or :meth:`request_stop`; a UART that fails ends the run."""
        waiters = [p.task for p in self.ports.values() if p.task is not None]
        stop = asyncio.ensure_future(self._stopped.wait())
        try:
            done, _ = await asyncio.wait([stop, *waiters], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stop and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            stop.cancel()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.control_server is not None:
            with contextlib.suppress(Exception):
                await self.control_server.stop()
            self.control_server = None
        for port in self.ports.values():
            if port.task is not None:
                port.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await port.task
            with contextlib.suppress(Exception):
                await port.module.stop()
            with contextlib.suppress(Exception):
                await port.transport.close()
            if port.recording is not None:
                port.recording.close()
        self.ports.clear()

    async def __aenter__(self) -> WorldRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------- actions
    def send(self, module: str, data: bytes, source: str = "control") -> None:
        """Bytes into a module's UART as if the host sent them (logged as ``in``)."""
        self.world.extension(UartLogs).send(module, data, source)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(module, chip, module name, UART) for the start-up table."""
        return [
            (p.module.name, p.module.profile.name, p.module.factory.module_name, p.describe())
            for p in self.ports.values()
        ]


def _control_kwargs(opts: ControlOptions) -> dict[str, Any]:
    return {
        "host": opts.host,
        "port": opts.port,
        "token": opts.token,
        "allow_remote": opts.allow_remote,
        "info_file": opts.info_file,
    }


def _wire_modem_lines(transport: Transport, module: Module) -> None:
    """A transport that sees RTS/DTR drives EN and IO0 like a dev board's auto-reset circuit."""
    if not hasattr(transport, "on_reset"):
        return

    def on_reset(mode: str) -> None:
        if mode == "hold":  # EN low: the chip is off
            module.notify("reset", reason="en")
            module.deep_sleep(None)
        elif mode == "download":
            module.chip_log("rst:0x1 (POWERON),boot:0x5 (DOWNLOAD(USB/UART0/1))")
            module.chip_log("waiting for download")
            module.deep_sleep(None)
        else:
            module.reboot("poweron")

    transport.on_reset = on_reset
