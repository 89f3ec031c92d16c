"""Application protocols through the module vs the same work done directly.

* MQTT publish rate, QoS 0 and 1: AT+MQTTPUB one command after the other
  (as a host MCU does) vs paho-mqtt publishing directly; both measured until a
  subscriber at the broker has every message. Target: 50 %.
* HTTP GET of 1 MiB: AT+HTTPCGET (default 2 KiB pieces) vs aiohttp on the same
  server and body, turn about; both read the whole body. Target: 40 %.
* WebSocket echo round trip: AT+WSSEND and the ``+WS_DATA`` answer vs a
  `websockets` client.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    reference: float
    unit: str
    target: float | None = None  # minimum value/reference ratio
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.value / self.reference if self.reference else 0.0
        return self.reference / self.value if self.value else 0.0

    def unit_line(self) -> str:
        goal = (
            ""
            if self.target is None
            else f", target >= {self.target:.0%}{' MISSED' if self.ratio < self.target else ''}"
        )
        return f"{self.unit} (reference {self.reference:,.1f}: ratio {self.ratio:.0%}{goal})"

    def line(self) -> str:
        goal = (
            ""
            if self.target is None
            else f" (target >= {self.target:.0%}{', MISSED' if self.ratio < self.target else ''})"
        )
        measured = f"{self.value:,.1f} {self.unit} vs reference {self.reference:,.1f} {self.unit}"
        return f"{self.name}: {measured}: ratio {self.ratio:.0%}{goal}"


MQTT_BATCH = 50
MQTT_BATCHES = 10
HTTP_SIZE = 1024 * 1024
WS_BATCH = 50
WS_BATCHES = 8
HTTP_ROUNDS = 24


async def _module():  # type: ignore[no-untyped-def]
    from apps.support import go_online, quiet
    from esp_at_sim import Module

    cm = Module.start("esp32c3")
    m = await cm.__aenter__()
    go_online(m)
    await quiet(m)
    return cm, m


async def _take_reply(h) -> bytes:  # type: ignore[no-untyped-def]
    """A host that stores the whole reply and parses it afterwards (as with DMA):
    it keeps what the UART delivers and only looks at the tail for the final
    ``OK``; the reply is put together once, at the end (as aiohttp's
    ``read()`` does with the body on the direct side). The caller bounds it
    with a timeout."""
    parts = [bytes(h.buffer)]
    h.buffer.clear()
    tail = parts[0][-6:]
    while tail != b"\r\nOK\r\n":
        data = await h._read()
        parts.append(data)
        tail = (tail + data[-6:])[-6:]
    return b"".join(parts)


async def _until(h, pattern: bytes) -> bytes:  # type: ignore[no-untyped-def]
    """Read the UART up to ``pattern``: a lean host loop (no timer or task per
    read, no transcript), so the figures count the module's work, not the test
    host's; the callers bound the whole batch with one timeout."""
    buf = h.buffer
    while (i := buf.find(pattern)) < 0:
        buf += await h._read()
    end = i + len(pattern)
    out = bytes(buf[:end])
    del buf[:end]
    return out


async def _at(h, line: str) -> None:  # type: ignore[no-untyped-def]
    """One command, as a host MCU's driver sends it; it must end in OK."""
    await h._write(line.encode() + b"\r\n")
    reply = await _until(h, b"\r\n")
    while reply.strip() not in (b"OK", b"ERROR"):
        reply = await _until(h, b"\r\n")
    assert reply.strip() == b"OK", reply


