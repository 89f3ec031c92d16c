"""The ``esp-at-sim`` command.

``esp-at-sim [OPTIONS]`` boots the modules of a scenario and serves their
UARTs (see :mod:`esp_at_sim.cli.run`). Further commands live in their own
modules: every public module of this package that defines ``register(app)``
is imported and registered, in name order (modules whose name starts with
``_`` hold shared pieces); ``esp-at-sim ctl`` (:mod:`esp_at_sim.cli_ctl`) and
``esp-at-sim replay``/``convert`` (:mod:`esp_at_sim.cli_replay`) are
registered from beside the package.

Start-up is kept short: only typer is imported up front; the emulator core,
rich and everything else a command needs are imported inside the command.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(
    name="esp-at-sim",
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="A software ESP-AT module: boots a scenario and serves its UARTs on a pty, TCP, a serial port or stdio.",
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
    # commands kept beside this package
    from esp_at_sim.cli_ctl import ctl_app
    from esp_at_sim.cli_replay import register as register_replay

    app.add_typer(ctl_app, name="ctl")
    register_replay(app)


_register_commands()


def main() -> None:
    app()
