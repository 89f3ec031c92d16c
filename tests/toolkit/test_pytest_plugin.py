"""The pytest plugin as a driver author uses it: the example project, failure reports, saved transcripts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from esp_at_sim.replay import load, replay

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_example_driver_tests_pass() -> None:
    result = run_pytest("examples/host_driver", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 passed" in result.stdout


async def test_a_failing_test_reports_and_saves_the_uart_transcript(tmp_path: Path) -> None:
    (tmp_path / "test_fails.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.esp_chip("esp32c6")
            def test_expects_the_wrong_reply(esp_module):
                reply = esp_module.host.command("AT+GMR")
                assert b"ESP32C6" in reply.raw
                assert reply.final == b"ERROR"  # wrong on purpose
            """
        )
    )
    saved = tmp_path / "transcripts"
    result = run_pytest("--esp-transcripts", str(saved), cwd=tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert "esp-at-sim UART esp0 (call)" in out
    assert ">> AT+GMR\\r\\n" in out
    assert "<< \\r\\nready\\r\\n" in out
    files = list(saved.glob("*.jsonl"))
    assert [f.name for f in files] == ["test_fails.py_test_expects_the_wrong_reply.esp0.jsonl"]
    # what a failing test saw replays on a fresh module
    tr = load(files[0])
    assert tr.header["chip"] == "esp32c6"
    result = await replay(tr)
    assert result.ok, result.divergence and result.divergence.report()


def test_a_passing_test_has_no_transcript_section(tmp_path: Path) -> None:
    (tmp_path / "test_ok.py").write_text(
        "def test_ok(esp_module):\n"
        "    assert esp_module.host.command('AT').ok\n"
        "    assert esp_module.port.startswith('/dev/')\n"
    )
    result = run_pytest("-rA", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "esp-at-sim UART" not in result.stdout
