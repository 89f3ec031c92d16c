"""The station as a host driver meets it: mode, scan, join, leave, status."""

from __future__ import annotations

import asyncio
import re

from esp_at_sim import Module
from esp_at_sim.services.netif import NetIf
from esp_at_sim.world.wifi import WifiAir
from sysram import free_heap

from .support import default_world, join, quiet, world_with

CWLAP_LINE = re.compile(rb'\+CWLAP:\((\d+),"([^"]*)",(-?\d+),"([0-9a-f:]{17})",(\d+),-1,-1,(\d),(\d),(\d+),(\d)\)')


async def test_mode_query_and_set() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        h = m.host
        assert (await h.command("AT+CWMODE?")).raw == b"AT+CWMODE?\r\n+CWMODE:1\r\n\r\nOK\r\n"
        assert (await h.command("AT+CWMODE=3")).raw == b"AT+CWMODE=3\r\n\r\nOK\r\n"
        assert (await h.command("AT+CWMODE?")).raw.endswith(b"+CWMODE:3\r\n\r\nOK\r\n")
        assert (await h.command("AT+CWMODE=4")).final == b"ERROR"
        assert (await h.command("AT+CWMODE=1,2")).final == b"ERROR"
        assert (await h.command("AT+CWMODE?")).raw.endswith(b"+CWMODE:3\r\n\r\nOK\r\n")
        assert m.settings.get("wifi", "mode") == 3


async def test_scan_lists_the_world_in_channel_order() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        t0 = m.clock.now()
        reply = await m.host.command("AT+CWLAP")
        took = m.clock.now() - t0
        rows = [CWLAP_LINE.fullmatch(ln) for ln in reply.lines]
        assert all(rows), reply.raw
        ssids = [r.group(2) for r in rows if r]
        # hidden and 5 GHz networks are not listed; channels ascend
        assert ssids == [b"esp-at-sim-open", b"esp-at-sim", b"esp-at-sim-wpa3"]
        first = rows[1]
        assert first is not None
        assert first.groups() == (b"3", b"esp-at-sim", b"-55", b"aa:bb:cc:00:00:01", b"6", b"4", b"4", b"7", b"1")
        # 13 channels at 120 ms each, as the firmware's default active scan
        assert 1.5 <= took < 1.7


async def test_scan_by_ssid_reveals_a_hidden_network_and_the_c5_sees_5ghz() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        reply = await m.host.command('AT+CWLAP="esp-at-sim-hidden"')
        assert len(reply.lines) == 1 and b'"esp-at-sim-hidden"' in reply.lines[0]
        assert (await m.host.command('AT+CWLAP="esp-at-sim-5g"')).lines == []
    async with Module.start("esp32c5", world=default_world()) as c5:
        await quiet(c5)
        reply = await c5.host.command("AT+CWLAP")
        assert any(b'"esp-at-sim-5g"' in ln and b",36," in ln for ln in reply.lines)
        await c5.host.command("AT+CWBANDMODE=1")
        reply = await c5.host.command("AT+CWLAP")
        assert not any(b"esp-at-sim-5g" in ln for ln in reply.lines)


async def test_lapopt_mask_sort_rssi_and_authmode_filters() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CWLAPOPT=1,23")).ok
        reply = await h.command("AT+CWLAP")
        assert reply.lines == [
            b'+CWLAP:(3,"esp-at-sim",-55,6)',
            b'+CWLAP:(6,"esp-at-sim-wpa3",-61,11)',
            b'+CWLAP:(0,"esp-at-sim-open",-67,1)',
        ]
        assert (await h.command("AT+CWLAPOPT=0,6,-60")).ok
        assert (await h.command("AT+CWLAP")).lines == [b'+CWLAP:("esp-at-sim",-55)']
        assert (await h.command("AT+CWLAPOPT=0,2,-100,1")).ok  # OPEN networks only
        assert (await h.command("AT+CWLAP")).lines == [b'+CWLAP:("esp-at-sim-open")']
        assert (await h.command("AT+CWLAPOPT=0,2048")).final == b"ERROR"


