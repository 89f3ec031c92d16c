"""A module speaks exact AT over its in-memory UART."""

from __future__ import annotations

import asyncio

import pytest

from esp_at_sim import AtHost, Module


async def test_boot_prints_ready_and_at_answers(module: Module) -> None:
    h = module.host
    await h.send("AT")
    await h.expect(b"AT\r\n\r\nOK\r\n")


async def test_echo_off_and_unknown_command(module: Module) -> None:
    h = module.host
    await h.send("ATE0")
    await h.expect(b"ATE0\r\n\r\nOK\r\n")
    await h.send("AT+FAKE")
    await h.expect(b"\r\nERROR\r\n")
    await h.send("AT+SYSLOG=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+FAKE")
    await h.expect(b"ERR CODE:0x01090000\r\n\r\nERROR\r\n")


async def test_form_not_supported_is_op_error(module: Module) -> None:
    h = module.host
    await h.send("ATE0")
    await h.read_until(b"OK\r\n")
    await h.send("AT+SYSLOG=1")
    await h.read_until(b"OK\r\n")
    await h.send("AT+GMR?")
    await h.expect(b"ERR CODE:0x010c0000\r\n\r\nERROR\r\n")


async def test_reset_reboots_and_drops_echo_setting(module: Module) -> None:
    h = module.host
    await h.send("ATE0")
    await h.read_until(b"OK\r\n")
    await h.send("AT+RST")
    await h.expect(b"\r\nOK\r\n")
    await h.expect(b"\r\nready\r\n", timeout=5)
    await h.send("AT")
    await h.expect(b"AT\r\n\r\nOK\r\n")


async def test_input_during_reboot_is_dropped(module: Module) -> None:
    h = module.host
    await h.send("AT+RST")
    await h.read_until(b"OK\r\n")
    await h.send("AT")
    await h.expect(b"\r\nready\r\n", timeout=5)
    await h.expect_silence(0.2)


async def test_second_module_in_same_loop_is_independent() -> None:
    async with Module.start("esp32") as a, Module.start("esp32c3", name="esp1") as b:
        ra = await a.host.command("AT+GMR")
        rb = await b.host.command("AT+GMR")
        assert b"ESP32 -" in ra.raw and b"(WROOM-32)" in ra.raw
        assert b"ESP32C3" in rb.raw and b"(MINI-1)" in rb.raw


@pytest.mark.real_time  # pty bytes reach the host through a kernel worker: no virtual jumps
async def test_pty_host_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from esp_at_sim.device.config import ModuleConfig
    from esp_at_sim.driver import serve
    from esp_at_sim.transports.pty import PtyTransport

    link = tmp_path / "esp.pty"
    module = Module(ModuleConfig(name="ptymod"))
    transport = PtyTransport(link)
    await transport.open()
    server = asyncio.ensure_future(serve(module, transport))
    host = await AtHost.open_pty(str(link))
    try:
        await module.power_on()
        await host.wait_ready()
        r = await host.command("AT")
        assert r.raw == b"AT\r\n\r\nOK\r\n"
    finally:
        host.close()
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        await module.stop()
        await transport.close()
    assert not link.exists()
