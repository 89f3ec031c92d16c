"""GATT server and client between two modules (bluetooth_le_at_examples.rst)."""

from __future__ import annotations

from ble.ble_helpers import address, connect, modules, ok, server_advertising
from esp_at_sim import AtHost

SERVER_CHARS = (
    b'+BLEGATTSCHAR:"char",1,1,0xC300,0x02\r\n+BLEGATTSCHAR:"desc",1,1,1,0x2901\r\n'
    b'+BLEGATTSCHAR:"char",1,2,0xC301,0x02\r\n+BLEGATTSCHAR:"desc",1,2,1,0x2901\r\n'
    b'+BLEGATTSCHAR:"char",1,3,0xC302,0x08\r\n+BLEGATTSCHAR:"desc",1,3,1,0x2901\r\n'
    b'+BLEGATTSCHAR:"char",1,4,0xC303,0x04\r\n+BLEGATTSCHAR:"desc",1,4,1,0x2901\r\n'
    b'+BLEGATTSCHAR:"char",1,5,0xC304,0x08\r\n'
    b'+BLEGATTSCHAR:"char",1,6,0xC305,0x10\r\n+BLEGATTSCHAR:"desc",1,6,1,0x2902\r\n'
    b'+BLEGATTSCHAR:"char",1,7,0xC306,0x20\r\n+BLEGATTSCHAR:"desc",1,7,1,0x2902\r\n'
    b'+BLEGATTSCHAR:"char",1,8,0xC307,0x02\r\n+BLEGATTSCHAR:"desc",1,8,1,0x2901\r\n'
    b'+BLEGATTSCHAR:"char",2,1,0xC400,0x02\r\n+BLEGATTSCHAR:"desc",2,1,1,0x2901\r\n'
    b'+BLEGATTSCHAR:"char",2,2,0xC401,0x02\r\n+BLEGATTSCHAR:"desc",2,2,1,0x2901\r\n'
)
CLIENT_CHARS = (
    b'+BLEGATTCCHAR:"char",0,3,1,0xC300,0x02\r\n+BLEGATTCCHAR:"desc",0,3,1,1,0x2901\r\n'
    b'+BLEGATTCCHAR:"char",0,3,2,0xC301,0x02\r\n+BLEGATTCCHAR:"desc",0,3,2,1,0x2901\r\n'
    b'+BLEGATTCCHAR:"char",0,3,3,0xC302,0x08\r\n+BLEGATTCCHAR:"desc",0,3,3,1,0x2901\r\n'
    b'+BLEGATTCCHAR:"char",0,3,4,0xC303,0x04\r\n+BLEGATTCCHAR:"desc",0,3,4,1,0x2901\r\n'
    b'+BLEGATTCCHAR:"char",0,3,5,0xC304,0x08\r\n'
    b'+BLEGATTCCHAR:"char",0,3,6,0xC305,0x10\r\n+BLEGATTCCHAR:"desc",0,3,6,1,0x2902\r\n'
    b'+BLEGATTCCHAR:"char",0,3,7,0xC306,0x20\r\n+BLEGATTCCHAR:"desc",0,3,7,1,0x2902\r\n'
    b'+BLEGATTCCHAR:"char",0,3,8,0xC307,0x02\r\n+BLEGATTCCHAR:"desc",0,3,8,1,0x2901\r\n'
)


async def write(host: AtHost, line: str, data: bytes) -> bytes:
    await host.send(line)
    out = await host.read_until(b">", timeout=10)
    assert out.endswith(b"\r\nOK\r\n\r\n>"), out
    await host.write(data)
    reply = await host.read_reply(timeout=20)
    return out + reply.raw