async def test_scan_of_one_channel_or_bssid() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        h = m.host
        t0 = m.clock.now()
        reply = await h.command("AT+CWLAP=,,6")
        assert m.clock.now() - t0 < 0.2
        assert len(reply.lines) == 1 and b'"esp-at-sim"' in reply.lines[0]
        reply = await h.command('AT+CWLAP=,"aa:bb:cc:00:00:01"')
        assert len(reply.lines) == 1
        assert (await h.command('AT+CWLAP=,"zz"')).final == b"ERROR"
        assert (await h.command("AT+CWLAP=,,14")).final == b"ERROR"  # outside the CN channels 1-13


async def test_join_prints_the_firmware_sequence_and_brings_the_interface_up() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        h = m.host
        netif = m.service(NetIf)
        changes: list[tuple[str, object]] = []
        netif.listen(lambda iface, cfg: changes.append((iface, cfg)))
        t0 = m.clock.now()
        raw = await join(m)
        took = m.clock.now() - t0
        assert raw == b'AT+CWJAP="esp-at-sim","espressif"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n'
        assert 0.3 < took < 3.0  # scan to channel 6 + auth + handshake + DHCP
        cfg = netif.interfaces["sta"]
        assert cfg.ip.startswith("192.168.1.") and cfg.gateway == "192.168.1.1"
        assert changes and changes[-1][0] == "sta"
        reply = await h.command("AT+CWJAP?")
        assert reply.raw.endswith(b'+CWJAP:"esp-at-sim","aa:bb:cc:00:00:01",6,-55,0,1,3,0,1\r\n\r\nOK\r\n')
        assert (await h.command("AT+CWSTATE?")).raw.endswith(b'+CWSTATE:2,"esp-at-sim"\r\n\r\nOK\r\n')
        reply = await h.command("AT+CIPSTA?")
        assert f'+CIPSTA:ip:"{cfg.ip}"'.encode() in reply.raw
        assert b'+CIPSTA:gateway:"192.168.1.1"\r\n+CIPSTA:netmask:"255.255.255.0"' in reply.raw
        # the AP's DHCP server recorded the lease with the station's host name
        ap = m.world.extension(WifiAir).find("esp-at-sim")[0]
        assert ap.dhcp is not None
        lease = next(iter(ap.dhcp.leases.values()))
        assert lease.ip == cfg.ip and lease.hostname == "espressif"


async def test_join_failures_carry_the_firmware_codes() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m, syslog=True)
        h = m.host
        t0 = m.clock.now()
        reply = await h.command('AT+CWJAP="esp-at-sim","wrongpass"', timeout=30)
        assert reply.raw == b"+CWJAP:2\r\nERR CODE:0x01010000\r\n\r\nERROR\r\n"
        assert 3.0 < m.clock.now() - t0 < 6.0  # the AP retries M1 before giving up
        reply = await h.command('AT+CWJAP="nowhere","12345678"', timeout=30)
        assert reply.raw.startswith(b"+CWJAP:3\r\n")
        reply = await h.command('AT+CWJAP="esp-at-sim-wpa3","not-the-password"', timeout=30)
        assert reply.raw.startswith(b"+CWJAP:2\r\n")
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:4,"esp-at-sim-wpa3"']
        assert "sta" not in m.service(NetIf).interfaces
        assert any("wifi disconnected, rc:15" in ln for ln in m.log_lines)
        assert any("wifi disconnected, rc:201" in ln for ln in m.log_lines)


