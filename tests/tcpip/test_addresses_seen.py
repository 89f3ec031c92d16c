"""What the module reports about its links when the peer is on the host.

A host peer sees the module's connections come from 127.0.0.1; the module
itself keeps the view a real module has: its own station address in AT+CIFSR,
the peer's address and port as the remote, its own port as the local one, and
for a redirected destination the address it sent to, never the detour.
"""

from __future__ import annotations

import asyncio
import re
import socket

from tests.tcpip.conftest import TcpPeer, UdpPeer, online

from esp_at_sim import Module
from esp_at_sim.world.net import fabric_of


async def test_client_link_to_a_host_peer(esp: Module, tcp_sink: TcpPeer) -> None:
    online(esp, "192.168.1.10")
    h = esp.host
    esp.settings.set("base", "sysmsg", 2)
    r = await h.command(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_sink.port}')
    await tcp_sink.connected.wait()
    seen_from = tcp_sink.writers[0].get_extra_info("peername")
    assert seen_from[0] == "127.0.0.1"  # what the host tcp_sink sees
    assert r.lines == [f'+LINK_CONN:0,0,"TCP",0,"127.0.0.1",{tcp_sink.port},{seen_from[1]}'.encode()], r.raw
    r = await h.command("AT+CIPSTATE?")
    assert r.lines == [f'+CIPSTATE:0,"TCP","127.0.0.1",{tcp_sink.port},{seen_from[1]},0'.encode()]
    r = await h.command("AT+CIFSR")
    assert b'+CIFSR:STAIP,"192.168.1.10"' in r.lines
    r = await h.command("AT+CIPSTATUS")
    assert r.lines[0] == b"STATUS:3"
    assert r.lines[1] == f'+CIPSTATUS:0,"TCP","127.0.0.1",{tcp_sink.port},{seen_from[1]},0'.encode()


async def test_server_link_from_a_host_client_shows_the_module_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        served = int(s.getsockname()[1])  # the host port the module's port 8080 is served on
    async with Module.start("esp32c3", port_map=((8080, served),)) as m:
        online(m, "192.168.1.10")
        h = m.host
        for cmd in ("ATE0", "AT+CIPMUX=1", "AT+CIPSERVER=1,8080", "AT+CIPDINFO=1"):
            await h.send(cmd)
            await h.read_until(b"OK\r\n")
        _reader, writer = await asyncio.open_connection("127.0.0.1", served)
        try:
            client_port = writer.get_extra_info("sockname")[1]
            await h.read_until(b"0,CONNECT\r\n")
            r = await h.command("AT+CIPSTATE?")
            assert r.lines == [f'+CIPSTATE:0,"TCP","127.0.0.1",{client_port},8080,1'.encode()], r.raw
            writer.write(b"hi")
            await h.read_until(f'+IPD,0,2,"127.0.0.1",{client_port}:hi'.encode())
        finally:
            writer.close()
        await h.read_until(b"0,CLOSED\r\n")


async def test_udp_reply_through_a_redirect_comes_from_the_address_sent_to(esp: Module) -> None:
    udp = await UdpPeer().start()
    try:
        online(esp, "192.168.1.10")
        fabric_of(esp.world).redirects[("203.0.113.7", 5000)] = ("127.0.0.1", udp.port)
        h = esp.host
        await h.command("AT+CIPDINFO=1")
        r = await h.command('AT+CIPSTART="UDP","203.0.113.7",5000,0,1')
        assert r.lines[-1] == b"CONNECT", r.raw
        await h.send("AT+CIPSEND=4")
        await h.read_until(b">")
        await h.write(b"echo")
        await h.read_until(b"SEND OK\r\n")
        await h.expect(b'\r\n+IPD,4,"203.0.113.7",5000:echo')
        # mode 1 would follow a reply from elsewhere: the remote has not changed
        r = await h.command("AT+CIPSTATE?")
        m = re.fullmatch(rb'\+CIPSTATE:0,"UDP","203\.0\.113\.7",5000,\d+,0', r.lines[-1])
        assert m is not None, r.raw
    finally:
        await udp.close()
