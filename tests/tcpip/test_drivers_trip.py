"""What host drivers trip over: ordering around replies, byte counts, IPv6, back-pressure."""

from __future__ import annotations

import asyncio
import os

from tests.tcpip.conftest import V6_ADDRS, TcpPeer, UdpPeer, online

from esp_at_sim import Module
from esp_at_sim.services.links import LinkTable


async def test_ipd_waits_for_the_reply_and_send_ok_comes_first(esp: Module, tcp_sink: TcpPeer) -> None:
    online(esp)
    h = esp.host
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_sink.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await tcp_sink.connected.wait()
    await h.send("AT+CIPSEND=5")
    await h.expect(b"\r\nOK\r\n\r\n>")
    tcp_sink.writers[0].write(b"early")  # arrives while the module waits for our bytes
    await asyncio.sleep(0.05)
    await h.expect_silence(0.05)
    await h.write(b"12")
    await asyncio.sleep(0.05)
    await h.write(b"345EXTRA\r\n")  # too many: the rest is the next command line
    await h.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n")
    await h.expect(b"\r\nERROR\r\n")  # "EXTRA" was a command
    await h.expect(b"\r\n+IPD,5:early")  # the data held back during both commands
    await tcp_sink.wait_bytes(5)
    assert bytes(tcp_sink.received) == b"12345"


async def test_cipdinfo_shows_the_remote(esp: Module, tcp_echo: TcpPeer) -> None:
    online(esp)
    h = esp.host
    for cmd in ("AT+CIPMUX=1", "AT+CIPDINFO=1"):
        await h.send(cmd)
        await h.expect(b"\r\nOK\r\n")
    await h.send(f'AT+CIPSTART=1,"TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"1,CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPSEND=1,2")
    await h.read_until(b">")
    await h.write(b"hi")
    await h.read_until(b"SEND OK\r\n")
    await h.expect(f'\r\n+IPD,1,2,"127.0.0.1",{tcp_echo.port}:hi'.encode())


async def test_link_conn_with_sysmsg_bit_1(esp: Module, tcp_echo: TcpPeer) -> None:
    online(esp)
    h = esp.host
    esp.settings.set("base", "sysmsg", 2)
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    r = await h.read_reply()
    line = r.lines[0].decode()
    assert line.startswith(f'+LINK_CONN:0,0,"TCP",0,"127.0.0.1",{tcp_echo.port},'), line


async def test_ipv6_loopback_tcp_and_udp(esp: Module) -> None:
    tcp = await TcpPeer().start("::1")
    udp = await UdpPeer().start("::1")
    try:
        online(esp, ipv6=V6_ADDRS)
        h = esp.host
        for cmd in ("AT+CIPV6=1", "AT+CIPMUX=1"):
            await h.send(cmd)
            await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+CIPSTART=0,"TCPv6","::1",{tcp.port}')
        await h.expect(b"0,CONNECT\r\n\r\nOK\r\n")
        await h.send(f'AT+CIPSTART=1,"UDPv6","::1",{udp.port}')
        await h.expect(b"1,CONNECT\r\n\r\nOK\r\n")
        for link in (0, 1):
            await h.send(f"AT+CIPSEND={link},3")
            await h.read_until(b">")
            await h.write(b"six")
            await h.read_until(b"SEND OK\r\n")
            await h.expect(f"\r\n+IPD,{link},3:six".encode())
        await h.send("AT+CIPSTATE?")
        r = await h.read_reply()
        assert r.lines[0].startswith(b'+CIPSTATE:0,"TCPv6","::1",')
    finally:
        await tcp.close()
        await udp.close()


async def test_host_that_stops_reading_closes_the_window(esp: Module, tcp_sink: TcpPeer) -> None:
    """The UART buffer fills, the pump waits, the link stops reading its socket and
    the tcp_sink's writes stall; once the host reads again every byte arrives."""
    online(esp)
    h = esp.host
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_sink.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await tcp_sink.connected.wait()
    blob = os.urandom(4 << 20)
    writer = tcp_sink.writers[0]
    writer.write(blob)
    drain = asyncio.ensure_future(writer.drain())
    await asyncio.sleep(0.5)  # the host reads nothing meanwhile
    link = esp.service(LinkTable).links[0]
    assert link.paused and not drain.done()  # back-pressure reached the tcp_sink
    assert esp.output.pending() < 2 * esp.output.capacity
    got = bytearray()
    while len(got) < len(blob):
        await h.read_until(b"+IPD,")
        n = int((await h.read_until(b":"))[:-1])
        got += await h.read_exactly(n)
    await drain
    assert bytes(got) == blob
