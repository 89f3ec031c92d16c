"""Driver commands against peripherals declared in a scenario."""

from __future__ import annotations

import pytest

from esp_at_sim import Module, World
from esp_at_sim.errors import ConfigError
from esp_at_sim.world.peripherals import Peripherals
from esp_at_sim.world.scenario import parse_scenario
from host_setup import quiet

SCENARIO = {
    "peripheral": [
        {"kind": "adc", "channel": 0, "millivolts": 375},
        {"kind": "adc", "channel": 1, "raw": 1234},
        {"kind": "adc", "channel": 2, "waveform": "square", "min_mv": 0, "max_mv": 750, "period": 2.0},
        {"kind": "i2c", "address": 0x48, "model": "tmp102", "temperature": 25.0},
        {"kind": "i2c", "address": 0x50, "registers": {"0x10": [1, 2, 3]}},
        {"kind": "spi_flash", "jedec_id": "EF4016", "size": 65536},
    ]
}


def _world() -> World:
    return parse_scenario(SCENARIO).build_world()


async def test_adc_reads_declared_inputs() -> None:
    async with Module.start("esp32c3", world=_world()) as m:
        h = m.host
        await quiet(m, syslog=True)
        await h.send("AT+DRVADC=0,0")  # 375 mV of 750 mV full scale
        await h.expect(b"+DRVADC:2048\r\n\r\nOK\r\n")
        await h.send("AT+DRVADC=0,3")  # same voltage, 11 dB: 2500 mV full scale
        await h.expect(b"+DRVADC:614\r\n\r\nOK\r\n")
        await h.send("AT+DRVADC=1,2")
        await h.expect(b"+DRVADC:1234\r\n\r\nOK\r\n")
        await h.send("AT+DRVADC=4,0")  # nothing wired: reads 0
        await h.expect(b"+DRVADC:0\r\n\r\nOK\r\n")
        await h.send("AT+DRVADC=5,0")  # ESP32-C3 has channels 0-4
        await h.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")
        await h.send("AT+DRVADC=0,4")
        await h.expect(b"ERR CODE:0x01070001\r\n\r\nERROR\r\n")
        # the square wave changes with the world clock
        seen = set()
        for _ in range(4):
            r = await h.command("AT+DRVADC=2,0")
            seen.add(r.lines[0])
            await m.clock.sleep(0.5)
        assert seen == {b"+DRVADC:0", b"+DRVADC:4095"}


async def test_adc_channel_range_on_esp32() -> None:
    async with Module.start("esp32") as m:
        r = await m.host.command("AT+DRVADC=7,3")
        assert r.lines[-1] == b"+DRVADC:0" and r.ok


async def test_pwm_init_duty_fade_visible_on_world() -> None:
    world = World()
    async with Module.start("esp32c3", world=world) as m:
        h = m.host
        await quiet(m, syslog=True)
        parts = world.extension(Peripherals)
        await h.send("AT+DRVPWMDUTY=10")
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
        await h.send("AT+DRVPWMINIT=5000,15,4")  # C3 LEDC: at most 14 bits
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
        assert "E at-driver: duty_res:15 max:13" in m.log_lines
        await h.send("AT+DRVPWMINIT=5000,13,4,5")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVPWMDUTY=255,512")
        await h.expect(b"\r\nOK\r\n")
        assert parts.pwm_duties("esp0") == {0: 255, 1: 512}
        await h.send("AT+DRVPWMDUTY=,,3")  # only two channels initialised
        await h.expect(b"ERR CODE:0x01060203\r\n\r\nERROR\r\n")
        await h.send("AT+DRVPWMDUTY=8193")
        await h.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")
        await h.send("AT+DRVPWMFADE=,,0,1000")
        await h.expect(b"\r\nOK\r\n")
        await m.clock.sleep(0.5)
        mid = parts.pwm_duties("esp0")[1]
        assert 200 < mid < 312
        await m.clock.sleep(0.6)
        assert parts.pwm_duties("esp0") == {0: 255, 1: 0}
        ops = [w.detail["op"] for w in parts.writes if w.bus == "pwm"]
        assert ops == ["init", "duty", "duty", "fade"]
        await h.send("AT+RST")
        await h.read_until(b"ready\r\n")
        assert parts.pwm_duties("esp0") == {}


