"""Faults across the application protocols: firmware-like answers, a usable
module afterwards, and the heap back at its baseline (read with AT+SYSRAM)."""

from __future__ import annotations

from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from apps.brokers import LocalBroker, running_broker
from apps.support import Pki, send_after_prompt
from esp_at_sim import Module
from esp_at_sim.commands.mqtt import MqttLink
from host_setup import quiet
from sysram import free_heap


async def test_mqtt_keepalive_follows_the_world_clock(online: Module) -> None:
    async with running_broker() as broker:
        h = online.host
        await h.send('AT+MQTTUSERCFG=0,1,"ka","","",0,0,""')
        await h.read_until(b"OK\r\n")
        await h.send('AT+MQTTCONNCFG=0,5,0,"","",0,0')
        await h.read_until(b"OK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
        await h.read_until(b"OK\r\n")
        session = online.service(MqttLink).session
        assert session is not None
        sock = session.client._sock
        sent: list[bytes] = []
        original = sock.send  # type: ignore[union-attr]

        def spy(data: bytes) -> int:
            sent.append(bytes(data))
            return int(original(data))

        sock.send = spy  # type: ignore[union-attr]
        # a minute of world time with a 5 s keepalive: about a dozen PINGREQs
        await h.expect_silence(60.0)
        assert sent.count(b"\xc0\x00") >= 10
        r = await h.command("AT+MQTTCONN?")
        assert b"+MQTTCONN:0,4," in r.raw


async def test_broker_going_away_and_heap_baseline(online: Module) -> None:
    h = online.host
    baseline = await free_heap(online.host)
    async with running_broker() as broker:
        await h.send('AT+MQTTUSERCFG=0,1,"gone","","",0,0,""')
        await h.read_until(b"OK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker.tcp},0')
        await h.read_until(b"OK\r\n")
        assert await free_heap(online.host) < baseline
    # the broker shut down: the link ends, the host is told
    await h.read_until(b"+MQTTDISCONNECTED:0\r\n", timeout=10)
    await h.send('AT+MQTTPUB=0,"t","x",0,0')
    await h.expect(b"ERR CODE:0x010a6051\r\n\r\nERROR\r\n")
    await h.send("AT+MQTTCLEAN=0")
    await h.expect(b"\r\nOK\r\n")
    assert await free_heap(online.host) == baseline


async def test_tls_verification_failures_leave_nothing_behind(online: Module, tmp_path: Path) -> None:
    pki = Pki.make(tmp_path)

    async def echo(ws: ServerConnection) -> None:
        async for msg in ws:
            await ws.send(msg)

    server = await serve(echo, "127.0.0.1", 0, ssl=pki.server_context())
    port = server.sockets[0].getsockname()[1]
    h = online.host
    baseline = await free_heap(online.host)
    try:
        # the factory CA does not know the test server
        await h.send("AT+WSCFG=0,10,120,1024,2,0,0")
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+WSOPEN=0,"wss://127.0.0.1:{port}/"')
        await h.expect(b"ERR CODE:0x010a0000\r\n\r\nERROR\r\n")
        await h.send("AT+HTTPCFG=2,0,0")
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+HTTPCGET="https://127.0.0.1:{port}/"')
        await h.expect(b"ERR CODE:0x010a7000\r\n\r\nERROR\r\n")
        assert await free_heap(online.host) == baseline
        # without verification the same server is fine
        await h.send("AT+WSCFG=0,10,120,1024,0,0,0")
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+WSOPEN=0,"wss://127.0.0.1:{port}/"')
        await h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n")
        await h.send("AT+WSCLOSE=0")
        await h.read_until(b"+WS_CLOSED:0\r\n")
        assert await free_heap(online.host) == baseline
    finally:
        server.close()
        await server.wait_closed()


async def test_websocket_server_vanishing_mid_message(online: Module) -> None:
    async def half(ws: ServerConnection) -> None:
        async for _ in ws:
            # a frame header announcing 100 bytes, 10 of them, then the socket dies
            ws.transport.write(b"\x82\x64" + b"x" * 10)
            ws.transport.abort()
            return

    server = await serve(half, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    h = online.host
    baseline = await free_heap(online.host)
    try:
        await h.send(f'AT+WSOPEN=0,"ws://127.0.0.1:{port}/"')
        await h.read_until(b"OK\r\n")
        await send_after_prompt(h, "AT+WSSEND=0,2", b"go")
        # the piece that did arrive is reported, then the loss
        await h.expect(b"+WS_DATA:0,10,xxxxxxxxxx\r\n")
        await h.expect(b"+WS_DISCONNECTED:0\r\n")
        await h.send("AT+WSCLOSE=0")
        await h.read_until(b"+WS_CLOSED:0\r\n")
        r = await h.command("AT")
        assert r.ok
        assert await free_heap(online.host) == baseline
    finally:
        server.close()
        await server.wait_closed()


async def test_module_reset_in_the_middle_of_everything(online: Module) -> None:
    async with running_broker() as broker:
        broker_: LocalBroker = broker
        h = online.host
        await h.send('AT+MQTTUSERCFG=0,1,"rst","","",0,0,""')
        await h.read_until(b"OK\r\n")
        await h.send(f'AT+MQTTCONN=0,"127.0.0.1",{broker_.tcp},1')
        await h.read_until(b"OK\r\n")
        await h.send("AT+RST")
        await h.read_until(b"ready\r\n")
        await quiet(online, syslog=True)
        r = await h.command("AT+MQTTCONN?")
        assert b'+MQTTCONN:0,0,0,"","","",0' in r.raw
        assert online.heap.live() == []
