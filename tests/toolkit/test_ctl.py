"""``esp-at-sim ctl`` against a running control server, as a CI shell script uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from esp_at_sim.cli import app
from esp_at_sim.world.uart_log import UartLogs
from esp_at_sim.world_runner import WorldRunner

from .conftest import TOKEN, in_thread

# a host on a pty: bytes cross the kernel, which may take longer than the virtual loop waits
pytestmark = pytest.mark.real_time


async def ctl(runner: WorldRunner, *args: str) -> tuple[int, str, str]:
    cli = CliRunner()
    base = ["ctl", "--url", runner.control_server.url, "--token", TOKEN]
    result = await in_thread(cli.invoke, app, [*base, *args])
    return result.exit_code, result.stdout, result.stderr


async def test_ctl_send_wait_state_inject(runner: WorldRunner) -> None:
    code, out, _ = await ctl(runner, "send", "esp0", "AT+GMR")
    assert code == 0 and json.loads(out)["bytes"] == 8
    code, out, _ = await ctl(runner, "wait", "esp0", "--uart", "Bin version.*", "--since", "0", "--timeout", "5")
    assert code == 0, out
    assert json.loads(out)["match"].startswith("Bin version:")
    code, out, _ = await ctl(runner, "state", "esp1", "module.chip")
    assert (code, out) == (0, "esp32\n")
    code, out, _ = await ctl(runner, "inject", "module_reset", "module=esp1", "reason=brownout")
    assert code == 0, out
    code, out, _ = await ctl(runner, "wait", "esp1", "--state", "module.boot_count", "--equals", "2")
    assert code == 0, out
    code, out, _ = await ctl(runner, "uart", "esp0", "--raw")
    assert "AT version:" in out
    code, out, _ = await ctl(runner, "faults")
    assert "uart_stuck" in [f["name"] for f in json.loads(out)]


async def test_ctl_failures_have_exit_codes(runner: WorldRunner) -> None:
    code, _, err = await ctl(runner, "send", "ghost", "AT")
    assert code == 2 and "unknown module" in err
    code, _, err = await ctl(runner, "wait", "esp0", "--uart", "never", "--timeout", "1")
    assert code == 1 and "408" in err
    code, _, err = await ctl(runner, "inject", "uart_drop", "module")
    assert code == 2 and "NAME=VALUE" in err
    cli = CliRunner()
    bad = await in_thread(
        cli.invoke, app, ["ctl", "--url", runner.control_server.url, "--token", "wrong", "send", "esp0", "AT"]
    )
    assert bad.exit_code == 2 and "401" in bad.stderr
    assert runner.world.extension(UartLogs).log("esp0").text("in") == b""


async def test_ctl_finds_the_server_from_its_info_file(tmp_path: Path, runner: WorldRunner) -> None:
    info = tmp_path / "control.json"
    runner.control_server._write_info(info)
    assert oct(info.stat().st_mode & 0o777) == "0o600"
    cli = CliRunner()
    result = await in_thread(cli.invoke, app, ["ctl", "--info", str(info), "modules"])
    assert result.exit_code == 0, result.output
    assert [m["name"] for m in json.loads(result.stdout)] == ["esp0", "esp1"]


def test_ctl_without_server_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ctl", "--info", str(tmp_path / "none.json"), "modules"], env={"ESP_AT_SIM_URL": ""}
    )
    assert result.exit_code == 3
    assert "no control server" in result.stderr


def test_ctl_help_needs_no_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ctl", "--info", str(tmp_path / "none.json"), "send", "--help"], env={"ESP_AT_SIM_URL": ""}
    )
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout and "ctl send" in result.stdout


def test_ctl_reset_help_lists_every_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ctl", "--info", str(tmp_path / "none.json"), "reset", "--help"], env={"ESP_AT_SIM_URL": ""}
    )
    assert result.exit_code == 0, result.output
    assert "rtc_watchdog" in result.stdout