async def test_server_tables_and_client_discovery_exact() -> None:
    async with modules(("esp32", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        await ok(s, "AT+BLEINIT=2")
        assert (await ok(s, "AT+BLEGATTSSRV?")) == b"AT+BLEGATTSSRV?\r\n\r\nOK\r\n"
        assert (await ok(s, "AT+BLEGATTSSRVCRE")) == b"AT+BLEGATTSSRVCRE\r\n\r\nOK\r\n"
        assert (await ok(s, "AT+BLEGATTSSRV?")) == (
            b"AT+BLEGATTSSRV?\r\n+BLEGATTSSRV:1,0,0xA002,1\r\n+BLEGATTSSRV:2,0,0xA003,1\r\n\r\nOK\r\n"
        )
        await ok(s, "AT+BLEGATTSSRVSTART")
        assert (await ok(s, "AT+BLEGATTSSRV?")) == (
            b"AT+BLEGATTSSRV?\r\n+BLEGATTSSRV:1,1,0xA002,1\r\n+BLEGATTSSRV:2,1,0xA003,1\r\n\r\nOK\r\n"
        )
        assert (await ok(s, "AT+BLEGATTSCHAR?")) == b"AT+BLEGATTSCHAR?\r\n" + SERVER_CHARS + b"\r\nOK\r\n"
        await ok(s, "AT+BLEADVSTART")
        addr = await address(s)
        await ok(c, "AT+BLEINIT=1")
        cli_addr = await connect(c, s, addr)
        assert (await ok(c, "AT+BLEGATTCPRIMSRV=0")) == (
            b"AT+BLEGATTCPRIMSRV=0\r\n+BLEGATTCPRIMSRV:0,1,0x1801,1\r\n+BLEGATTCPRIMSRV:0,2,0x1800,1\r\n"
            b"+BLEGATTCPRIMSRV:0,3,0xA002,1\r\n+BLEGATTCPRIMSRV:0,4,0xA003,1\r\n\r\nOK\r\n"
        )
        assert (await ok(c, "AT+BLEGATTCCHAR=0,3")) == b"AT+BLEGATTCCHAR=0,3\r\n" + CLIENT_CHARS + b"\r\nOK\r\n"
        assert (await ok(c, "AT+BLEGATTCRD=0,3,1")) == b"AT+BLEGATTCRD=0,3,1\r\n+BLEGATTCRD:0,1,0\r\n\r\nOK\r\n"
        await s.expect(f'+READ:0,"{cli_addr}"\r\n'.encode(), timeout=5)
        # read a descriptor (user description of 0xC300)
        assert b"+BLEGATTCRD:0,1,0\r\n" in await ok(c, "AT+BLEGATTCRD=0,3,1,1")
        await s.expect(f'+READ:0,"{cli_addr}"\r\n'.encode(), timeout=5)
        # write a characteristic: the server prints what was written
        out = await write(c, "AT+BLEGATTCWR=0,3,3,,1", b"9")
        assert out.endswith(b"\r\nOK\r\n")
        await s.expect(b"+WRITE:0,1,3,,1,9\r\n", timeout=5)
        # stopping a service hides it from a new discovery
        await ok(s, "AT+BLEGATTSSRVSTOP=2")
        raw = await ok(c, "AT+BLEGATTCPRIMSRV=0")
        assert b"0xA003" not in raw and b"0xA002" in raw


async def test_server_sets_a_value_and_client_reads_it() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s)
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        out = await write(s, "AT+BLEGATTSSETATTR=1,8,,1", b"9")
        assert out.endswith(b"\r\nOK\r\n")
        await ok(c, "AT+BLEGATTCPRIMSRV=0")
        await ok(c, "AT+BLEGATTCCHAR=0,3")
        assert (await ok(c, "AT+BLEGATTCRD=0,3,8,")) == b"AT+BLEGATTCRD=0,3,8,\r\n+BLEGATTCRD:0,1,9\r\n\r\nOK\r\n"
        await s.read_until(b"+READ:0,", timeout=5)
        await s.read_until(b"\r\n", timeout=5)
        # too long for the attribute (val_max_len 1): fails before the prompt
        assert (await s.command("AT+BLEGATTSSETATTR=1,8,,2")).raw == b"AT+BLEGATTSSETATTR=1,8,,2\r\n\r\nERROR\r\n"
        # 0xC301 takes 512 bytes; a long write goes through prepare/execute
        data = bytes(range(256)) * 2
        out = await write(c, "AT+BLEGATTCWR=0,3,2,,512", data)
        assert out.endswith(b"\r\nERROR\r\n")  # 0xC301 is read-only
        out = await write(c, "AT+BLEGATTCWR=0,3,5,,300", data[:300])
        assert out.endswith(b"\r\nOK\r\n")
        got = await s.read_until(b"\r\n", timeout=5)
        while not got.endswith(data[:300] + b"\r\n"):
            got += await s.read_until(b"\r\n", timeout=5)
        assert got.startswith(b"+WRITE:0,1,5,,300,")
        # writing more than the attribute holds is refused by the server
        out = await write(c, "AT+BLEGATTCWR=0,3,3,,2", b"12")
        assert out.endswith(b"\r\nERROR\r\n")


async def test_notify_and_indicate_need_the_cccd() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s)
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        # not subscribed yet: the server refuses before the prompt
        assert (await s.command("AT+BLEGATTSNTFY=0,1,6,10")).final == b"ERROR"
        await ok(c, "AT+BLEGATTCPRIMSRV=0")
        await ok(c, "AT+BLEGATTCCHAR=0,3")
        out = await write(c, "AT+BLEGATTCWR=0,3,6,1,2", b"\x01\x00")
        assert out.endswith(b"\r\nOK\r\n")
        await s.expect(b"+WRITE:0,1,6,1,2,\x01\x00\r\n", timeout=5)
        out = await write(s, "AT+BLEGATTSNTFY=0,1,6,10", b"1234567890")
        assert out == b"AT+BLEGATTSNTFY=0,1,6,10\r\n\r\nOK\r\n\r\n>\r\nOK\r\n"
        await c.expect(b"+NOTIFY:0,3,6,10,1234567890\r\n", timeout=5)
        # the firmware writes 0x0002 for an indicate-only characteristic whatever is typed
        await write(c, "AT+BLEGATTCWR=0,3,7,1,2", b"\x00\x00")
        await s.expect(b"+WRITE:0,1,7,1,2,\x02\x00\r\n", timeout=5)
        out = await write(s, "AT+BLEGATTSIND=0,1,7,3", b"abc")
        assert out.endswith(b"\r\nOK\r\n")
        await c.expect(b"+INDICATE:0,3,7,3,abc\r\n", timeout=5)
        # notification longer than MTU-3 is split into several
        out = await write(s, "AT+BLEGATTSNTFY=0,1,6,25", b"A" * 25)
        await c.expect(b"+NOTIFY:0,3,6,20," + b"A" * 20 + b"\r\n+NOTIFY:0,3,6,5,AAAAA\r\n", timeout=5)


