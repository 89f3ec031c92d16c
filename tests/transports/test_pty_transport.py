"""The pty UART, opened by host programs the way they open /dev/ttyUSB0.

Tests that wait for bytes with a timeout run on a real-time loop: pty data
reaches the other side through a kernel worker, which a busy machine may
delay past the virtual-time loop's idle threshold."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from esp_at_sim import AtHost, Module
from esp_at_sim.errors import TransportError
from esp_at_sim.transports.pty import PtyTransport

Served = Callable[..., contextlib.AbstractAsyncContextManager[Module]]


async def _read_until(port: serial.Serial, end: bytes, timeout: float = 5.0) -> bytes:
    port.timeout = timeout
    return await asyncio.to_thread(port.read_until, end)


@pytest.mark.real_time
async def test_pyserial_host_round_trip(tmp_path: Path, served: Served) -> None:
    link = tmp_path / "esp.pty"
    transport = PtyTransport(link)
    async with served(transport, name="pty0", power=False, boot_time=0.05) as module:
        port = serial.Serial(str(link), 115200, timeout=5)
        try:
            await module.power_on()
            assert await _read_until(port, b"ready\r\n") == b"\r\nready\r\n"
            port.write(b"AT\r\n")
            assert await _read_until(port, b"OK\r\n") == b"AT\r\n\r\nOK\r\n"
            port.write(b"ATE0\r\n")
            assert await _read_until(port, b"OK\r\n") == b"ATE0\r\n\r\nOK\r\n"
            port.write(b"AT+GMR\r\n")
            reply = await _read_until(port, b"OK\r\n")
            assert reply.startswith(b"AT version:") and reply.endswith(b"\r\n\r\nOK\r\n")
        finally:
            port.close()
        # the host closed the port; the next host opens it again
        port = serial.Serial(str(link), 115200, timeout=5)
        try:
            port.write(b"AT\r\n")
            assert await _read_until(port, b"OK\r\n") == b"\r\nOK\r\n"
        finally:
            port.close()
    assert not link.exists() and not link.is_symlink()


async def test_stale_symlink_is_replaced_and_removed(tmp_path: Path) -> None:
    link = tmp_path / "esp.pty"
    link.symlink_to(tmp_path / "gone" / "pts-7")  # left by a run that was killed
    transport = PtyTransport(link)
    await transport.open()
    try:
        assert os.readlink(link) == transport.path
        assert transport.path.startswith("/dev/pts/")
    finally:
        await transport.close()
    assert not link.is_symlink()


async def test_live_symlink_is_taken_over_and_left_to_its_new_owner(tmp_path: Path) -> None:
    link = tmp_path / "esp.pty"
    first = PtyTransport(link)
    await first.open()
    second = PtyTransport(link)
    try:
        await second.open()
        assert os.readlink(link) == second.path
        await first.close()  # must not remove the link the second one owns now
        assert os.readlink(link) == second.path
    finally:
        await first.close()
        await second.close()
    assert not link.is_symlink()


async def test_a_regular_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "esp.pty"
    path.write_text("keep me")
    transport = PtyTransport(path)
    with pytest.raises(TransportError, match="not a symlink"):
        await transport.open()
    await transport.close()
    assert path.read_text() == "keep me"


@pytest.mark.real_time
async def test_slave_is_raw(tmp_path: Path) -> None:
    """Bytes pass unchanged both ways: no CR/NL translation, no echo, no signals."""
    transport = PtyTransport(tmp_path / "raw.pty")
    await transport.open()
    host = await AtHost.open_pty(transport.path)
    try:
        payload = bytes(range(256))
        await transport.write(payload)
        assert await host.read_exactly(256) == payload
        await host.write(payload)
        got = b""
        while len(got) < 256:
            got += await asyncio.wait_for(transport.read(), 5)
        assert got == payload
    finally:
        host.close()
        await transport.close()


@pytest.mark.real_time
async def test_writes_wait_for_a_slow_host_and_lose_nothing(tmp_path: Path) -> None:
    transport = PtyTransport(tmp_path / "bp.pty")
    await transport.open()
    host = await AtHost.open_pty(transport.path)
    try:
        payload = os.urandom(256 * 1024)  # far more than the pty buffers
        writer = asyncio.ensure_future(transport.write(payload))
        await asyncio.sleep(0.1)
        assert not writer.done()  # back-pressure: the host has not read
        assert await host.read_exactly(len(payload), timeout=20) == payload
        await asyncio.wait_for(writer, 5)
    finally:
        host.close()
        await transport.close()


async def test_host_baud_is_detected(tmp_path: Path) -> None:
    link = tmp_path / "baud.pty"
    transport = PtyTransport(link)
    seen: list[int] = []
    transport.on_host_baud = seen.append
    await transport.open()
    port = serial.Serial(str(link), 9600, timeout=1)
    try:
        assert transport.host_baud() == 9600
        port.baudrate = 921600
        port.write(b"x")
        assert await asyncio.wait_for(transport.read(), 5) == b"x"
        assert transport.host_baud() == 921600
        assert seen == [921600]
    finally:
        port.close()
        await transport.close()
