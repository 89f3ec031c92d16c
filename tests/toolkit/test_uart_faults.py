"""UART faults as a host sees them: lost and corrupted bytes, a firmware that hangs, resets."""

from __future__ import annotations

import contextlib

import pytest

from esp_at_sim import Module, World
from esp_at_sim.errors import ConfigError
from esp_at_sim.testing import ExpectTimeout
from esp_at_sim.world.faults import inject


async def test_drop_next_bytes_of_the_reply() -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        await inject(m.world, "uart_drop", module="esp0", direction="out", count=2)
        await m.host.send("AT")
        # the first two bytes of the echo are lost; the rest arrives intact
        await m.host.expect(b"\r\n\r\nOK\r\n")
        await m.host.expect_silence()
        assert (await m.host.command("AT")).raw == b"AT\r\n\r\nOK\r\n"


async def test_dropped_input_byte_makes_the_command_fail() -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        await inject(m.world, "uart_drop", module="esp0", direction="in", count=1)
        await m.host.send("XAT")  # the X is lost on the wire, the module sees AT
        assert (await m.host.read_reply()).final == b"OK"


async def test_corrupted_bytes_flip_one_bit_each() -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        await inject(m.world, "uart_corrupt", module="esp0", direction="out", count=1)
        await m.host.send("AT")
        got = await m.host.read_exactly(10)
        assert got != b"AT\r\n\r\nOK\r\n"
        assert bin(got[0] ^ ord("A")).count("1") == 1
        assert got[1:] == b"T\r\n\r\nOK\r\n"


async def test_line_noise_is_seeded_and_ends() -> None:
    async def run() -> bytes:
        async with Module.start("esp32c3", world=World(seed="noise"), name="esp0") as m:
            await inject(m.world, "uart_drop", module="esp0", direction="out", probability=0.3, duration=5)
            await m.host.send("AT+GMR")
            garbled = b""
            with contextlib.suppress(ExpectTimeout):
                while True:
                    garbled += await m.host.read_exactly(1, timeout=0.5)
            await m.clock.sleep(6)
            assert (await m.host.command("AT")).ok  # the noise is over
            return garbled

    first, second = await run(), await run()
    assert first == second  # same seed, same losses
    assert b"OK" not in first or len(first) < 100


async def test_stuck_firmware_answers_busy_then_recovers() -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        await inject(m.world, "uart_stuck", module="esp0", duration=3)
        await m.clock.sleep(0.1)
        await m.host.send("AT")
        await m.host.expect(b"\r\nbusy p...\r\n")
        await m.clock.sleep(3)
        assert (await m.host.command("AT")).raw == b"AT\r\n\r\nOK\r\n"


async def test_stuck_firmware_rebooted_by_watchdog() -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        await inject(m.world, "uart_stuck", module="esp0", duration=2, then="watchdog")
        await m.host.expect(b"\r\nready\r\n", timeout=10)
        assert m.boot_reason == "watchdog"
        assert any("task_wdt" in line for line in m.log_lines)
        assert (await m.host.command("AT")).ok


@pytest.mark.parametrize("reason", ["poweron", "brownout", "panic", "watchdog"])
async def test_spontaneous_reset_boots_again(reason: str) -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        await m.host.command("ATE0")
        await inject(m.world, "module_reset", module="esp0", reason=reason)
        await m.host.expect(b"\r\nready\r\n")
        assert m.boot_reason == reason
        # RAM settings are gone: echo is back on
        assert (await m.host.command("AT")).raw == b"AT\r\n\r\nOK\r\n"


async def test_bad_fault_parameters() -> None:
    async with Module.start("esp32c3", name="esp0") as m:
        with pytest.raises(ConfigError, match="direction"):
            await inject(m.world, "uart_drop", module="esp0", direction="sideways")
        with pytest.raises(ConfigError, match="unknown module"):
            await inject(m.world, "uart_drop", module="esp9")
        with pytest.raises(ConfigError, match="probability"):
            await inject(m.world, "uart_corrupt", module="esp0", probability=2, duration=1)
        with pytest.raises(ConfigError, match="duration"):
            await inject(m.world, "uart_stuck", module="esp0", duration=0)