async def test_wpa3_joins_with_sae_and_refuses_a_station_without_pmf() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        h = m.host
        reply = await h.command('AT+CWJAP="esp-at-sim-wpa3","dragonfly-secret",,,,,,,0', timeout=30)
        assert reply.lines == [b"+CWJAP:3"]  # no AP with security this station can use
        assert any("rc:210" in ln for ln in m.log_lines)
        reply = await h.command('AT+CWJAP="esp-at-sim-wpa3","dragonfly-secret"', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        # PMF required refuses an AP that does not offer it
        reply = await h.command('AT+CWJAP="esp-at-sim","espressif",,,,,,,3', timeout=30)
        assert reply.lines == [b"WIFI DISCONNECT", b"+CWJAP:3"]


async def test_busy_while_joining_and_timeout() -> None:
    world = world_with({"ssid": "slow", "password": "12345678", "channel": 13, "rssi": -70})
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m, syslog=True)
        h = m.host
        await h.send('AT+CWJAP="slow","12345678",,,,,1,3')
        await asyncio.sleep(0.01)
        await h.send("AT")
        await h.expect(b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n")
        reply = await h.read_reply(timeout=20)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        # a DHCP server that does not answer: the join times out after jap_timeout
        world.extension(WifiAir).dhcp_responding(False, "slow")
        t0 = m.clock.now()
        reply = await h.command('AT+CWJAP="slow","12345678",,,,,,5', timeout=30)
        assert reply.lines == [b"WIFI DISCONNECT", b"WIFI CONNECTED", b"+CWJAP:1", b"ERR CODE:0x01010000"]
        assert 4.9 < m.clock.now() - t0 < 5.2
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:1,"slow"']
        # the DHCP client keeps trying: the address comes when the server is back
        world.extension(WifiAir).dhcp_responding(True, "slow")
        await h.expect(b"WIFI GOT IP\r\n", timeout=120)


async def test_fast_scan_takes_the_first_all_channel_scan_the_strongest() -> None:
    world = world_with(
        {"ssid": "twin", "password": "12345678", "channel": 1, "rssi": -80, "bssid": "02:00:00:00:00:01"},
        {"ssid": "twin", "password": "12345678", "channel": 11, "rssi": -40, "bssid": "02:00:00:00:00:02"},
    )
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        await join(m, "twin", "12345678")
        assert b'"02:00:00:00:00:01",1,-80' in (await h.command("AT+CWJAP?")).raw
        await h.command('AT+CWJAP="twin","12345678",,,,,1')
        assert b'"02:00:00:00:00:02",11,-40' in (await h.command("AT+CWJAP?")).raw
        await h.command('AT+CWJAP="twin","12345678","02:00:00:00:00:01",,,,1')
        assert b'"02:00:00:00:00:01",1,-80' in (await h.command("AT+CWJAP?")).raw


async def test_quit_answers_ok_then_reports_the_disconnection() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        await join(m)
        await m.host.send("AT+CWQAP")
        await m.host.expect(b"\r\nOK\r\nWIFI DISCONNECT\r\n")
        assert "sta" not in m.service(NetIf).interfaces
        assert (await m.host.command("AT+CWJAP?")).raw == b"No AP\r\n\r\nOK\r\n"
        assert (await m.host.command("AT+CWSTATE?")).lines == [b'+CWSTATE:4,"esp-at-sim"']
        await m.host.expect_silence(3.0)  # no reconnection after AT+CWQAP


async def test_bad_input_leaves_the_state_unchanged() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m, syslog=True)
        h = m.host
        await join(m)
        before = m.settings.get("wifi", "sta")
        cases = {
            'AT+CWJAP="' + "x" * 33 + '","espressif"': b"ERR CODE:0x01040000",  # 33-byte SSID
            'AT+CWJAP="esp-at-sim","1234567"': b"ERR CODE:0x01070001",  # 7-character WPA password
            'AT+CWJAP="esp-at-sim","' + "p" * 65 + '"': b"ERR CODE:0x01040001",
            'AT+CWJAP="esp-at-sim","espressif","11:22"': b"ERR CODE:0x01070002",
            'AT+CWJAP="esp-at-sim","espressif",,,7201': b"ERR CODE:0x01070004",
            "AT+CWJAP=esp-at-sim": b"ERR CODE:0x01050000",
            'AT+CWJAP="unterminated': b"ERR CODE:0x01080000",
        }
        for line, code in cases.items():
            reply = await h.command(line)
            assert reply.final == b"ERROR" and code in reply.raw, (line, reply.raw)
        assert m.settings.get("wifi", "sta") == before
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:2,"esp-at-sim"']
        # station-only commands in SoftAP-only mode
        await h.command("AT+CWMODE=2")
        for line in ('AT+CWJAP="esp-at-sim","espressif"', "AT+CWJAP", "AT+CWLAP", "AT+CWJAP?"):
            assert (await h.command(line)).final == b"ERROR", line
        assert m.settings.get("wifi", "sta") == before


