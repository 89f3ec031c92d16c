"""The CircuitPython ESP-AT driver against ``esp-at-sim`` started as a user starts
it (``--scenario ... --pty-link ...``), in a process of its own (a separate file
so the test runner can run it next to the in-process session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.drivers.board import esp_at_sim_process, peers_in_thread, write_world
from tests.drivers.test_circuitpython_espatcontrol import _session

pytestmark = pytest.mark.real_time


def test_driver_against_an_esp_at_sim_process(tmp_path: Path) -> None:
    link = tmp_path / "esp.pty"
    with (
        peers_in_thread() as (http_port, udp_port),
        esp_at_sim_process(write_world(tmp_path, chip="esp32"), link, tmp_path / "state") as process,
    ):
        _session(link, http_port, udp_port, None, full=False)
        process.wait_for(r'esp0 >> AT\+CWJAP="esp-at-sim","espressif"')
