"""Wi-Fi configuration across resets and process restarts (the NVS file in a state dir)."""

from __future__ import annotations

from pathlib import Path

from esp_at_sim import Module, World

from .support import join, quiet, world_with

ROUTER = {"ssid": "home", "password": "homepass1", "channel": 6, "rssi": -50}


def fresh_world() -> World:
    """Each 'process' gets its own world, as a new esp-at-sim run would."""
    return world_with(ROUTER, seed="persist")


async def test_join_with_sysstore_autoconnects_after_a_restart(tmp_path: Path) -> None:
    async with Module.start("esp32c3", world=fresh_world(), state_dir=tmp_path) as m:
        await quiet(m)
        assert (await m.host.command("AT+SYSSTORE?")).lines == [b"+SYSSTORE:1"]
        await join(m, "home", "homepass1")
    # a new module on the same state directory: ready, then the stored AP is joined
    async with Module.start("esp32c3", world=fresh_world(), state_dir=tmp_path) as m:
        await m.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)
        await quiet(m)
        assert (await m.host.command("AT+CWJAP?")).lines[0].startswith(b'+CWJAP:"home",')
        # and without auto-connect, it stays offline
        assert (await m.host.command("AT+CWAUTOCONN=0")).ok
    async with Module.start("esp32c3", world=fresh_world(), state_dir=tmp_path) as m:
        await m.host.expect_silence(5)
        await quiet(m)
        assert (await m.host.command("AT+CWSTATE?")).lines == [b'+CWSTATE:0,""']
        # AT+CWJAP (execute) joins the stored network
        reply = await m.host.command("AT+CWJAP", timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]


async def test_sysstore_0_keeps_the_configuration_in_ram(tmp_path: Path) -> None:
    async with Module.start("esp32c3", world=fresh_world(), state_dir=tmp_path) as m:
        await quiet(m)
        assert (await m.host.command("AT+SYSSTORE=0")).ok
        await join(m, "home", "homepass1")
        assert (await m.host.command("AT+CWMODE=3")).ok
        # a reset forgets the RAM configuration: no auto-connect, mode back to 1
        await m.host.send("AT+RST")
        await m.host.read_until(b"ready\r\n", timeout=10)
        await m.host.expect_silence(5)
        await quiet(m)
        assert (await m.host.command("AT+CWMODE?")).lines == [b"+CWMODE:1"]
        assert (await m.host.command("AT+CWJAP")).final == b"ERROR"


async def test_softap_configuration_and_mode_survive_a_restart(tmp_path: Path) -> None:
    async with Module.start("esp32c3", world=fresh_world(), state_dir=tmp_path, name="ap") as m:
        await quiet(m)
        await m.host.command("AT+CWMODE=2")
        assert (await m.host.command('AT+CWSAP="persisted","password1",3,3,4,1')).ok
        assert (await m.host.command('AT+CIPAPMAC="1a:00:00:00:00:01"')).ok
    world = fresh_world()
    async with Module.start("esp32c3", world=world, state_dir=tmp_path, name="ap") as m:
        await quiet(m)
        assert (await m.host.command("AT+CWMODE?")).lines == [b"+CWMODE:2"]
        assert (await m.host.command("AT+CWSAP?")).lines == [b'+CWSAP:"persisted","password1",3,3,4,1']
        assert (await m.host.command("AT+CIPAPMAC?")).lines == [b'+CIPAPMAC:"1a:00:00:00:00:01"']
        from esp_at_sim.world.wifi import WifiAir

        ap = world.extension(WifiAir).find("persisted")[0]
        assert ap.hidden and ap.bssid == bytes.fromhex("1a0000000001")


async def test_mode_switch_auto_connect_argument(tmp_path: Path) -> None:
    async with Module.start("esp32c3", world=fresh_world(), state_dir=tmp_path) as m:
        await quiet(m)
        await join(m, "home", "homepass1")
        await m.host.command("AT+CWMODE=2")
        await m.host.expect(b"WIFI DISCONNECT\r\n")
        assert (await m.host.command("AT+CWMODE=1,0")).ok
        await m.host.expect_silence(3)
        await m.host.command("AT+CWMODE=2")
        assert (await m.host.command("AT+CWMODE=3")).ok  # auto_connect defaults to 1
        await m.host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=10)


async def test_legacy_cur_and_def(tmp_path: Path) -> None:
    world = fresh_world()
    async with Module.start("esp8266", world=world, state_dir=tmp_path, generation=1) as m:
        await quiet(m)
        h = m.host
        assert (await h.command("AT+CWMODE_CUR?")).lines == [b"+CWMODE_CUR:1"]
        assert (await h.command("AT+CWMODE_CUR=3")).ok
        assert (await h.command("AT+CWMODE_DEF?")).lines == [b"+CWMODE_DEF:3"]
        reply = await h.command('AT+CWJAP_CUR="home","homepass1"', timeout=30)
        assert reply.lines == [b"WIFI CONNECTED", b"WIFI GOT IP"]
        reply = await h.command("AT+CWJAP_CUR?")
        assert reply.lines == [b'+CWJAP_CUR:"home","' + reply.lines[0].split(b'"')[3] + b'",6,-50']
    async with Module.start("esp8266", world=fresh_world(), state_dir=tmp_path, generation=1) as m:
        await m.host.expect_silence(4)  # _CUR saved nothing
        await quiet(m)
        assert (await m.host.command("AT+CWMODE_DEF?")).lines == [b"+CWMODE_DEF:1"]
        reply = await m.host.command('AT+CWJAP_DEF="home","homepass1"', timeout=30)
        assert reply.ok
        assert (await m.host.command("AT+CWMODE_DEF=2")).ok
    async with Module.start("esp8266", world=fresh_world(), state_dir=tmp_path, generation=1) as m:
        await quiet(m)
        assert (await m.host.command("AT+CWMODE_CUR?")).lines == [b"+CWMODE_CUR:2"]
        assert (await m.host.command("AT+CWSAP_CUR?")).lines[0].startswith(b'+CWSAP_CUR:"ESP_')