async def test_escaped_and_non_utf8_ssids() -> None:
    world = world_with(
        {"ssid": 'ab,c"d\\e', "password": 'p,a"ss\\wd', "channel": 2, "rssi": -50},
    )
    air = world.extension(WifiAir)
    from esp_at_sim.world.wifi import AccessPointSpec

    air.add(AccessPointSpec(ssid=b"caf\xe9-\xff", security=air.aps[0].security.OPEN, channel=9, rssi=-60))
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        reply = await h.command('AT+CWJAP="ab\\,c\\"d\\\\e","p\\,a\\"ss\\\\wd"')
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        reply = await h.command(b'AT+CWLAP="caf\xe9-\xff"')
        assert reply.lines[0].startswith(b'+CWLAP:(0,"caf\xe9-\xff",-60,')
        reply = await h.command(b'AT+CWJAP="caf\xe9-\xff",""')
        assert reply.lines == [b"WIFI DISCONNECT", b"WIFI CONNECTED", b"WIFI GOT IP"]
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:2,"caf\xe9-\xff"']


async def test_country_limits_scan_and_join() -> None:
    world = world_with({"ssid": "ch13", "channel": 13, "rssi": -50})
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CWCOUNTRY?")).lines == [b'+CWCOUNTRY:1,"CN",1,13']
        assert (await h.command('AT+CWCOUNTRY=1,"US",1,11')).ok
        assert (await h.command("AT+CWLAP")).lines == []
        assert (await h.command('AT+CWJAP="ch13",""')).lines == [b"+CWJAP:3"]
        assert (await h.command('AT+CWCOUNTRY=0,"JP",1,14')).ok
        assert (await h.command('AT+CWJAP="ch13",""')).lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        assert (await h.command('AT+CWCOUNTRY=1,"XX",5,11')).final == b"ERROR"
        assert (await h.command("AT+CWCOUNTRY?")).lines == [b'+CWCOUNTRY:0,"JP",1,14']


async def test_static_ip_and_dhcp_switch() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CWDHCP?")).lines == [b"+CWDHCP:3"]
        assert (await h.command('AT+CIPSTA="192.168.1.77","192.168.1.1","255.255.255.0"')).ok
        assert (await h.command("AT+CWDHCP?")).lines == [b"+CWDHCP:2"]
        await join(m)
        assert m.service(NetIf).interfaces["sta"].ip == "192.168.1.77"
        assert (await h.command("AT+CWDHCP=1,1")).ok
        assert m.settings.get("wifi", "sta_ip") is None
        assert (await h.command('AT+CIPSTA="1.2.3"')).final == b"ERROR"
        assert (await h.command('AT+CIPSTA="192.168.1.5","192.168.1.1"')).final == b"ERROR"


async def test_hostname_config_and_reconnect_settings() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CWHOSTNAME?")).lines == [b"+CWHOSTNAME:espressif"]
        assert (await h.command('AT+CWHOSTNAME="my_test"')).ok
        assert (await h.command('AT+CWHOSTNAME="' + "h" * 33 + '"')).final == b"ERROR"
        await join(m)
        ap = m.world.extension(WifiAir).find("esp-at-sim")[0]
        assert ap.dhcp is not None and next(iter(ap.dhcp.leases.values())).hostname == "my_test"
        assert (await h.command("AT+CWRECONNCFG?")).lines == [b"+CWRECONNCFG:1,0"]  # CWJAP's default
        assert (await h.command("AT+CWRECONNCFG=5,100")).ok
        assert (await h.command("AT+CWRECONNCFG?")).lines == [b"+CWRECONNCFG:5,100"]
        assert (await h.command("AT+CWRECONNCFG=7201,1")).final == b"ERROR"
        assert (await h.command("AT+CWCONFIG?")).lines == [b"+CWCONFIG:300,6,3"]
        assert (await h.command("AT+CWCONFIG=,10")).ok
        assert (await h.command("AT+CWCONFIG?")).lines == [b"+CWCONFIG:300,10,3"]
        assert (await h.command("AT+CWCONFIG=9")).final == b"ERROR"
        assert (await h.command("AT+CWAUTOCONN?")).lines == [b"+CWAUTOCONN:1"]
        assert (await h.command("AT+CWBANDWIDTH?")).lines == [b"+CWBANDWIDTH:0,2,0"]
        assert (await h.command("AT+CWSTAPROTO?")).lines == [b"+CWSTAPROTO:7"]
        assert (await h.command("AT+CWSTAPROTO=32")).final == b"ERROR"
        assert (await h.command("AT+CWSTAPROTO=3")).ok
        assert (await h.command("AT+CWSTAPROTO?")).lines == [b"+CWSTAPROTO:3"]


