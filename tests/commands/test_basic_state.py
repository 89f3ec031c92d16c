"""Basic and User chapter behaviour that depends on state a transcript cannot show:
Wi-Fi mode rules, heap accounting, OTA slots, mfg_nvs as raw flash."""

from __future__ import annotations

import itertools
import struct

from esp_at_sim import Module
from esp_at_sim.commands.basic import chip_temperature
from esp_at_sim.device.nvs import NvsType
from esp_at_sim.device.nvs_image import Item, build_image, parse_image
from esp_at_sim.services import firmware
from esp_at_sim.services.firmware import FirmwareSlots, app_version


async def ok(m: Module, line: str) -> bytes:
    reply = await m.host.command(line)
    assert reply.final == b"OK", (line, reply.raw)
    return reply.raw


async def error(m: Module, line: str) -> bytes:
    reply = await m.host.command(line)
    assert reply.final == b"ERROR", (line, reply.raw)
    return reply.raw


async def data_command(m: Module, line: str, payload: bytes) -> bytes:
    await m.host.send(line)
    await m.host.read_until(b">")
    await m.host.write(payload)
    return (await m.host.read_reply()).raw


# ------------------------------------------------------------------ AT+SLEEP
async def test_sleep_follows_the_wifi_mode(module: Module) -> None:
    m = module
    await ok(m, "ATE0")
    for mode, allowed in ((0, {0, 1, 2, 3}), (1, {0, 1, 2, 3}), (2, {0}), (3, {0})):
        m.settings.set("wifi", "mode", mode, persist=False)
        for sleep in range(4):
            if sleep in allowed:
                await ok(m, f"AT+SLEEP={sleep}")
            else:
                assert b"ERR CODE" not in await error(m, f"AT+SLEEP={sleep}")
    assert any("softap" in line for line in m.log_lines)


async def test_sleep_tells_the_mcu_state_when_linked(module: Module) -> None:
    from esp_at_sim.commands.user import mcu_asleep

    m = module
    await ok(m, "AT+USERWKMCUCFG=1,2,1,65,100,2")  # bit 1: AT+SLEEP linkage
    await ok(m, "AT+SLEEP=1")
    assert mcu_asleep(m)
    await error(m, "AT+USERWKMCUCFG=0")  # not while the MCU sleeps
    await ok(m, "AT+SLEEP=0")
    assert not mcu_asleep(m)
    await ok(m, "AT+USERWKMCUCFG=0")


# -------------------------------------------------------------------- heap
async def test_filters_and_user_ram_take_heap_and_give_it_back(module: Module) -> None:
    m = module
    free = m.heap.free
    await data_command(m, "AT+SYSMSGFILTERCFG=1,4,0", b"^foo")
    assert m.heap.free < free
    await ok(m, "AT+SYSMSGFILTERCFG=0")
    assert m.heap.free == free
    await ok(m, "AT+USERRAM=1,50000")
    assert m.heap.free == free - 50000
    assert m.heap.min_free <= free - 50000
    await ok(m, "AT+USERRAM=0")
    assert m.heap.free == free


async def test_big_flash_reads_fail_when_the_heap_is_short(module: Module) -> None:
    m = module
    await ok(m, "AT+USERRAM=1,140000")
    await error(m, 'AT+SYSFLASH=2,"fs_storage",0,20000')
    await ok(m, "AT+USERRAM=0")
    reply = await ok(m, 'AT+SYSFLASH=2,"fs_storage",0,20000')
    assert reply.startswith(b"AT+SYSFLASH=2")  # echo, then the data
    assert b"+SYSFLASH:20000," in reply


# -------------------------------------------------------------- OTA slots
def app_image(version: str) -> bytes:
    header = bytes([0xE9, 1, 2, 0x20]) + bytes(20)
    segment = struct.pack("<II", 0x3C000020, 256)
    desc = struct.pack("<IIII", 0xABCD5432, 0, 0, 0) + version.encode().ljust(32, b"\0")
    return header + segment + desc + bytes(200)


def test_app_version_reads_the_app_descriptor() -> None:
    assert app_version(app_image("v4.0.0.0")) == "v4.0.0.0"
    assert app_version(b"\xe9" + bytes(100)) is None
    assert app_version(b"<html>not found</html>" * 4) is None


async def test_rollback_switches_slots_and_reboots(module: Module) -> None:
    m = module
    await ok(m, "ATE0")
    m.service(FirmwareSlots).install("v4.0.0.0")
    await ok(m, "AT+RST")
    await m.host.read_until(b"ready\r\n")
    await ok(m, "ATE0")
    assert b"Bin version:v4.0.0.0(MINI-1)" in await ok(m, "AT+GMR")
    assert b'+SYSROLLBACK:0x230000,"v4.0.0.0",0x60000,"v4.1.1.0"' in await ok(m, "AT+SYSROLLBACK?")
    await m.host.send("AT+SYSROLLBACK")
    await m.host.expect(b"\r\nOK\r\n")
    await m.host.expect(b"\r\nready\r\n")
    await ok(m, "ATE0")
    assert b"Bin version:v4.1.1.0(MINI-1)" in await ok(m, "AT+GMR")
    assert b'+SYSROLLBACK:0x60000,"v4.1.1.0",0x230000,"v4.0.0.0"' in await ok(m, "AT+SYSROLLBACK?")


