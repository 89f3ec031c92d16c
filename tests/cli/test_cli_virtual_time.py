"""``esp-at-sim --virtual-time``: a scripted run where the world's hours pass in moments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_an_hour_of_world_time_passes_at_once_and_stop_ends_the_run(tmp_path: Path) -> None:
    scenario = tmp_path / "world.toml"
    scenario.write_text(
        f"""
[[module]]
name = "esp0"
chip = "esp32c3"
boot_time = 0.05
uart = "pty:{tmp_path / "esp0"}"

[[event]]
at = "30m"
fault = "module_reset"
module = "esp0"
reason = "watchdog"

[[event]]
at = "1h"
action = "stop"
"""
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "esp_at_sim",
            "--scenario",
            str(scenario),
            "--virtual-time",
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,  # an hour of real time would be far beyond it
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "event t=1800" in out and "fault module_reset(module='esp0', reason='watchdog')" in out
    assert "event t=3600" in out and "stop" in out
