"""BLE SPP between two modules (bluetooth_le_at_examples.rst, "UART-Bluetooth LE
Passthrough Mode"): 1 MiB each way, checked by hash."""

from __future__ import annotations

import asyncio
import hashlib
import os

from ble.ble_helpers import connect, modules, ok, server_advertising
from esp_at_sim import AtHost, Clock, World

ADV = "0201060A09457370726573736966030302A0"


async def pump(src: AtHost, dst: AtHost, data: bytes, chunk: int = 4096) -> bytes:
    """Write ``data`` into ``src``'s UART while reading ``dst``'s; return what came out."""
    got = bytearray()

    async def reader() -> None:
        while len(got) < len(data):
            got.extend(await dst.read_exactly(min(65536, len(data) - len(got)), timeout=600))

    task = asyncio.ensure_future(reader())
    for i in range(0, len(data), chunk):
        await src.write(data[i : i + chunk])
    await asyncio.wait_for(task, 600)
    return bytes(got)


async def leave(host: AtHost) -> None:
    await asyncio.sleep(0.05)
    await host.write(b"+++")
    await asyncio.sleep(1.1)


async def test_spp_two_modules_one_mib_each_way() -> None:
    # the world runs 100x faster than the test's clock: air time waits cost little
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli"), world=World(Clock(100), seed="spp")) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s, adv=ADV)
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        await ok(c, "AT+BLECFGMTU=0,517")
        await c.read_until(b"+BLECFGMTU:0,517\r\n", timeout=5)
        await s.read_until(b"+BLECFGMTU:0,517\r\n", timeout=5)
        await ok(c, "AT+BLEDATALEN=0,251")
        await ok(c, "AT+BLEGATTCPRIMSRV=0")
        await ok(c, "AT+BLEGATTCCHAR=0,3")
        assert (await c.command("AT+BLESPPCFG=1,3,5,3,7")).raw == b"AT+BLESPPCFG=1,3,5,3,7\r\n\r\nOK\r\n"
        assert b"+BLESPPCFG:3,5,3,7,1\r\n" in await ok(c, "AT+BLESPPCFG?")
        await c.send("AT+BLESPP")
        await c.expect(b"AT+BLESPP\r\n\r\nOK\r\n\r\n>", timeout=5)
        # the client enabled indications on its rx characteristic by itself
        await s.read_until(b"+WRITE:0,1,7,1,2,\x02\x00\r\n", timeout=5)
        await ok(s, "AT+BLESPPCFG=1,1,7,1,5")
        await s.send("AT+BLESPP")
        await s.expect(b"AT+BLESPP\r\n\r\nOK\r\n\r\n>", timeout=5)
        data = os.urandom(1 << 20)
        got = await pump(c, s, data)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        back = os.urandom(1 << 20)
        got = await pump(s, c, back)
        assert hashlib.sha256(got).digest() == hashlib.sha256(back).digest()
        await leave(c)
        await leave(s)
        # command mode again on both sides, still connected
        assert b'+BLECONN:0,"' in await ok(c, "AT+BLECONN?")
        assert b'+BLECONN:0,"' in await ok(s, "AT+BLECONN?")


async def test_spp_needs_configuration_and_subscription() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s)
        await ok(c, "AT+BLEINIT=1")
        assert (await c.command("AT+BLESPP")).raw == b"AT+BLESPP\r\n\r\nERROR\r\n"  # not configured
        await ok(c, "AT+BLESPPCFG=1,3,5,3,7")
        assert (await c.command("AT+BLESPP")).final == b"ERROR"  # not connected
        await connect(c, s, addr)
        assert (await c.command("AT+BLESPP")).final == b"ERROR"  # not discovered
        await ok(s, "AT+BLESPPCFG=1,1,7,1,5")
        assert (await s.command("AT+BLESPP")).final == b"ERROR"  # the client did not subscribe
        for bad in ("AT+BLESPPCFG=1,3,5,3", "AT+BLESPPCFG=2", "AT+BLESPPCFG=1,0,5,3,7", "AT+BLESPPCFG=1,3,5,3,7,2"):
            assert (await c.command(bad)).final == b"ERROR", bad
        await ok(c, "AT+BLESPPCFG=0")
        assert b"+BLESPPCFG:0,0,0,0,1\r\n" in await ok(c, "AT+BLESPPCFG?")


async def test_spp_client_to_phone_like_server_and_quitt() -> None:
    """The module as SPP client; +QUITT on leaving when AT+SYSMSG bit 0 is set."""
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s)
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        await ok(c, "AT+BLEGATTCPRIMSRV=0")
        await ok(c, "AT+BLEGATTCCHAR=0,3")
        await ok(c, "AT+BLESPPCFG=1,3,5,3,7")
        c.module = cli  # type: ignore[attr-defined]
        cli.settings.set("base", "sysmsg", 1)
        await c.send("AT+BLESPP")
        await c.read_until(b">", timeout=5)
        await s.read_until(b"+WRITE:0,1,7,1,2,", timeout=5)
        await s.read_until(b"\r\n", timeout=5)
        await c.write(b"test")
        await s.expect(b"+WRITE:0,1,5,,4,test\r\n", timeout=5)
        await leave(c)
        await c.expect(b"+QUITT\r\n", timeout=5)
