"""What the host makes a module drive (PWM, I2C, SPI) is visible from the control API."""

from __future__ import annotations

import aiohttp
import pytest

from .conftest import TOKEN, open_host, start_runner, two_modules

AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.real_time  # a host on a pty

PARTS = [
    {"module": "esp0", "kind": "i2c", "address": 0x50, "registers": {"0x10": [1, 2, 3]}},
    {"module": "esp0", "kind": "adc", "channel": 1, "millivolts": 300},
    {"module": "esp0", "kind": "spi_flash", "jedec_id": "EF4016", "size": 65536},
]


async def test_bus_writes_and_pwm_duties_in_the_module_state() -> None:
    runner = await start_runner(two_modules(peripheral=PARTS))
    host = await open_host(runner, "esp0")
    try:
        for line in (
            "AT+DRVPWMINIT=5000,10,4,5",
            "AT+DRVPWMDUTY=100,200",
            "AT+DRVI2CINIT=0,6,7,100000",
            "AT+DRVI2CWRBYTES=0,0x50,3,0x10aabb",
        ):
            reply = await host.command(line)
            assert reply.ok, (line, reply.raw)
        async with aiohttp.ClientSession(headers=AUTH) as s:
            async with s.get(runner.control_server.url + "/api/modules/esp0") as r:
                assert r.status == 200
                esp0 = await r.json()
            async with s.get(runner.control_server.url + "/api/modules/esp1") as r:
                esp1 = await r.json()
        parts = esp0["peripherals"]
        assert parts["pwm"] == {
            "freq": 5000,
            "resolution": 10,
            "channels": {"0": {"gpio": 4, "duty": 100}, "1": {"gpio": 5, "duty": 200}},
        }
        # the write moved the register pointer and filled two registers
        assert parts["i2c"]["0x50"]["registers"] == {"0x10": "aa", "0x11": "bb", "0x12": "03"}
        assert parts["adc"] == {"1": {"millivolts": 300.0, "raw": None}}
        assert parts["spi_flash"] == [{"jedec_id": "EF4016", "size": 65536, "cs": None}]
        assert parts["writes"][-1] == {"bus": "i2c", "port": 0, "address": 0x50, "data": "10aabb"}
        assert [w["op"] for w in parts["writes"] if w["bus"] == "pwm"] == ["init", "duty", "duty"]  # one per channel
        # nothing wired to esp1 and nothing driven: no section
        assert "peripherals" not in esp1
    finally:
        host.close()
        await runner.stop()
