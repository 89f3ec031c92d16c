"""AT+BLEADVDATAEX, AT+BLEADVSTOP and AT+BLEGATTCINCLSRV between two modules (BLE_AT_Commands.rst)."""

from __future__ import annotations

import re

from ble.ble_helpers import address, connect, modules, ok

SCAN = re.compile(rb'\+BLESCAN:"([0-9a-f:]{17})",-?\d+,([0-9a-f]*),([0-9a-f]*),(\d),(\d)\r\n')


async def _scan(host, seconds: int = 2) -> list[tuple[bytes, ...]]:  # type: ignore[no-untyped-def]
    await ok(host, f"AT+BLESCAN=1,{seconds}")
    out = await host.read_until(b"+BLESCANDONE\r\n", timeout=10)
    return [m.groups() for m in SCAN.finditer(out)]


async def test_advdataex_assembles_the_data_and_starts_advertising() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        await ok(s, "AT+BLEINIT=2")
        addr = (await address(s)).encode()
        assert (await ok(s, "AT+BLEADVDATAEX?")).endswith(b'+BLEADVDATAEX:"ESP-AT","","",0\r\n\r\nOK\r\n')
        await ok(s, "AT+BLEADVPARAM=50,50,2,0,7,0")  # scannable undirected...
        reply = await s.command('AT+BLEADVDATAEX="ESP-AT","A002","0102030405",1')
        assert reply.raw == b'AT+BLEADVDATAEX="ESP-AT","A002","0102030405",1\r\n\r\nOK\r\n'
        # ...switched back to connectable undirected (adv type 0), as the spec notes
        assert b"+BLEADVPARAM:50,50,0,0,7,0," in await ok(s, "AT+BLEADVPARAM?")
        assert b'+BLEADVDATAEX:"ESP-AT","A002","0102030405",1\r\n' in await ok(s, "AT+BLEADVDATAEX?")
        # advertising without AT+BLEADVSTART: flags, name, 16-bit UUID, manufacturer data, TX power
        await ok(c, "AT+BLEINIT=1")
        seen = [r for r in await _scan(c) if r[0] == addr]
        assert seen, "the advertiser was not seen"
        data = seen[0][1]
        assert data.startswith(b"020106" + b"0709" + b"ESP-AT".hex().encode() + b"030302a0" + b"06ff0102030405020a")
        assert len(data) == 2 * 25 and seen[0][3] == b"0"  # connectable undirected
        # bad parameters: a UUID of one byte, data that is not hex, include_power 2
        for bad in ('"x","A0","",0', '"x","A002","zz",0', '"x","A002","",2'):
            assert (await s.command(f"AT+BLEADVDATAEX={bad}")).final == b"ERROR"
        # AT+BLEADVSTOP ends it: the next scan sees nothing; stopping again is harmless
        assert (await s.command("AT+BLEADVSTOP")).raw == b"AT+BLEADVSTOP\r\n\r\nOK\r\n"
        assert (await s.command("AT+BLEADVSTOP")).ok
        assert [r for r in await _scan(c) if r[0] == addr] == []
        # AT+BLEADVSTART brings the same data back
        await ok(s, "AT+BLEADVSTART")
        assert next(r[1] for r in await _scan(c) if r[0] == addr) == data


async def test_included_services_of_the_default_table() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        await ok(s, "AT+BLEINIT=2")
        addr = await address(s)
        await ok(s, "AT+BLEADVSTART")
        await ok(c, "AT+BLEINIT=1")
        # not connected yet
        assert (await c.command("AT+BLEGATTCINCLSRV=0,1")).final == b"ERROR"
        await connect(c, s, addr)
        raw = await ok(c, "AT+BLEGATTCPRIMSRV=0")
        assert raw.count(b"+BLEGATTCPRIMSRV:0,") == 2
        # the default services include none: only OK
        assert (await c.command("AT+BLEGATTCINCLSRV=0,1")).raw == b"AT+BLEGATTCINCLSRV=0,1\r\n\r\nOK\r\n"
        # a service that does not exist, a connection that does not exist
        assert (await c.command("AT+BLEGATTCINCLSRV=0,9")).final == b"ERROR"
        assert (await c.command("AT+BLEGATTCINCLSRV=1,1")).final == b"ERROR"
        assert (await c.command("AT+BLEGATTCINCLSRV=3,1")).final == b"ERROR"
