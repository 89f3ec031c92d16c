"""RFC 2217: pyserial's rfc2217:// client talks to the module; baud and modem lines are honoured."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import serial

from esp_at_sim.transports.rfc2217 import garble
from esp_at_sim.world.scenario import parse_scenario
from esp_at_sim.world_runner import WorldRunner

from .conftest import in_thread

pytestmark = [
    pytest.mark.real_time,  # pyserial's client runs its own reader thread
    pytest.mark.filterwarnings("ignore:set(Daemon|Name):DeprecationWarning"),  # inside pyserial 3.5
]


@pytest.fixture
async def runner() -> AsyncIterator[WorldRunner]:
    sc = parse_scenario({"module": [{"name": "esp0", "boot_time": 0.05}]})
    r = WorldRunner(sc, ["rfc2217:127.0.0.1:0"])
    await r.start()
    await r.ports["esp0"].module.wait_ready()
    try:
        yield r
    finally:
        await r.stop()


def url(r: WorldRunner) -> str:
    return f"rfc2217://127.0.0.1:{r.ports['esp0'].inner.port}"  # type: ignore[attr-defined]


def read_until(port: serial.SerialBase, token: bytes, timeout: float = 10) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while token not in buf and time.monotonic() < deadline:
        buf += port.read(port.in_waiting or 1)
    return buf


async def test_pyserial_client_sends_at_and_gets_ok(runner: WorldRunner) -> None:
    def session() -> bytes:
        with serial.serial_for_url(url(runner), baudrate=115200, timeout=0.2) as port:
            port.write(b"AT+GMR\r\n")
            return read_until(port, b"OK\r\n")

    out = await in_thread(session)
    assert out.startswith(b"AT+GMR\r\nAT version:")
    assert out.endswith(b"\r\nOK\r\n")
    assert runner.ports["esp0"].module.boot_count == 1  # opening the port did not reset the board


async def test_rts_pulse_resets_the_module_like_a_dev_board(runner: WorldRunner) -> None:
    module = runner.ports["esp0"].module

    def pulse() -> bytes:
        with serial.serial_for_url(url(runner), baudrate=115200, timeout=0.2) as port:
            port.write(b"ATE0\r\n")
            read_until(port, b"OK\r\n")
            port.dtr = False
            port.rts = True  # EN low: held in reset
            time.sleep(0.2)
            port.rts = False  # EN released: boots
            return read_until(port, b"ready\r\n")

    out = await in_thread(pulse)
    assert out.endswith(b"\r\nready\r\n")
    assert module.boot_count == 2
    assert runner.ports["esp0"].inner.modem_events == ["hold", "run"]  # type: ignore[attr-defined]


async def test_esptool_reset_sequence_enters_download_mode(runner: WorldRunner) -> None:
    module = runner.ports["esp0"].module

    def esptool_reset() -> bytes:
        with serial.serial_for_url(url(runner), baudrate=115200, timeout=0.2) as port:
            port.dtr = False
            port.rts = True  # EN low
            time.sleep(0.1)
            port.dtr = True  # IO0 low ...
            port.rts = False  # ... as EN rises
            time.sleep(0.05)
            port.dtr = False
            port.write(b"AT\r\n")
            return read_until(port, b"OK", timeout=1)

    out = await in_thread(esptool_reset)
    assert out == b""  # the ROM waits for a flasher: no AT
    assert "waiting for download" in module.log_lines
    assert not module.powered


async def test_baud_mismatch_garbles_then_matching_baud_works(runner: WorldRunner) -> None:
    def mismatch() -> tuple[bytes, bytes]:
        with serial.serial_for_url(url(runner), baudrate=9600, timeout=0.2) as port:
            port.write(b"AT\r\n")
            bad = read_until(port, b"OK\r\n", timeout=1)
            port.baudrate = 115200
            port.write(b"\r\n")  # ends the garbled line (answered ERROR)
            read_until(port, b"ERROR\r\n")
            port.write(b"AT\r\n")
            good = read_until(port, b"OK\r\n")
            return bad, good

    bad, good = await in_thread(mismatch)
    assert b"OK" not in bad
    assert good.endswith(b"OK\r\n")


def test_garble_is_deterministic_and_sized_by_the_rate_ratio() -> None:
    data = b"AT\r\n" * 10
    assert garble(data, 115200, 115200) == data
    slow = garble(data, 115200, 9600)
    assert len(slow) == len(data) * 9600 // 115200
    assert garble(data, 115200, 9600) == slow
    assert garble(data, 9600, 115200) != data