async def test_i2c_temperature_sensor_and_register_device() -> None:
    world = _world()
    async with Module.start("esp32", world=world) as m:
        h = m.host
        await quiet(m, syslog=True)
        await h.send("AT+DRVI2CRD=0,0x48,2")
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")  # not initialised
        await h.send("AT+DRVI2CINIT=0,25,26,100000")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVI2CWRBYTES=0,0x48,1,0x00")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVI2CRD=0,0x48,2")
        await h.expect(b"+DRVI2CRD:1900\r\n\r\nOK\r\n")  # 25.0 C
        world.extension(Peripherals).board("esp0").i2c[0x48].temperature = -10.0  # type: ignore[attr-defined]
        await h.send("AT+DRVI2CRD=0,0x48,2")
        await h.expect(b"+DRVI2CRD:f600\r\n\r\nOK\r\n")
        # register device: write a pointer, read three registers
        await h.send("AT+DRVI2CWRBYTES=0,0x50,1,0x10")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVI2CRD=0,0x50,3")
        await h.expect(b"+DRVI2CRD:010203\r\n\r\nOK\r\n")
        await h.send("AT+DRVI2CWRDATA=0,0x50,3")
        await h.expect(b"\r\nOK\r\n\r\n>")
        await h.write(b"\x20\xaa\xbb")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVI2CWRBYTES=0,0x50,1,0x20")
        await h.read_until(b"OK\r\n")
        await h.send("AT+DRVI2CRD=0,0x50,2")
        await h.expect(b"+DRVI2CRD:aabb\r\n\r\nOK\r\n")
        writes = [w.detail["data"] for w in world.extension(Peripherals).writes if w.bus == "i2c"]
        assert b"\x20\xaa\xbb" in writes
        # nobody at 0x33: NACK
        await h.send("AT+DRVI2CRD=0,0x33,1")
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
        await h.send("AT+DRVI2CWRBYTES=0,0x50,5,0x20")
        await h.expect(b"ERR CODE:0x01070002\r\n\r\nERROR\r\n")
        await h.send("AT+DRVI2CRD=0,0x80,1")
        await h.expect(b"ERR CODE:0x01070001\r\n\r\nERROR\r\n")
        await h.send("AT+DRVI2CINIT=0")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVI2CINIT=0")
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")


async def test_i2c_second_port_only_where_the_chip_has_it() -> None:
    async with Module.start("esp32c3") as m:
        r = await m.host.command("AT+DRVI2CINIT=1,4,5,100000")
        assert r.final == b"ERROR"
    async with Module.start("esp32") as m:
        r = await m.host.command("AT+DRVI2CINIT=1,4,5,100000")
        assert r.ok


async def test_spi_flash_jedec_program_read_erase() -> None:
    world = _world()
    async with Module.start("esp32c3", world=world) as m:
        h = m.host
        await quiet(m, syslog=True)
        await h.send("AT+DRVSPIINIT=1000000,0,0,0,0")  # pins first
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
        await h.send("AT+DRVSPICONFGPIO=7,2,6,10")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIINIT=1000000,0,0,0,0")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIRD=3,0x9F,1")
        await h.expect(b"+DRVSPIRD:ef4016\r\n\r\nOK\r\n")
        await h.send("AT+DRVSPIRD=4,0x03,1,0x001000,3")
        await h.expect(b"+DRVSPIRD:ffffffff\r\n\r\nOK\r\n")
        # write enable, then page program 4 bytes at 0x1000
        await h.send("AT+DRVSPIWR=0,0x06,1")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIWR=4,0x02,1,0x001000,3")
        await h.expect(b"\r\nOK\r\n\r\n>")
        await h.write(b"\x12\x34\x56\x78")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIRD=4,0x03,1,0x001000,3")
        await h.expect(b"+DRVSPIRD:12345678\r\n\r\nOK\r\n")
        # without write enable the erase does nothing
        await h.send("AT+DRVSPIWR=0,0x20,1,0x001000,3")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIRD=1,0x03,1,0x001000,3")
        await h.expect(b"+DRVSPIRD:12\r\n\r\nOK\r\n")
        await h.send("AT+DRVSPIWR=0,0x06,1")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIWR=0,0x20,1,0x001000,3")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIRD=2,0x03,1,0x001000,3")
        await h.expect(b"+DRVSPIRD:ffff\r\n\r\nOK\r\n")
        # without DMA a transfer is at most 64 bytes
        await h.send("AT+DRVSPIRD=65,0x03,1,0,3")
        await h.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")
        await h.send("AT+DRVSPIRD=2,0x03,3")
        await h.expect(b"ERR CODE:0x01070002\r\n\r\nERROR\r\n")
        await h.send("AT+DRVSPIINIT=0")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+DRVSPIRD=2")
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
        assert world.extension(Peripherals).board("esp0").spi[0].memory[0x1000] == 0xFF


def test_bad_peripheral_tables_are_config_errors() -> None:
    for bad in (
        {"kind": "thermometer"},
        {"kind": "adc", "channel": 0, "waveform": "noise"},
        {"kind": "i2c", "address": "x"},
        {"kind": "spi_flash", "jedec_id": "EF40"},
        {"kind": "adc", "channel": 0, "colour": "red"},
    ):
        with pytest.raises(ConfigError):
            parse_scenario({"peripheral": [bad]}).build_world()
