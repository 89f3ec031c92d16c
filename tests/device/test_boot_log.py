"""What a module prints while it boots, on which port, and when."""

from __future__ import annotations

import asyncio

import pytest

from esp_at_sim import Module
from esp_at_sim.device.boot import boot_log
from esp_at_sim.device.profiles import PROFILES
from esp_at_sim.world.faults import inject


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


@pytest.mark.parametrize(
    ("key", "reason", "word"),
    [
        ("esp32", "poweron", "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"),
        ("esp32", "panic", "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"),
        ("esp32", "watchdog", "rst:0x8 (TG1WDT_SYS_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"),
        ("esp32", "rtc_watchdog", "rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"),
        ("esp32", "brownout", "rst:0xf (RTCWDT_BROWN_OUT_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"),
        ("esp32", "deepsleep", "rst:0x5 (DEEPSLEEP_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"),
        ("esp32c3", "restore", "rst:0xc (RTC_SW_CPU_RST),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c3", "ota", "rst:0xc (RTC_SW_CPU_RST),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c3", "watchdog", "rst:0x8 (TG1WDT_SYS_RST),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c3", "brownout", "rst:0xf (BROWNOUT_RST),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c2", "watchdog", "rst:0x7 (TG0WDT_SYS_RST),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32s2", "rtc_watchdog", "rst:0x10 (RTCWDT_RTC_RST),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c6", "software", "rst:0xc (SW_CPU),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c6", "watchdog", "rst:0x8 (TG1_WDT_HPSYS),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c5", "brownout", "rst:0xf (LP_BOD_SYS),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp32c61", "rtc_watchdog", "rst:0x10 (LP_WDT_SYS),boot:0xc (SPI_FAST_FLASH_BOOT)"),
        ("esp8266", "poweron", " ets Jan  8 2013,rst cause:1, boot mode:(3,6)"),
        ("esp8266", "software", " ets Jan  8 2013,rst cause:2, boot mode:(3,6)"),
        ("esp8266", "deepsleep", " ets Jan  8 2013,rst cause:2, boot mode:(3,6)"),
        ("esp8266", "watchdog", " ets Jan  8 2013,rst cause:4, boot mode:(3,6)"),
    ],
)
def test_reset_line_names_the_cause_in_the_words_of_the_chips_rom(key: str, reason: str, word: str) -> None:
    lines = [line for _, line in boot_log(PROFILES[key], reason, 0.5)]
    assert word in lines
    assert sum("rst" in line for line in lines) == 1


@pytest.mark.parametrize("key", ["esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61", "esp32s2"])
def test_saved_pc_after_any_reset_but_power_on(key: str) -> None:
    def after_reset_line(reason: str) -> str:
        lines = [line for _, line in boot_log(PROFILES[key], reason, 0.5)]
        return lines[next(i for i, line in enumerate(lines) if line.startswith("rst:")) + 1]

    assert "Saved PC" not in after_reset_line("poweron")
    for reason in ("software", "watchdog", "brownout", "deepsleep"):
        line = after_reset_line(reason)
        prefix = "Core0 Saved PC:0x" if key == "esp32c61" else "Saved PC:0x"
        assert line.startswith(prefix) and len(line) == len(prefix) + 8, line


def test_the_esp32_and_esp8266_roms_print_no_saved_pc() -> None:
    for key in ("esp32", "esp8266"):
        for reason in ("software", "watchdog"):
            assert not any("Saved PC" in line for _, line in boot_log(PROFILES[key], reason, 0.5))


@pytest.mark.parametrize(
    ("generation", "version_line"),
    [(1, "SDK ver: 3.0.5(b29dcd3) compiled @ Oct 20 2021 20:13:50"), (2, "I (42) boot: ESP-IDF v3.4-rc1-34-g4bb0c1a6")],
)
async def test_esp8266_boot_log_is_the_firmwares_bootloader(generation: int, version_line: str) -> None:
    async with Module.start("esp8266", boot_time=0, generation=generation) as m:
        assert any(line.startswith(version_line) for line in m.log_lines), m.log_lines


async def test_start_up_lines_follow_the_firmware_generation() -> None:
    async with Module.start("esp32", boot_time=0, generation=2) as m:
        # before 4.x ESP-AT printed its start-up lines bare; the bootloader is the 2.x build's IDF
        assert "I (30) boot: ESP-IDF v4.2.2-76-gefa6eca 2nd stage bootloader" in m.log_lines
        assert "module_name: WROOM-32" in m.log_lines
        assert m.log_lines[-1] == "2.2.0"
    async with Module.start("esp32c3", boot_time=0) as m:
        assert any(line.endswith("at-init: module_name: MINI-1") for line in m.log_lines)
        assert m.log_lines[-1].endswith("at-init: v4.1.1.0 (gitlab)")


async def test_a_watchdog_reset_shows_in_the_next_boot_log() -> None:
    async with Module.start("esp32c3", name="esp0", boot_time=0.5) as m:
        m.log_lines.clear()
        await inject(m.world, "module_reset", module="esp0", reason="watchdog")
        await m.host.expect(b"\r\nready\r\n", timeout=5)
        assert any("task_wdt: Task watchdog got triggered" in line for line in m.log_lines)
        at = m.log_lines.index("rst:0x8 (TG1WDT_SYS_RST),boot:0xc (SPI_FAST_FLASH_BOOT)")
        assert m.log_lines[at + 1].startswith("Saved PC:0x")
