"""``POST /api/modules/{name}/reset``: every reset cause the API offers boots the module with
that cause, and the ROM of the chip says so in its reset line."""

from __future__ import annotations

import aiohttp
import pytest

from esp_at_sim.world.uart_faults import RESET_REASONS
from esp_at_sim.world_runner import WorldRunner

from .conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
pytestmark = pytest.mark.real_time

#: what the ESP32-C3 ROM (esp0) and the ESP32 ROM (esp1) print after each reset
ROM_WORDS = {
    "poweron": ("rst:0x1 (POWERON)", "rst:0x1 (POWERON_RESET)"),
    "brownout": ("rst:0xf (BROWNOUT_RST)", "rst:0xf (RTCWDT_BROWN_OUT_RESET)"),
    "panic": ("rst:0xc (RTC_SW_CPU_RST)", "rst:0xc (SW_CPU_RESET)"),
    "watchdog": ("rst:0x8 (TG1WDT_SYS_RST)", "rst:0x8 (TG1WDT_SYS_RESET)"),
    "rtc_watchdog": ("rst:0x10 (RTCWDT_RTC_RST)", "rst:0x10 (RTCWDT_RTC_RESET)"),
}


async def test_every_reset_reason_reaches_the_rom(runner: WorldRunner) -> None:
    assert set(ROM_WORDS) == set(RESET_REASONS)
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.get(runner.control_server.url + "/api/openapi.json") as r:
            doc = await r.json()
        body = doc["paths"]["/api/modules/{name}/reset"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["properties"]["reason"]["enum"] == list(RESET_REASONS)
        for reason, words in ROM_WORDS.items():
            for name, word in zip(("esp0", "esp1"), words, strict=True):
                module = runner.ports[name].module
                boots = module.boot_count
                module.log_lines.clear()
                async with s.post(
                    runner.control_server.url + f"/api/modules/{name}/reset", json={"reason": reason}
                ) as r:
                    assert r.status == 200, await r.text()
                    assert await r.json() == {"module": name, "reset": reason}
                await module.wait_ready()
                assert module.boot_count == boots + 1 and module.boot_reason == reason
                assert any(line.startswith(word + ",boot:") for line in module.log_lines), (reason, name)
                saved_pc = any("Saved PC:" in line for line in module.log_lines)
                assert saved_pc == (name == "esp0" and reason != "poweron")
