"""HTTP client commands against a local aiohttp server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from apps.support import Pki, online_module, set_wall_clock
from esp_at_sim import Module
from host_setup import quiet

PATTERN = bytes(range(256)) * 16  # 4 KiB


def _app() -> web.Application:
    app = web.Application()

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=b"hello from the server", content_type="text/plain")

    async def big(request: web.Request) -> web.Response:
        n = int(request.query.get("n", "5000"))
        return web.Response(body=(PATTERN * (n // len(PATTERN) + 1))[:n])

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for part in (b"first-", b"second-", b"third"):
            await resp.write(part)
        await resp.write_eof()
        return resp

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "body": body.decode(),
                "headers": dict(request.headers),
                "url": str(request.rel_url),
            }
        )

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.Response(status=code, text=f"status {code}")

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/get"}, text="moved")

    async def cut(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "1000"})
        await resp.prepare(request)
        await resp.write(b"x" * 100)
        assert request.transport is not None
        request.transport.close()
        return resp

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response(text="late")

    async def dribble(request: web.Request) -> web.StreamResponse:
        # a Content-Length body in odd-sized writes that reach the module apart
        sizes = [int(x) for x in request.query["sizes"].split(",")]
        resp = web.StreamResponse(headers={"Content-Length": str(sum(sizes))})
        await resp.prepare(request)
        sent = 0
        for n in sizes:
            await resp.write(PATTERN[sent : sent + n])
            sent += n
            await asyncio.sleep(0.01)
        await resp.write_eof()
        return resp

    app.router.add_get("/get", get)
    app.router.add_get("/dribble", dribble)
    app.router.add_get("/big", big)
    app.router.add_get("/chunked", chunked)
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/cut", cut)
    app.router.add_get("/slow", slow)
    return app


async def _serve(ssl_ctx=None) -> tuple[web.AppRunner, int]:  # type: ignore[no-untyped-def]
    runner = web.AppRunner(_app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


@pytest.fixture
async def server() -> AsyncIterator[str]:
    runner, port = await _serve()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_httpclient_get_head_post_put_delete(online: Module, server: str) -> None:
    h = online.host
    await h.send(f'AT+HTTPCLIENT=2,0,"{server}/get",,,1')
    await h.expect(b"+HTTPCLIENT:21,hello from the server\r\n\r\nOK\r\n")
    r = await h.command(f'AT+HTTPCLIENT=1,0,"{server}/get",,,1')
    assert r.ok
    lines = {ln.split(b",", 1)[1] for ln in r.lines}
    assert b"Content-Length: 21" in lines
    for ln in r.lines:
        n, text = ln.removeprefix(b"+HTTPCLIENT:").split(b",", 1)
        assert int(n) == len(text)
    r = await h.command(f'AT+HTTPCLIENT=3,1,"{server}/echo",,,1,"{{\\"a\\":1}}"')
    body = json.loads(b"".join(ln.split(b",", 1)[1] for ln in r.lines))
    assert body["method"] == "POST" and body["body"] == '{"a":1}'
    assert body["headers"]["Content-Type"] == "application/json"
    assert body["headers"]["User-Agent"] == "ESP32 HTTP Client/1.0"
    r = await h.command(f'AT+HTTPCLIENT=4,0,"{server}/echo?user=foo",,,1')
    body = json.loads(r.lines[0].split(b",", 1)[1])
    assert body["method"] == "PUT" and body["url"] == "/echo?user=foo"
    assert body["headers"]["Content-Length"] == "0"
    r = await h.command(f'AT+HTTPCLIENT=5,0,"{server}/echo",,,1')
    assert json.loads(r.lines[0].split(b",", 1)[1])["method"] == "DELETE"
    # host and path instead of a URL
    host = server.removeprefix("http://")
    r = await h.command(f'AT+HTTPCLIENT=2,0,"","{host}","/get",1')
    assert r.lines == [b"+HTTPCLIENT:21,hello from the server"]


async def test_status_codes_map_to_err_code(online: Module, server: str) -> None:
    h = online.host
    await h.send(f'AT+HTTPCLIENT=2,0,"{server}/status/404",,,1')
    await h.expect(b"+HTTPCLIENT:10,status 404\r\nERR CODE:0x010a7194\r\n\r\nERROR\r\n")
    await h.send(f'AT+HTTPCGET="{server}/status/503"')
    await h.expect(b"ERR CODE:0x010a71f7\r\n\r\nERROR\r\n")
    await h.send(f'AT+HTTPGETSIZE="{server}/status/401"')
    await h.expect(b"ERR CODE:0x010a7191\r\n\r\nERROR\r\n")
    # redirects are not followed: the 302 is the answer
    await h.send(f'AT+HTTPCLIENT=2,0,"{server}/redirect",,,1')
    await h.expect(b"+HTTPCLIENT:5,moved\r\n\r\nOK\r\n")
    # nobody listening: connection failed
    await h.send('AT+HTTPCGET="http://127.0.0.1:1/x"')
    await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")


async def test_httpcget_chunks_by_rx_size_and_chunked_encoding(online: Module, server: str) -> None:
    h = online.host
    await h.send(f'AT+HTTPGETSIZE="{server}/big?n=5000"')
    await h.expect(b"+HTTPGETSIZE:5000\r\n\r\nOK\r\n")
    await h.send(f'AT+HTTPCGET="{server}/big?n=5000"')
    data = PATTERN[:5000] if len(PATTERN) >= 5000 else (PATTERN * 2)[:5000]
    await h.expect(b"+HTTPCGET:2048," + data[:2048] + b"\r\n")
    await h.expect(b"+HTTPCGET:2048," + data[2048:4096] + b"\r\n")
    await h.expect(b"+HTTPCGET:904," + data[4096:] + b"\r\n\r\nOK\r\n")
    await h.send(f'AT+HTTPCGET="{server}/big?n=1000",2048,300,5000')
    for i in range(3):
        await h.expect(b"+HTTPCGET:300," + data[i * 300 : (i + 1) * 300] + b"\r\n")
    await h.expect(b"+HTTPCGET:100," + data[900:1000] + b"\r\n\r\nOK\r\n")
    await h.send(f'AT+HTTPCGET="{server}/chunked"')
    await h.expect(b"+HTTPCGET:18,first-second-third\r\n\r\nOK\r\n")
    await h.send(f'AT+HTTPGETSIZE="{server}/chunked"')
    await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")


async def test_httpcget_pieces_span_socket_reads(online: Module, server: str) -> None:
    """Pieces are ``<rx size>`` bytes however the body arrives: a piece may take
    several reads, and a read may end in the middle of a piece."""
    h = online.host
    sizes = [7, 130, 1013, 1, 299, 600, 50]
    body = PATTERN[: sum(sizes)]
    await h.send(f'AT+HTTPCGET="{server}/dribble?sizes={",".join(map(str, sizes))}",2048,300,5000')
    for i in range(0, 2100, 300):
        await h.expect(b"+HTTPCGET:300," + body[i : i + 300] + b"\r\n")
    await h.expect(b"\r\nOK\r\n")
    await h.expect_silence(0.2)


async def test_server_closing_mid_body_and_timeout(online: Module, server: str) -> None:
    h = online.host
    baseline = online.heap.free
    await h.send(f'AT+HTTPCGET="{server}/cut",2048,2048,5000')
    await h.read_until(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
    await h.send(f'AT+HTTPCGET="{server}/slow",2048,2048,3000')
    await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n", timeout=30)
    r = await h.command("AT+SYSRAM?")
    assert r.lines == [f"+SYSRAM:{baseline},{online.heap.min_free}".encode()]
    assert online.heap.live() == []
    r = await h.command(f'AT+HTTPCGET="{server}/get"')
    assert r.ok


async def test_httpcpost_and_httpcput_with_headers(online: Module, server: str) -> None:
    h = online.host
    payload = b'{"k": "v", "escaped": "\\" and ,"}'
    await h.send(
        f'AT+HTTPCPOST="{server}/echo",{len(payload)},2,"connection: keep-alive","content-type: application/json"'
    )
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(payload)
    reply = await h.read_until(b"SEND OK\r\n")
    pieces = [p for p in reply.split(b"+HTTPCPOST:")[1:]]
    body = b"".join(p.split(b",", 1)[1].removesuffix(b"\r\n\r\nSEND OK\r\n").removesuffix(b"\r\n") for p in pieces)
    echoed = json.loads(body)
    assert echoed["body"] == payload.decode()
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert echoed["headers"]["Content-Length"] == str(len(payload))
    await h.send(f'AT+HTTPCPUT="{server}/echo",3')
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"abc")
    reply = await h.read_until(b"SEND OK\r\n")
    assert b'"method": "PUT"' in reply and b'"body": "abc"' in reply
    # a server error: SEND FAIL
    await h.send('AT+HTTPCPOST="http://127.0.0.1:1/",3')
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"abc")
    await h.expect(b"\r\nSEND FAIL\r\n")
    # the host gives up on a body shorter than announced with +++
    await h.send(f'AT+HTTPCPOST="{server}/echo",100')
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"only a few")
    await asyncio.sleep(0.05)
    await h.write(b"+++")
    await h.expect(b"\r\nSEND FAIL\r\n")
    assert online.heap.live() == []
    r = await h.command("AT")
    assert r.ok


async def test_long_url_and_global_headers(online: Module, server: str) -> None:
    h = online.host
    url = f"{server}/echo/{'a' * 8000}"
    url = url[:8192]
    await h.send(f"AT+HTTPURLCFG={len(url)}")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(url.encode())
    await h.expect(b"\r\nSET OK\r\n")
    r = await h.command("AT+HTTPURLCFG?")
    assert r.lines == [f"+HTTPURLCFG:{len(url)},{url}".encode()]
    # 8 KiB of URL do not fit the default 2 KiB send buffer
    await h.send('AT+HTTPCGET=""')
    await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
    r = await h.command('AT+HTTPCGET="",10240,10240')
    assert r.ok and b'"method": "GET"' in r.raw
    await h.send("AT+HTTPURLCFG=0")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+HTTPURLCFG=5")
    await h.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")
    header = b"Range: bytes=0-9"
    await h.send(f"AT+HTTPCHEAD={len(header)}")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(header)
    await h.expect(b"\r\nOK\r\n")
    header = b"X-Token: abc"
    await h.send(f"AT+HTTPCHEAD={len(header)}")
    await h.read_until(b">")
    await h.write(header)
    await h.read_until(b"OK\r\n")
    await h.send("AT+HTTPCHEAD?")
    await h.expect(b'+HTTPCHEAD:0,"Range: bytes=0-9"\r\n+HTTPCHEAD:1,"X-Token: abc"\r\n\r\nOK\r\n')
    r = await h.command(f'AT+HTTPCLIENT=2,0,"{server}/echo",,,1,"X-Token: mine"')
    echoed = json.loads(r.lines[0].split(b",", 1)[1])
    assert echoed["headers"]["X-Token"] == "abc" and echoed["headers"]["Range"] == "bytes=0-9"
    await h.send("AT+HTTPCHEAD=0")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+HTTPCHEAD?")
    await h.expect(b"\r\nOK\r\n")


async def test_no_network_and_bad_urls() -> None:
    async with Module.start("esp32c3") as m:
        await quiet(m, syslog=True)
        await m.host.send('AT+HTTPCGET="http://127.0.0.1:80/"')
        await m.host.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
        await m.host.send('AT+HTTPCGET="ftp://x/"')
        await m.host.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")
        await m.host.send('AT+HTTPCLIENT=6,0,"http://x/",,,1')
        await m.host.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")


async def test_https_with_and_without_verification(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path)
    runner, port = await _serve(pki.server_context())
    url = f"https://127.0.0.1:{port}/get"
    try:
        async with online_module() as m:
            h = m.host
            await h.send(f'AT+HTTPCGET="{url}"')
            await h.expect(b"+HTTPCGET:21,hello from the server\r\n\r\nOK\r\n")
            # verify the server: no CA stored yet
            await h.send("AT+HTTPCFG=2,0,0")
            await h.expect(b"\r\nOK\r\n")
            await h.send(f'AT+HTTPCGET="{url}"')
            await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
            pki.install(m, "https")
            # the CA is there, but the module's clock still says 1970
            await h.send(f'AT+HTTPCGET="{url}"')
            await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
            assert any("not yet valid" in ln for ln in m.log_lines)
            set_wall_clock(m)
            await h.send(f'AT+HTTPCGET="{url}"')
            await h.expect(b"+HTTPCGET:21,hello from the server\r\n\r\nOK\r\n")
            # the name must match: "localhost" is in the certificate, a wrong name is not
            m.world.dns["wrong.example"] = "127.0.0.1"
            await h.send(f'AT+HTTPCGET="https://wrong.example:{port}/get"')
            await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
            assert m.heap.live() == []
    finally:
        await runner.cleanup()
