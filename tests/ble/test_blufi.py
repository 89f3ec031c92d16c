"""BluFi provisioning: a phone app gives the module Wi-Fi credentials over BLE
and the module joins the world's access point."""

from __future__ import annotations

from ble.ble_helpers import modules, ok
from esp_at_sim import World
from esp_at_sim.services.ble.blufi_app import BlufiApp
from esp_at_sim.services.ble.peer import BlePeer
from esp_at_sim.services.ble.radio import bt_address
from esp_at_sim.world.wifi import AccessPointSpec, WifiAir
from esp_at_sim.world.wifi_radio import Security


async def test_blufi_provisions_wifi_and_custom_data() -> None:
    world = World(seed="blufi")
    world.extension(WifiAir).add(AccessPointSpec(ssid=b"lab", password=b"labpassword", security=Security.WPA2))
    async with modules(("esp32c3", "dev"), world=world) as (dev,):
        h = dev.host
        assert (await ok(h, "AT+BLUFI?")).endswith(b"+BLUFI:0\r\n\r\nOK\r\n")
        assert b'+BLUFINAME:"BLUFI_DEVICE"\r\n' in await ok(h, "AT+BLUFINAME?")
        await ok(h, 'AT+BLUFINAME="BLUFI_DEV"')
        await ok(h, "AT+CWMODE=1")
        await ok(h, "AT+BLUFI=1")
        assert b"+BLUFI:1\r\n" in await ok(h, "AT+BLUFI?")
        assert (await h.command("AT+BLEINIT=1")).final == b"ERROR"
        async with BlePeer.start(world, "phone") as phone:
            app = BlufiApp(phone)
            await app.connect(bt_address(dev))
            await h.expect(b"+BLUFICONN\r\n", timeout=5)
            assert await app.version() == bytes([1, 3])
            await app.negotiate()
            await app.set_station(b"lab", b"labpassword")
            await h.read_until(b"+SSID:lab\r\n+PASSWORD:labpassword\r\n", timeout=5)
            opmode, state, info = await app.connect_ap()
            assert (opmode, state) == (1, 0)
            assert info[0x02] == b"lab"
            await h.read_until(b"WIFI CONNECTED\r\n", timeout=5)
            await h.read_until(b"WIFI GOT IP\r\n", timeout=5)
            assert b'+CWJAP:"lab"' in await ok(h, "AT+CWJAP?")
            # custom data both ways
            await app.send_custom(b"hello")
            await h.read_until(b"+BLUFIDATA:5,hello\r\n", timeout=5)
            await h.send("AT+BLUFISEND=4")
            await h.read_until(b">", timeout=5)
            await h.write(b"1234")
            await h.read_until(b"\r\nOK\r\n", timeout=5)
            for _ in range(50):
                if app.custom:
                    break
                await app.messages.get()
            assert app.custom == [b"1234"]
        await h.read_until(b"+BLUFIDISCONN\r\n", timeout=30)
        await ok(h, "AT+BLUFI=0")
        assert b"+BLUFI:0\r\n" in await ok(h, "AT+BLUFI?")
        await ok(h, "AT+BLEINIT=1")
        assert (await h.command("AT+BLUFI=1")).final == b"ERROR"


async def test_blufi_wrong_password_reports_failure() -> None:
    world = World(seed="blufi2")
    world.extension(WifiAir).add(AccessPointSpec(ssid=b"lab", password=b"labpassword", security=Security.WPA2))
    async with modules(("esp32", "dev"), world=world) as (dev,):
        h = dev.host
        await ok(h, "AT+BLUFI=1")
        async with BlePeer.start(world, "phone") as phone:
            app = BlufiApp(phone)
            await app.connect(bt_address(dev))
            await app.negotiate()
            await app.set_station(b"lab", b"wrongpassword")
            _opmode, state, _info = await app.connect_ap(timeout=60)
            assert state == 1
        for bad in ("AT+BLUFISEND=601", 'AT+BLUFINAME="' + "x" * 27 + '"', "AT+BLUFI=2", "AT+BLUFI=1,16"):
            assert (await h.command(bad)).final == b"ERROR", bad
