"""Access points, positions and BLE peers through the control API; Wi-Fi state in the snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from esp_at_sim.testing import AtHost
from esp_at_sim.world_runner import WorldRunner

from .conftest import TOKEN, open_host, start_runner, two_modules

AUTH = {"Authorization": f"Bearer {TOKEN}"}
pytestmark = pytest.mark.real_time

LAB = {"ssid": "lab", "password": "password123", "channel": 6}


@pytest.fixture
async def runner() -> AsyncIterator[WorldRunner]:
    r = await start_runner(two_modules(access_point=[LAB]))
    try:
        yield r
    finally:
        await r.stop()


async def call(runner: WorldRunner, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=AUTH) as s,
        s.request(method, runner.control_server.url + path, json=body) as r,
    ):
        return r.status, await r.json()


async def join(host: AtHost) -> None:
    assert (await host.command("AT+CWMODE=1")).ok
    reply = await host.command('AT+CWJAP="lab","password123"', timeout=30)
    assert reply.ok, reply


async def test_wifi_state_and_ap_down_from_the_api(runner: WorldRunner) -> None:
    host = await open_host(runner, "esp0")
    try:
        await join(host)
        status, snap = await call(runner, "GET", "/api/modules/esp0")
        assert status == 200
        assert snap["wifi"]["connected"] is True
        assert snap["wifi"]["ssid"] == "lab"
        assert snap["wifi"]["ip"]
        assert -100 < snap["wifi"]["rssi"] < 0
        status, aps = await call(runner, "GET", "/api/access_points")
        assert [a["ssid"] for a in aps] == ["lab"] and aps[0]["stations"] == 1
        status, _ = await call(runner, "PATCH", "/api/access_points/lab", {"up": False})
        assert status == 200
        await host.read_until(b"WIFI DISCONNECT\r\n", timeout=30)
        status, _ = await call(runner, "PATCH", "/api/access_points/lab", {"rssi": -71, "up": True})
        assert status == 200
        await host.read_until(b"WIFI GOT IP\r\n", timeout=60)
        status, snap = await call(runner, "GET", "/api/modules/esp0")
        assert snap["wifi"]["rssi"] == -71
    finally:
        host.close()


async def test_add_move_remove_access_points(runner: WorldRunner) -> None:
    status, added = await call(runner, "POST", "/api/access_points", {"ssid": "cafe", "channel": 11})
    assert status == 201 and added["channel"] == 11
    status, _ = await call(runner, "PATCH", "/api/access_points/cafe", {"position": [30, 40]})
    assert status == 200
    status, _ = await call(runner, "PUT", "/api/modules/esp0/position", {"position": [30, 41]})
    assert status == 200
    status, world = await call(runner, "GET", "/api/world")
    cafe = next(a for a in world["access_points"] if a["ssid"] == "cafe")
    assert (cafe["x"], cafe["y"]) == (30, 40)
    assert world["positions"]["esp0"] == [30, 41]
    status, removed = await call(runner, "DELETE", "/api/access_points/cafe")
    assert (status, removed) == (200, {"removed": 1})
    status, _ = await call(runner, "DELETE", "/api/access_points/cafe")
    assert status == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("PATCH", "/api/access_points/lab", {"rssi": 40}, "impossible"),
        ("PATCH", "/api/access_points/lab", {"rssi": "loud"}, "rssi must be a number"),
        ("PATCH", "/api/access_points/lab", {"position": [1]}, "position"),
        ("PATCH", "/api/access_points/lab", {"colour": "red"}, "unknown fields"),
        ("PATCH", "/api/access_points/lab", {"up": "yes"}, "up must be"),
        ("POST", "/api/access_points", {"ssid": "x", "channel": 300}, "channel"),
        ("POST", "/api/access_points", {"ssid": "x", "password": "short"}, "password"),
        ("POST", "/api/access_points", {"channel": 1}, "ssid"),
        ("POST", "/api/access_points", {"ssid": "x", "rssi": 40}, "impossible"),
        ("PUT", "/api/modules/esp0/position", {"position": "here"}, "position"),
        ("PUT", "/api/modules/esp0/position", {}, "position"),
        ("POST", "/api/faults/rssi", {"ssid": "lab", "rssi": 40}, "rssi"),
        ("POST", "/api/ble_peers", {"name": "tag", "address": "zz"}, "ble_peer"),
    ],
)
async def test_impossible_world_values_are_refused(
    runner: WorldRunner, method: str, path: str, body: Any, words: str
) -> None:
    status, err = await call(runner, method, path, body)
    assert status == 400, err
    assert words in err["error"]
    status, aps = await call(runner, "GET", "/api/access_points")
    assert [a["ssid"] for a in aps] == ["lab"] and aps[0]["rssi"] is None


async def test_ble_peer_added_and_removed(runner: WorldRunner) -> None:
    status, _ = await call(
        runner, "POST", "/api/ble_peers", {"name": "tag", "address": "24:0a:c4:00:00:01", "adv_data": "020106"}
    )
    assert status == 201
    status, _ = await call(runner, "DELETE", "/api/ble_peers/tag")
    assert status == 200
