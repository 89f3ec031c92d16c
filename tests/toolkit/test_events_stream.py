"""Dashboard clients of the event stream that vanish mid-stream leave nothing behind."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect

from esp_at_sim.world.uart_log import UartLogs
from esp_at_sim.world_runner import WorldRunner

from .conftest import TOKEN

pytestmark = pytest.mark.real_time  # the server pushes in real time


def _watchers(runner: WorldRunner) -> tuple[int, ...]:
    logs = runner.world.extension(UartLogs)
    out: list[int] = [len(runner.control_server.clients)]
    for name, module in sorted(runner.world.modules.items()):
        out.append(len(logs.log(name)._listeners))
        out.append(len(module._listeners))
    return tuple(out)


async def test_clients_dropping_mid_stream_leak_nothing(runner: WorldRunner) -> None:
    before = _watchers(runner)
    ws_url = runner.control_server.url.replace("http://", "ws://") + "/api/events"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for way in ("abort", "close", "abort"):
        client = await connect(ws_url, additional_headers=headers, max_size=None)
        hello = json.loads(await client.recv())
        assert hello["type"] == "hello" and [m["name"] for m in hello["modules"]] == ["esp0", "esp1"]
        assert _watchers(runner) != before
        # a stream of UART traffic is being pushed when the client goes away
        async with aiohttp.ClientSession(headers=headers) as s:
            for _ in range(5):
                body = {"text": "AT+GMR", "crlf": True}
                async with s.post(runner.control_server.url + "/api/modules/esp0/uart", json=body) as r:
                    assert r.status == 200, await r.text()
        async with asyncio.timeout(10):
            async for text in client:
                if json.loads(text).get("type") != "hello":
                    break
        if way == "abort":
            client.transport.abort()
        else:
            await client.close()
        for _ in range(500):
            if _watchers(runner) == before:
                break
            await asyncio.sleep(0.01)
        assert _watchers(runner) == before, way
