"""AT+WSSEND with the control opcodes the spec lists: ping (9), pong (10) and close (8),
seen frame by frame by an aiohttp server that does not answer pings by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import WSMsgType, web

from apps.support import online_module, send_after_prompt


class FrameServer:
    def __init__(self) -> None:
        self.frames: list[tuple[WSMsgType, object, object]] = []
        self.closed = asyncio.Event()
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, autoclose=False)
        await ws.prepare(request)
        while True:  # not "async for": it stops before handing over the close frame
            msg = await ws.receive()
            self.frames.append((msg.type, msg.data, msg.extra))
            if msg.type is WSMsgType.PING:
                await ws.pong(b"pong:" + msg.data)
            elif msg.type is WSMsgType.CLOSE:
                await ws.close(code=1000, message=b"ok")
                break
            elif msg.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                break
        self.closed.set()
        return ws

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self.handler)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[FrameServer]:
    s = FrameServer()
    await s.start()
    yield s
    await s.stop()


async def test_ping_pong_and_close_opcodes(server: FrameServer) -> None:
    async with online_module() as m:
        h = m.host
        baseline = m.heap.free
        await h.send(f'AT+WSOPEN=0,"ws://127.0.0.1:{server.port}/"')
        await h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n")
        # a ping: the server sees it and its pong comes back as data
        await h.send("AT+WSSEND=0,4,9")
        await h.expect(b"\r\nOK\r\n\r\n>")
        await h.write(b"abcd")
        await h.expect(b"\r\nSEND OK\r\n")
        await h.expect(b"+WS_DATA:0,9,pong:abcd\r\n")
        assert server.frames[-1][:2] == (WSMsgType.PING, b"abcd")
        # an unsolicited pong: the server sees it, nothing comes back
        await send_after_prompt(h, "AT+WSSEND=0,3,10", b"xyz")
        for _ in range(100):
            if server.frames[-1][0] is WSMsgType.PONG:
                break
            await asyncio.sleep(0.01)
        assert server.frames[-1][:2] == (WSMsgType.PONG, b"xyz")
        await h.expect_silence(0.2)
        # a control frame longer than 125 bytes is refused
        await h.send("AT+WSSEND=0,126,10")
        await h.expect(b"ERR CODE:0x01070001\r\n\r\nERROR\r\n")
        # a close frame with status 1000 ("\x03\xe8") and a reason: the server answers it
        await send_after_prompt(h, "AT+WSSEND=0,6,8", b"\x03\xe8done")
        await asyncio.wait_for(server.closed.wait(), 10)
        assert server.frames[-1][:3] == (WSMsgType.CLOSE, 1000, "done")
        await h.expect(b"+WS_DISCONNECTED:0\r\n", timeout=10)
        await h.send("AT+WSCLOSE=0")
        await h.read_until(b"+WS_CLOSED:0\r\n")
        await asyncio.sleep(0.01)
        assert m.heap.free == baseline
