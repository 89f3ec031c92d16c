"""Passive receive: data waits in the module until AT+CIPRECVDATA; nothing is lost."""

from __future__ import annotations

import asyncio
import hashlib
import os

from tests.tcpip.conftest import TcpPeer, UdpPeer, online

from esp_at_sim import Module
from esp_at_sim.services.links import RECV_WINDOW, SOCKET_READ, LinkTable
from esp_at_sim.testing import AtHost


async def address_of_link(h: AtHost, peer: UdpPeer, link: int) -> tuple[str, int]:
    """Send a datagram from ``link`` so ``peer`` learns where the module listens."""
    await h.send(f"AT+CIPSEND={link},2")
    await h.read_until(b">")
    await h.write(b"hi")
    await h.read_until(b"SEND OK\r\n")
    await asyncio.wait_for(peer.got.wait(), 5)
    return peer.datagrams[0][1]


async def test_passive_tcp_single_as_in_the_spec_example(esp: Module, tcp_sink: TcpPeer) -> None:
    h = esp.host
    online(esp)
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_sink.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPRECVTYPE=1")
    await h.expect(b"\r\nOK\r\n")
    await tcp_sink.connected.wait()
    tcp_sink.writers[0].write(b"test")
    await h.expect(b"\r\n+IPD,4\r\n")
    await h.send("AT+CIPRECVLEN?")
    await h.expect(b"+CIPRECVLEN:4\r\n\r\nOK\r\n")
    await h.send("AT+CIPRECVDATA=4")
    await h.expect(b"+CIPRECVDATA:4,test\r\nOK\r\n")
    await h.send("AT+CIPRECVDATA=4")
    await h.expect(b"\r\nERROR\r\n")  # nothing left
    tcp_sink.writers[0].write(b"abcdef")
    await h.expect(b"\r\n+IPD,6\r\n")
    await h.send("AT+CIPRECVDATA=2")
    await h.expect(b"+CIPRECVDATA:2,ab\r\nOK\r\n")
    await h.expect(b"\r\n+IPD,4\r\n")  # the rest is announced again after a read
    await tcp_sink.close()
    await h.expect_silence(0.1)  # CLOSED waits until the data is read
    await h.send("AT+CIPRECVDATA=100")
    await h.expect(b"+CIPRECVDATA:4,cdef\r\nOK\r\n")
    await h.expect(b"CLOSED\r\n")


async def test_passive_one_mebibyte_by_hash_with_flow_control(esp: Module, tcp_sink: TcpPeer) -> None:
    h = esp.host
    blob = os.urandom(1 << 20)
    online(esp)
    await h.send("AT+CIPMUX=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPRECVTYPE=5,1")
    await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+CIPSTART=2,"TCP","127.0.0.1",{tcp_sink.port}')
    await h.expect(b"2,CONNECT\r\n\r\nOK\r\n")
    await tcp_sink.connected.wait()
    writer = tcp_sink.writers[0]
    writer.write(blob)
    drain = asyncio.ensure_future(writer.drain())
    got = bytearray()
    while len(got) < len(blob):
        await h.read_until(b"+IPD,2,")
        await h.read_until(b"\r\n")
        await h.send("AT+CIPRECVDATA=2,4096")
        head = await h.read_until(b",")
        n = int(head.split(b":")[1][:-1])
        got += await h.read_exactly(n)
        await h.expect(b"\r\nOK\r\n")
        # the module never buffers more than its window
        assert esp.service(LinkTable).links[2].buffered <= RECV_WINDOW + SOCKET_READ
    await drain
    assert hashlib.sha256(got).digest() == hashlib.sha256(blob).digest()


