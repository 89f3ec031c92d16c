"""How links end: interface down, faults, idle servers, limits."""

from __future__ import annotations

import asyncio
import socket

from tests.tcpip.conftest import TcpPeer, online

from esp_at_sim import Module
from esp_at_sim.services.netif import NetIf
from esp_at_sim.world.faults import inject


async def test_interface_down_closes_links(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    esp.service(NetIf).down("sta")
    await h.expect(b"CLOSED\r\n")
    await h.send("AT+CIPSTATUS")
    await h.expect(b"STATUS:5\r\n\r\nOK\r\n")


async def test_connpersist_keeps_links_when_the_interface_goes(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send("AT+CIPCONNPERSIST=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    esp.service(NetIf).down("sta")
    await h.expect_silence(0.1)
    await h.send("AT+CIPCONNPERSIST?")
    await h.expect(b"+CIPCONNPERSIST:1,0,0,0,0\r\n\r\nOK\r\n")


async def test_faults_drop_and_reset(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send("AT+CIPMUX=1")
    await h.expect(b"\r\nOK\r\n")
    for i in (0, 1):
        await h.send(f'AT+CIPSTART={i},"TCP","127.0.0.1",{tcp_echo.port}')
        await h.expect(f"{i},CONNECT\r\n\r\nOK\r\n".encode())
    await h.send("AT+CIPSTATUS")
    r = await h.read_reply()
    assert r.lines[0] == b"STATUS:3" and len(r.lines) == 3
    await inject(esp.world, "link_drop", module=esp.name, link=0)
    await h.expect(b"0,CLOSED\r\n")
    await inject(esp.world, "peer_reset", module=esp.name)
    await h.expect(b"1,CLOSED\r\n")
    await h.send("AT+CIPSTATUS")
    await h.expect(b"STATUS:4\r\n\r\nOK\r\n")


async def test_idle_server_link_closed_after_cipsto(esp: Module) -> None:
    h = esp.host
    online(esp)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for cmd in ("AT+CIPMUX=1", f"AT+CIPSERVER=1,{port}", "AT+CIPSTO=5"):
        await h.send(cmd)
        await h.expect(b"\r\nOK\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await h.expect(b"0,CONNECT\r\n")
        await asyncio.sleep(3)
        writer.write(b"x")  # activity restarts the timer
        await h.expect(b"\r\n+IPD,0,1:x")
        await asyncio.sleep(3)
        await h.expect_silence(0.01)
        await h.expect(b"0,CLOSED\r\n", timeout=10)
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_link_limit_and_heap(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send("AT+CIPMUX=1")
    await h.expect(b"\r\nOK\r\n")
    for i in range(5):
        await h.send(f'AT+CIPSTARTEX="TCP","127.0.0.1",{tcp_echo.port}')
        await h.expect(f"{i},CONNECT\r\n\r\nOK\r\n".encode())
    await h.send(f'AT+CIPSTARTEX="TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"\r\nERROR\r\n")
    await h.send('AT+CIPSTART=5,"TCP","127.0.0.1",1')
    await h.expect(b"\r\nERROR\r\n")
    await h.send("AT+CIPCLOSE=5")
    await h.expect(b"0,CLOSED\r\n1,CLOSED\r\n2,CLOSED\r\n3,CLOSED\r\n4,CLOSED\r\n\r\nOK\r\n")
    # exhaust the heap: SSL sessions cost 36 KB each on a chip with ~165 KB free
    free_before = esp.heap.free
    esp.heap.used += free_before - 20_000
    await h.send(f'AT+CIPSTART=0,"SSL","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"\r\nERROR\r\n")
    assert any("alloc failed" in ln for ln in esp.log_lines)
    esp.heap.used -= free_before - 20_000
