"""Classic Bluetooth A2DP between two ESP32 modules: connect, stream, control, disconnect."""

from __future__ import annotations

import re

from ble.ble_helpers import modules, ok
from esp_at_sim import AtHost, World
from esp_at_sim.services.bt.a2dp import BtA2dp

DISC = re.compile(rb'\+BTSTARTDISC:"([0-9a-f:]{17})"')
URL = "https://dl.espressif.com/dl/audio/ff-16b-2c-44100hz.mp3"


async def _sink(h: AtHost) -> None:
    await ok(h, "AT+BTINIT=1")
    await ok(h, "AT+BTA2DPINIT=2")
    await ok(h, "AT+BTSCANMODE=2")


async def _source(h: AtHost) -> str:
    await ok(h, "AT+BTINIT=1")
    await ok(h, "AT+BTA2DPINIT=1")
    raw = await ok(h, "AT+BTSTARTDISC=0,1,1", timeout=30)
    m = DISC.search(raw)
    assert m, raw
    return m.group(1).decode()


async def test_source_streams_to_sink_and_both_control_it() -> None:
    world = World(seed="a2dp")
    async with modules(("esp32", "src"), ("esp32", "snk"), world=world) as (src, snk):
        s, k = src.host, snk.host
        assert b"+BTA2DPINIT:0\r\n" in await ok(k, "AT+BTA2DPINIT?")
        await _sink(k)
        addr = await _source(s)
        assert b"+BTA2DPINIT:1\r\n" in await ok(s, "AT+BTA2DPINIT?")
        assert b"+BTA2DPINIT:2\r\n" in await ok(k, "AT+BTA2DPINIT?")
        assert (await s.command(f'AT+BTA2DPCONN=0,"{addr}"')).raw == f'AT+BTA2DPCONN=0,"{addr}"\r\n\r\nOK\r\n'.encode()
        await s.expect(f'+BTA2DPCONN:0,"{addr}"\r\n'.encode(), timeout=30)
        line = await k.read_until(re.compile(rb'\+BTA2DPCONN:0,"[0-9a-f:]{17}"\r\n'), timeout=10)
        src_addr = line.decode().split('"')[1]
        assert f'+BTA2DPCONN:0,"{addr}"\r\n'.encode() in await ok(s, "AT+BTA2DPCONN?")
        assert f'+BTA2DPCONN:0,"{src_addr}"\r\n'.encode() in await ok(k, "AT+BTA2DPCONN?")
        # nothing to play yet
        assert b"+BTA2DPSRC:NULL,NULL\r\n" in await ok(s, "AT+BTA2DPSRC?")
        assert (await s.command("AT+BTA2DPCTRL=0,1")).final == b"ERROR"
        assert (await s.command('AT+BTA2DPSRC=0,"https://x/a.wav"')).final == b"ERROR"  # only mp3
        await ok(s, f'AT+BTA2DPSRC=0,"{URL}"')
        assert f"+BTA2DPSRC:{URL},mp3\r\n".encode() in await ok(s, "AT+BTA2DPSRC?")
        sink = snk.service(BtA2dp)
        await ok(s, "AT+BTA2DPCTRL=0,1")
        await src.clock.sleep(1.0)
        # 44.1 kHz, 5 SBC frames of 128 samples per packet: ~69 packets a second
        assert 55 <= sink.packets <= 80, sink.packets
        assert sink.playing
        await ok(s, "AT+BTA2DPCTRL=0,2")  # suspend
        got = sink.packets
        await src.clock.sleep(0.5)
        assert sink.packets - got <= 2
        # the sink asks the source to play again (AVDTP START), then to stop
        await ok(k, "AT+BTA2DPCTRL=0,1")
        await src.clock.sleep(0.5)
        assert sink.packets - got > 20
        await ok(k, "AT+BTA2DPCTRL=0,3")  # AVRCP key: accepted
        await ok(k, "AT+BTA2DPCTRL=0,0")
        got = sink.packets
        await src.clock.sleep(0.5)
        assert sink.packets - got <= 2
        raw = await ok(s, "AT+BTA2DPDISCONN=0")
        assert raw == f'AT+BTA2DPDISCONN=0\r\n+BTA2DPDISCONN:0,"{addr}"\r\n\r\nOK\r\n'.encode()
        await k.expect(f'+BTA2DPDISCONN:0,"{src_addr}"\r\n'.encode(), timeout=10)
        assert (await k.command("AT+BTA2DPCONN?")).raw == b"AT+BTA2DPCONN?\r\n\r\nOK\r\n"
        assert (await s.command("AT+BTA2DPDISCONN=0")).final == b"ERROR"


async def test_bad_parameters_and_failures() -> None:
    async with modules(("esp32", "src"), ("esp32c3", "ble")) as (src, c3):
        s = src.host
        assert (await s.command("AT+BTA2DPINIT=1")).final == b"ERROR"  # BT not initialized
        await ok(s, "AT+BTINIT=1")
        for line in ("AT+BTA2DPINIT=3", "AT+BTA2DPINIT=-1", "AT+BTA2DPINIT"):
            assert (await s.command(line)).final == b"ERROR", line
        await ok(s, "AT+BTA2DPINIT=1")
        assert (await s.command("AT+BTA2DPINIT=2")).final == b"ERROR"  # other role while initialized
        for line in (
            'AT+BTA2DPCONN=1,"24:0a:c4:00:00:01"',
            'AT+BTA2DPCONN=0,"24:0a:c4:00:00"',
            "AT+BTA2DPCTRL=0,1",  # not connected
            "AT+BTA2DPCTRL=0,6",
            'AT+BTA2DPSRC=0,"ftp://x/a.mp3"',
            "AT+BTA2DPDISCONN=0",
        ):
            assert (await s.command(line)).final == b"ERROR", line
        # nobody there: OK, then the failure
        await ok(s, 'AT+BTA2DPCONN=0,"24:0a:c4:00:00:01"')
        await s.expect(b"+BTA2DPCONN:0,-1\r\n", timeout=60)
        await ok(s, "AT+BTA2DPINIT=0")
        assert b"+BTA2DPINIT:0\r\n" in await ok(s, "AT+BTA2DPINIT?")
        # no Classic Bluetooth on an ESP32-C3
        assert (await c3.host.command("AT+BTA2DPINIT=1")).final == b"ERROR"