async def test_passive_udp_one_datagram_per_read(esp: Module, udp_sink: UdpPeer) -> None:
    h = esp.host
    online(esp)
    for cmd in ("AT+CIPMUX=1", "AT+CIPRECVTYPE=5,1", "AT+CIPDINFO=1"):
        await h.send(cmd)
        await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+CIPSTART=1,"UDP","127.0.0.1",{udp_sink.port},0,2')
    await h.expect(b"1,CONNECT\r\n\r\nOK\r\n")
    module_addr = await address_of_link(h, udp_sink, 1)
    assert udp_sink.transport is not None
    udp_sink.transport.sendto(b"first-datagram", module_addr)
    await h.expect(b"\r\n+IPD,1,14\r\n")
    udp_sink.transport.sendto(b"second", module_addr)
    await asyncio.sleep(0.05)
    await h.send("AT+CIPRECVLEN?")
    await h.expect(b"+CIPRECVLEN:0,20,0,0,0\r\n\r\nOK\r\n")
    await h.send("AT+CIPRECVDATA=1,5")
    await h.expect(f'+CIPRECVDATA:5,"127.0.0.1",{udp_sink.port},first\r\nOK\r\n'.encode())
    await h.expect(b"\r\n+IPD,1,6\r\n")  # the rest of the first datagram is gone
    await h.send("AT+CIPRECVDATA=1,100")
    await h.expect(f'+CIPRECVDATA:6,"127.0.0.1",{udp_sink.port},second\r\nOK\r\n'.encode())


async def test_older_generation_formats(tcp_echo: TcpPeer) -> None:
    async with Module.start("esp8266") as m:  # AT 2.x
        h = m.host
        online(m)
        m.world.dns["old.example"] = "127.0.0.1"
        r = await h.command('AT+CIPDOMAIN="old.example"')
        assert b"+CIPDOMAIN:127.0.0.1\r\n" in r.raw  # unquoted before 3.x
        r = await h.command("AT+CIPMUX=1")
        r = await h.command("AT+CIPRECVMODE=1")
        assert r.final == b"OK"
        r = await h.command("AT+CIPRECVLEN?")
        assert b"+CIPRECVLEN:-1,-1,-1,-1,-1\r\n" in r.raw  # -1 for unused links on 2.x
        r = await h.command("AT+CIPRECVTYPE?")
        assert r.final == b"ERROR"  # the per-link form came later


async def test_udp_next_datagram_length_and_datagram_integrity(esp: Module, udp_sink: UdpPeer) -> None:
    """<data_len_report_mode> 1: +IPD and AT+CIPRECVLEN? give the next datagram's length;
    <keep_datagram_integrity> 1 refuses a read shorter than that datagram and loses nothing."""
    h = esp.host
    online(esp)
    await h.send("AT+CIPMUX=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+CIPSTART=1,"UDP","127.0.0.1",{udp_sink.port},0,2')
    await h.expect(b"1,CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPRECVTYPE=1,1,1")
    await h.expect(b"\r\nOK\r\n")
    module_addr = await address_of_link(h, udp_sink, 1)
    assert udp_sink.transport is not None
    udp_sink.transport.sendto(b"abc", module_addr)
    await h.expect(b"\r\n+IPD,1,3\r\n")
    udp_sink.transport.sendto(b"defgh", module_addr)
    await asyncio.sleep(0.05)
    await h.send("AT+CIPRECVLEN?")
    await h.expect(b"+CIPRECVLEN:0,3,0,0,0\r\n\r\nOK\r\n")  # the next datagram, not all 8 bytes
    await h.send("AT+CIPRECVDATA=1,100,1")
    await h.expect(b"+CIPRECVDATA:3,abc\r\nOK\r\n")
    await h.expect(b"\r\n+IPD,1,5\r\n")
    await h.send("AT+CIPRECVDATA=1,4,1")
    await h.expect(b"\r\nERROR\r\n")  # shorter than the datagram: refused, kept
    await h.send("AT+CIPRECVLEN?")
    await h.expect(b"+CIPRECVLEN:0,5,0,0,0\r\n\r\nOK\r\n")
    await h.send("AT+CIPRECVDATA=1,5,1")
    await h.expect(b"+CIPRECVDATA:5,defgh\r\nOK\r\n")
    # report mode 0 (the default): the whole buffer
    await h.send("AT+CIPRECVTYPE=1,1,0")
    await h.expect(b"\r\nOK\r\n")
    udp_sink.transport.sendto(b"one", module_addr)
    await h.expect(b"\r\n+IPD,1,3\r\n")
    udp_sink.transport.sendto(b"two!", module_addr)
    await asyncio.sleep(0.05)
    await h.send("AT+CIPRECVLEN?")
    await h.expect(b"+CIPRECVLEN:0,7,0,0,0\r\n\r\nOK\r\n")
