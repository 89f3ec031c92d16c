"""WebSocket commands against a local `websockets` server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from apps.support import Pki, online_module, send_after_prompt, set_wall_clock
from esp_at_sim import Module


class EchoServer:
    def __init__(self) -> None:
        self.received: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.conns: list[ServerConnection] = []
        self.server: Any = None
        self.port = 0

    async def handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        assert ws.request is not None
        self.headers.append({k.lower(): v for k, v in ws.request.headers.raw_items()})
        try:
            async for msg in ws:
                self.received.append(msg)
                if msg == "close-me":
                    await ws.close(1000, "bye")
                    return
                if msg == "drop-me":
                    ws.transport.abort()
                    return
                if isinstance(msg, str) and msg.startswith("big:"):
                    await ws.send(b"B" * int(msg[4:]))
                    continue
                if msg == "fragments":
                    await ws.send(["ab", "cd", "ef"])
                    continue
                await ws.send(msg)
        except Exception:
            pass

    async def start(self, ssl_ctx: Any = None) -> None:
        self.server = await serve(
            self.handler,
            "127.0.0.1",
            0,
            ssl=ssl_ctx,
            select_subprotocol=lambda conn, offered: next((p for p in offered if p in ("chat", "mqtt")), None),
            ping_interval=None,
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    s = EchoServer()
    await s.start()
    yield s
    await s.stop()


async def test_open_send_receive_close(online: Module, echo: EchoServer) -> None:
    h = online.host
    baseline = online.heap.free
    await h.send(f'AT+WSOPEN=0,"ws://127.0.0.1:{echo.port}/path?x=1","chat"')
    await h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n")
    assert echo.headers[0]["sec-websocket-protocol"] == "chat"
    await h.send("AT+WSOPEN?")
    await h.expect(f'+WSOPEN:0,2,"ws://127.0.0.1:{echo.port}/path?x=1"\r\n\r\nOK\r\n'.encode())
    await h.send("AT+WSSEND=0,4")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"test")
    await h.expect(b"\r\nSEND OK\r\n")
    await h.expect(b"+WS_DATA:0,4,test\r\n")
    assert echo.received == ["test"]
    # binary frame
    await send_after_prompt(h, "AT+WSSEND=0,3,2", b"\x00\x01\x02")
    await h.expect(b"+WS_DATA:0,3,\x00\x01\x02\r\n")
    assert echo.received[-1] == b"\x00\x01\x02"
    # ping: the server's pong is reported
    await send_after_prompt(h, "AT+WSSEND=0,2,9", b"hi")
    await h.expect(b"+WS_DATA:0,2,hi\r\n")
    await h.send("AT+WSCLOSE=0")
    await h.expect(b"\r\nOK\r\n")
    await h.expect(b"+WS_CLOSED:0\r\n")
    await h.send("AT+WSOPEN?")
    await h.expect(b"\r\nOK\r\n")
    assert online.heap.free == baseline


async def test_fragments_and_data_formats(online: Module, echo: EchoServer) -> None:
    h = online.host
    await h.send(f'AT+WSOPEN=1,"ws://127.0.0.1:{echo.port}/"')
    await h.expect(b"+WS_CONNECTED:1\r\n\r\nOK\r\n")
    # send a fragmented text message: two frames
    await send_after_prompt(h, "AT+WSSEND=1,3,1,10000,0", b"fra")
    await send_after_prompt(h, "AT+WSSEND=1,3,0,10000,1", b"gs!")
    await h.expect(b"+WS_DATA:1,6,frags!\r\n")
    assert echo.received[-1] == "frags!"
    # all metadata: opcode, fin, payload_len, offset, data_len, CRLF
    await h.send("AT+WSDATAFMT=1,0,63")
    await h.expect(b"\r\nOK\r\n")
    await send_after_prompt(h, "AT+WSSEND=1,9", b"fragments")
    # websockets ends a fragmented message with an empty FIN frame
    await h.expect(b"+WS_DATA:1,1,0,2,0,2,ab\r\n+WS_DATA:1,0,0,2,0,2,cd\r\n+WS_DATA:1,0,0,2,0,2,ef\r\n")
    await h.expect(b"+WS_DATA:1,0,1,0,0,0,\r\n")
    # message level: one line for the whole message, only payload_len, no CRLF
    await h.send("AT+WSDATAFMT=1,2,4")
    await h.expect(b"\r\nOK\r\n")
    await send_after_prompt(h, "AT+WSSEND=1,9", b"fragments")
    await h.expect(b"+WS_DATA:1,6,abcdef")
    # chunked level with a small buffer: a big frame arrives in pieces with offsets
    await h.send("AT+WSCLOSE=1")
    await h.read_until(b"+WS_CLOSED:1\r\n")
    await h.send("AT+WSCFG=1,10,120,1024")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+WSDATAFMT=1,0,28")  # payload_len, offset, data_len
    await h.read_until(b"OK\r\n")
    await h.send(f'AT+WSOPEN=1,"ws://127.0.0.1:{echo.port}/"')
    await h.read_until(b"OK\r\n")
    await send_after_prompt(h, "AT+WSSEND=1,8", b"big:3000")
    got = b""
    offset = 0
    while offset < 3000:
        head = await h.read_until(re_data())
        _, total, off, n = head[len(b"+WS_DATA:") :].rstrip(b",").split(b",")
        assert int(total) == 3000 and int(off) == offset
        got += await h.read_exactly(int(n))
        offset += int(n)
    assert got == b"B" * 3000


def re_data():  # type: ignore[no-untyped-def]
    import re

    return re.compile(rb"\+WS_DATA:1,\d+,\d+,\d+,")


async def test_server_close_and_lost_link(online: Module, echo: EchoServer) -> None:
    h = online.host
    await h.send(f'AT+WSOPEN=2,"ws://127.0.0.1:{echo.port}/"')
    await h.read_until(b"OK\r\n")
    await send_after_prompt(h, "AT+WSSEND=2,8", b"close-me")
    await h.expect(b"+WS_DISCONNECTED:2\r\n")
    await h.send("AT+WSOPEN?")
    await h.expect(f'+WSOPEN:2,0,"ws://127.0.0.1:{echo.port}/"\r\n\r\nOK\r\n'.encode())
    await h.send("AT+WSSEND=2,1")
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send("AT+WSCLOSE=2")
    await h.read_until(b"+WS_CLOSED:2\r\n")
    # an abrupt loss: reported, then the client reconnects by itself
    await h.send(f'AT+WSOPEN=2,"ws://127.0.0.1:{echo.port}/"')
    await h.read_until(b"OK\r\n")
    await send_after_prompt(h, "AT+WSSEND=2,7", b"drop-me")
    await h.expect(b"+WS_DISCONNECTED:2\r\n")
    await h.expect(b"+WS_CONNECTED:2\r\n", timeout=30)
    assert len(echo.conns) == 3
    await h.send("AT+WSCLOSE=2")
    await h.read_until(b"+WS_CLOSED:2\r\n")


async def test_errors(online: Module, echo: EchoServer) -> None:
    h = online.host
    await h.send('AT+WSOPEN=3,"ws://127.0.0.1/"')
    await h.expect(b"ERR CODE:0x01070000\r\n\r\nERROR\r\n")
    await h.send('AT+WSOPEN=0,"http://127.0.0.1/"')
    await h.expect(b"ERR CODE:0x01070001\r\n\r\nERROR\r\n")
    await h.send('AT+WSOPEN=0,"ws://127.0.0.1:1/"')
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send("AT+WSSEND=0,4")
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send(f'AT+WSOPEN=0,"ws://127.0.0.1:{echo.port}/"')
    await h.read_until(b"OK\r\n")
    await h.send(f'AT+WSOPEN=0,"ws://127.0.0.1:{echo.port}/"')
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    await h.send("AT+WSSEND=0,4,3")  # reserved opcode
    await h.expect(b"ERR CODE:0x01070002\r\n\r\nERROR\r\n")
    await h.send("AT+WSSEND=0,4,9,1000,0")  # fragmented control frame
    await h.expect(b"ERR CODE:0x01070002\r\n\r\nERROR\r\n")
    await h.send("AT+WSSEND=0,16385")
    await h.expect(b"ERR CODE:0x01070001\r\n\r\nERROR\r\n")
    await h.send("AT+WSCFG=0,0,10")
    await h.expect(b"ERR CODE:0x01070001\r\n\r\nERROR\r\n")
    await h.send("AT+WSCLOSE=1")
    await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
    header = b"X-Api-Key: secret"
    await h.send(f"AT+WSHEAD={len(header)}")
    await h.read_until(b">")
    await h.write(header)
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+WSHEAD?")
    await h.expect(b'+WSHEAD:0,"X-Api-Key: secret"\r\n\r\nOK\r\n')
    await h.send(f'AT+WSOPEN=1,"ws://127.0.0.1:{echo.port}/",,5000,"Basic dXNlcjpwYXNz"')
    await h.read_until(b"OK\r\n")
    assert echo.headers[-1]["x-api-key"] == "secret"
    assert echo.headers[-1]["authorization"] == "Basic dXNlcjpwYXNz"


async def test_wss_with_mutual_authentication(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path)
    server = EchoServer()
    await server.start(pki.server_context(require_client=True))
    try:
        async with online_module() as m:
            h = m.host
            # without a client certificate the server refuses
            await h.send(f'AT+WSOPEN=0,"wss://localhost:{server.port}/"')
            await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
            pki.install(m, "wss")
            set_wall_clock(m)
            await h.send("AT+WSCFG=0,30,60,4096,3,0,0")
            await h.expect(b"\r\nOK\r\n")
            m.world.dns["localhost"] = "127.0.0.1"
            await h.send(f'AT+WSOPEN=0,"wss://localhost:{server.port}/"')
            await h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n")
            await send_after_prompt(h, "AT+WSSEND=0,4", b"test")
            await h.expect(b"+WS_DATA:0,4,test\r\n")
            await h.send("AT+WSCLOSE=0")
            await h.read_until(b"+WS_CLOSED:0\r\n")
            await asyncio.sleep(0)
            assert m.heap.live() == []
    finally:
        await server.stop()
