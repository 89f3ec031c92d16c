"""The default command: boot a scenario's modules and serve their UARTs.

``esp-at-sim [--scenario FILE] [--chip NAME] [--pty-link PATH | --tcp HOST:PORT |
--serial DEVICE [--baud N] | --stdio] [--state-dir DIR] [--log FILE] [--pace] [-v]``

The transport option applies to the first module of the scenario; the others
use the ``uart`` of their ``[[module]]`` table, or a pty linked at
``/tmp/esp-at-sim-NAME.pty``. For each module the command prints where its
UART is (``UART on /dev/pts/7 (link /tmp/esp-at-sim.pty)``); with ``-v`` it
then logs every byte in and out and the chip's log port until Ctrl-C, with
``--log FILE`` it writes the same log to FILE. Baud-rate changes are always
reported. With ``--stdio`` the UART is standard input/output and everything
else goes to standard error.
"""

from __future__ import annotations

import functools
import gc
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from esp_at_sim.cli._bytelog import ByteLog
    from esp_at_sim.device.module import Module
    from esp_at_sim.transports.base import Transport
    from esp_at_sim.transports.tap import Record
    from esp_at_sim.world.scenario import ModuleEntry, Scenario
    from esp_at_sim.world_runner import ControlOptions

DEFAULT_LINK = "/tmp/esp-at-sim.pty"


def _uart_url(entry: ModuleEntry, index: int, choice: str | None) -> str:
    if index == 0 and choice is not None:
        return choice
    if entry.uart:
        return entry.uart
    if index == 0:
        return f"pty:{DEFAULT_LINK}"
    return f"pty:/tmp/esp-at-sim-{entry.config.name}.pty"


def _status(stream: IO[str], text: str) -> None:
    print(text, file=stream, flush=True)


def _record(byte_log: ByteLog, name: str, rec: Record) -> None:
    if rec.direction in ("in", "out"):
        byte_log.record(name, rec.direction, rec.data)


def _watch_baud(module: Module, inner: Transport, byte_log: ByteLog) -> None:
    """Report baud-rate changes of the module, and of the host's side of a pty."""
    from esp_at_sim.transports.pty import PtyTransport

    name = module.name

    def module_changed(baud: int) -> None:
        text = f"UART now {baud} baud (8N1)"
        if isinstance(inner, PtyTransport):
            host = inner.host_baud()
            if host is not None:
                text += f"; host side of the pty at {host}" + ("" if host == baud else " (mismatch)")
        byte_log.note(name, text)

    def host_changed(baud: int) -> None:
        same = baud == module.uart_baud
        byte_log.note(
            name, f"host set its side of the pty to {baud} baud" + ("" if same else f"; module at {module.uart_baud}")
        )

    module.on_uart_change.append(module_changed)
    if isinstance(inner, PtyTransport):
        inner.on_host_baud = host_changed


async def _serve_world(
    scenario: Scenario,
    urls: list[str],
    byte_log: ByteLog,
    status: IO[str],
    *,
    pace: bool,
    time_scale: float,
    record_dir: Path | None,
    control: ControlOptions | None,
    table: bool,
) -> None:
    from esp_at_sim.transports.stdio import StdioTransport
    from esp_at_sim.world_runner import WorldRunner

    runner = WorldRunner(
        scenario,
        urls,
        time_scale=time_scale,
        pace=pace,
        record_dir=record_dir,
        on_record=functools.partial(_record, byte_log),
        on_chip_log=byte_log.chip,
        report=lambda msg: _status(status, f"event {msg}"),
        control=control,
    )
    try:
        async with runner:
            # the modules' boot tasks have not run a step yet: watching the
            # baud rate from here also sees the rate a boot restores
            for port in runner.ports.values():
                _watch_baud(port.module, port.inner, byte_log)
            if table:
                _print_table(runner.rows(), status)
            else:
                for port in runner.ports.values():
                    m = port.module
                    _status(status, f"{m.name}: {m.profile.name} ({m.factory.module_name}), {m.uart_baud} baud 8N1")
            many = len(runner.ports) > 1
            for port in runner.ports.values():
                _status(status, f"{port.module.name + ': ' if many else ''}UART on {port.describe()}")
            if runner.control_server is not None:
                server = runner.control_server
                _status(status, f"control: {server.url}  token: {server.token}")
                _status(status, f"dashboard: {server.dashboard_url}")
            stdio_used = any(isinstance(p.inner, StdioTransport) for p in runner.ports.values())
            _status(status, "end of input or Ctrl-C stops" if stdio_used else "Ctrl-C to stop")
            # everything made so far (imported code, tables, the modules) lives as long
            # as the process: keep it out of the collector's full passes, which would
            # otherwise stall the UART for milliseconds now and then
            gc.freeze()
            await runner.wait()
    finally:
        byte_log.flush()


