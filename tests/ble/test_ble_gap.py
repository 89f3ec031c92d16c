"""Two modules on one air: advertising, scanning, connecting (BLE_AT_Commands.rst)."""

from __future__ import annotations

import re

from ble.ble_helpers import address, connect, modules, ok, server_advertising
from esp_at_sim import Module
from esp_at_sim.world.faults import inject

ADV = "0201060A09457370726573736966030302A0"


async def test_init_query_and_roles() -> None:
    async with modules(("esp32c3", "m")) as (m,):
        h = m.host
        assert (await ok(h, "AT+BLEINIT?")) == b"AT+BLEINIT?\r\n+BLEINIT:0\r\n\r\nOK\r\n"
        assert (await ok(h, "AT+BLEINIT=1")) == b"AT+BLEINIT=1\r\n\r\nOK\r\n"
        assert (await ok(h, "AT+BLEINIT?")) == b"AT+BLEINIT?\r\n+BLEINIT:1\r\n\r\nOK\r\n"
        # the role cannot change without deinit
        r = await h.command("AT+BLEINIT=2")
        assert r.raw == b"AT+BLEINIT=2\r\n\r\nERROR\r\n"
        await ok(h, "AT+BLEINIT=0")
        await ok(h, "AT+BLEINIT=2")
        assert (await ok(h, "AT+BLEINIT?")).endswith(b"+BLEINIT:2\r\n\r\nOK\r\n")


async def test_commands_need_init_and_syslog_codes() -> None:
    async with modules(("esp32", "m")) as (m,):
        h = m.host
        await ok(h, "AT+SYSLOG=1")
        r = await h.command("AT+BLEADDR?")
        assert r.raw == b"AT+BLEADDR?\r\nERR CODE:0x010a0001\r\n\r\nERROR\r\n"
        r = await h.command("AT+BLEINIT=4")
        assert r.raw == b"AT+BLEINIT=4\r\nERR CODE:0x01070000\r\n\r\nERROR\r\n"
        r = await h.command('AT+BLEINIT="1"')
        assert b"ERR CODE:0x01050000" in r.raw


async def test_no_ble_on_esp32s2() -> None:
    async with Module.start("esp32s2", name="s2") as m:
        for line in ("AT+BLEINIT=1", "AT+BLEINIT?", "AT+BLESCAN=1", "AT+BLEADDR?"):
            r = await m.host.command(line)
            assert r.raw == line.encode() + b"\r\n\r\nERROR\r\n"


async def test_address_name_and_default_params() -> None:
    async with modules(("esp32", "a"), ("esp32c3", "b")) as (a, b):
        await ok(a.host, "AT+BLEINIT=2")
        await ok(b.host, "AT+BLEINIT=2")
        addr = await address(a.host)
        assert re.fullmatch(r"24:0a:c4:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}", addr)
        assert (await ok(a.host, "AT+BLENAME?")).endswith(b"+BLENAME:ESP-AT\r\n\r\nOK\r\n")
        await ok(a.host, 'AT+BLENAME="esp_demo"')
        assert b"+BLENAME:esp_demo\r\n" in await ok(a.host, "AT+BLENAME?")
        raw = await ok(a.host, "AT+BLEADVPARAM?")
        assert b'+BLEADVPARAM:32,64,0,0,7,0,0,"00:00:00:00:00:00"\r\n' in raw
        raw = await ok(b.host, "AT+BLEADVPARAM?")
        assert b'+BLEADVPARAM:32,64,0,0,7,0,0,"00:00:00:00:00:00",1,1\r\n' in raw
        await ok(a.host, "AT+BLEINIT=0")
        await ok(a.host, "AT+BLEINIT=1")
        assert b"+BLESCANPARAM:0,0,0,320,48\r\n" in await ok(a.host, "AT+BLESCANPARAM?")
        await ok(b.host, "AT+BLEINIT=0")
        await ok(b.host, "AT+BLEINIT=1")
        assert b"+BLESCANPARAM:0,0,0,64,64\r\n" in await ok(b.host, "AT+BLESCANPARAM?")
        await ok(b.host, 'AT+BLEADDR=1,"f8:7f:24:87:1c:7b"')
        assert await h_err(b.host, 'AT+BLEADDR=1,"38:7f:24:87:1c:7b"')  # not a static address
        assert await h_err(b.host, 'AT+BLEADDR=1,"f8:7f:24"')