async def test_mac_addresses_follow_the_chip() -> None:
    async with Module.start("esp32c3", world=default_world(), name="macs") as m:
        await quiet(m)
        h = m.host
        sta = (await h.command("AT+CIPSTAMAC?")).lines[0]
        await h.command("AT+CWMODE=3")
        ap = (await h.command("AT+CIPAPMAC?")).lines[0]
        sta_mac = bytes.fromhex(sta.split(b'"')[1].decode().replace(":", ""))
        ap_mac = bytes.fromhex(ap.split(b'"')[1].decode().replace(":", ""))
        assert sta_mac[:3] == bytes(m.profile.mac_oui) and ap_mac[:5] == sta_mac[:5]
        assert ap_mac[5] == (sta_mac[5] + 1) & 0xFF
        assert (await h.command('AT+CIPSTAMAC="1a:fe:35:98:d3:7b"')).ok
        assert (await h.command("AT+CIPSTAMAC?")).lines == [b'+CIPSTAMAC:"1a:fe:35:98:d3:7b"']
        assert (await h.command('AT+CIPSTAMAC="15:fe:35:98:d3:7b"')).final == b"ERROR"  # multicast bit
        assert (await h.command('AT+CIPSTAMAC="ff:ff:ff:ff:ff:ff"')).final == b"ERROR"
        assert (await h.command('AT+CIPAPMAC="1a:fe:35:98:d3:7b"')).final == b"ERROR"  # same as the station
    async with Module.start("esp8266", world=default_world(), name="macs") as m8:
        await quiet(m8)
        await m8.host.command("AT+CWMODE=3")
        sta = (await m8.host.command("AT+CIPSTAMAC?")).lines[0].split(b'"')[1]
        ap = (await m8.host.command("AT+CIPAPMAC?")).lines[0].split(b'"')[1]
        assert sta.startswith(b"5c:cf:7f") and ap.startswith(b"5e:cf:7f") and sta[8:] == ap[8:]


async def test_wep_key_is_checked_by_the_traffic() -> None:
    world = world_with({"ssid": "old-router", "security": "wep", "password": "abcde", "channel": 2, "rssi": -50})
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        assert b'+CWLAP:(1,"old-router",-50,' in (await h.command("AT+CWLAP")).raw
        # a wrong key associates, but nothing it sends decrypts: no address, a timeout
        reply = await h.command('AT+CWJAP="old-router","edcba",,,,,,3', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"+CWJAP:1"]
        reply = await h.command('AT+CWJAP="old-router","abcde"', timeout=30)
        assert reply.lines == [b"WIFI DISCONNECT", b"WIFI CONNECTED", b"WIFI GOT IP"]


async def test_cwinit_releases_the_driver_memory() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        h = m.host
        await join(m)
        free = await free_heap(h)
        assert (await h.command("AT+CWINIT=0")).lines == [b"WIFI DISCONNECT"]
        assert "sta" not in m.service(NetIf).interfaces
        freed = await free_heap(h)
        assert freed - free > 40_000
        for line in ("AT+CWMODE?", "AT+CWJAP?", "AT+CWLAP"):
            assert (await h.command(line)).final == b"ERROR"
        assert (await h.command("AT+CWINIT=1")).ok
        assert await free_heap(h) == free
        # deinitialised at a reset: the next boot has the driver (and its memory) again
        assert (await h.command("AT+CWINIT=0")).ok
        await h.send("AT+RST")
        await h.read_until(b"ready\r\n", timeout=10)
        assert m.heap.baseline == m.profile.heap_free_at_boot


