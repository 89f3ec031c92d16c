"""Ethernet on the ESP32: the wired LAN of the scenario, DHCP, static addresses, cable faults."""

from __future__ import annotations

import asyncio

from esp_at_sim import Module
from esp_at_sim.services.netif import NetIf
from esp_at_sim.world.faults import inject
from esp_at_sim.world.scenario import parse_scenario
from host_setup import quiet

LAN = {"ethernet": {"subnet": "192.168.105.0/24"}}


async def test_dhcp_at_boot_and_query() -> None:
    world = parse_scenario(LAN).build_world()
    async with Module.start("esp32", world=world) as m:
        h = m.host
        await h.expect(b"+ETH_CONNECTED\r\n", timeout=10)
        await h.expect(b"+ETH_GOT_IP:192.168.105.100\r\n", timeout=10)
        await quiet(m, syslog=True)
        await h.send("AT+CIPETH?")
        await h.expect(
            b'+CIPETH:ip:"192.168.105.100"\r\n+CIPETH:gateway:"192.168.105.1"\r\n'
            b'+CIPETH:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
        )
        assert m.service(NetIf).address("eth") == "192.168.105.100"
        r = await h.command("AT+CIPETHMAC?")
        assert r.lines[0].startswith(b'+CIPETHMAC:"24:0a:c4:')


async def test_static_ip_mac_and_cable_faults() -> None:
    world = parse_scenario(LAN).build_world()
    async with Module.start("esp32", world=world) as m:
        h = m.host
        await h.read_until(b"+ETH_GOT_IP:", timeout=10)
        await h.read_until(b"\r\n")
        await quiet(m, syslog=True)
        await h.send('AT+CIPETH="192.168.105.50","192.168.105.1","255.255.255.0"')
        await h.expect(b"+ETH_GOT_IP:192.168.105.50\r\n\r\nOK\r\n")
        await h.send("AT+CWDHCP?")
        reply = await h.read_until(b"OK\r\n")
        assert b"+CWDHCP:3" in reply  # Ethernet DHCP (bit 2) is off now
        await h.send('AT+CIPETHMAC="1a:fe:35:98:d4:7b"')
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+CIPETHMAC?")
        await h.expect(b'+CIPETHMAC:"1a:fe:35:98:d4:7b"\r\n\r\nOK\r\n')
        for bad in ('"15:fe:35:98:d4:7b"', '"ff:ff:ff:ff:ff:ff"', '"00:00:00:00:00:00"', '"1a:fe:35"'):
            r = await h.command(f"AT+CIPETHMAC={bad}")
            assert r.final == b"ERROR", bad
        for bad in ('"300.1.1.1"', '"192.168.105.5","192.168.105.1"'):
            r = await h.command(f"AT+CIPETH={bad}")
            assert r.final == b"ERROR", bad
        await inject(world, "eth_unplug", module="esp0")
        await h.expect(b"+ETH_DISCONNECTED\r\n")
        assert m.service(NetIf).address("eth") is None
        await inject(world, "eth_plug", module="esp0")
        await h.expect(b"+ETH_CONNECTED\r\n+ETH_GOT_IP:192.168.105.50\r\n", timeout=10)


async def test_a_link_between_two_modules_over_the_wire() -> None:
    world = parse_scenario(LAN).build_world()
    async with Module.start("esp32", world=world) as a, Module.start("esp32", world=world, name="esp1") as b:
        for m in (a, b):
            await m.host.read_until(b"+ETH_GOT_IP:", timeout=10)
            await m.host.read_until(b"\r\n")
            await quiet(m, syslog=True)
        ip_a = a.service(NetIf).address("eth")
        assert ip_a is not None and ip_a != b.service(NetIf).address("eth")
        for cmd in ("AT+CIPMUX=1", "AT+CIPSERVER=1,8081"):
            r = await a.host.command(cmd)
            assert r.ok, r
        r = await b.host.command(f'AT+CIPSTART="TCP","{ip_a}",8081')
        assert r.ok, r
        await a.host.read_until(b"0,CONNECT\r\n")
        await b.host.send("AT+CIPSEND=4")
        await b.host.read_until(b">")
        await b.host.write(b"test")
        await b.host.read_until(b"SEND OK\r\n")
        await a.host.read_until(b"+IPD,0,4:test", timeout=5)


async def test_no_ethernet_elsewhere_and_factplcp() -> None:
    async with Module.start("esp32c3") as m:
        await quiet(m, syslog=True)
        r = await m.host.command("AT+CIPETH?")
        assert r.final == b"ERROR"
        r = await m.host.command("AT+FACTPLCP=1,1")
        assert r.ok
        r = await m.host.command("AT+FACTPLCP=1,2")
        assert r.final == b"ERROR"
    # an ESP32 with no cable in the world: no Ethernet messages at boot
    async with Module.start("esp32") as m:
        await m.host.expect_silence(3.0)
        r = await m.host.command("AT+CIPETH?")
        assert b'+CIPETH:ip:"0.0.0.0"' in r.raw
        await asyncio.sleep(0)
