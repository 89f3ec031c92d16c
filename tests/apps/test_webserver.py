"""AT+WEBSERVER: provisioning through the module's web server, with a real HTTP
client and once with headless Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from apps.brokers import free_port
from esp_at_sim import Module, World
from esp_at_sim.world.scenario import parse_scenario
from headless_chromium import CHROMIUM, FLAGS
from host_setup import quiet

SSID, PASSWORD = "lab-ap", "password123"


def _world() -> World:
    return parse_scenario({"access_point": [{"ssid": SSID, "password": PASSWORD}]}).build_world()


async def _serve(m: Module, port: int, timeout: int = 25) -> None:
    h = m.host
    for cmd in ("AT+CWMODE=3", f"AT+WEBSERVER=1,{port},{timeout}"):
        await h.send(cmd)
        await h.expect(b"\r\nOK\r\n")


@pytest.fixture
async def provisioner() -> AsyncIterator[tuple[Module, str]]:
    async with Module.start("esp32c3", world=_world()) as m:
        await quiet(m, syslog=True)
        port = free_port()
        await _serve(m, port)
        yield m, f"http://127.0.0.1:{port}"


async def test_browser_like_client_provisions_the_station(provisioner: tuple[Module, str]) -> None:
    m, base = provisioner
    h = m.host
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/") as r:
            assert r.status == 200 and "text/html" in r.headers["Content-Type"]
            assert b"<form" in await r.read()
        async with http.get(base + "/getversion") as r:
            assert await r.json(content_type=None) == {"version": "1.0"}
        async with http.get(base + "/getstainfo") as r:
            assert json.loads(await r.read()) == {
                "state": 0,
                "sta_ssid": "",
                "sta_password": "",
                "message": "waiting config",
            }
        async with http.get(base + "/getaprecord") as r:
            aps = json.loads(await r.read())
            assert aps["state"] == 0 and {"ssid": SSID, "auth_mode": 3} in aps["aplist"]
        body = json.dumps({"ssid_len": len(SSID), "ssid": SSID, "password_len": len(PASSWORD), "password": PASSWORD})
        async with http.post(base + "/setstainfo", data=body) as r:
            assert r.status == 200 and await r.read() == b'{"state": 0}'
        await h.expect(b"+WEBSERVERRSP:1\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=30)
        async with http.get(base + "/getstainfo") as r:
            info = json.loads(await r.read())
            assert info == {"state": 1, "sta_ssid": SSID, "sta_password": PASSWORD, "message": "connect OK"}
        async with http.post(base + "/getresult", data="received=1") as r:
            assert r.status == 200
        await h.expect(b"+WEBSERVERRSP:2\r\n")
    await h.send("AT+CWJAP?")
    assert SSID.encode() in await h.read_until(b"OK\r\n")
    await h.send("AT+WEBSERVER=0")
    await h.expect(b"\r\nOK\r\n")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(base + "/")


async def test_wrong_password_and_wrong_mode(provisioner: tuple[Module, str]) -> None:
    m, base = provisioner
    h = m.host
    async with aiohttp.ClientSession() as http:
        body = json.dumps({"ssid": SSID, "password": "wrong-password"})
        async with http.post(base + "/setstainfo", data=body) as r:
            assert r.status == 200
        await h.expect(b"+WEBSERVERRSP:1\r\n", timeout=10)
        info: dict[str, Any] = {}
        for _ in range(60):
            async with http.get(base + "/getstainfo") as r:
                info = json.loads(await r.read())
            if info["state"]:
                break
            await m.clock.sleep(1.0)
        assert info["state"] == 2 and info["message"] == "connect fail"
        async with http.post(base + "/setstainfo", data="not json") as r:
            assert r.status == 400 and await r.read() == b'{"state": 1}'
        await h.send("AT+CWMODE=1")
        await h.read_until(b"OK\r\n")
        async with http.post(base + "/setstainfo", data=json.dumps({"ssid": SSID, "password": PASSWORD})) as r:
            assert r.status == 400
        async with http.get(base + "/nothing-here") as r:
            assert r.status == 404


async def test_parameters_and_page_from_the_file_system() -> None:
    async with Module.start("esp32c3", world=_world()) as m:
        await quiet(m, syslog=True)
        h = m.host
        for bad in ("AT+WEBSERVER=1,80,20", "AT+WEBSERVER=1,80,61", "AT+WEBSERVER=2", "AT+WEBSERVER=1,80"):
            r = await h.command(bad)
            assert r.final == b"ERROR", bad
        page = b"<html><body>custom page</body></html>"
        await h.send(f'AT+FS=1,1,"index.html",0,{len(page)}')
        await h.read_until(b">")
        await h.write(page)
        await h.read_until(b"OK\r\n")
        port = free_port()
        await _serve(m, port, 60)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as r:
            assert await r.read() == page
        # a second AT+WEBSERVER=1 while running is accepted
        await h.send(f"AT+WEBSERVER=1,{port},30")
        await h.expect(b"\r\nOK\r\n")
        baseline = m.heap.free
        await h.send("AT+WEBSERVER=0")
        await h.expect(b"\r\nOK\r\n")
        assert m.heap.free > baseline


class DevTools:
    """Headless Chromium driven over its DevTools protocol (websockets)."""

    def __init__(self, proc: asyncio.subprocess.Process, ws: Any) -> None:
        self.proc = proc
        self.ws = ws
        self._id = 0

    @classmethod
    async def launch(cls, profile: str) -> DevTools:
        flags = [*FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM, *flags, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        port_file = Path(profile) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().split()) >= 2:
                break
            await asyncio.sleep(0.05)
        port = port_file.read_text().split()[0]
        from websockets.asyncio.client import connect

        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/json/list") as r:
            pages = [t for t in await r.json() if t["type"] == "page"]
        ws = await connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        return cls(proc, ws)

    async def call(self, method: str, **params: Any) -> Any:
        self._id += 1
        mine = self._id
        await self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg["result"]

    async def js(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return result["result"].get("value")

    async def close(self) -> None:
        await self.ws.close()
        self.proc.terminate()
        await self.proc.wait()


@pytest.mark.real_time
@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="chromium is not installed")
async def test_headless_chromium_submits_the_form() -> None:
    profile = tempfile.mkdtemp(prefix="esp-at-sim-chromium-")
    browser: DevTools | None = None
    try:
        async with Module.start("esp32c3", world=_world()) as m:
            await quiet(m, syslog=True)
            port = free_port()
            await _serve(m, port)
            browser = await DevTools.launch(profile)
            await browser.call("Page.enable")
            await browser.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
            for _ in range(100):
                if await browser.js("!!document.getElementById('provision')"):
                    break
                await asyncio.sleep(0.1)
            await browser.js(
                f"document.getElementById('ssid').value = {json.dumps(SSID)};"
                f"document.getElementById('password').value = {json.dumps(PASSWORD)};"
                "document.getElementById('connect').click(); true"
            )
            await m.host.expect(b"+WEBSERVERRSP:1\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n", timeout=30)
            await m.host.expect(b"+WEBSERVERRSP:2\r\n", timeout=30)
            status = ""
            for _ in range(50):
                status = await browser.js("document.getElementById('status').textContent")
                if status == "Connection succeeded":
                    break
                await asyncio.sleep(0.1)
            assert status == "Connection succeeded"
            await browser.close()
            browser = None
    finally:
        if browser is not None:
            await browser.close()
        shutil.rmtree(profile, ignore_errors=True)