async def test_mtu_exchange_per_connection() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s)
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        assert b"+BLECFGMTU:0,23\r\n" in await ok(c, "AT+BLECFGMTU?")
        assert (await c.command("AT+BLECFGMTU=0,300")).raw == b"AT+BLECFGMTU=0,300\r\n\r\nOK\r\n"
        await c.expect(b"+BLECFGMTU:0,300\r\n", timeout=5)
        await s.expect(b"+BLECFGMTU:0,300\r\n", timeout=5)
        assert b"+BLECFGMTU:0,300\r\n" in await ok(s, "AT+BLECFGMTU?")
        for bad in ("AT+BLECFGMTU=0,22", "AT+BLECFGMTU=0,518", "AT+BLECFGMTU=1,300", "AT+BLECFGMTU=0"):
            assert (await c.command(bad)).final == b"ERROR"
        # the MTU is per connection: after a reconnection it is 23 again
        await ok(c, "AT+BLEDISCONN=0")
        await c.read_until(b"+BLEDISCONN", timeout=5)
        await ok(s, "AT+BLEADVSTART")
        await connect(c, s, addr)
        assert b"+BLECFGMTU:0,23\r\n" in await ok(c, "AT+BLECFGMTU?")


async def test_nimble_chip_creates_services_at_init() -> None:
    async with modules(
        ("esp32c6", "srv"),
    ) as (srv,):
        await ok(srv.host, "AT+BLEINIT=2")
        raw = await ok(srv.host, "AT+BLEGATTSSRV?")
        assert b"+BLEGATTSSRV:1,1,0xA002,1\r\n" in raw
        assert (await srv.host.command("AT+BLEGATTSSRVCRE")).final == b"ERROR"
        assert (await srv.host.command("AT+BLEADVSTART")).final == b"ERROR"  # NimBLE: parameters first
        await ok(srv.host, "AT+BLEADVPARAM=50,50,0,0,7,0,,")
        await ok(srv.host, "AT+BLEADVSTART")


async def test_gatt_bad_parameters() -> None:
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s)
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        for line in (
            "AT+BLEGATTCCHAR=0,3",  # before the primary service search
            "AT+BLEGATTCRD=0,3,1",
            "AT+BLEGATTCPRIMSRV=1",  # no such connection
            "AT+BLEGATTCPRIMSRV=3",
            "AT+BLEGATTSSRVSTART=9",
            "AT+BLEGATTSNTFY=0,1,1,1",  # 0xC300 cannot notify
            "AT+BLEGATTSNTFY=0,9,1,1",
            "AT+BLEGATTSIND=0,1,6,1",
            "AT+BLEGATTCWR=0,3,3,1",
        ):
            r = await (s if "GATTS" in line else c).command(line)
            assert r.final == b"ERROR", (line, r.raw)
        await ok(c, "AT+BLEGATTCPRIMSRV=0")
        for line in ("AT+BLEGATTCCHAR=0,9", "AT+BLEGATTCRD=0,3,99"):
            assert (await c.command(line)).final == b"ERROR", line
        await ok(c, "AT+BLEGATTCCHAR=0,3")
        # 0xC302 is write-only
        assert (await c.command("AT+BLEGATTCRD=0,3,3")).final == b"ERROR"
