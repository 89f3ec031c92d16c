"""Client links: AT+CIPSTART/CIPSEND/CIPCLOSE against real peers on loopback."""

from __future__ import annotations

import asyncio

from tests.tcpip.conftest import TcpPeer, UdpPeer, online

from esp_at_sim import Module


async def test_cipstart_before_got_ip_fails(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"no ip\r\n\r\nERROR\r\n")


async def test_tcp_single_connection_echo(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPSEND=4")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"test")
    await h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
    await h.expect(b"\r\n+IPD,4:test")
    await h.send("AT+CIPCLOSE")
    await h.expect(b"CLOSED\r\n\r\nOK\r\n")


async def test_tcp_multi_connection_and_peer_close(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send("AT+CIPMUX=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+CIPSTART=3,"TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"3,CONNECT\r\n\r\nOK\r\n")
    await h.send(f'AT+CIPSTART=3,"TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"ALREADY CONNECTED\r\n\r\nERROR\r\n")
    await h.send("AT+CIPSEND=3,5")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"hello")
    await h.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n")
    await h.expect(b"\r\n+IPD,3,5:hello")
    await h.send("AT+CIPSTATE?")
    r = await h.read_reply()
    assert r.lines[0].startswith(f'+CIPSTATE:3,"TCP","127.0.0.1",{tcp_echo.port},'.encode())
    assert r.lines[0].endswith(b",0")
    await tcp_echo.close()
    await h.expect(b"3,CLOSED\r\n")
    await h.send("AT+CIPSTATE?")
    await h.expect(b"\r\nOK\r\n")


async def test_udp_echo_with_remote_override(esp: Module, udp_echo: UdpPeer, udp_sink: UdpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send(f'AT+CIPSTART="UDP","127.0.0.1",{udp_echo.port},0,0')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPSEND=3")
    await h.read_until(b">")
    await h.write(b"abc")
    await h.expect(b"\r\nRecv 3 bytes\r\n\r\nSEND OK\r\n")
    await h.expect(b"\r\n+IPD,3:abc")
    await h.send(f'AT+CIPSEND=2,"127.0.0.1",{udp_sink.port}')
    await h.read_until(b">")
    await h.write(b"zz")
    await h.expect(b"\r\nRecv 2 bytes\r\n\r\nSEND OK\r\n")
    await asyncio.wait_for(udp_sink.got.wait(), 5)
    assert udp_sink.datagrams[0][0] == b"zz"
