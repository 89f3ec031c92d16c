"""A module that resets while a connect command waits on its peer leaves no socket and no
heap behind: the MQTT CONNACK, the WebSocket handshake and the HTTP reply never come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from apps.support import online_module, ready_for_apps
from esp_at_sim.world.faults import inject


class SilentPeer:
    """Accepts TCP connections, reads, never answers."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.accepted = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: list[asyncio.Task[None]] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._on, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _on(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        while chunk := await reader.read(4096):
            self.received += chunk

    async def stop(self) -> None:
        for w in self.writers:
            w.close()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def silent() -> AsyncIterator[tuple[SilentPeer, int]]:
    peer = SilentPeer()
    port = await peer.start()
    yield peer, port
    await peer.stop()


@pytest.mark.parametrize(
    ("setup", "command"),
    [
        ('AT+MQTTUSERCFG=0,1,"esp","","",0,0,""', 'AT+MQTTCONN=0,"127.0.0.1",{port},0,60000'),
        (None, 'AT+WSOPEN=0,"ws://127.0.0.1:{port}/",,60000'),
        (None, 'AT+HTTPCGET="http://127.0.0.1:{port}/",2048,2048,60000'),
    ],
    ids=["mqtt", "websocket", "http"],
)
async def test_reset_while_waiting_for_the_peer(
    silent: tuple[SilentPeer, int], setup: str | None, command: str
) -> None:
    peer, port = silent
    async with online_module(name="esp0") as m:
        baseline = m.heap.free
        if setup:
            assert (await m.host.command(setup)).ok
        await m.host.send(command.format(port=port))
        for _ in range(200):
            if peer.received:
                break
            await asyncio.sleep(0.01)
        assert peer.accepted == 1 and peer.received  # the request is out, the answer never comes
        await inject(m.world, "module_reset", module="esp0", reason="watchdog")
        await m.host.read_until(b"ready\r\n", timeout=10)
        await ready_for_apps(m)
        assert (await m.host.command("AT")).ok
        await asyncio.sleep(0.05)
        assert m.heap.live() == [] and m.heap.free == baseline
        # the peer sees the connection go (a reset sends nothing more on it)
        for _ in range(200):
            if all(w.transport.is_closing() or w.is_closing() for w in peer.writers):
                break
            await asyncio.sleep(0.01)
