"""BLE MTU quirks: the server's other links fall back to MTU 23 on a disconnection,
and a new connection reports the MTU of the previous one on its index."""

from __future__ import annotations

import pytest
from tests.ble.ble_helpers import connect, modules, ok, server_advertising

from esp_at_sim import AtHost


async def _write(host: AtHost, line: str, data: bytes) -> bytes:
    await host.send(line)
    out = await host.read_until(b">", timeout=10)
    await host.write(data)
    return out + (await host.read_reply(timeout=20)).raw


async def _mtu_300(client: AtHost, server: AtHost) -> None:
    await ok(client, "AT+BLECFGMTU=0,300")
    await client.read_until(b"+BLECFGMTU:0,300\r\n", timeout=5)
    await server.read_until(b",300\r\n", timeout=5)


@pytest.mark.parametrize("stale", [False, True])
async def test_ble_mtu_stale(stale: bool) -> None:
    quirks = frozenset({"ble_mtu_stale"} if stale else set())
    async with modules(("esp32", "srv"), ("esp32", "cli"), quirks=quirks) as (srv, cli):
        s, c = srv.host, cli.host
        addr = await server_advertising(s)
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        await _mtu_300(c, s)
        await ok(c, "AT+BLEDISCONN=0")
        await c.read_until(b"+BLEDISCONN", timeout=5)
        await ok(s, "AT+BLEADVSTART")
        await connect(c, s, addr)
        # no exchange on the new connection: the firmware should say 23
        want = b"+BLECFGMTU:0,300\r\n" if stale else b"+BLECFGMTU:0,23\r\n"
        assert want in await ok(c, "AT+BLECFGMTU?")


@pytest.mark.parametrize("reset", [False, True])
async def test_ble_mtu_reset_others(reset: bool) -> None:
    quirks = frozenset({"ble_mtu_reset_others"} if reset else set())
    async with modules(("esp32", "srv"), ("esp32", "c1"), ("esp32", "c2"), quirks=quirks) as (srv, c1, c2):
        s = srv.host
        addr = await server_advertising(s)
        for n, cli in enumerate((c1, c2)):
            c = cli.host
            await ok(c, "AT+BLEINIT=1")
            if n:
                await ok(s, "AT+BLEADVSTART")
            await connect(c, s, addr)
            await _mtu_300(c, s)
            await ok(c, "AT+BLEGATTCPRIMSRV=0")
            await ok(c, "AT+BLEGATTCCHAR=0,3")
            out = await _write(c, "AT+BLEGATTCWR=0,3,6,1,2", b"\x01\x00")
            assert out.endswith(b"\r\nOK\r\n")
            await s.read_until(f"+WRITE:{n},1,6,1,2,".encode() + b"\x01\x00\r\n", timeout=5)
        # the first client leaves; the server notifies the second one 25 bytes
        await ok(c1.host, "AT+BLEDISCONN=0")
        await s.read_until(b"+BLEDISCONN:0", timeout=5)
        await s.read_until(b"\r\n", timeout=5)
        await s.send("AT+BLEGATTSNTFY=1,1,6,25")
        if reset:
            assert (await s.read_reply(timeout=10)).final == b"ERROR"
        else:
            await s.read_until(b">", timeout=10)
            await s.write(b"B" * 25)
            assert (await s.read_reply(timeout=10)).ok
            await c2.host.read_until(b"+NOTIFY:0,3,6,25," + b"B" * 25 + b"\r\n", timeout=5)
