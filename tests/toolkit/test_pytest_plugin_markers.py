"""The plugin's chip and firmware-generation markers and the virtual clock, as a driver
author's test file uses them (run by pytest in a subprocess, as a CI job would)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from .test_pytest_plugin import run_pytest


def test_chip_generation_markers_and_virtual_clock(tmp_path: Path) -> None:
    (tmp_path / "test_markers.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.esp_chip("esp32")
            @pytest.mark.esp_generation(2)
            def test_an_esp32_on_2x_firmware(esp_module):
                reply = esp_module.host.command("AT+GMR")
                assert reply.ok
                assert b"AT version:2." in reply.raw
                assert esp_module.module.chip == "esp32"
                assert esp_module.module.generation == 2

            @pytest.mark.esp_chip("esp8266")
            @pytest.mark.esp_generation(1)
            def test_legacy_commands_on_1x(esp_module):
                assert esp_module.host.command("AT+CWMODE_CUR?").ok

            def test_default_module(esp_module):
                assert esp_module.module.chip == "esp32c3"
                assert b"AT version:4." in esp_module.host.command("AT+GMR").raw

            def test_virtual_clock_runs_a_day_at_once(esp_module, esp_clock):
                start = esp_clock.now()
                esp_clock.sleep(86400)
                assert esp_clock.now() - start >= 86400
                assert esp_module.host.command("AT").ok
            """
        )
    )
    result = run_pytest("-rA", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
