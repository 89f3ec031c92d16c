"""``esp-at-sim replay`` and ``esp-at-sim convert``: transcripts from the shell.

``esp-at-sim replay session.jsonl`` plays the host side of a recorded session
against a fresh module and prints the first divergence (exit status 1), or
``replay matches`` (0). ``esp-at-sim convert capture.log -o session.jsonl``
turns a plain serial log into a transcript (formats: see ``esp_at_sim.replay``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def replay_command(
    file: Annotated[Path, typer.Argument(help="transcript (.jsonl) or plain serial log")],
    chip: Annotated[str | None, typer.Option(help="chip to replay on (default: from the transcript)")] = None,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", "-s", help="world to replay in (APs, peers...)")
    ] = None,
    module: Annotated[str | None, typer.Option(help="which [[module]] of the scenario (default: the first)")] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="regular expression of output that may differ (repeatable)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds (world time) to wait for each expected reply")] = 30.0,
) -> None:
    """Replay a recorded UART session against a fresh module and report the first divergence."""
    from dataclasses import asdict

    from esp_at_sim.errors import EspAtSimError
    from esp_at_sim.replay import load, run_replay

    try:
        tr = load(file)
        kwargs: dict[str, object] = {"ignore": ignore or [], "timeout": timeout}
        if scenario is not None:
            from esp_at_sim.world.scenario import load_scenario

            sc = load_scenario(scenario)
            entry = next((e for e in sc.modules if module is None or e.config.name == module), None)
            if entry is None and module is not None:
                raise EspAtSimError(f"no module {module!r} in {scenario}")
            kwargs["world_factory"] = sc.build_world
            if entry is not None:
                cfg = asdict(entry.config)
                chip = chip or cfg.pop("chip")
                cfg.pop("chip", None)
                kwargs.update({k: v for k, v in cfg.items() if k not in ("state_dir",)})
        result = run_replay(tr, chip=chip, **kwargs)
    except EspAtSimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if result.ok:
        typer.echo(f"replay matches ({result.chunks} chunks, {result.lines_compared} lines compared)")
        return
    assert result.divergence is not None
    typer.echo(result.divergence.report())
    raise typer.Exit(1)


def convert_command(
    file: Annotated[Path, typer.Argument(help="plain serial log")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="transcript to write (default: stdout)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, markers (>> / <<) or raw (echoed capture)")] = "auto",
) -> None:
    """Convert a plain serial log into a replayable transcript."""
    from esp_at_sim.errors import EspAtSimError
    from esp_at_sim.replay import convert_log

    try:
        tr = convert_log(file.read_text(errors="surrogateescape"), fmt)
    except (OSError, EspAtSimError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if output is None:
        typer.echo(tr.dumps(), nl=False)
    else:
        tr.save(output)
        typer.echo(f"wrote {len(tr.chunks)} chunks to {output}", err=True)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
    app.command("convert")(convert_command)
