"""SoftAP: one module's access point, other modules joining it over the world's air."""

from __future__ import annotations

import re

from esp_at_sim import Module, World
from esp_at_sim.services.netif import NetIf

from .support import quiet

MAC = rb"([0-9a-f]{2}(?::[0-9a-f]{2}){5})"


async def test_softap_defaults_and_configuration() -> None:
    async with Module.start("esp32c3") as m:
        await quiet(m, syslog=True)
        h = m.host
        assert (await h.command("AT+CWSAP?")).final == b"ERROR"  # station-only mode
        await h.command("AT+CWMODE=2")
        ap_mac = (await h.command("AT+CIPAPMAC?")).lines[0].split(b'"')[1].replace(b":", b"")
        tail = ap_mac[-6:].upper()
        assert (await h.command("AT+CWSAP?")).lines == [b'+CWSAP:"ESP_' + tail + b'","",1,0,10,0']
        assert (await h.command("AT+CIPAP?")).lines == [
            b'+CIPAP:ip:"192.168.4.1"',
            b'+CIPAP:gateway:"192.168.4.1"',
            b'+CIPAP:netmask:"255.255.255.0"',
        ]
        assert (await h.command("AT+CWDHCPS?")).lines == [b"+CWDHCPS:120,192.168.4.2,192.168.4.101"]
        assert m.service(NetIf).interfaces["ap"].ip == "192.168.4.1"
        assert (await h.command('AT+CWSAP="ESP","1234567890",5,3')).ok
        assert (await h.command("AT+CWSAP?")).lines == [b'+CWSAP:"ESP","1234567890",5,3,10,0']
        bad = {
            'AT+CWSAP="ESP","1234567",5,3': b"0x01070001",  # WPA password under 8
            'AT+CWSAP="ESP","1234567890",5,1': b"0x01070003",  # WEP is not supported
            'AT+CWSAP="ESP","1234567890",14,3': b"0x01070002",  # outside the country's channels
            'AT+CWSAP="ESP","1234567890",5,3,11': b"0x01070004",  # more than the C3 allows
            'AT+CWSAP="","1234567890",5,3': b"0x01040000",
        }
        for line, code in bad.items():
            reply = await h.command(line)
            assert reply.final == b"ERROR" and code in reply.raw, (line, reply.raw)
        assert (await h.command("AT+CWSAP?")).lines == [b'+CWSAP:"ESP","1234567890",5,3,10,0']
        assert (await h.command('AT+CWDHCPS=1,3,"192.168.4.10","192.168.4.15"')).ok
        assert (await h.command("AT+CWDHCPS?")).lines == [b"+CWDHCPS:3,192.168.4.10,192.168.4.15"]
        assert (await h.command('AT+CWDHCPS=1,3,"192.168.5.10","192.168.5.15"')).final == b"ERROR"
        assert (await h.command('AT+CWDHCPS=1,3,"192.168.4.1","192.168.4.15"')).final == b"ERROR"
        assert (await h.command("AT+CWDHCPS=0")).ok
        assert (await h.command("AT+CWDHCPS?")).lines == [b"+CWDHCPS:120,192.168.4.2,192.168.4.101"]
        assert (await h.command('AT+CIPAP="192.168.5.1","192.168.5.1","255.255.255.0"')).ok
        assert (await h.command("AT+CWDHCPS?")).lines == [b"+CWDHCPS:120,192.168.5.2,192.168.5.101"]


