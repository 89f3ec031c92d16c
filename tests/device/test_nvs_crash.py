"""NVS survives a crash: a process killed in the middle of writing leaves a database
that opens, passes SQLite's integrity check and holds whole transactions only."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from esp_at_sim.device.nvs import Nvs

WRITER = """
import sys
from esp_at_sim.device.nvs import Nvs
nvs = Nvs(sys.argv[1])
i = 0
while True:
    i += 1
    with nvs.transaction():  # two keys that only make sense together
        nvs.user.set("wifi", "ssid", f"net{i}")
        nvs.user.set("wifi", "pwd", f"pass{i}" * 50)
        nvs.user.set("wifi", "seq", i)
    if i == 20:
        print("writing", flush=True)
"""


def test_killed_writer_leaves_whole_transactions(tmp_path: Path) -> None:
    path = tmp_path / "esp0.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        time.sleep(0.2)  # well inside the write loop
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    nvs = Nvs(path)
    try:
        assert nvs._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seq = nvs.user.get("wifi", "seq")
        assert seq >= 20
        assert nvs.user.get("wifi", "ssid") == f"net{seq}"
        assert nvs.user.get("wifi", "pwd") == f"pass{seq}" * 50
        nvs.user.set("wifi", "seq", seq + 1)  # and it takes writes again
        assert nvs.user.get("wifi", "seq") == seq + 1
    finally:
        nvs.close()
