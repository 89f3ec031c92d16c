"""Links over a module's own SoftAP, end to end through the radio world: a station
module joins the SoftAP with AT+CWJAP, gets its DHCP lease and opens TCP and UDP
links to the SoftAP module's 192.168.4.1; when the SoftAP goes away the station's
links close with CLOSED and the server side sees them go."""

from __future__ import annotations

import asyncio

from tests.wifi.support import quiet

from esp_at_sim import Module, World


async def test_station_reaches_the_softap_module_and_loses_it() -> None:
    world = World(seed="softap-links")
    async with (
        Module.start("esp32c3", world=world, name="ap", port_map=((333, 0),)) as ap,
        Module.start("esp32", world=world, name="sta") as sta,
    ):
        for m in (ap, sta):
            await quiet(m)
        for line in ("AT+CWMODE=2", 'AT+CWSAP="bench","benchpass",6,3', "AT+CIPMUX=1", "AT+CIPSERVER=1,333"):
            assert (await ap.host.command(line)).ok, line
        assert (await sta.host.command('AT+CWJAP="bench","benchpass"', timeout=30)).lines == [
            b"WIFI CONNECTED",
            b"WIFI GOT IP",
        ]
        await ap.host.read_until(b'","192.168.4.2"\r\n')  # +DIST_STA_IP
        assert (await sta.host.command("AT+CIPMUX=1")).ok
        # TCP to the SoftAP's own address
        r = await sta.host.command('AT+CIPSTART=0,"TCP","192.168.4.1",333')
        assert r.lines == [b"0,CONNECT"] and r.final == b"OK"
        await ap.host.expect(b"0,CONNECT\r\n")
        state = await ap.host.command("AT+CIPSTATE?")
        assert state.lines[0].startswith(b'+CIPSTATE:0,"TCP","192.168.4.2",') and state.lines[0].endswith(b",333,1")
        await sta.host.send("AT+CIPSEND=0,5")
        await sta.host.read_until(b">")
        await sta.host.write(b"hello")
        await sta.host.read_until(b"SEND OK\r\n")
        await ap.host.expect(b"\r\n+IPD,0,5:hello")
        await ap.host.send("AT+CIPSEND=0,3")
        await ap.host.read_until(b">")
        await ap.host.write(b"hi!")
        await ap.host.read_until(b"SEND OK\r\n")
        await sta.host.expect(b"\r\n+IPD,0,3:hi!")
        # UDP from the station to a UDP link the SoftAP module opened on port 5000
        r = await ap.host.command('AT+CIPSTART=1,"UDP","192.168.4.2",6000,5000,2')
        assert r.final == b"OK", r.raw
        r = await sta.host.command('AT+CIPSTART=1,"UDP","192.168.4.1",5000,6000,0')
        assert r.final == b"OK", r.raw
        await sta.host.send("AT+CIPSEND=1,4")
        await sta.host.read_until(b">")
        await sta.host.write(b"ping")
        await sta.host.read_until(b"SEND OK\r\n")
        await ap.host.expect(b"\r\n+IPD,1,4:ping")
        # the SoftAP goes away: the station loses Wi-Fi and its links
        assert (await ap.host.command("AT+CWMODE=1")).ok
        got = await sta.host.read_until(b"1,CLOSED\r\n", timeout=10)
        assert b"WIFI DISCONNECT\r\n" in got and b"0,CLOSED\r\n" in got
        await ap.host.read_until(b"0,CLOSED\r\n", timeout=10)
        await asyncio.sleep(0.5)
        assert (await sta.host.command("AT+CIPSTATE?")).lines == []
        r = await sta.host.command('AT+CIPSTART=0,"TCP","192.168.4.1",333')
        assert r.final == b"ERROR"  # no IP any more
