"""The esp-at-sim command, run as a user runs it."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from esp_at_sim.cli._bytelog import ByteLog


def _scenario(tmp_path: Path, boot_time: float | None = 0.05) -> Path:
    path = tmp_path / "scenario.toml"
    extra = f"boot_time = {boot_time}\n" if boot_time is not None else ""
    path.write_text(f'[[module]]\nname = "esp0"\nchip = "esp32c3"\nmodule_name = "MINI-1"\n{extra}')
    return path


class Cli:
    """A running ``esp-at-sim`` process whose stdout is read line by line."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "esp_at_sim", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out = b""

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out.decode("utf-8", "replace"))
            if m:
                return m
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"no {pattern!r} in output: {self.out!r}; stderr: {self.stderr()!r}")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(remaining, 0.5))
            if ready:
                self.out += os.read(self.proc.stdout.fileno(), 65536)

    def stderr(self) -> bytes:
        if self.proc.poll() is None or self.proc.stderr is None:
            return b""
        return self.proc.stderr.read()

    def interrupt(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        assert self.proc.stdout is not None
        self.out += self.proc.stdout.read()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def cli() -> Iterator[type[Cli]]:
    started: list[Cli] = []

    class Tracked(Cli):
        def __init__(self, args: list[str]) -> None:
            super().__init__(args)
            started.append(self)

    yield Tracked
    for c in started:
        c.kill()


def _at(port: serial.Serial, line: bytes, end: bytes = b"OK\r\n", tries: int = 20) -> bytes:
    """Send until answered: the module may still be booting when the host opens the port."""
    for _ in range(tries):
        port.write(line)
        got = port.read_until(end)
        if got.endswith(end):
            return got
    raise AssertionError(f"no answer to {line!r}")


def test_cli_serves_a_pty_logs_bytes_and_exits_on_sigint(tmp_path: Path, cli: type[Cli]) -> None:
    link = tmp_path / "esp.pty"
    state = tmp_path / "state"
    c = cli(["--scenario", str(_scenario(tmp_path)), "--pty-link", str(link), "--state-dir", str(state), "-v"])
    m = c.wait_for(r"UART on (/dev/pts/\d+) \(link (\S+)\)")
    assert m.group(2) == str(link) and os.readlink(link) == m.group(1)
    c.wait_for(r"esp0 << \\r\\nready\\r\\n")
    with serial.Serial(str(link), 115200, timeout=2) as port:
        assert _at(port, b"AT\r\n").endswith(b"AT\r\n\r\nOK\r\n")
    c.wait_for(r"esp0 >> AT\\r\\n")
    c.wait_for(r"esp0 << \\r\\nOK\\r\\n")
    with serial.Serial(str(link), 115200, timeout=2) as port:
        assert _at(port, b"AT+UART_CUR=921600,8,1,0,0\r\n").endswith(b"\r\nOK\r\n")
        c.wait_for(r"esp0 -- UART now 921600 baud \(8N1\); host side of the pty at 115200 \(mismatch\)")
        port.baudrate = 921600
        assert _at(port, b"AT\r\n").endswith(b"\r\nOK\r\n")
    c.wait_for(r"esp0 -- host set its side of the pty to 921600 baud")
    assert c.interrupt() == 0
    assert not link.exists() and not link.is_symlink()
    out = c.out.decode()
    assert "esp0: ESP32-C3 (MINI-1), 115200 baud 8N1" in out
    assert "esp0 log| ESP-ROM:esp32c3" in out
    assert (state / "esp0.nvs.sqlite3").exists()


def test_cli_tcp_with_pace_takes_line_time(tmp_path: Path, cli: type[Cli]) -> None:
    c = cli(
        [
            "--scenario",
            str(_scenario(tmp_path)),
            "--tcp",
            "127.0.0.1:0",
            "--baud",
            "9600",
            "--pace",
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    port = int(c.wait_for(r"UART on tcp://127\.0\.0\.1:(\d+)").group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # bytes sent before "ready" are lost, as on the chip: ask until answered
        sock.settimeout(1)
        buf = b""
        for _ in range(20):
            sock.sendall(b"ATE0\r\n")
            try:
                while not buf.endswith(b"OK\r\n"):
                    buf += sock.recv(4096)
                break
            except TimeoutError:
                continue
        assert buf.endswith(b"OK\r\n"), buf
        sock.settimeout(10)
        start = time.monotonic()
        sock.sendall(b"AT+CMD?\r\n")
        buf = b""
        while not buf.endswith(b"\r\nOK\r\n"):
            chunk = sock.recv(4096)
            assert chunk, buf
            buf += chunk
        elapsed = time.monotonic() - start
    line_time = len(buf) * 10 / 9600
    assert len(buf) > 200
    # pacing can only make it slower than the line; precise figures are in benchmarks/
    assert elapsed >= 0.7 * line_time, (elapsed, line_time)
    assert c.interrupt() == 0


def test_cli_rejects_two_transports(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "esp_at_sim", "--stdio", "--tcp", "127.0.0.1:0", "--state-dir", str(tmp_path)],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert b"choose one of --pty-link, --tcp, --serial, --stdio" in proc.stderr


def test_cli_reports_a_bad_chip_and_a_taken_port(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "esp_at_sim", "--chip", "esp99", "--stdio", "--state-dir", str(tmp_path)],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and b"unknown chip 'esp99'" in proc.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "esp_at_sim", "--tcp", f"127.0.0.1:{port}", "--state-dir", str(tmp_path)],
            capture_output=True,
            timeout=60,
        )
    assert proc.returncode == 1 and b"cannot listen on 127.0.0.1" in proc.stderr


async def test_baud_changes_are_reported_with_the_host_side_of_the_pty(tmp_path: Path) -> None:
    from esp_at_sim.cli.run import _watch_baud
    from esp_at_sim.device.config import ModuleConfig
    from esp_at_sim.device.module import Module
    from esp_at_sim.transports.pty import PtyTransport

    notes: list[str] = []
    byte_log = ByteLog(lambda stamp, module, kind, text: notes.append(f"{module} {kind} {text}"), None)
    transport = PtyTransport(tmp_path / "b.pty")
    await transport.open()
    module = Module(ModuleConfig(name="b0"))
    port = serial.Serial(str(tmp_path / "b.pty"), 115200)
    try:
        _watch_baud(module, transport, byte_log)
        module.set_uart_baud(921600)
        assert notes == ["b0 -- UART now 921600 baud (8N1); host side of the pty at 115200 (mismatch)"]
    finally:
        port.close()
        await module.stop()
        await transport.close()