async def _count(peer, n: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(n):
        await peer.deliver_message(timeout_duration=30)


class _LoopPaho:
    """paho-mqtt driven by this event loop, as paho's own asyncio example does:
    the socket on the loop's reader and writer, ``loop_misc`` once a second, the
    acknowledgements as futures. The module drives the same library on the same
    loop, so neither side pays for a thread the other does not have."""

    def __init__(self, client_id: str) -> None:
        import paho.mqtt.client as paho

        self.loop = asyncio.get_running_loop()
        self.client = c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.connected: asyncio.Future[None] = self.loop.create_future()
        self.acks: dict[int, asyncio.Future[None]] = {}
        self._misc: asyncio.Task[None] | None = None
        c.on_socket_open = self._open
        c.on_socket_close = self._close
        c.on_socket_register_write = lambda cl, ud, sock: self.loop.add_writer(sock, cl.loop_write)
        c.on_socket_unregister_write = lambda cl, ud, sock: self.loop.remove_writer(sock)
        c.on_connect = lambda *a: self.connected.done() or self.connected.set_result(None)
        c.on_publish = self._published

    def _open(self, client, userdata, sock) -> None:  # type: ignore[no-untyped-def]
        self.loop.add_reader(sock, client.loop_read)
        self._misc = self.loop.create_task(self._misc_loop())

    def _close(self, client, userdata, sock) -> None:  # type: ignore[no-untyped-def]
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)
        if self._misc is not None:
            self._misc.cancel()

    async def _misc_loop(self) -> None:
        while self.client.loop_misc() == 0:
            await asyncio.sleep(1)

    def _published(self, client, userdata, mid, reason, props) -> None:  # type: ignore[no-untyped-def]
        fut = self.acks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def connect(self, port: int) -> None:
        self.client.connect("127.0.0.1", port)
        await asyncio.wait_for(self.connected, 10)

    async def publish(self, topic: str, payload: str, qos: int) -> None:
        info = self.client.publish(topic, payload, qos)
        if qos and not info.is_published():
            fut = self.acks[info.mid] = self.loop.create_future()
            await asyncio.wait_for(fut, 10)

    async def disconnect(self) -> None:
        self.client.disconnect()
        await asyncio.sleep(0)  # DISCONNECT leaves through the loop's writer
        if self._misc is not None:
            self._misc.cancel()


