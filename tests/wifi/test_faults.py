"""Faults of the air and how the module reacts: disconnection, reconnection, states."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from esp_at_sim import ConfigError, Module, World
from esp_at_sim.services.netif import NetIf
from esp_at_sim.world.faults import FAULTS, inject
from esp_at_sim.world.wifi import WifiAir

from .support import join, quiet, world_with

ROUTER = {"ssid": "home", "password": "homepass1", "channel": 4, "rssi": -50, "bssid": "02:aa:00:00:00:01"}


@contextlib.asynccontextmanager
async def joined_to_router() -> AsyncIterator[tuple[World, Module]]:
    """A module with echo off, joined to ROUTER, in a world of its own."""
    world = world_with(ROUTER)
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        await join(m, "home", "homepass1")
        yield world, m


def reconnect_logs(m: Module) -> list[str]:
    return [ln.split("at-wifi: ")[1] for ln in m.log_lines if "wifi reconnect.." in ln]


async def test_wifi_faults_are_registered() -> None:
    for name in ("ap_down", "ap_up", "rssi", "ap_password", "deauth", "dhcp_down", "dhcp_up", "beacon_loss"):
        assert name in FAULTS
    world = world_with(ROUTER)
    with pytest.raises(ConfigError):
        await inject(world, "ap_down", ssid="nowhere")
    with pytest.raises(ConfigError):
        await inject(world, "ap_down", colour="red")


async def test_ap_down_during_a_connection_and_back() -> None:
    async with joined_to_router() as (world, m):
        h = m.host
        t0 = m.clock.now()
        await inject(world, "ap_down", ssid="home")
        # the station notices by missing beacons, after sta_inactive_time (6 s)
        await h.expect(b"WIFI DISCONNECT\r\n", timeout=10)
        assert 5.9 < m.clock.now() - t0 < 6.5
        assert "sta" not in m.service(NetIf).interfaces
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:3,"home"']
        assert (await h.command("AT+CWJAP?")).lines == [b"No AP"]
        await m.clock.sleep(8)  # each attempt: 1 s pause, then a full 1.56 s scan that finds nothing
        assert reconnect_logs(m)[:3] == ["wifi reconnect..(1/0)", "wifi reconnect..(2/0)", "wifi reconnect..(3/0)"]
        assert any("rc:200" in ln for ln in m.log_lines)
        await inject(world, "ap_up", ssid="home")
        await h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:2,"home"']


async def test_reconnect_follows_cwreconncfg() -> None:
    async with joined_to_router() as (world, m):
        h = m.host
        assert (await h.command("AT+CWRECONNCFG=2,3")).ok
        world.extension(WifiAir).ap_down("home")
        await h.expect(b"WIFI DISCONNECT\r\n", timeout=10)
        await m.clock.sleep(20)
        assert reconnect_logs(m) == ["wifi reconnect..(1/3)", "wifi reconnect..(2/3)", "wifi reconnect..(3/3)"]
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:4,"home"']
        world.extension(WifiAir).ap_up("home")
        await h.expect_silence(5)  # it gave up
        # AT+CWRECONNCFG=<i>,<n>,1 reconnects at once when there is no IP
        assert (await h.command("AT+CWRECONNCFG=1,0,1")).ok
        await h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)


async def test_no_reconnection_when_disabled() -> None:
    async with joined_to_router() as (world, m):
        assert (await m.host.command("AT+CWRECONNCFG=0,0")).ok
        await inject(world, "deauth", ssid="home")
        await m.host.expect(b"WIFI DISCONNECT\r\n")
        await m.host.expect_silence(10)
        assert reconnect_logs(m) == []
        assert (await m.host.command("AT+CWSTATE?")).lines == [b'+CWSTATE:4,"home"']


async def test_deauth_of_one_station_reconnects_it() -> None:
    world = world_with(ROUTER)
    async with Module.start("esp32c3", world=world, name="a") as a, Module.start("esp32c3", world=world, name="b") as b:
        await quiet(a)
        await quiet(b)
        await join(a, "home", "homepass1")
        await join(b, "home", "homepass1")
        mac = (await a.host.command("AT+CIPSTAMAC?")).lines[0].split(b'"')[1].decode()
        await inject(world, "deauth", ssid="home", station=mac, reason=2)
        await a.host.expect(b"WIFI DISCONNECT\r\n")
        await a.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        await b.host.expect_silence(1)
        assert any("rc:2" in ln for ln in a.log_lines)


async def test_password_change_keeps_the_station_out() -> None:
    async with joined_to_router() as (world, m):
        h = m.host
        await inject(world, "ap_password", ssid="home", password="newsecret9")
        await h.expect(b"WIFI DISCONNECT\r\n")
        await m.clock.sleep(12)
        assert len(reconnect_logs(m)) >= 2  # each attempt fails at the 4-way handshake
        assert any("rc:15" in ln for ln in m.log_lines)
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:3,"home"']
        reply = await h.command('AT+CWJAP="home","newsecret9"', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]


async def test_rssi_and_beacon_loss() -> None:
    async with joined_to_router() as (world, m):
        h = m.host
        await inject(world, "rssi", ssid="home", rssi=-71)
        assert b",-71," in (await h.command("AT+CWJAP?")).lines[0]
        assert b"-71" in (await h.command("AT+CWLAP")).lines[0]
        # a short beacon loss is survived
        await inject(world, "beacon_loss", ssid="home", seconds=3)
        await h.expect_silence(8)
        # a long one is not; the station reconnects once beacons are back
        await inject(world, "beacon_loss", ssid="home", seconds=10)
        await h.expect(b"WIFI DISCONNECT\r\n", timeout=8)
        await h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=15)
        # out of range
        await inject(world, "rssi", ssid="home", rssi=-110)
        await h.expect(b"WIFI DISCONNECT\r\n", timeout=8)
        assert (await h.command("AT+CWLAP")).lines == []
        await inject(world, "rssi", ssid="home", rssi=-60)
        await h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=15)


async def test_dhcp_outage_and_recovery() -> None:
    world = world_with(ROUTER)
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        h = m.host
        await inject(world, "dhcp_down", ssid="home")
        reply = await h.command('AT+CWJAP="home","homepass1",,,,,,3', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"+CWJAP:1"]
        assert (await h.command("AT+CWSTATE?")).lines == [b'+CWSTATE:1,"home"']
        await inject(world, "dhcp_up", ssid="home")
        await h.expect(b"WIFI GOT IP\r\n", timeout=70)


async def test_status_messages_in_passthrough_follow_sysmsg() -> None:
    world = world_with(ROUTER)

    class Sink:
        def on_data(self, data: bytes) -> None:
            pass

        def on_exit(self) -> None:
            pass

    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        await join(m, "home", "homepass1")
        m.enter_passthrough(Sink(), prompt=False)
        await inject(world, "deauth", ssid="home")
        await m.host.expect_silence(5)  # reconnected quietly, too
        m.leave_passthrough()
        m.settings.set("base", "sysmsg", 4)
        m.enter_passthrough(Sink(), prompt=False)
        await inject(world, "deauth", ssid="home")
        await m.host.expect(b"WIFI DISCONNECT\r\n")
        await m.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        m.leave_passthrough()


async def test_walking_out_of_range() -> None:
    world = world_with({"ssid": "lab", "channel": 1, "position": [0.0, 0.0], "tx_power": 20})
    air = world.extension(WifiAir)
    async with Module.start("esp32c3", world=world) as m:
        await quiet(m)
        air.move(m.name, 10.0, 0.0)
        assert (await m.host.command('AT+CWJAP="lab",""')).ok
        air.move(m.name, 3000.0, 0.0)  # far beyond the sensitivity
        await m.host.expect(b"WIFI DISCONNECT\r\n", timeout=8)
        air.move(m.name, 5.0, 0.0)
        await m.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        # the AP can move too
        air.place(air.aps[0], (0.0, 5000.0))
        await m.host.expect(b"WIFI DISCONNECT\r\n", timeout=8)