async def test_two_modules_join_a_softap_and_leave() -> None:
    world = World(seed="softap")
    async with (
        Module.start("esp32c3", world=world, name="ap") as ap,
        Module.start("esp32", world=world, name="sta1") as s1,
        Module.start("esp32c6", world=world, name="sta2") as s2,
    ):
        for m in (ap, s1, s2):
            await quiet(m)
        await ap.host.command("AT+CWMODE=2")
        assert (await ap.host.command('AT+CWSAP="lab","labpass12",11,3,2')).ok
        # the others see it in their scans, with the SoftAP MAC as BSSID
        ap_mac = (await ap.host.command("AT+CIPAPMAC?")).lines[0].split(b'"')[1]
        scan = await s1.host.command("AT+CWLAP")
        assert any(b'"lab"' in ln and ap_mac in ln and b",11," in ln for ln in scan.lines), scan.raw
        macs = {}
        for m in (s1, s2):
            macs[m.name] = (await m.host.command("AT+CIPSTAMAC?")).lines[0].split(b'"')[1]
            reply = await m.host.command('AT+CWJAP="lab","labpass12"', timeout=30)
            assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
            joined = await ap.host.read_until(re.compile(rb'\+DIST_STA_IP:"' + MAC + rb'","([0-9.]+)"\r\n'))
            assert b'+STA_CONNECTED:"' + macs[m.name] + b'"\r\n' in joined
            assert macs[m.name] + b'","192.168.4.' in joined
        ips = {m.name: m.service(NetIf).interfaces["sta"].ip for m in (s1, s2)}
        assert ips == {"sta1": "192.168.4.2", "sta2": "192.168.4.3"}
        lif = await ap.host.command("AT+CWLIF")
        assert lif.lines == [
            b"+CWLIF:192.168.4.2," + macs["sta1"],
            b"+CWLIF:192.168.4.3," + macs["sta2"],
        ]
        # the SoftAP takes two stations: a third is refused
        async with Module.start("esp32c3", world=world, name="sta3") as s3:
            await quiet(s3)
            reply = await s3.host.command('AT+CWJAP="lab","labpass12"', timeout=30)
            assert reply.lines == [b"+CWJAP:4"]
        # a station leaves; the SoftAP says so
        await s1.host.send("AT+CWQAP")
        await s1.host.expect(b"\r\nOK\r\nWIFI DISCONNECT\r\n")
        await ap.host.expect(b'+STA_DISCONNECTED:"' + macs["sta1"] + b'"\r\n')
        assert (await ap.host.command("AT+CWLIF")).lines == [b"+CWLIF:192.168.4.3," + macs["sta2"]]
        # AT+CWQIF kicks the other one; it reconnects (CWJAP set reconnection to 1 s) and keeps its address
        assert (await ap.host.command("AT+CWQIF")).ok
        await ap.host.expect(b'+STA_DISCONNECTED:"' + macs["sta2"] + b'"\r\n')
        await s2.host.expect(b"WIFI DISCONNECT\r\n")
        await s2.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        await ap.host.expect(b'+STA_CONNECTED:"' + macs["sta2"] + b'"\r\n', timeout=10)
        await ap.host.expect(b'+DIST_STA_IP:"' + macs["sta2"] + b'","192.168.4.3"\r\n')
        assert s2.service(NetIf).interfaces["sta"].ip == "192.168.4.3"
        assert (await ap.host.command('AT+CWQIF="00:11:22:33:44:55"')).final == b"ERROR"


async def test_softap_going_away_is_noticed_by_its_stations() -> None:
    world = World(seed="softap-off")
    async with (
        Module.start("esp32c3", world=world, name="ap") as ap,
        Module.start("esp32c3", world=world, name="sta") as sta,
    ):
        await quiet(ap)
        await quiet(sta)
        await ap.host.command("AT+CWMODE=3")
        await ap.host.command('AT+CWSAP="desk","deskpass",1,4')
        reply = await sta.host.command('AT+CWJAP="desk","deskpass"', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        await ap.host.read_until(b"+DIST_STA_IP:")
        await ap.host.read_until(b"\r\n")
        # switching the SoftAP off deauthenticates the stations at once
        assert (await ap.host.command("AT+CWMODE=1")).ok
        await sta.host.expect(b"WIFI DISCONNECT\r\n")
        assert "sta" not in sta.service(NetIf).interfaces
        # it comes back: the station's reconnection (1 s) finds it again
        await ap.host.command("AT+CWMODE=3")
        await sta.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        # a reset of the SoftAP's module: same, and its boot brings the SoftAP back
        await ap.host.send("AT+RST")
        await ap.host.read_until(b"ready\r\n", timeout=10)
        await sta.host.expect(b"WIFI DISCONNECT\r\n", timeout=10)
        await sta.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        await ap.host.read_until(b"+DIST_STA_IP:", timeout=10)


async def test_softap_follows_the_station_channel() -> None:
    world = World(seed="channels")
    from esp_at_sim.world.wifi import AccessPointSpec, WifiAir
    from esp_at_sim.world.wifi_radio import Security

    air = world.extension(WifiAir)
    air.add(AccessPointSpec(ssid=b"router", password=b"routerpw", security=Security.WPA2, channel=9, rssi=-50))
    async with Module.start("esp32c3", world=world, name="ap") as m:
        await quiet(m)
        await m.host.command("AT+CWMODE=3")
        await m.host.command('AT+CWSAP="repeater","",2,0')
        softap = next(a for a in air.aps if a.ssid == b"repeater")
        assert softap.channel == 2
        await m.host.command('AT+CWJAP="router","routerpw"')
        assert softap.channel == 9


async def test_two_networks_on_one_subnet_do_not_hand_out_the_same_address() -> None:
    from .support import world_with

    world = world_with(
        {"ssid": "a", "channel": 1, "rssi": -40, "subnet": "192.168.1.0/24"},
        {"ssid": "b", "channel": 6, "rssi": -40, "subnet": "192.168.1.0/24"},
    )
    async with (
        Module.start("esp32c3", world=world, name="m1") as m1,
        Module.start("esp32c3", world=world, name="m2") as m2,
    ):
        await quiet(m1)
        await quiet(m2)
        assert (await m1.host.command('AT+CWJAP="a",""')).ok
        assert (await m2.host.command('AT+CWJAP="b",""')).ok
        ip1 = m1.service(NetIf).interfaces["sta"].ip
        ip2 = m2.service(NetIf).interfaces["sta"].ip
        assert ip1 != ip2 and ip1.startswith("192.168.1.") and ip2.startswith("192.168.1.")