async def h_err(host, line: str) -> bool:  # type: ignore[no-untyped-def]
    r = await host.command(line)
    return r.final == b"ERROR"


async def test_advertise_scan_connect_disconnect_transcript() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        await ok(s, "AT+BLEINIT=2")
        srv_addr = await address(s)
        await ok(s, "AT+BLEADVPARAM=50,50,0,0,7,0,,")
        await ok(s, f'AT+BLEADVDATA="{ADV}"')
        await ok(s, "AT+BLEADVSTART")
        await ok(c, "AT+BLEINIT=1")
        assert (await c.command("AT+BLESCAN=1,3")).raw == b"AT+BLESCAN=1,3\r\n\r\nOK\r\n"
        out = await c.read_until(b"+BLESCANDONE\r\n", timeout=10)
        lines = [ln for ln in out.split(b"\r\n") if ln.startswith(b"+BLESCAN:")]
        expected = f'+BLESCAN:"{srv_addr}",'.encode()
        assert lines and all(ln.startswith(expected) for ln in lines)
        assert lines[0].split(b",")[2:] == [ADV.lower().encode(), b"", b"0", b"0"]
        rssi = int(lines[0].split(b",")[1])
        assert -70 < rssi < -30
        # connect, both sides report, then the advertisement is over
        raw = await c.command(f'AT+BLECONN=0,"{srv_addr}"', timeout=40)
        assert raw.raw == f'AT+BLECONN=0,"{srv_addr}"\r\n+BLECONN:0,"{srv_addr}"\r\n\r\nOK\r\n'.encode()
        cli_addr = (await s.read_until(re.compile(rb'\+BLECONN:0,"[^"]+"\r\n'))).decode().split('"')[1]
        assert cli_addr == await address(c) if False else cli_addr
        assert (await ok(c, "AT+BLECONN?")) == f'AT+BLECONN?\r\n+BLECONN:0,"{srv_addr}"\r\n\r\nOK\r\n'.encode()
        assert f'+BLECONN:0,"{cli_addr}"'.encode() in await ok(s, "AT+BLECONN?")
        raw = await ok(c, "AT+BLECONNPARAM?")
        assert raw == b"AT+BLECONNPARAM?\r\n+BLECONNPARAM:0,0,0,24,0,500\r\n\r\nOK\r\n"
        # disconnect: OK first, then the message on both sides
        assert (await c.command("AT+BLEDISCONN=0")).raw == b"AT+BLEDISCONN=0\r\n\r\nOK\r\n"
        await c.expect(f'+BLEDISCONN:0,"{srv_addr}"\r\n'.encode(), timeout=5)
        await s.expect(f'+BLEDISCONN:0,"{cli_addr}"\r\n'.encode(), timeout=5)
        assert (await ok(c, "AT+BLECONN?")) == b"AT+BLECONN?\r\n\r\nOK\r\n"
        # no longer advertising: a new connection attempt fails after its timeout
        r = await c.command(f'AT+BLECONN=0,"{srv_addr}",0,3', timeout=40)
        assert r.raw == f'AT+BLECONN=0,"{srv_addr}",0,3\r\n+BLECONN:0,-1\r\n\r\nERROR\r\n'.encode()


async def test_active_scan_reports_scan_response_separately() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        await ok(srv.host, "AT+BLEINIT=2")
        await ok(srv.host, 'AT+BLEADVDATA="020106"')
        await ok(srv.host, 'AT+BLESCANRSPDATA="1122334455"')
        await ok(srv.host, "AT+BLEADVSTART")
        addr = await address(srv.host)
        await ok(cli.host, "AT+BLEINIT=1")
        await ok(cli.host, "AT+BLESCANPARAM=1,0,0,100,50")
        await ok(cli.host, "AT+BLESCAN=1,2")
        out = await cli.host.read_until(b"+BLESCANDONE\r\n", timeout=10)
        assert f'"{addr}",'.encode() in out
        assert re.search(rb",020106,,0,0\r\n", out)
        assert re.search(rb",,1122334455,0,4\r\n", out)


