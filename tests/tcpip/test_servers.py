"""AT+CIPSERVER: host clients and other modules connect in."""

from __future__ import annotations

import asyncio
import socket

from tests.tcpip.conftest import online

from esp_at_sim import Module, World


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_host_client_connects_into_server(esp: Module) -> None:
    h = esp.host
    online(esp)
    port = free_port()
    await h.send("AT+CIPSERVER=1,80")
    await h.expect(b"\r\nERROR\r\n")  # a server needs AT+CIPMUX=1
    await h.send("AT+CIPMUX=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send(f"AT+CIPSERVER=1,{port}")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPSERVER?")
    await h.expect(f'+CIPSERVER:1,{port},"TCP",0,0\r\n\r\nOK\r\n'.encode())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await h.expect(b"0,CONNECT\r\n")
        writer.write(b"ping")
        await writer.drain()
        await h.expect(b"\r\n+IPD,0,4:ping")
        await h.send("AT+CIPSEND=0,4")
        await h.read_until(b">")
        await h.write(b"pong")
        await h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"pong"
        await h.send("AT+CIPCLOSE=0")
        await h.expect(b"0,CLOSED\r\n\r\nOK\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
    await h.send("AT+CIPSERVER=0")
    await h.expect(b"\r\nOK\r\n")


async def test_server_max_connections(esp: Module) -> None:
    h = esp.host
    online(esp)
    port = free_port()
    for cmd in ("AT+CIPMUX=1", "AT+CIPSERVERMAXCONN=1", f"AT+CIPSERVER=1,{port}"):
        await h.send(cmd)
        await h.expect(b"\r\nOK\r\n")
    _r1, w1 = await asyncio.open_connection("127.0.0.1", port)
    await h.expect(b"0,CONNECT\r\n")
    r2, w2 = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert await asyncio.wait_for(r2.read(), 5) == b""  # refused beyond the limit
        await h.expect_silence(0.1)
    finally:
        w1.close()
        w2.close()
    await h.expect(b"0,CLOSED\r\n")


async def test_module_to_module_in_world() -> None:
    world = World()
    async with (
        Module.start("esp32c3", world=world, name="a") as a,
        Module.start("esp32c3", world=world, name="b", port_map=((8080, 0),)) as b,
    ):
        online(a, "192.168.1.10")
        online(b, "192.168.1.11")
        for cmd in ("AT+CIPMUX=1", "AT+CIPSERVER=1,8080"):
            await b.host.command(cmd)
        r = await a.host.command('AT+CIPSTART="TCP","192.168.1.11",8080')
        assert b"CONNECT" in r.raw and r.final == b"OK"
        await b.host.read_until(b"0,CONNECT\r\n")
        st = await b.host.command("AT+CIPSTATE?")
        line = st.info("+CIPSTATE")[0]
        assert line.startswith('+CIPSTATE:0,"TCP","192.168.1.10",') and line.endswith(",8080,1")
        await a.host.send("AT+CIPSEND=3")
        await a.host.read_until(b">")
        await a.host.write(b"hey")
        await a.host.read_until(b"SEND OK\r\n")
        await b.host.read_until(b"+IPD,0,3:hey")
        r = await a.host.command("AT+CIPCLOSE")
        assert r.final == b"OK"
        await b.host.read_until(b"0,CLOSED\r\n")
        r = await a.host.command('AT+CIPSTART="TCP","192.168.1.11",9999')
        assert r.raw.endswith(b"9999\r\n\r\nERROR\r\n")  # nobody listens there


async def test_ssl_module_to_module_in_world() -> None:
    """asyncio's TLS layer is a buffered protocol: the fabric fills its buffers."""
    world = World()
    async with (
        Module.start("esp32c3", world=world, name="a") as a,
        Module.start("esp32c3", world=world, name="b", port_map=((8443, 0),)) as b,
    ):
        online(a, "192.168.1.10")
        online(b, "192.168.1.11")
        for cmd in ("AT+CIPMUX=1", 'AT+CIPSERVER=1,8443,"SSL"'):
            assert (await b.host.command(cmd)).ok, cmd
        r = await a.host.command('AT+CIPSTART="SSL","192.168.1.11",8443', timeout=15)
        assert r.lines[-1] == b"CONNECT" and r.ok, r.raw
        await b.host.read_until(b"0,CONNECT\r\n", timeout=10)
        blob = bytes(range(256)) * 20
        await a.host.send(f"AT+CIPSEND={len(blob)}")
        await a.host.read_until(b">")
        await a.host.write(blob)
        await a.host.read_until(b"SEND OK\r\n")
        got = bytearray()
        while len(got) < len(blob):
            await b.host.read_until(b"+IPD,0,")
            n = int((await b.host.read_until(b":"))[:-1])
            got += await b.host.read_exactly(n)
        assert bytes(got) == blob
        r = await b.host.command("AT+CIPCLOSE=0")
        assert r.ok
        await a.host.read_until(b"CLOSED\r\n")
