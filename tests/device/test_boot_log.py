"""What a module prints while it boots, on which port, and when."""

from __future__ import annotations

import asyncio

import pytest

from esp_at_sim import Module
from esp_at_sim.device.boot import boot_log
from esp_at_sim.device.profiles import PROFILES


async def test_power_on_log_port_then_ready_after_the_chips_boot_time() -> None:
    async with Module.start("esp32c3", wait_ready=False) as m:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await m.host.expect(b"\r\nready\r\n")
        took = loop.time() - start
        # virtual time, which also counts the real time the test machine spends
        assert m.profile.boot_time * 0.95 <= took <= m.profile.boot_time + 2.0
        assert m.log_lines[0] == "ESP-ROM:esp32c3-api1-20210207"
        assert "rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)" in m.log_lines
        # the boot log goes to the log port only; the AT port got exactly "ready"
        assert m.host.transcript == [("out", b"\r\nready\r\n")]


async def test_at_rst_reboots_with_a_software_reset_cause() -> None:
    async with Module.start("esp32c3", boot_time=0.5) as m:
        loop = asyncio.get_running_loop()
        m.log_lines.clear()
        await m.host.send("AT+RST")
        await m.host.expect(b"AT+RST\r\n\r\nOK\r\n")
        sent = loop.time()
        await m.host.expect(b"\r\nready\r\n", timeout=5)
        assert loop.time() - sent >= 0.5
        assert "rst:0xc (RTC_SW_CPU_RST),boot:0xc (SPI_FAST_FLASH_BOOT)" in m.log_lines


async def test_esp32_boot_log_is_the_esp32_rom() -> None:
    async with Module.start("esp32", boot_time=0) as m:
        assert m.log_lines[0] == "ets Jun  8 2016 00:22:57"
        assert "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)" in m.log_lines


async def test_boot_log_on_the_at_port_when_asked_for() -> None:
    async with Module.start("esp8266", boot_time=0, quirks=frozenset({"boot_log_on_at_port"}), wait_ready=False) as m:
        got = await m.host.read_until(b"ready\r\n")
        assert got.startswith(b" ets Jan  8 2013,rst cause:1, boot mode:(3,6)\r\n")


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_log_lines_come_in_order_before_ready(key: str) -> None:
    profile = PROFILES[key]
    for ready in (profile.boot_time, 0.1, 0.0):
        lines = boot_log(profile, "poweron", ready)
        times = [t for t, _ in lines]
        assert times == sorted(times) and all(t <= ready for t in times)
    assert profile.boot_time >= 0.3
