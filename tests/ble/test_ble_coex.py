"""Wi-Fi / Bluetooth coexistence and Bluetooth heap, seen from the UART."""

from __future__ import annotations

from ble.ble_helpers import connect, modules, ok, server_advertising
from ble.test_ble_spp import leave, pump
from esp_at_sim import AtHost, Module, World
from esp_at_sim.world.wifi import AccessPointSpec, WifiAir
from esp_at_sim.world.wifi_radio import Security
from sysram import free_heap


async def _spp(s: AtHost, c: AtHost) -> None:
    addr = await server_advertising(s)
    await ok(c, "AT+BLEINIT=1")
    await connect(c, s, addr)
    await ok(c, "AT+BLECFGMTU=0,517")
    await c.read_until(b"+BLECFGMTU:0,517\r\n", timeout=5)
    await s.read_until(b"+BLECFGMTU:0,517\r\n", timeout=5)
    await ok(c, "AT+BLEGATTCPRIMSRV=0")
    await ok(c, "AT+BLEGATTCCHAR=0,3")
    await ok(c, "AT+BLESPPCFG=1,3,5,3,7")
    await c.send("AT+BLESPP")
    await c.expect(b"AT+BLESPP\r\n\r\nOK\r\n\r\n>", timeout=5)
    await s.read_until(b"+WRITE:0,1,7,1,2,\x02\x00\r\n", timeout=5)
    await ok(s, "AT+BLESPPCFG=1,1,7,1,5")
    await s.send("AT+BLESPP")
    await s.expect(b"AT+BLESPP\r\n\r\nOK\r\n\r\n>", timeout=5)


async def _timed(cli: Module, srv: Module, size: int) -> float:
    t0 = cli.clock.now()
    data = bytes(range(256)) * (size // 256)
    got = await pump(cli.host, srv.host, data)
    assert got == data, got[:80]
    return cli.clock.now() - t0


async def test_wifi_connection_slows_ble_throughput() -> None:
    world = World(seed="coex")
    world.extension(WifiAir).add(
        AccessPointSpec(ssid=b"coex-ap", password=b"coexpass", security=Security.WPA2, channel=6, rssi=-45)
    )
    async with modules(("esp32c3", "srv"), ("esp32c3", "cli"), world=world) as (srv, cli):
        await _spp(srv.host, cli.host)
        alone = await _timed(cli, srv, 32 * 1024)
        await leave(cli.host)
        # the client's radio now also serves a Wi-Fi station
        await ok(cli.host, "AT+CWMODE=1")
        await ok(cli.host, 'AT+CWJAP="coex-ap","coexpass"', timeout=30)
        await cli.host.send("AT+BLESPP")
        await cli.host.read_until(b"AT+BLESPP\r\n\r\nOK\r\n\r\n>", timeout=5)
        shared = await _timed(cli, srv, 32 * 1024)
        # ESP32-C3 gives Bluetooth 40 % of the radio while Wi-Fi is connected
        assert 1.8 < shared / alone < 3.2, (alone, shared)
        await leave(cli.host)
        await ok(cli.host, "AT+CWQAP")
        await cli.host.send("AT+BLESPP")
        await cli.host.read_until(b"AT+BLESPP\r\n\r\nOK\r\n\r\n>", timeout=5)
        again = await _timed(cli, srv, 32 * 1024)
        assert again / alone < 1.3, (alone, again)


async def test_bluetooth_takes_heap_visible_in_sysram() -> None:
    async with modules(("esp32", "srv"), ("esp32", "cli")) as (srv, cli):
        s, c = srv.host, cli.host
        before = await free_heap(s)
        await ok(s, "AT+BLEINIT=2")
        inited = await free_heap(s)
        assert before - inited > 20_000  # the controller and host stacks
        await ok(s, "AT+BLEGATTSSRVCRE")
        tables = await free_heap(s)
        assert inited > tables
        await ok(s, "AT+BLEADVSTART")
        addr = (await ok(s, "AT+BLEADDR?")).split(b'"')[1].decode()
        await ok(c, "AT+BLEINIT=1")
        await connect(c, s, addr)
        connected = await free_heap(s)
        assert tables > connected
        await ok(c, "AT+BLEDISCONN=0")
        await s.read_until(b"+BLEDISCONN:", timeout=5)
        assert await free_heap(s) > connected
        await ok(s, "AT+BLEINIT=0")
        assert abs(await free_heap(s) - before) < 4096