async def _mqtt(qos: int) -> Figure:
    """One publish after the other on both sides (AT+MQTTPUB returns after the
    PUBACK at QoS 1, so the direct client waits for it too), each batch timed
    until the subscriber has all of it. Module and direct client take turns,
    batch after batch, so a load spike on the machine hits both; the best batch
    of each counts."""
    from apps.brokers import running_broker

    module_s = direct_s = float("inf")
    async with running_broker() as broker, broker.peer("counter") as peer:
        await peer.subscribe([("bench/#", 1)])
        cm, m = await _module()
        direct = _LoopPaho("direct")
        try:
            h = m.host
            await h.command('AT+MQTTUSERCFG=0,1,"bench","","",0,0,""')
            await h.command(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
            await direct.connect(broker.tcp)
            for batch in range(MQTT_BATCHES):
                counting = asyncio.ensure_future(_count(peer, MQTT_BATCH))
                t0 = time.perf_counter()
                async with asyncio.timeout(60):
                    for i in range(MQTT_BATCH):
                        await _at(h, f'AT+MQTTPUB=0,"bench/at","message {batch}.{i}",{qos},0')
                    await counting
                module_s = min(module_s, time.perf_counter() - t0)
                counting = asyncio.ensure_future(_count(peer, MQTT_BATCH))
                t0 = time.perf_counter()
                for i in range(MQTT_BATCH):
                    await direct.publish("bench/direct", f"message {batch}.{i}", qos)
                await counting
                direct_s = min(direct_s, time.perf_counter() - t0)
            await h.command("AT+MQTTCLEAN=0")
        finally:
            await direct.disconnect()
            await cm.__aexit__(None, None, None)
    return Figure(f"MQTT publish QoS {qos}", MQTT_BATCH / module_s, MQTT_BATCH / direct_s, "msg/s", target=0.5)


def _body_size(raw: bytes) -> int:
    """The body bytes in an AT+HTTPCGET reply (``+HTTPCGET:<len>,<data>`` pieces)."""
    got, i = 0, raw.index(b"+HTTPCGET:")
    while raw.startswith(b"+HTTPCGET:", i):
        comma = raw.index(b",", i)
        n = int(raw[i + 10 : comma])
        got += n
        i = comma + 1 + n + 2
    return got


async def _http() -> Figure:
    """Module and direct client take turns on the same server and body, round
    after round, so a load spike on the machine hits both; the best round of
    each counts (the first rounds warm up)."""
    import aiohttp
    from aiohttp import web

    body = bytes(range(256)) * (HTTP_SIZE // 256)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=body)

    app = web.Application()
    app.router.add_get("/big", big)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/big"
    module_s = direct_s = float("inf")
    try:
        cm, m = await _module()
        # a new connection for every request, as AT+HTTPCGET makes one
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        try:
            h = m.host
            for _ in range(HTTP_ROUNDS):
                async with asyncio.timeout(60):
                    t0 = time.perf_counter()
                    await h._write(f'AT+HTTPCGET="{url}"\r\n'.encode())
                    raw = await _take_reply(h)
                    module_s = min(module_s, time.perf_counter() - t0)
                assert _body_size(raw) == HTTP_SIZE
                t0 = time.perf_counter()
                async with session.get(url) as resp:
                    data = await resp.read()
                direct_s = min(direct_s, time.perf_counter() - t0)
                assert len(data) == HTTP_SIZE
        finally:
            await session.close()
            await cm.__aexit__(None, None, None)
    finally:
        await runner.cleanup()
    mib = HTTP_SIZE / (1024 * 1024)
    return Figure("HTTP GET 1 MiB", mib / module_s, mib / direct_s, "MiB/s", target=0.4)


async def _websocket() -> Figure:
    """Module and direct client take turns, batch after batch of round trips on
    the same echo server; the best batch of each counts."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for msg in ws:
            await ws.send(msg)

    server = await serve(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    module_rtt = direct_rtt = float("inf")
    try:
        cm, m = await _module()
        try:
            h = m.host
            await h.command(f'AT+WSOPEN=0,"ws://127.0.0.1:{port}/"')
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                for _ in range(WS_BATCHES):
                    t0 = time.perf_counter()
                    async with asyncio.timeout(60):
                        for _ in range(WS_BATCH):
                            await h._write(b"AT+WSSEND=0,8\r\n")
                            await _until(h, b">")
                            await h._write(b"ping-pon")
                            await _until(h, b"+WS_DATA:0,8,ping-pon\r\n")
                    module_rtt = min(module_rtt, (time.perf_counter() - t0) / WS_BATCH)
                    t0 = time.perf_counter()
                    for _ in range(WS_BATCH):
                        await ws.send("ping-pon")
                        await ws.recv()
                    direct_rtt = min(direct_rtt, (time.perf_counter() - t0) / WS_BATCH)
            await h.command("AT+WSCLOSE=0")
        finally:
            await cm.__aexit__(None, None, None)
    finally:
        server.close()
        await server.wait_closed()
    return Figure("WebSocket echo round trip", module_rtt * 1e6, direct_rtt * 1e6, "us", higher_is_better=False)


async def _all() -> list[Figure]:
    import logging

    logging.getLogger("amqtt").setLevel(logging.ERROR)
    logging.getLogger("transitions").setLevel(logging.ERROR)
    return [await _mqtt(0), await _mqtt(1), await _http(), await _websocket()]


def run() -> list[tuple[str, float, str]]:
    """Figures for ``python -m benchmarks``: the value, and in the unit its
    reference from the same run and the ratio to it (real time, not virtual)."""
    figures = asyncio.run(_all())
    return [(f.name, f.value, f.unit_line()) for f in figures]


if __name__ == "__main__":
    for f in asyncio.run(_all()):
        print(f.line())
