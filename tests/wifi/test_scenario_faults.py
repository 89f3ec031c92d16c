"""Wi-Fi faults as timed events of a scenario (``[[event]]``), played on the world clock
by the runner that ``esp-at-sim --scenario`` uses: the module reacts as on the air."""

from __future__ import annotations

from tests.toolkit.conftest import start_runner

from esp_at_sim.world.uart_log import UartLogs


async def test_ap_outage_and_signal_change_from_the_scenario() -> None:
    data = {
        "world": {"seed": "events"},
        "module": [{"name": "esp0", "chip": "esp32c3", "boot_time": 0.05}],
        "access_point": [{"ssid": "home", "password": "homepass1", "channel": 6, "rssi": -50}],
        "event": [
            {"at": "1s", "send": 'AT+CWJAP="home","homepass1"\r\n', "module": "esp0"},
            {"at": "5s", "fault": "ap_down", "ssid": "home"},
            {"at": "10s", "fault": "ap_up", "ssid": "home"},
            {"at": "25s", "fault": "rssi", "ssid": "home", "rssi": -71},
            {"at": "28s", "send": "AT+CWJAP?\r\n", "module": "esp0"},
            {"at": "30s", "action": "stop"},
        ],
    }
    runner = await start_runner(data, control=False, report=lambda _: None)
    try:
        await runner.wait()
        out = runner.world.extension(UartLogs).log("esp0").text("out")
        first = out.index(b"WIFI GOT IP\r\n\r\nOK\r\n")
        lost = out.index(b"WIFI DISCONNECT\r\n", first)  # the AP went down at 5 s
        back = out.index(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", lost)  # reconnected after 10 s
        assert out.index(b'+CWJAP:"home"', back) > back
        assert b",6,-71," in out[back:]  # the scan level the scenario set at 25 s
    finally:
        await runner.stop()