async def test_userota_installs_what_the_downloader_fetches(module: Module) -> None:
    m = module
    urls: list[str] = []

    async def download(mod: Module, url: str) -> bytes:
        urls.append(url)
        if url.endswith("missing.bin"):
            raise ConnectionError("HTTP 404")
        return app_image("v4.2.0.0")

    firmware.DOWNLOADERS.insert(0, download)
    try:
        await ok(m, "ATE0")
        url = b"http://10.0.0.2/missing.bin"
        reply = await data_command(m, f"AT+USEROTA={len(url)}", url)
        assert reply == b"\r\nRecv %d bytes\r\n\r\nERROR\r\n" % len(url)
        url = b"https://10.0.0.2/esp-at.bin"
        reply = await data_command(m, f"AT+USEROTA={len(url)}", url)
        assert reply == b"\r\nRecv %d bytes\r\n\r\nOK\r\n" % len(url)
        await m.host.expect(b"\r\nready\r\n")
        assert b"Bin version:v4.2.0.0" in await ok(m, "AT+GMR")
        assert urls == ["http://10.0.0.2/missing.bin", "https://10.0.0.2/esp-at.bin"]
    finally:
        firmware.DOWNLOADERS.remove(download)


# ------------------------------------------------------- mfg_nvs as flash
async def test_a_written_mfg_nvs_image_is_what_sysmfg_reads(module: Module) -> None:
    m = module
    await ok(m, "ATE0")
    image = build_image(
        [
            Item("factory_param", "module_name", NvsType.STR, "IMAGED"),
            Item("factory_param", "uart_baudrate", NvsType.I32, 921600),
            Item("client_cert", "client_cert.0", NvsType.BLOB, bytes(range(256)) * 20),
        ],
        0x1F000,
    )
    await ok(m, 'AT+SYSFLASH=0,"mfg_nvs"')
    # written in 4 KiB pieces, as the spec recommends
    for offset in range(0, 3 * 4096, 4096):
        reply = await data_command(m, f'AT+SYSFLASH=1,"mfg_nvs",{offset},4096', image[offset : offset + 4096])
        assert reply == b"\r\nOK\r\n"
    assert (await ok(m, "AT+SYSMFG?")).count(b"+SYSMFG:") == 2
    assert b'"module_name",7,6,IMAGED' in await ok(m, 'AT+SYSMFG=1,"factory_param","module_name"')
    assert b'"uart_baudrate",6,6,921600' in await ok(m, 'AT+SYSMFG=1,"factory_param","uart_baudrate"')
    reply = await ok(m, 'AT+SYSMFG=1,"client_cert","client_cert.0",5000,4')
    assert b'+SYSMFG:"client_cert","client_cert.0",8,4,' + (bytes(range(256)) * 20)[5000:5004] in reply
    # and the raw bytes read back are the ones written
    raw = await ok(m, 'AT+SYSFLASH=2,"mfg_nvs",0,64')
    assert image[:64] in raw


async def test_sysmfg_changes_show_in_the_raw_image(module: Module) -> None:
    m = module
    await ok(m, "ATE0")
    await ok(m, 'AT+SYSMFG=2,"factory_param","max_tx_power",2,60')
    size = 0x1F000
    raw = bytearray()
    for offset in range(0, size, 16384):
        n = min(16384, size - offset)
        reply = await ok(m, f'AT+SYSFLASH=2,"mfg_nvs",{offset},{n}')
        head = b"+SYSFLASH:%d," % n
        start = reply.index(head) + len(head)
        raw += reply[start : start + n]
    items = {(i.namespace, i.key): i.value for i in parse_image(bytes(raw))}
    assert items[("factory_param", "max_tx_power")] == 60
    assert items[("factory_param", "module_name")] == "MINI-1"
    assert ("ble_data", "cfg30") in items


# ------------------------------------------------------------- AT+SYSTEMP
async def test_chip_temperature_is_plausible_and_moves_slowly(module: Module) -> None:
    m = module
    readings = []
    for _ in range(30):
        readings.append(chip_temperature(m))
        await m.clock.sleep(60)
    assert all(24.0 <= t <= 45.0 for t in readings)
    assert max(abs(a - b) for a, b in itertools.pairwise(readings)) < 3.0
    assert readings[-1] > readings[0]  # warmed up since boot
