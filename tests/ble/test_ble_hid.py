"""The module as a BLE keyboard/mouse/remote; a Bumble host reads the reports."""

from __future__ import annotations

import asyncio

from bumble.core import UUID
from bumble.device import Peer
from bumble.pairing import PairingDelegate

from ble.ble_helpers import modules, ok
from esp_at_sim.services.ble.peer import BlePeer
from esp_at_sim.services.ble.radio import bt_address


async def test_hid_reports_reach_the_host() -> None:
    async with modules(("esp32", "kb")) as (kb,):
        h = kb.host
        assert b"+BLEHIDINIT:0\r\n" in await ok(h, "AT+BLEHIDINIT?")
        assert b"+BLEHIDNAME:ESP-AT-HID\r\n" in await ok(h, "AT+BLEHIDNAME?")
        assert (await h.command("AT+BLEHIDKB=0,4,0,0,0,0,0")).final == b"ERROR"  # not initialized
        await ok(h, "AT+BLEHIDINIT=1")
        assert b"+BLEHIDINIT:1\r\n" in await ok(h, "AT+BLEHIDINIT?")
        assert (await h.command("AT+BLEINIT=1")).final == b"ERROR"
        assert (await h.command("AT+BLEHIDKB=0,4,0,0,0,0,0")).final == b"ERROR"  # no host yet
        async with BlePeer.start(kb.world, "pc") as pc:
            pc.pairing(PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
            connection = await pc.connect(bt_address(kb))
            await h.expect(b"+BLEHIDCONN\r\n", timeout=5)
            await connection.pair()
            peer = Peer(connection)
            await peer.discover_services()
            hid = peer.get_services_by_uuid(UUID.from_16_bits(0x1812))[0]
            await hid.discover_characteristics()
            reports = [c for c in hid.characteristics if c.uuid == UUID.from_16_bits(0x2A4D)]
            got: dict[int, list[bytes]] = {}
            for report in reports:
                descs = await report.discover_descriptors()
                ref = next(d for d in descs if d.type == UUID.from_16_bits(0x2908))
                report_id, kind = await ref.read_value()
                if kind == 1:
                    box = got.setdefault(report_id, [])
                    await report.subscribe(box.append)
            report_map = await next(c for c in hid.characteristics if c.uuid == UUID.from_16_bits(0x2A4B)).read_value()
            assert report_map[:4] == bytes([0x05, 0x01, 0x09, 0x06])
            await ok(h, "AT+BLEHIDKB=0,4,0,0,0,0,0")  # "a"
            await ok(h, "AT+BLEHIDMUS=0,10,-10,1")
            await ok(h, "AT+BLEHIDCONSUMER=233")  # volume up
            await asyncio.sleep(1)
            assert got[1] == [bytes([0, 0, 4, 0, 0, 0, 0, 0])]
            assert got[2] == [bytes([0, 10, 0xF6, 1])]
            assert got[3] == [bytes([233, 0])]
            for bad in ("AT+BLEHIDKB=0,4,0,0,0,0", "AT+BLEHIDKB=256,4,0,0,0,0,0", "AT+BLEHIDMUS=0,128,0,0"):
                assert (await h.command(bad)).final == b"ERROR", bad
            await connection.disconnect()
            await h.expect(b"+BLEHIDDISCONN\r\n", timeout=5)
        await ok(h, "AT+BLEHIDINIT=0")
        await ok(h, "AT+BLEINIT=1")


async def test_hid_is_absent_on_chips_without_it() -> None:
    async with modules(("esp32c6", "m")) as (m,):
        assert (await m.host.command("AT+BLEHIDINIT=1")).final == b"ERROR"
