"""The control API over real HTTP on loopback: reading state, sending bytes, faults, waits, bad input."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from esp_at_sim.testing import AtHost
from esp_at_sim.world.uart_log import UartLogs
from esp_at_sim.world_runner import WorldRunner

from .conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}

# a host on a pty: bytes cross the kernel, which may take longer than the virtual loop waits
pytestmark = pytest.mark.real_time


def url(runner: WorldRunner, path: str) -> str:
    return runner.control_server.url + path


async def test_modules_and_state_sections(runner: WorldRunner) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.get(url(runner, "/api/modules")) as r:
            assert r.status == 200
            mods = await r.json()
        assert [m["name"] for m in mods] == ["esp0", "esp1"]
        esp1 = mods[1]
        assert esp1["module"]["chip"] == "esp32"
        assert esp1["module"]["powered"] is True
        assert esp1["heap"]["free"] > 0
        async with s.get(url(runner, "/api/world")) as r:
            world = await r.json()
        assert world["modules"] == ["esp0", "esp1"]
        assert "uart_drop" in world["faults"]


async def test_send_from_api_reaches_module_and_host_sees_reply(runner: WorldRunner, host0: AtHost) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.post(url(runner, "/api/modules/esp0/uart"), json={"text": "AT", "crlf": True}) as r:
            assert r.status == 200, await r.text()
        # the reply goes to the UART, where the host reads it
        await host0.expect(b"AT\r\n\r\nOK\r\n")
        async with s.get(url(runner, "/api/modules/esp0/uart?since=0")) as r:
            log = await r.json()
    dirs = [(e["dir"], e["text"]) for e in log["entries"] if e["dir"] != "log"]
    assert ("in", "AT\\r\\n") in dirs
    assert "".join(t for d, t in dirs if d == "out").endswith("AT\\r\\n\\r\\nOK\\r\\n")
    assert any(e.get("source") == "control" for e in log["entries"])


async def test_host_traffic_is_logged(runner: WorldRunner, host0: AtHost) -> None:
    reply = await host0.command("AT+GMR")
    assert reply.ok
    out = runner.world.extension(UartLogs).log("esp0").text("out")
    assert b"AT version:" in out
    assert runner.world.extension(UartLogs).log("esp0").text("in") == b"AT+GMR\r\n"


async def test_wrong_token_is_refused_and_changes_nothing(runner: WorldRunner) -> None:
    ulog = runner.world.extension(UartLogs).log("esp0")
    before = ulog.last_seq
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
            async with s.post(url(runner, "/api/modules/esp0/uart"), json={"text": "AT\r\n"}, headers=headers) as r:
                assert r.status == 401
                assert "token" in (await r.json())["error"]
            async with s.post(url(runner, "/api/faults/module_reset"), json={"module": "esp0"}, headers=headers) as r:
                assert r.status == 401
        async with s.get(url(runner, "/api/modules?token=nope")) as r:
            assert r.status == 401
        # the OpenAPI description is public
        async with s.get(url(runner, "/api/openapi.json")) as r:
            assert r.status == 200
            doc = await r.json()
            assert doc["openapi"].startswith("3.")
            assert "/api/wait" in doc["paths"]
    await asyncio.sleep(0.05)
    assert ulog.last_seq == before
    assert runner.ports["esp0"].module.boot_count == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/api/modules/esp0/uart", b"{not json", 400, "malformed JSON"),
        ("POST", "/api/modules/esp0/uart", b"[1, 2]", 400, "JSON object"),
        ("POST", "/api/modules/esp0/uart", b'{"hex": "zz"}', 400, "hex"),
        ("POST", "/api/modules/esp0/uart", b'{"text": "a", "hex": "00"}', 400, "exactly one"),
        ("POST", "/api/modules/nope/uart", b'{"text": "AT"}', 404, "unknown module"),
        ("GET", "/api/modules/nope", b"", 404, "unknown module"),
        ("GET", "/api/modules/esp0/uart?since=abc", b"", 400, "since"),
        ("GET", "/api/modules/esp0/uart?dir=sideways", b"", 400, "dir"),
        ("POST", "/api/faults/no_such_fault", b"{}", 404, "unknown fault"),
        ("POST", "/api/faults/uart_drop", b'{"module": "esp0", "probability": 40, "duration": 1}', 400, "probability"),
        ("POST", "/api/faults/uart_drop", b'{"module": "esp0", "count": "many"}', 400, "integer"),
        ("POST", "/api/faults/uart_drop", b'{"module": "ghost"}', 400, "unknown module"),
        ("POST", "/api/faults/uart_drop", b'{"module": "esp0", "colour": 1}', 400, "unknown parameters"),
        ("POST", "/api/faults/uart_drop", b"{}", 400, "missing parameters module"),
        ("POST", "/api/faults/module_reset", b'{"module": "esp0", "reason": "cosmic ray"}', 400, "reason"),
        ("POST", "/api/modules/esp0/reset", b'{"reason": "cosmic ray"}', 400, "reason"),
        ("POST", "/api/wait", b'{"module": "esp0", "uart": "(", "timeout": 1}', 400, "regular expression"),
        ("POST", "/api/wait", b'{"module": "esp0", "timeout": 1}', 400, "exactly one"),
        ("POST", "/api/wait", b'{"module": "esp0", "uart": "x", "timeout": -3}', 400, "timeout"),
        ("POST", "/api/wait", b'{"uart": "x"}', 400, "module"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(
    runner: WorldRunner, method: str, path: str, body: bytes, status: int, words: str
) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s, s.request(method, url(runner, path), data=body) as r:
        assert r.status == status, await r.text()
        err = await r.json()
    assert words in err["error"]
    assert runner.ports["esp0"].module.boot_count == 1


async def test_fault_list_describes_parameters(runner: WorldRunner) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s, s.get(url(runner, "/api/faults")) as r:
        faults = {f["name"]: f for f in await r.json()}
    drop = faults["uart_drop"]
    assert drop["params"]["module"]["required"] is True
    assert drop["params"]["count"] == {
        "type": "integer",
        "required": False,
        "description": "number of bytes to lose next",
        "default": 1,
    }
    assert faults["module_reset"]["params"]["reason"]["default"] == "poweron"


async def test_wait_for_uart_pattern_and_state(runner: WorldRunner) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s:
        waiter = asyncio.ensure_future(
            s.post(url(runner, "/api/wait"), json={"module": "esp1", "uart": r"O[K]", "timeout": 5})
        )
        await asyncio.sleep(0.05)
        async with s.post(url(runner, "/api/modules/esp1/uart"), json={"text": "AT\r\n"}) as r:
            assert r.status == 200
        async with await waiter as r:
            assert r.status == 200
            assert (await r.json())["match"] == "OK"
        # a state condition
        async with s.post(
            url(runner, "/api/wait"), json={"module": "esp1", "state": "module.boot_count", "equals": 1, "timeout": 1}
        ) as r:
            assert r.status == 200
        # a condition that never holds: 408 after the (world-clock) timeout
        async with s.post(url(runner, "/api/wait"), json={"module": "esp1", "uart": "WIFI GOT IP", "timeout": 2}) as r:
            assert r.status == 408
            assert (await r.json())["matched"] is False


async def test_reset_endpoint_prints_boot_log_and_ready(runner: WorldRunner, host0: AtHost) -> None:
    async with (
        aiohttp.ClientSession(headers=AUTH) as s,
        s.post(url(runner, "/api/modules/esp0/reset"), json={"reason": "panic"}) as r,
    ):
        assert r.status == 200
    await host0.expect(b"\r\nready\r\n")
    module = runner.ports["esp0"].module
    assert module.boot_count == 2
    assert module.boot_reason == "panic"
    logged = runner.world.extension(UartLogs).log("esp0").text("log")
    assert b"Guru Meditation Error" in logged


async def test_transcript_download(runner: WorldRunner, host0: AtHost) -> None:
    await host0.command("AT")
    async with aiohttp.ClientSession(headers=AUTH) as s, s.get(url(runner, "/api/modules/esp0/transcript")) as r:
        text = await r.text()
    from esp_at_sim.replay import loads

    tr = loads(text)
    assert tr.header["chip"] == "esp32c3"
    assert b"".join(c.data for c in tr.chunks if c.direction == "in") == b"AT\r\n"