def _print_table(rows: list[tuple[str, str, str, str]], stream: IO[str]) -> None:
    """The modules of a scenario with more than one module, as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="esp-at-sim", show_lines=False)
    for col in ("module", "chip", "module name", "UART"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console(file=stream, highlight=False).print(table)


def run(
    ctx: typer.Context,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", "-s", metavar="FILE", help="World description (TOML).")
    ] = None,
    chip: Annotated[
        str | None, typer.Option(metavar="NAME", help="Chip of the first module (esp32c3, esp32, esp8266...).")
    ] = None,
    pty_link: Annotated[
        str | None,
        typer.Option("--pty-link", metavar="PATH", help=f"Create a pty with a symlink here (default {DEFAULT_LINK})."),
    ] = None,
    tcp: Annotated[
        str | None, typer.Option(metavar="HOST:PORT", help="Serve the raw UART on HOST:PORT, one host at a time.")
    ] = None,
    serial: Annotated[str | None, typer.Option(metavar="DEVICE", help="Use a real serial device (pyserial).")] = None,
    baud: Annotated[
        int | None, typer.Option(metavar="N", help="UART baud rate (also the --serial port's rate).")
    ] = None,
    stdio: Annotated[bool, typer.Option("--stdio", help="UART on standard input/output.")] = False,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", metavar="DIR", help="Where NVS files live.")] = None,
    log: Annotated[Path | None, typer.Option("--log", metavar="FILE", help="Also write the byte log to FILE.")] = None,
    pace: Annotated[bool, typer.Option("--pace", help="Pace output to the emulated baud rate.")] = False,
    time_scale: Annotated[float, typer.Option("--time-scale", metavar="N", help="Run the world N times faster.")] = 1.0,
    virtual_time: Annotated[
        bool, typer.Option("--virtual-time", help="World time jumps ahead whenever nothing happens (scripted runs).")
    ] = False,
    control: Annotated[
        str | None,
        typer.Option("--control", metavar="HOST:PORT", help="Serve the control API and dashboard on HOST:PORT."),
    ] = None,
    control_token: Annotated[
        str | None,
        typer.Option("--control-token", envvar="ESP_AT_SIM_TOKEN", help="Bearer token (default: random)."),
    ] = None,
    control_remote: Annotated[
        bool, typer.Option("--control-remote", help="Allow --control on an address other than loopback.")
    ] = False,
    record: Annotated[
        Path | None, typer.Option("--record", metavar="DIR", help="Save each UART session as DIR/<module>.jsonl.")
    ] = None,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="Log every byte (-vv: debug).", show_default=False)
    ] = 0,
) -> None:
    """Boot the scenario's modules and serve their UARTs until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    # imported here, not at the top: `esp-at-sim ctl`, `--help`... do not need them
    import asyncio
    import logging
    import signal

    from esp_at_sim.cli._bytelog import ByteLog, rich_console_writer
    from esp_at_sim.device.config import ModuleConfig
    from esp_at_sim.errors import EspAtSimError
    from esp_at_sim.world.scenario import ModuleEntry, load_scenario, parse_scenario

    status = sys.stderr if stdio else sys.stdout
    chosen = [
        flag for flag, on in (("--pty-link", pty_link), ("--tcp", tcp), ("--serial", serial), ("--stdio", stdio)) if on
    ]
    if len(chosen) > 1:
        _status(sys.stderr, f"error: choose one of --pty-link, --tcp, --serial, --stdio (got {', '.join(chosen)})")
        raise typer.Exit(2)
    if baud is not None and baud <= 0:
        _status(sys.stderr, "error: --baud must be positive")
        raise typer.Exit(2)
    choice = None
    if tcp:
        choice = f"tcp-server:{tcp}"
    elif serial:
        choice = f"serial:{serial},{baud or 115200}"
    elif stdio:
        choice = "stdio"
    elif pty_link:
        choice = f"pty:{pty_link}"
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    sdir = state_dir or _default_state_dir()
    try:
        sc = load_scenario(scenario, state_dir=sdir) if scenario else parse_scenario({}, state_dir=sdir)
        if not sc.modules:
            sc.modules.append(ModuleEntry(ModuleConfig(chip=chip or "esp32c3", state_dir=sdir)))
        elif chip:
            first = sc.modules[0]
            sc.modules[0] = ModuleEntry(replace(first.config, chip=chip, module_name=None), first.uart)
        if baud is not None:
            first = sc.modules[0]
            sc.modules[0] = ModuleEntry(replace(first.config, uart_baud=baud), first.uart)
        urls = [_uart_url(e, i, choice) for i, e in enumerate(sc.modules)]
        control_opts = _control_options(control, control_token, control_remote, sdir) if control else None
        if time_scale <= 0:
            raise EspAtSimError("--time-scale must be positive")
    except EspAtSimError as exc:
        _status(sys.stderr, f"error: {exc}")
        raise typer.Exit(2) from None

    log_file = log.open("a", encoding="utf-8") if log else None
    writer: Any = None
    if verbose:
        writer, _console = rich_console_writer(stderr=stdio)
    else:

        def writer(stamp: str, module: str, kind: str, text: str) -> None:
            if kind == "--":  # notes (baud changes) are always shown
                _status(status, f"{stamp} {module} {kind} {text}")

    byte_log = ByteLog(writer, log_file)

    async def session() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        await _serve_world(
            sc,
            urls,
            byte_log,
            status,
            pace=pace,
            time_scale=time_scale,
            record_dir=record,
            control=control_opts,
            table=len(sc.modules) > 1,
        )

    try:
        if virtual_time:
            from esp_at_sim.world.clock import VirtualTimeLoop

            with asyncio.Runner(loop_factory=VirtualTimeLoop) as arunner:
                arunner.run(session())
        else:
            asyncio.run(session())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except BaseException as exc:
        errors = _sim_errors(exc, EspAtSimError)
        if not errors:
            raise
        for error in errors:
            _status(sys.stderr, f"error: {error}")
        raise typer.Exit(1) from None
    finally:
        if log_file:
            log_file.close()


def _sim_errors(exc: BaseException, kind: type[Exception]) -> list[BaseException]:
    """The emulator's own errors in ``exc`` (flattening task groups); [] if anything else is in there."""
    import asyncio

    if isinstance(exc, kind):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in exc.exceptions:
            if isinstance(inner, asyncio.CancelledError):
                continue
            errs = _sim_errors(inner, kind)
            if not errs:
                return []
            found += errs
        return found
    return []


def _control_options(spec: str, token: str | None, remote: bool, state_dir: Path) -> ControlOptions:
    from esp_at_sim.errors import EspAtSimError
    from esp_at_sim.world_runner import ControlOptions

    host, _, port = spec.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        raise EspAtSimError(f"bad --control address {spec!r}; expected HOST:PORT")
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if not loopback and not remote:
        raise EspAtSimError(f"--control {spec}: not a loopback address; add --control-remote to allow it")
    return ControlOptions(host, int(port), token, remote, state_dir / "control.json")


def _default_state_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("esp-at-sim"))


def register(app: typer.Typer) -> None:
    app.callback(invoke_without_command=True)(run)
