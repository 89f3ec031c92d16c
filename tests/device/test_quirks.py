"""Firmware quirks: each one off by default, and what the module does with it on."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from tests.tcpip.conftest import TcpPeer, online

from esp_at_sim import Module, World
from esp_at_sim.device.config import KNOWN_QUIRKS, ModuleConfig
from esp_at_sim.device.quirks import BUSY_WINDOW, QUIRKS, markdown_table, set_quirks
from esp_at_sim.errors import ConfigError
from esp_at_sim.services.netif import NetIf
from esp_at_sim.world.faults import inject
from esp_at_sim.world.scenario import parse_scenario

BUSY = b"\r\nbusy p...\r\n"


def test_every_quirk_is_documented_with_its_field_report() -> None:
    assert frozenset(QUIRKS) == KNOWN_QUIRKS
    for name, quirk in QUIRKS.items():
        assert quirk.effect and quirk.firmware, name
        assert quirk.reports and all("#" in r for r in quirk.reports), name
    # the README's table is the catalogue
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme
    with pytest.raises(ConfigError, match="known: "):
        ModuleConfig(chip="esp32c3", quirks=frozenset({"no_such_quirk"}))
    with pytest.raises(ConfigError):
        parse_scenario({"module": [{"name": "x", "quirks": ["nope"]}]})


async def test_busy_after_ok() -> None:
    async with Module.start("esp32c3", quirks=frozenset({"busy_after_ok"})) as m:
        h = m.host
        assert m.engine.busy_window == BUSY_WINDOW
        # a loaded test machine may take longer than 10 ms to answer: a wider window
        m.engine.busy_window = 0.5
        await h.command("ATE0")
        await asyncio.sleep(0.6)
        await h.send("AT")
        await h.expect(b"\r\nOK\r\n")
        # right behind the OK: the AT task has not let go of the port yet
        await h.send("AT")
        await h.expect(BUSY)
        await h.expect_silence(0.6)
        # a moment later all is well again (expect_silence waited)
        await h.send("AT")
        await h.expect(b"\r\nOK\r\n")
    async with Module.start("esp32c3") as m:
        h = m.host
        await h.command("ATE0")
        await h.send("AT")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT")
        await h.expect(b"\r\nOK\r\n")


@pytest.mark.parametrize("still_runs", [False, True])
async def test_a_line_answered_busy_may_still_run(still_runs: bool) -> None:
    quirks = frozenset({"busy_still_runs"} if still_runs else set())
    async with Module.start("esp32c3", quirks=quirks) as m:
        h = m.host
        await h.command("ATE0")
        await h.command("AT+CWMODE=1")
        await h.send("AT+CWLAP")  # sweeps every channel: it takes a while
        await asyncio.sleep(0.05)
        await h.send("AT+CWMODE?")
        await h.expect(BUSY)
        await h.read_until(b"\r\nOK\r\n", timeout=10)
        if still_runs:
            await h.expect(b"+CWMODE:1\r\n\r\nOK\r\n", timeout=2)
        else:
            await h.expect_silence(0.5)


async def test_cipstatus_stale() -> None:
    peer = await TcpPeer().start()
    try:
        for stale in (False, True):
            async with Module.start("esp32c3", quirks=frozenset({"cipstatus_stale"} if stale else set())) as m:
                h = m.host
                online(m)
                r = await h.command(f'AT+CIPSTART="TCP","127.0.0.1",{peer.port}')
                assert r.ok, r.raw
                assert b"STATUS:3" in (await h.command("AT+CIPSTATUS")).raw
                assert (await h.command("AT+CIPCLOSE")).ok
                assert (b"STATUS:3" if stale else b"STATUS:4") in (await h.command("AT+CIPSTATUS")).raw
                m.service(NetIf).down("sta")
                assert (b"STATUS:3" if stale else b"STATUS:5") in (await h.command("AT+CIPSTATUS")).raw
    finally:
        await peer.close()


async def test_cwjap_full_timeout() -> None:
    data = {
        "access_point": [{"ssid": "home", "password": "homepass1", "channel": 4, "rssi": -50}],
    }
    for full in (False, True):
        world = parse_scenario(data).build_world()
        quirks = frozenset({"cwjap_full_timeout"} if full else set())
        async with Module.start("esp32c3", world=world, quirks=quirks) as m:
            await m.host.command("AT+CWMODE=1")
            start = m.clock.now()
            r = await m.host.command('AT+CWJAP="home","wrongpass1"', timeout=40)
            took = m.clock.now() - start
            assert r.final == b"ERROR"
            assert b"+CWJAP:2\r\n" in r.raw  # wrong password, either way
            if full:
                assert 14.0 <= took <= 16.5  # the default <jap_timeout> of 15 s, used up
                assert any("retrying" in line for line in m.log_lines)
            else:
                assert took < 10.0


async def _passthrough(m: Module, port: int) -> None:
    h = m.host
    online(m)
    await h.command("ATE0")
    assert (await h.command("AT+CIPMODE=1")).ok
    assert (await h.command(f'AT+CIPSTART="TCP","127.0.0.1",{port}')).ok
    await h.send("AT+CIPSEND")
    await h.read_until(b">")


async def test_plus_exit_settle() -> None:
    peer = await TcpPeer(echo=False).start()
    try:
        for settle in (False, True):
            async with Module.start("esp32c3", quirks=frozenset({"plus_exit_settle"} if settle else set())) as m:
                h = m.host
                await _passthrough(m, peer.port)
                await asyncio.sleep(1.1)
                await h.write(b"+++")
                await asyncio.sleep(0.2)  # passthrough ends once the trailing guard time is silent
                await h.send("AT")
                if settle:
                    await h.expect_silence(0.3)
                    assert any("not listening" in line for line in m.log_lines)
                    await asyncio.sleep(1.0)
                    await h.send("AT")
                await h.expect(b"\r\nOK\r\n")
    finally:
        await peer.close()


async def test_uart_rx_overflow_loses_passthrough_data() -> None:
    """A peer that reads nothing: the host is never held (without the quirk it
    would be, see test_passthrough.py) and what the buffers cannot take is gone."""
    got = bytearray()
    reading = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reading.wait()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                got.extend(data)
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    blob = bytes(range(256)) * 16 * 1024  # 4 MiB: more than the socket buffers hold
    try:
        async with Module.start("esp32c3", quirks=frozenset({"uart_rx_overflow"})) as m:
            await _passthrough(m, port)
            for i in range(0, len(blob), 8192):
                await asyncio.wait_for(m.host.write(blob[i : i + 8192]), 5)  # never held
            assert any("rx buffer full" in line for line in m.log_lines)
            reading.set()
            await asyncio.sleep(2.0)
            assert 0 < len(got) < len(blob)
    finally:
        for w in writers:
            w.close()
        server.close()
        await server.wait_closed()


async def test_quirks_switch_at_run_time() -> None:
    world = World()
    async with Module.start("esp32c3", world=world, name="esp0") as m:
        h = m.host
        await h.command("ATE0")
        await inject(world, "quirk", module="esp0", quirk="busy_after_ok")
        assert "busy_after_ok" in m.quirks
        m.engine.busy_window = 0.5  # see test_busy_after_ok
        await asyncio.sleep(0.6)  # well after the OK of ATE0
        await h.send("AT")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT")
        await h.expect(BUSY)
        await asyncio.sleep(0.6)
        await inject(world, "quirk", module="esp0", quirk="busy_after_ok", on=False)
        await h.send("AT")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT")
        await h.expect(b"\r\nOK\r\n")
        set_quirks(m, {"cipstatus_stale"})
        assert m.quirks == frozenset({"cipstatus_stale"})
        with pytest.raises(ConfigError):
            await inject(world, "quirk", module="esp0", quirk="nope")
