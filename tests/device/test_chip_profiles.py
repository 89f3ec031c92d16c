"""Every chip profile boots and offers what its chip offers: the feature groups the
requirements name (no BLE on ESP32-S2 and the ESP32-C2 4 MB firmware, Classic
Bluetooth only on ESP32, the 5 GHz band setting only on ESP32-C5, the ESP8266's
2.2 command set), its heap budget in AT+SYSRAM and its link limit."""

from __future__ import annotations

import pytest

from esp_at_sim import Module
from esp_at_sim.device.profiles import PROFILES

#: chip -> (BLE, Classic BT, AT+CWBANDMODE, BluFi)
FEATURES = {
    "esp32": (True, True, False, True),
    "esp32c2": (False, False, False, True),
    "esp32c3": (True, False, False, True),
    "esp32c5": (True, False, True, True),
    "esp32c6": (True, False, False, True),
    "esp32c61": (True, False, False, True),
    "esp32s2": (False, False, False, False),
    "esp8266": (False, False, False, False),
}


def test_every_required_chip_has_a_profile() -> None:
    assert set(FEATURES) <= set(PROFILES)


@pytest.mark.parametrize("chip", sorted(FEATURES))
async def test_profile_boots_with_its_groups_heap_and_links(chip: str) -> None:
    profile = PROFILES[chip]
    ble, classic, bandmode, blufi = FEATURES[chip]
    async with Module.start(chip) as m:
        h = m.host
        assert (await h.command("ATE0")).final == b"OK"
        gmr = await h.command("AT+GMR")
        assert gmr.final == b"OK" and f" - {profile.target} - ".encode() in gmr.lines[0]
        for line, present in (
            ("AT+BLEINIT?", ble),
            ("AT+BTINIT?", classic),
            ("AT+CWBANDMODE?", bandmode),
            ("AT+BLUFI?", blufi),
        ):
            assert (await h.command(line)).final == (b"OK" if present else b"ERROR"), (chip, line)
        # Wi-Fi and TCP/IP everywhere
        assert (await h.command("AT+CWMODE?")).lines == [b"+CWMODE:1"]
        assert (await h.command("AT+CIPSERVERMAXCONN?")).lines == [f"+CIPSERVERMAXCONN:{profile.max_links}".encode()]
        ram = await h.command("AT+SYSRAM?")
        free = int(ram.lines[0].split(b":")[1].split(b",")[0])
        assert free == profile.heap_free_at_boot
        assert m.heap.total == profile.heap_total
        listed = (await h.command("AT+CMD?")).lines
        names = {line.split(b",")[1].strip(b'"') for line in listed}
        assert (b"AT+BLEINIT" in names) is ble and (b"AT+BTINIT" in names) is classic
