"""Timed scenario events: parsing, and playing them on the world clock."""

from __future__ import annotations

import pytest

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.timeline import parse_duration, parse_events
from esp_at_sim.world.uart_log import UartLogs

from .conftest import start_runner, two_modules


@pytest.mark.parametrize(
    ("text", "seconds"), [("5s", 5.0), ("250ms", 0.25), ("2m", 120.0), ("1h", 3600.0), (3, 3.0), ("1.5", 1.5)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([{"fault": "uart_drop", "module": "esp0"}], "missing 'at'"),
        ([{"at": "soon", "fault": "uart_drop"}], "bad duration"),
        ([{"at": "1s", "fault": "no_such"}], "unknown fault"),
        ([{"at": "1s", "fault": "uart_drop", "module": "esp0", "bogus": 1}], "bogus"),
        ([{"at": "1s", "fault": "uart_drop", "module": "esp7"}], "unknown module"),
        ([{"at": "1s", "send": "AT\r\n"}], "send needs module"),
        ([{"at": "1s", "action": "explode"}], "unknown action"),
        ([{"at": "1s", "send": "AT", "fault": "uart_drop"}], "exactly one"),
        ([{"at": "1s", "every": "0s", "action": "stop"}], "every must be positive"),
    ],
)
def test_bad_events_fail_at_load(events: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_events(events, ["esp0", "esp1"])


async def test_events_play_on_the_world_clock() -> None:
    events = [
        {"at": "2s", "send": "AT\r\n", "module": "esp0"},
        {"at": "3s", "every": "1s", "times": 2, "fault": "module_reset", "module": "esp1", "reason": "brownout"},
        {"at": "10s", "action": "stop"},
    ]
    reports: list[str] = []
    runner = await start_runner(two_modules(event=events), control=False, report=reports.append)
    try:
        await runner.wait()  # returns at the stop event
        assert runner.world.clock.now() >= 10
        logs = runner.world.extension(UartLogs)
        assert logs.log("esp0").text("out").endswith(b"AT\r\n\r\nOK\r\n")
        esp1 = runner.ports["esp1"].module
        assert esp1.boot_count == 3
        assert esp1.boot_reason == "brownout"
        assert b"Brownout detector was triggered" in logs.log("esp1").text("log")
        assert [r.split(" ", 1)[1] for r in reports] == [
            "send b'AT\\r\\n' to esp0",
            "fault module_reset(module='esp1', reason='brownout')",
            "fault module_reset(module='esp1', reason='brownout')",
            "stop",
        ]
    finally:
        await runner.stop()
