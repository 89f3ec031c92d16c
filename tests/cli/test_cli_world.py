"""A world of several modules from the command line, as a CI script starts it.

One ``esp-at-sim --scenario`` process with three modules on three kinds of UART
(pty, raw TCP, RFC 2217), the control server, a faster world clock, a timed
scenario event and session recording; the script then talks to each UART and
drives the world with ``esp-at-sim ctl``.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import serial

from cli.test_cli_run import Cli, cli  # noqa: F401  (the fixture)

TOKEN = "ci-token-42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scenario(tmp_path: Path, tcp: int, rfc: int) -> Path:
    path = tmp_path / "world.toml"
    path.write_text(
        f"""
[world]
seed = "cli-world"

[[access_point]]
ssid = "lab"
password = "espressif"

[[module]]
name = "esp0"
chip = "esp32c3"
boot_time = 0.05
uart = "pty:{tmp_path / "esp0"}"

[[module]]
name = "esp1"
chip = "esp32"
boot_time = 0.05
uart = "tcp-server:127.0.0.1:{tcp}"

[[module]]
name = "esp2"
chip = "esp32c6"
boot_time = 0.05
uart = "rfc2217:127.0.0.1:{rfc}"

[[event]]
at = "40s"
fault = "module_reset"
module = "esp1"
reason = "watchdog"
"""
    )
    return path


def _ctl(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "esp_at_sim", "ctl", "--url", url, "--token", TOKEN, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _api(url: str, path: str) -> Any:
    req = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _until(port: serial.SerialBase, line: bytes, tries: int = 20) -> bytes:
    """Send until answered ``OK``: the port may open while the module still boots."""
    for _ in range(tries):
        port.write(line)
        got = port.read_until(b"OK\r\n")
        if got.endswith(b"OK\r\n"):
            return got
    raise AssertionError(f"no answer to {line!r}")


def _tcp_at(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        got = b""
        deadline = time.monotonic() + 20
        s.sendall(b"AT\r\n")
        while not got.endswith(b"OK\r\n") and time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                s.sendall(b"AT\r\n")
                continue
            if not chunk:
                break
            got += chunk
        return got


@pytest.mark.filterwarnings("ignore:set(Daemon|Name):DeprecationWarning")  # inside pyserial 3.5
def test_scenario_of_three_modules_with_control_time_scale_and_record(tmp_path: Path, cli: type[Cli]) -> None:  # noqa: F811
    tcp, rfc, control = _free_port(), _free_port(), _free_port()
    records = tmp_path / "records"
    c = cli(
        [
            "--scenario",
            str(_scenario(tmp_path, tcp, rfc)),
            "--state-dir",
            str(tmp_path / "state"),
            "--control",
            f"127.0.0.1:{control}",
            "--control-token",
            TOKEN,
            "--time-scale",
            "20",
            "--record",
            str(records),
        ]
    )
    # the table of modules and where their UARTs are, then the control server
    c.wait_for(r"esp2: UART on rfc2217://127\.0\.0\.1:\d+")
    m = c.wait_for(r"control: (http://127\.0\.0\.1:\d+)\s+token: (\S+)")
    url = m.group(1)
    assert m.group(2) == TOKEN
    table = c.out.decode()
    for row in (r"esp0\s+│ ESP32-C3", r"esp1\s+│ ESP32\s", r"esp2\s+│ ESP32-C6"):
        assert re.search(row, table), table
    assert f"tcp://127.0.0.1:{tcp}" in table and str(tmp_path / "esp0") in table
    # each UART answers as the module behind it
    with serial.Serial(str(tmp_path / "esp0"), 115200, timeout=0.5) as port:
        assert _until(port, b"AT+GMR\r\n").count(b"OK\r\n") == 1
    assert _tcp_at(tcp).endswith(b"\r\nOK\r\n")
    with serial.serial_for_url(f"rfc2217://127.0.0.1:{rfc}", 115200, timeout=0.5) as port:
        assert _until(port, b"AT\r\n").endswith(b"\r\nOK\r\n")
    # the world runs twenty times faster than the wall clock
    first = _api(url, "/api/world")
    assert first["time_scale"] == 20.0 and first["modules"] == ["esp0", "esp1", "esp2"]
    time.sleep(1.0)
    later = _api(url, "/api/world")
    assert later["time"] - first["time"] >= 15  # at least a second of ours went by between the reads
    # the timed event at 40 s of world time (two seconds of ours) reboots esp1
    done = _ctl(url, "wait", "esp1", "--state", "module.boot_count", "--equals", "2", "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    c.wait_for(r"event t=40\.\d+s fault module_reset\(module='esp1', reason='watchdog'\)")
    state = _api(url, "/api/modules/esp1")
    assert state["module"]["boot_reason"] == "watchdog"
    # ctl drives a module; the recording holds both directions
    sent = _ctl(url, "send", "esp0", "AT+CWMODE?")
    assert sent.returncode == 0, sent.stderr
    deadline = time.monotonic() + 30
    while "+CWMODE:" not in json.dumps(_api(url, "/api/modules/esp0/uart?dir=out")["entries"]):
        assert time.monotonic() < deadline, "no reply to the command sent by ctl"
        time.sleep(0.1)
    assert c.interrupt() == 0
    rec = [json.loads(line) for line in (records / "esp0.jsonl").read_text().splitlines() if line.strip()]
    assert rec and any("AT+GMR" in json.dumps(r) for r in rec)