async def test_scan_filters_and_duplicates() -> None:
    async with modules(("esp32c3", "a"), ("esp32c3", "b"), ("esp32c3", "c")) as (a, b, c):
        await server_advertising(a.host, create_services=False, adv=ADV)
        other = "020106050942454546"  # name "BEEF"
        await server_advertising(b.host, create_services=False, adv=other)
        addr_a = await address(a.host)
        await ok(c.host, "AT+BLEINIT=1")
        await ok(c.host, 'AT+BLESCAN=1,2,2,"BEEF"')
        out = await c.host.read_until(b"+BLESCANDONE\r\n", timeout=10)
        assert b"0201060509424545" in out and addr_a.encode() not in out
        await ok(c.host, f'AT+BLESCAN=1,2,1,"{addr_a[:14].upper()}",1')
        out = await c.host.read_until(b"+BLESCANDONE\r\n", timeout=10)
        assert out.count(b"+BLESCAN:") == 1 and addr_a.encode() in out
        await ok(c.host, 'AT+BLESCAN=1,2,3,"A002"')
        out = await c.host.read_until(b"+BLESCANDONE\r\n", timeout=10)
        assert addr_a.encode() in out and b"0509424545" not in out
        await ok(c.host, "AT+BLESCAN=1,2,4,-20")
        out = await c.host.read_until(b"+BLESCANDONE\r\n", timeout=10)
        assert b"+BLESCAN:" not in out


async def test_nonconnectable_advertising_cannot_be_connected() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        await ok(srv.host, "AT+BLEINIT=2")
        await ok(srv.host, "AT+BLEADVPARAM=32,32,3,0,7")
        await ok(srv.host, "AT+BLEADVSTART")
        addr = await address(srv.host)
        await ok(cli.host, "AT+BLEINIT=1")
        await ok(cli.host, "AT+BLESCAN=1,1")
        out = await cli.host.read_until(b"+BLESCANDONE\r\n", timeout=10)
        assert re.search(rf'"{addr}",-\d+,,,0,3'.encode(), out)
        r = await cli.host.command(f'AT+BLECONN=0,"{addr}",0,3', timeout=40)
        assert r.final == b"ERROR" and b"+BLECONN:0,-1" in r.raw


async def test_peer_walking_out_of_range_disconnects_after_supervision_timeout() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        addr = await server_advertising(srv.host, create_services=False)
        await ok(cli.host, "AT+BLEINIT=1")
        cli_addr = await connect(cli.host, srv.host, addr)
        loop_time = __import__("asyncio").get_running_loop().time
        t0 = loop_time()
        await inject(srv.world, "ble_move", module="srv", x=5000, y=0)
        await cli.host.expect(f'+BLEDISCONN:0,"{addr}"\r\n'.encode(), timeout=30)
        await srv.host.expect(f'+BLEDISCONN:0,"{cli_addr}"\r\n'.encode(), timeout=30)
        assert loop_time() - t0 >= 5.0  # the 5 s supervision timeout of the connection


async def test_peer_leaving_the_world_and_rebooting() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        addr = await server_advertising(srv.host, create_services=False)
        await ok(cli.host, "AT+BLEINIT=1")
        await connect(cli.host, srv.host, addr)
        await ok(srv.host, "AT+RST")
        await srv.host.read_until(b"ready\r\n", timeout=10)
        await cli.host.expect(f'+BLEDISCONN:0,"{addr}"\r\n'.encode(), timeout=30)
        assert b"+BLEINIT:0" in await ok(srv.host, "AT+BLEINIT?")


async def test_connection_parameter_update_and_rssi() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        addr = await server_advertising(srv.host, create_services=False)
        await ok(cli.host, "AT+BLEINIT=1")
        await connect(cli.host, srv.host, addr)
        await ok(cli.host, "AT+BLECONNPARAM=0,12,14,1,500")
        await cli.host.expect(b"+BLECONNPARAM:0,12,14,14,1,500\r\n", timeout=5)
        await srv.host.expect(b"+BLECONNPARAM:0,0,0,14,1,500\r\n", timeout=5)
        r = await ok(cli.host, "AT+BLERDRSSI=0")
        assert re.fullmatch(rb"AT\+BLERDRSSI=0\r\n\+BLERDRSSI:0,-\d+\r\n\r\nOK\r\n", r)
        # bad parameters
        for line in ("AT+BLECONNPARAM=0,14,12,1,500", "AT+BLECONNPARAM=0,5,14,1,500", "AT+BLECONNPARAM=1,12,14,1,500"):
            assert (await cli.host.command(line)).final == b"ERROR"
        assert (await cli.host.command("AT+BLEDISCONN=2")).final == b"ERROR"
        assert (await cli.host.command("AT+BLEDISCONN=3")).final == b"ERROR"


