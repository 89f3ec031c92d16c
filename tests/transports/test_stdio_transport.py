"""The UART on stdin/stdout: in-process over pipes, and the CLI in a subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from esp_at_sim import AtHost
from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.module import Module
from esp_at_sim.driver import serve
from esp_at_sim.transports.stdio import StdioTransport


def _scenario(tmp_path: Path, boot_time: float = 0.0) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(f'[[module]]\nname = "esp0"\nchip = "esp32c3"\nboot_time = {boot_time}\n')
    return path


async def test_pipes_carry_bytes_unchanged_and_input_waits_for_ready() -> None:
    to_module_r, to_module_w = os.pipe()
    from_module_r, from_module_w = os.pipe()
    transport = StdioTransport(to_module_r, from_module_w)
    module = Module(ModuleConfig(name="stdio0", boot_time=0.2))
    loop = asyncio.get_running_loop()
    os.set_blocking(from_module_r, False)
    readable = asyncio.Event()
    loop.add_reader(from_module_r, readable.set)

    async def read() -> bytes:
        while True:
            try:
                return os.read(from_module_r, 65536)
            except BlockingIOError:
                readable.clear()
                await readable.wait()

    async def write(data: bytes) -> None:
        os.write(to_module_w, data)

    host = AtHost(read, write)
    pump = asyncio.ensure_future(serve(module, transport))
    try:
        # written before the module is up: kept in the pipe until "ready"
        await host.send("AT")
        await module.power_on()
        await host.expect(b"\r\nready\r\nAT\r\n\r\nOK\r\n")
        await host.write(b"AT+GMR\r\n")
        reply = await host.read_reply()
        assert reply.ok
        os.close(to_module_w)  # end of input: the session ends once quiet
        to_module_w = -1
        await asyncio.wait_for(pump, 10)
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        loop.remove_reader(from_module_r)
        await module.stop()
        await transport.close()
        for fd in (to_module_r, to_module_w, from_module_r, from_module_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass


def test_cli_stdio_pipes_a_session(tmp_path: Path) -> None:
    """``printf 'AT\\r\\n...' | esp-at-sim --stdio``: replies on stdout, the log on stderr."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "esp_at_sim",
            "--stdio",
            "--scenario",
            str(_scenario(tmp_path)),
            "--state-dir",
            str(tmp_path / "state"),
            "-v",
        ],
        # two commands in one write: the second arrives while the first runs
        input=b"ATE0\r\nAT\r\n",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"\r\nready\r\nATE0\r\n\r\nbusy p...\r\n\r\nOK\r\n"
    err = proc.stderr.decode()
    assert "UART on stdin/stdout" in err
    assert "esp0 log| ESP-ROM:esp32c3" in err
    assert "esp0 >> ATE0\\r\\n" in err
