"""A real serial device through pyserial: a socat-made pair when socat is
installed, a pty pair otherwise (the emulator opens the slave like a tty)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import termios
import tty
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from esp_at_sim import AtHost, Module
from esp_at_sim.transports.base import open_transport
from esp_at_sim.transports.pty import SPEEDS
from esp_at_sim.transports.serial import SerialTransport

Served = Callable[..., contextlib.AbstractAsyncContextManager[Module]]


@contextlib.asynccontextmanager
async def pty_pair() -> AsyncIterator[tuple[str, AtHost]]:
    """(device for the emulator, host on the other end)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    device = os.ttyname(slave)
    os.close(slave)  # the emulator opens it by name, as it would /dev/ttyUSB0
    loop = asyncio.get_running_loop()
    os.set_blocking(master, False)
    readable = asyncio.Event()
    loop.add_reader(master, readable.set)

    async def read() -> bytes:
        while True:
            try:
                data = os.read(master, 65536)
            except (BlockingIOError, OSError):
                data = b""
            if data:
                return data
            readable.clear()
            await readable.wait()

    async def write(data: bytes) -> None:
        os.write(master, data)

    try:
        yield device, AtHost(read, write)
    finally:
        loop.remove_reader(master)
        with contextlib.suppress(OSError):
            os.close(master)


@contextlib.asynccontextmanager
async def socat_pair(tmp_path: Path) -> AsyncIterator[tuple[str, AtHost]]:
    a, b = tmp_path / "dev-a", tmp_path / "dev-b"
    proc = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(500):
            if a.exists() and b.exists():
                break
            await asyncio.sleep(0.01)
        host = await AtHost.open_pty(str(b))
        try:
            yield str(a), host
        finally:
            host.close()
    finally:
        proc.terminate()
        proc.wait(5)


def _pairs() -> list[str]:
    return ["pty", "socat"] if shutil.which("socat") else ["pty"]


@pytest.fixture(params=_pairs())
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> contextlib.AbstractAsyncContextManager[tuple[str, AtHost]]:
    return socat_pair(tmp_path) if request.param == "socat" else pty_pair()


async def test_open_transport_parses_serial_names() -> None:
    t = open_transport("serial:/dev/ttyUSB0,921600")
    assert isinstance(t, SerialTransport) and (t.device, t.baud) == ("/dev/ttyUSB0", 921600)
    t = open_transport("serial:/dev/ttyACM1")
    assert isinstance(t, SerialTransport) and t.baud == 115200


@pytest.mark.real_time
async def test_round_trip_over_a_serial_pair(
    pair: contextlib.AbstractAsyncContextManager[tuple[str, AtHost]], served: Served
) -> None:
    async with pair as (device, host):
        transport = SerialTransport(device, 115200)
        async with served(transport, name="ser0", boot_time=0.05):
            await host.read_until(b"ready\r\n", timeout=5)
            await host.send("AT")
            await host.expect(b"AT\r\n\r\nOK\r\n")
            await host.send("AT+GMR")
            reply = await host.read_reply()
            assert reply.ok and any(line.startswith(b"AT version:") for line in reply.lines)


@pytest.mark.real_time
async def test_baud_switch_waits_for_the_old_rate_bytes(served: Served) -> None:
    async with pty_pair() as (device, host):
        transport = SerialTransport(device, 115200)
        async with served(transport, name="ser1", boot_time=0) as module:
            await host.read_until(b"ready\r\n", timeout=5)
            module.output.write_now(b"at the old rate\r\n")
            module.set_uart_baud(921600)
            await host.expect(b"at the old rate\r\n")
            for _ in range(100):
                if transport._switch is None:
                    break
                await asyncio.sleep(0.01)
            assert SPEEDS[termios.tcgetattr(transport.fd)[5]] == 921600
            assert transport.baud == 921600


async def test_device_that_goes_away_ends_the_transport() -> None:
    master, slave = os.openpty()
    device = os.ttyname(slave)
    os.close(slave)
    transport = SerialTransport(device)
    await transport.open()
    try:
        os.close(master)  # the adapter is unplugged
        assert await asyncio.wait_for(transport.read(), 5) == b""
        await transport.write(b"nobody hears this")  # dropped, no exception
    finally:
        await transport.close()


async def test_missing_device_is_a_clear_error(tmp_path: Path) -> None:
    from esp_at_sim.errors import TransportError

    transport = SerialTransport(str(tmp_path / "ttyUSB9"))
    with pytest.raises(TransportError, match="cannot open"):
        await transport.open()
    await transport.close()


@pytest.mark.real_time
async def test_at_uart_cur_switches_the_serial_port_after_ok(served: Served) -> None:
    async with pty_pair() as (device, host):
        transport = SerialTransport(device, 115200)
        async with served(transport, name="ser2", boot_time=0):
            await host.read_until(b"ready\r\n", timeout=5)
            await host.send("AT+UART_CUR=921600,8,1,0,0")
            await host.expect(b"AT+UART_CUR=921600,8,1,0,0\r\n\r\nOK\r\n")  # at the old rate
            for _ in range(200):
                if SPEEDS.get(termios.tcgetattr(transport.fd)[5]) == 921600:
                    break
                await asyncio.sleep(0.01)
            assert SPEEDS[termios.tcgetattr(transport.fd)[5]] == 921600
            await host.send("AT")
            await host.expect(b"AT\r\n\r\nOK\r\n")