async def test_periodic_advertising_and_sync() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c6", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        await ok(s, "AT+BLEINIT=2")
        addr = await address(s)
        await ok(s, 'AT+BLEPERIODICDATA="1122334455"')
        assert (await s.command("AT+BLEPERIODICSTART")).final == b"ERROR"  # no extended advertising yet
        await ok(s, "AT+BLEADVPARAM=32,32,5,0,7,0")
        await ok(s, 'AT+BLEADVDATA="0201060B09457370726573736966"')
        await ok(s, "AT+BLEADVSTART")
        await ok(s, "AT+BLEPERIODICSTART")
        await ok(c, "AT+BLEINIT=1")
        assert (await c.command(f'AT+BLESYNCSTART="{addr}"')).final == b"ERROR"  # scan first
        await ok(c, "AT+BLESCAN=1")
        await c.read_until(f'+BLESCAN:"{addr}"'.encode(), timeout=5)
        await ok(c, f'AT+BLESYNCSTART="{addr}"')
        await c.read_until(re.compile(rf'\+BLESYNC:"{addr}",-\d+,1122334455\r\n'.encode()), timeout=5)
        await ok(c, "AT+BLESYNCSTOP")
        await ok(c, "AT+BLESCAN=0")
        await ok(s, "AT+BLEPERIODICSTOP")


async def test_esp32_has_no_periodic_or_phy_commands() -> None:
    async with modules(("esp32", "m")) as (m,):
        await ok(m.host, "AT+BLEINIT=3")
        for line in ('AT+BLEPERIODICDATA="11"', "AT+BLEPERIODICSTART", "AT+BLESYNCSTOP", "AT+BLEREADPHY=0"):
            r = await m.host.command(line)
            assert r.raw == line.encode() + b"\r\n\r\nERROR\r\n"
        # extended advertising types do not exist on the ESP32 (BLE 4.2)
        assert (await m.host.command("AT+BLEADVPARAM=32,32,5,0,7")).final == b"ERROR"
        assert (await m.host.command('AT+BLEADVPARAM=32,32,0,0,7,0,0,"00:00:00:00:00:00",1,1')).final == b"ERROR"


async def test_phy_update_between_bt5_modules() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        addr = await server_advertising(srv.host, create_services=False)
        await ok(cli.host, "AT+BLEINIT=1")
        await connect(cli.host, srv.host, addr)
        assert f'+BLEREADPHY:"{addr}",1,1\r\n'.encode() in await ok(cli.host, "AT+BLEREADPHY=0")
        assert f'+BLESETPHY:"{addr}",2,2\r\n'.encode() in await ok(cli.host, "AT+BLESETPHY=0,2")
        assert f'+BLEREADPHY:"{addr}",2,2\r\n'.encode() in await ok(cli.host, "AT+BLEREADPHY=0")
        assert b"+BLEREADPHY:-1\r\n" in await ok(cli.host, "AT+BLEREADPHY=1")
        assert (await cli.host.command("AT+BLESETPHY=0,4")).final == b"ERROR"


async def test_whitelist_limits_who_may_connect() -> None:
    async with modules(("esp32", "srv"), ("esp32", "a"), ("esp32", "b")) as (srv, a, b):
        await ok(srv.host, "AT+BLEINIT=2")
        srv_addr = await address(srv.host)
        await ok(a.host, "AT+BLEINIT=1")
        await ok(b.host, "AT+BLEINIT=1")
        addr_b = await address(b.host)
        await ok(srv.host, f'AT+BLEWL=1,0,"{addr_b}"')
        # connections only from the white list
        await ok(srv.host, "AT+BLEADVPARAM=32,32,0,0,7,2")
        await ok(srv.host, "AT+BLEADVSTART")
        r = await a.host.command(f'AT+BLECONN=0,"{srv_addr}",0,3', timeout=40)
        assert r.final == b"ERROR"
        await connect(b.host, srv.host, srv_addr)
        await ok(srv.host, "AT+BLEWL=0")
        for bad in (
            "AT+BLEWL=1",
            "AT+BLEWL=1,0",
            'AT+BLEWL=2,0,"00:11:22:33:44:55"',
            'AT+BLEWL=1,2,"00:11:22:33:44:55"',
        ):
            assert (await srv.host.command(bad)).final == b"ERROR", bad
