"""AT+CIPTCPOPT reaches the link's host socket: SO_LINGER and TCP keep-alive, on a
link that is open and on one opened afterwards."""

from __future__ import annotations

import socket
import struct

from tests.tcpip.conftest import TcpPeer, online

from esp_at_sim import Module
from esp_at_sim.services.links import LinkTable


def host_socket(esp: Module, link_id: int) -> socket.socket:
    transport = esp.service(LinkTable).links[link_id].transport
    assert transport is not None
    sock: socket.socket = transport.get_extra_info("socket")
    return sock


def linger(sock: socket.socket) -> tuple[int, int]:
    on, seconds = struct.unpack("ii", sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
    return on, seconds


async def test_tcpopt_sets_the_host_socket(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    online(esp)
    for line in ("AT+CIPMUX=1", f'AT+CIPSTART=0,"TCP","127.0.0.1",{tcp_echo.port}'):
        assert (await h.command(line)).final == b"OK"
    sock = host_socket(esp, 0)
    assert linger(sock)[0] == 0 and sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
    # link 0 open: linger 5 s, keep-alive after 30 s idle
    assert (await h.command("AT+CIPTCPOPT=0,5,1,0,30")).final == b"OK"
    assert linger(sock) == (1, 5)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
    # link 1 configured before it exists: the options apply when it connects
    assert (await h.command("AT+CIPTCPOPT=1,0,0,0,7")).final == b"OK"
    assert (await h.command(f'AT+CIPSTART=1,"TCP","127.0.0.1",{tcp_echo.port}')).final == b"OK"
    sock1 = host_socket(esp, 1)
    assert linger(sock1) == (1, 0)
    assert sock1.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 7
    r = await h.command("AT+CIPTCPOPT?")
    assert r.lines[:2] == [b"+CIPTCPOPT:0,5,1,0,30", b"+CIPTCPOPT:1,0,0,0,7"]
    # out of range: refused, nothing changes
    assert (await h.command("AT+CIPTCPOPT=0,7201,1,0,30")).final == b"ERROR"
    assert linger(sock) == (1, 5)
