"""The ``esp-at-sim`` command.

``esp-at-sim [--scenario FILE] [--chip NAME] [--pty-link PATH | --tcp HOST:PORT |
--serial DEVICE [--baud N] | --stdio] [--state-dir DIR] [--log FILE] [-v]``

Boots the scenario's modules, prints where each UART is, then logs every byte
in and out (readable, with escapes) until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Annotated

import typer
from platformdirs import user_data_dir
from rich.console import Console
from rich.table import Table

from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.errors import EspAtSimError
from esp_at_sim.transports.tap import Record, escape
from esp_at_sim.world.scenario import ModuleEntry, Scenario, load_scenario, parse_scenario
from esp_at_sim.world_runner import ControlOptions, WorldRunner

app = typer.Typer(add_completion=False, no_args_is_help=False, help=__doc__)
err = Console(stderr=True)


def _default_state_dir() -> Path:
    return Path(user_data_dir("esp-at-sim"))


class ByteLog:
    """Prints every UART byte, readable, to a console and/or a file."""

    def __init__(self, console: Console | None, file: IO[str] | None) -> None:
        self.console = console
        self.file = file

    def record(self, module: str, rec: Record) -> None:
        arrow = ">>" if rec.direction == "in" else "<<"
        stamp = time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"
        text = escape(rec.data)
        if self.console is not None:
            style = "cyan" if rec.direction == "in" else "green"
            self.console.print(f"[dim]{stamp}[/] {module} [{style}]{arrow} {text}[/]", highlight=False, markup=True)
        if self.file is not None:
            self.file.write(f"{stamp} {module} {arrow} {text}\n")
            self.file.flush()

    def chip(self, module: str, line: str) -> None:
        if self.console is not None:
            self.console.print(f"[dim]{module} log| {line}[/]", highlight=False, markup=False)
        if self.file is not None:
            self.file.write(f"{module} log| {line}\n")
            self.file.flush()


def _uart_for(entry: ModuleEntry, index: int, opts: dict[str, str | None]) -> str:
    if index == 0:
        if opts["tcp"]:
            return f"tcp-server:{opts['tcp']}"
        if opts["serial"]:
            return f"serial:{opts['serial']},{opts['baud']}"
        if opts["stdio"]:
            return "stdio"
        if opts["pty_link"]:
            return f"pty:{opts['pty_link']}"
    if entry.uart:
        return entry.uart
    return f"pty:/tmp/esp-at-sim-{entry.config.name}.pty"


async def _run(
    scenario: Scenario,
    uarts: list[str],
    byte_log: ByteLog,
    pace: bool,
    time_scale: float,
    console: Console,
    *,
    record_dir: Path | None = None,
    control: ControlOptions | None = None,
) -> None:
    runner = WorldRunner(
        scenario,
        uarts,
        time_scale=time_scale,
        pace=pace,
        record_dir=record_dir,
        on_record=byte_log.record,
        on_chip_log=byte_log.chip,
        report=lambda msg: console.print(f"[dim]event {msg}[/]", highlight=False),
        control=control,
    )
    async with runner:
        table = Table(title="esp-at-sim", show_lines=False)
        for col in ("module", "chip", "module name", "UART"):
            table.add_column(col)
        for row in runner.rows():
            table.add_row(*row)
        console.print(table)
        for port in runner.ports.values():
            console.print(f"UART on {port.describe()}", highlight=False)
        if runner.control_server is not None:
            console.print(
                f"control: {runner.control_server.url}  token: {runner.control_server.token}", highlight=False
            )
            console.print(f"dashboard: {runner.control_server.dashboard_url}", highlight=False)
        await runner.wait()


@app.callback(invoke_without_command=True)
def main_command(
    ctx: typer.Context,
    scenario: Annotated[Path | None, typer.Option("--scenario", "-s", help="world description (TOML)")] = None,
    chip: Annotated[str | None, typer.Option(help="chip of the first module (esp32c3, esp32, ...)")] = None,
    pty_link: Annotated[str | None, typer.Option("--pty-link", help="create a pty with a symlink here")] = None,
    tcp: Annotated[str | None, typer.Option(help="serve the UART on HOST:PORT")] = None,
    serial: Annotated[str | None, typer.Option(help="use a real serial device")] = None,
    baud: Annotated[int, typer.Option(help="baud rate of --serial")] = 115200,
    stdio: Annotated[bool, typer.Option("--stdio", help="UART on standard input/output")] = False,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="where NVS files live")] = None,
    log: Annotated[Path | None, typer.Option("--log", help="also write the byte log to FILE")] = None,
    pace: Annotated[bool, typer.Option("--pace", help="pace output to the emulated baud rate")] = False,
    time_scale: Annotated[float, typer.Option("--time-scale", help="run the world N times faster")] = 1.0,
    virtual_time: Annotated[
        bool, typer.Option("--virtual-time", help="world time jumps ahead whenever nothing happens (scripted runs)")
    ] = False,
    control: Annotated[
        str | None, typer.Option("--control", help="serve the control API and dashboard on HOST:PORT")
    ] = None,
    control_token: Annotated[
        str | None, typer.Option("--control-token", envvar="ESP_AT_SIM_TOKEN", help="bearer token (default: random)")
    ] = None,
    control_remote: Annotated[
        bool, typer.Option("--control-remote", help="allow --control on an address other than loopback")
    ] = False,
    record: Annotated[
        Path | None, typer.Option("--record", help="save each UART session as DIR/<module>.jsonl")
    ] = None,
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="log every byte (-vv: debug)")] = 0,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    chosen = [x for x in (pty_link, tcp, serial) if x] + (["stdio"] if stdio else [])
    if len(chosen) > 1:
        err.print("choose one of --pty-link, --tcp, --serial, --stdio")
        raise typer.Exit(2)
    sdir = state_dir or _default_state_dir()
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        sc = load_scenario(scenario, state_dir=sdir) if scenario else parse_scenario({}, state_dir=sdir)
        if not sc.modules:
            sc.modules.append(ModuleEntry(ModuleConfig(chip=chip or "esp32c3", state_dir=sdir)))
        elif chip:
            first = sc.modules[0]
            sc.modules[0] = ModuleEntry(replace(first.config, chip=chip, module_name=None), first.uart)
        control_opts = _control_options(control, control_token, control_remote, sdir) if control else None
        if time_scale <= 0:
            raise EspAtSimError("--time-scale must be positive")
        opts = {"tcp": tcp, "serial": serial, "baud": str(baud), "stdio": "1" if stdio else None, "pty_link": pty_link}
        uarts = [_uart_for(e, i, opts) for i, e in enumerate(sc.modules)]
    except EspAtSimError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    console = err if stdio else Console()
    log_file = log.open("a") if log else None
    byte_log = ByteLog(console if verbose else None, log_file)

    async def runner() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        await _run(sc, uarts, byte_log, pace, time_scale, console, record_dir=record, control=control_opts)

    try:
        if virtual_time:
            from esp_at_sim.world.clock import VirtualTimeLoop

            with asyncio.Runner(loop_factory=VirtualTimeLoop) as arunner:
                arunner.run(runner())
        else:
            asyncio.run(runner())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except EspAtSimError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    finally:
        if log_file:
            log_file.close()


def _control_options(spec: str, token: str | None, remote: bool, state_dir: Path) -> ControlOptions:
    host, _, port = spec.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        raise EspAtSimError(f"bad --control address {spec!r}; expected HOST:PORT")
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if not loopback and not remote:
        raise EspAtSimError(f"--control {spec}: not a loopback address; add --control-remote to allow it")
    return ControlOptions(host, int(port), token, remote, state_dir / "control.json")


def _register_subcommands() -> None:
    from esp_at_sim.cli_ctl import ctl_app
    from esp_at_sim.cli_replay import register as register_replay

    app.add_typer(ctl_app, name="ctl")
    register_replay(app)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