async def test_position_model_and_jitter() -> None:
    world = world_with(
        {"ssid": "near", "channel": 1, "position": [3.0, 4.0], "tx_power": 20},
        {"ssid": "far", "channel": 6, "position": [300.0, 400.0], "tx_power": 20},
        {"ssid": "5g", "channel": 36, "position": [3.0, 4.0], "tx_power": 20},
        wifi={"positions": {"esp0": [0.0, 0.0], "other": [3.0, 4.0]}},
    )
    air = world.extension(WifiAir)
    near, far, five = air.aps
    # 5 m away: 20 dBm - (40 dB + 30 log10 5) = -41 dB, plus a fixed shadow of at most 3 dB
    assert -44 <= (air.rssi(near, "esp0") or 0) <= -38
    assert air.rssi(near, "other") == air.rssi(near, "other")  # reproducible
    assert -24 <= (air.rssi(near, "other") or 0) <= -17  # 1 m: the free-space loss alone
    assert air.rssi(far, "esp0") is None  # 500 m: below the -96 dBm sensitivity
    assert (air.rssi(five, "esp0") or 0) < (air.rssi(near, "esp0") or 0)  # 5 GHz loses more
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        lines = (await m.host.command("AT+CWLAP")).lines
        assert len(lines) == 1 and b'"near"' in lines[0]
        assert f",{air.rssi(near, 'esp0')},".encode() in lines[0]
    jittery = world_with({"ssid": "j", "channel": 1, "rssi": -60}, wifi={"rssi_jitter": 4})
    jair = jittery.extension(WifiAir)
    levels = {jair.scan("esp0", {1})[0].rssi for _ in range(30)}
    assert len(levels) > 3 and all(-64 <= lv <= -56 for lv in levels)


async def test_ipv6_addresses_after_cipv6() -> None:
    world = world_with(
        {"ssid": "v6", "password": "v6password", "channel": 1, "rssi": -40, "ipv6_prefix": "2001:db8:1::/64"}
    )
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CIPV6=1")).ok
        reply = await h.command('AT+CWJAP="v6","v6password"', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP", b"WIFI GOT IPv6 LL"]
        await h.expect(b"WIFI GOT IPv6 GL\r\n", timeout=5)
        mac = (await h.command("AT+CIPSTAMAC?")).lines[0].split(b'"')[1].decode().split(":")
        eui = f"{int(mac[0], 16) ^ 2:x}{mac[1]}:{mac[2]}ff:fe{mac[3]}:{mac[4]}{mac[5]}"
        lines = (await h.command("AT+CIPSTA?")).lines
        assert len(lines) == 5
        ll = lines[3].split(b'"')[1].decode()
        gl = lines[4].split(b'"')[1].decode()
        import ipaddress

        assert lines[3].startswith(b"+CIPSTA:ip6ll:") and ipaddress.ip_address(ll) in ipaddress.ip_network("fe80::/64")
        assert lines[4].startswith(b"+CIPSTA:ip6gl:") and ipaddress.ip_address(gl) in ipaddress.ip_network(
            "2001:db8:1::/64"
        )
        assert ipaddress.ip_address(ll).exploded.endswith(ipaddress.ip_address("::" + eui).exploded[-19:])
        assert b"STAIP6LL" in (await h.command("AT+CIFSR")).raw
        await h.send("AT+CWQAP")
        await h.read_until(b"WIFI DISCONNECT\r\n")
        assert len((await h.command("AT+CIPSTA?")).lines) == 3


async def test_authmode_threshold() -> None:
    async with Module.start("esp32c3", world=default_world()) as m:
        await quiet(m)
        h = m.host
        # an open network is below a WPA2 threshold: "no AP" (reason 211)
        assert (await h.command('AT+CWJAP="esp-at-sim-open","",,3', timeout=30)).lines == [b"+CWJAP:3"]
        assert any("rc:211" in ln for ln in m.log_lines)
        assert (await h.command('AT+CWJAP="esp-at-sim","espressif",,3', timeout=30)).ok
        # WPA3 threshold: the WPA2-only network no longer qualifies
        reply = await h.command('AT+CWJAP="esp-at-sim","espressif",,6', timeout=30)
        assert reply.lines == [b"WIFI DISCONNECT", b"+CWJAP:3"]
    # ESP-AT 2.x/3.x took <pci_en> there: 1 refuses open and WEP networks
    async with Module.start("esp32", world=default_world(), generation=3) as m3:
        await quiet(m3)
        assert (await m3.host.command('AT+CWJAP="esp-at-sim-open","",,1', timeout=30)).lines == [b"+CWJAP:3"]
        assert (await m3.host.command('AT+CWJAP="esp-at-sim-open","",,2')).final == b"ERROR"
        assert (await m3.host.command('AT+CWJAP="esp-at-sim-open","",,0', timeout=30)).ok
