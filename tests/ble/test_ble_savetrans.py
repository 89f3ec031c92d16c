"""AT+SAVETRANSLINK=2: both modules enter BLE SPP passthrough by themselves after a restart."""

from __future__ import annotations

import asyncio

from ble.ble_helpers import address, modules, ok


async def test_saved_ble_passthrough_after_restart() -> None:
    async with modules(("esp32c3", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        await ok(s, "AT+BLEINIT=2")
        srv_addr = await address(s)
        await ok(s, "AT+BLEINIT=0")
        await ok(c, "AT+BLEINIT=1")
        cli_addr = await address(c)
        await ok(c, "AT+BLEINIT=0")
        await ok(s, f'AT+SAVETRANSLINK=2,2,1,7,1,5,"{cli_addr}"')
        await ok(c, f'AT+SAVETRANSLINK=2,1,3,5,3,7,"{srv_addr}"')
        for m in (srv, cli):
            await m.host.send("AT+RST")
            await m.host.read_until(b"ready\r\n", timeout=10)
        await s.read_until(b"+BLECONN:0,", timeout=30)
        # the client subscribes to the server's tx as it enters passthrough
        await s.read_until(b"+WRITE:0,1,7,1,2,\x02\x00\r\n", timeout=30)
        await asyncio.sleep(0.5)
        assert srv.in_passthrough and cli.in_passthrough
        # bytes typed on one side come out of the other
        await c.write(b"hello over the air")
        assert await s.read_exactly(18, timeout=10) == b"hello over the air"
        await s.write(b"and back")
        got = await c.read_until(b"and back", timeout=10)
        assert got.endswith(b"and back")
        # +++ leaves; the saved link stays until AT+SAVETRANSLINK=0
        await asyncio.sleep(1.1)
        await c.write(b"+++")
        await asyncio.sleep(1.1)
        await ok(c, "AT")
        await ok(c, "AT+SAVETRANSLINK=0")
