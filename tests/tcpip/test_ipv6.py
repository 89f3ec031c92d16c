"""IPv6 links to host peers on ::1: TCPv6, UDPv6 and SSLv6 (a TLS server from
Python's ssl module), and what the firmware answers to IPv6 input it cannot use."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import pytest
from tests.tcpip.conftest import V6_ADDRS, TcpPeer, UdpPeer, online

from esp_at_sim import Module
from esp_at_sim.device.nvs import NvsType
from esp_at_sim.services import tls
from esp_at_sim.services.systime import SystemTime
from esp_at_sim.world.net import ip_text


@pytest.fixture(scope="module")
def pki() -> tls.Pki:
    return tls.make_pki("v6 test CA", server_names=("localhost", "::1"))


def server_ctx(pki: tls.Pki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls._load_chain(ctx, pki.server_cert, pki.server_key)
    return ctx


async def setup(m: Module, *commands: str) -> None:
    for cmd in commands:
        r = await m.host.command(cmd)
        assert r.ok, (cmd, r.raw)


async def test_sslv6_link_to_a_tls_server_on_loopback(esp: Module, pki: tls.Pki) -> None:
    peer = await TcpPeer().start("::1", ssl=server_ctx(pki))
    try:
        online(esp, ipv6=V6_ADDRS)
        h = esp.host
        await setup(esp, "AT+CIPV6=1", "AT+CIPMUX=1", "AT+CIPDINFO=1")
        await h.send(f'AT+CIPSTART=2,"SSLv6","::1",{peer.port}')
        await h.expect(b"2,CONNECT\r\n\r\nOK\r\n", timeout=10)
        await h.send("AT+CIPSEND=2,6")
        await h.read_until(b">")
        await h.write(b"over 6")
        await h.expect(b"\r\nRecv 6 bytes\r\n\r\nSEND OK\r\n")
        await h.expect(f'\r\n+IPD,2,6,"::1",{peer.port}:over 6'.encode())
        r = await h.command("AT+CIPSTATE?")
        assert r.lines[0].startswith(f'+CIPSTATE:2,"SSLv6","::1",{peer.port},'.encode()), r.raw
        assert r.lines[0].endswith(b",0")
        await peer.close()
        await h.expect(b"2,CLOSED\r\n", timeout=5)
    finally:
        await peer.close()


async def test_sslv6_verifies_the_server_with_an_ipv6_address_in_its_certificate(esp: Module, pki: tls.Pki) -> None:
    peer = await TcpPeer().start("::1", ssl=server_ctx(pki))
    try:
        online(esp, ipv6=V6_ADDRS)
        esp.nvs.mfg.set("client_ca", "client_ca.0", pki.ca_pem, NvsType.BLOB)
        esp.service(SystemTime).set(time.time())
        await setup(esp, "AT+CIPV6=1", "AT+CIPSSLCCONF=2,0,0")
        r = await esp.host.command(f'AT+CIPSTART="SSLv6","0:0:0:0:0:0:0:1",{peer.port}', timeout=10)
        assert r.lines == [b"CONNECT"] and r.ok, r.raw
        r = await esp.host.command("AT+CIPSTATE?")
        assert r.lines[0].startswith(f'+CIPSTATE:0,"SSLv6","::1",{peer.port},'.encode()), r.raw
    finally:
        await peer.close()


async def test_ipv6_types_need_cipv6_first(esp: Module) -> None:
    tcp = await TcpPeer().start("::1")
    try:
        online(esp, ipv6=V6_ADDRS)
        h = esp.host
        await setup(esp, "AT+CIPMUX=1")
        for kind in ("TCPv6", "UDPv6", "SSLv6"):
            r = await h.command(f'AT+CIPSTART=0,"{kind}","::1",{tcp.port}')
            assert r.final == b"ERROR" and not r.lines, (kind, r.raw)
        r = await h.command('AT+CIPSERVER=1,8080,"SSLv6"')
        assert r.final == b"ERROR"
        await setup(esp, "AT+CIPV6=1")
        r = await h.command(f'AT+CIPSTART=0,"TCPv6","::1",{tcp.port}')
        assert r.lines == [b"0,CONNECT"] and r.ok
    finally:
        await tcp.close()


async def test_an_address_of_the_other_family_does_not_resolve(esp: Module) -> None:
    """lwIP resolves with the type's family as the hint: an IPv4 literal is no
    IPv6 host and the reverse; the link is never made."""
    tcp4 = await TcpPeer().start("127.0.0.1")
    tcp6 = await TcpPeer().start("::1")
    try:
        online(esp, ipv6=V6_ADDRS)
        await setup(esp, "AT+CIPV6=1", "AT+CIPMUX=1", "AT+SYSLOG=1")
        h = esp.host
        bad = [
            ("TCPv6", "127.0.0.1", tcp4.port),
            ("SSLv6", "127.0.0.1", tcp4.port),
            ("UDPv6", "127.0.0.1", tcp4.port),
            ("TCP", "::1", tcp6.port),
            ("SSL", "::1", tcp6.port),
            ("UDP", "::1", tcp6.port),
        ]
        for kind, host, port in bad:
            r = await h.command(f'AT+CIPSTART=0,"{kind}","{host}",{port}')
            # a resolver failure: no +ERRNO, only the generic execution failure
            assert r.lines == [b"ERR CODE:0x010a0000"] and r.final == b"ERROR", (kind, host, r.raw)
        assert not tcp4.connected.is_set() and not tcp6.connected.is_set()
        r = await h.command("AT+CIPSTATE?")
        assert r.lines == [] and r.ok
        # the link id is still free
        r = await h.command(f'AT+CIPSTART=0,"TCPv6","::1",{tcp6.port}')
        assert r.lines == [b"0,CONNECT"]
    finally:
        await tcp4.close()
        await tcp6.close()


async def test_no_ipv6_address_no_route(esp: Module) -> None:
    """AT+CIPV6=1 after the join: the interface has no IPv6 address, so lwIP
    has no route for an IPv6 destination (EHOSTUNREACH)."""
    tcp = await TcpPeer().start("::1")
    udp = await UdpPeer().start("::1")
    try:
        online(esp)
        await setup(esp, "AT+CIPV6=1", "AT+CIPMUX=1", "AT+SYSLOG=1")
        h = esp.host
        r = await h.command(f'AT+CIPSTART=0,"TCPv6","::1",{tcp.port}')
        assert r.lines[0] == b"+ERRNO:0x71" and r.final == b"ERROR", r.raw
        r = await h.command(f'AT+CIPSTART=0,"UDPv6","::1",{udp.port}')
        assert r.lines == [b"0,CONNECT"] and r.ok  # a UDP "connection" needs no route
        await h.send("AT+CIPSEND=0,2")
        await h.read_until(b">")
        await h.write(b"no")
        await h.expect(b"\r\nRecv 2 bytes\r\n\r\nSEND FAIL\r\n")
        assert not udp.datagrams
    finally:
        await tcp.close()
        await udp.close()


async def test_udpv6_remote_shown_in_the_firmware_form(esp: Module) -> None:
    udp = await UdpPeer().start("::1")
    try:
        online(esp, ipv6=V6_ADDRS)
        await setup(esp, "AT+CIPV6=1", "AT+CIPDINFO=1")
        h = esp.host
        r = await h.command(f'AT+CIPSTART="UDPv6","0000:0000::0001",{udp.port},0,2')
        assert r.lines == [b"CONNECT"], r.raw
        await h.send("AT+CIPSEND=3")
        await h.read_until(b">")
        await h.write(b"udp")
        await h.read_until(b"SEND OK\r\n")
        await h.expect(f'\r\n+IPD,3,"::1",{udp.port}:udp'.encode())
        assert udp.datagrams[0][0] == b"udp"
    finally:
        await udp.close()


def test_ipv6_text_is_lwip_s() -> None:
    assert ip_text("2001:DB8:0:0:1:0:0:0") == "2001:db8::1:0:0:0"  # the first zero run, not the longest
    assert ip_text("0:0:0:0:0:0:0:1") == "::1"
    assert ip_text("fe80:0:0:0:32ae:a4ff:fe80:65ac") == "fe80::32ae:a4ff:fe80:65ac"
    assert ip_text("2001:db8:0:1:2:3:4:5") == "2001:db8:0:1:2:3:4:5"  # one zero group stays
    assert ip_text("1::") == "1::" and ip_text("::") == "::"
    assert ip_text("192.168.4.1") == "192.168.4.1"


async def test_tcpv6_server_takes_a_host_client_on_loopback() -> None:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        served = int(s.getsockname()[1])
    async with Module.start("esp32c3", port_map=((8080, served),)) as m:
        online(m, ipv6=V6_ADDRS)
        await setup(m, "ATE0", "AT+CIPV6=1", "AT+CIPMUX=1", 'AT+CIPSERVER=1,8080,"TCPv6"', "AT+CIPDINFO=1")
        r = await m.host.command("AT+CIPSERVER?")
        assert r.lines == [b'+CIPSERVER:1,8080,"TCPv6",0,0'], r.raw
        _reader, writer = await asyncio.open_connection("::1", served)
        try:
            client_port = writer.get_extra_info("sockname")[1]
            await m.host.read_until(b"0,CONNECT\r\n")
            writer.write(b"v6!")
            await m.host.read_until(f'+IPD,0,3,"::1",{client_port}:v6!'.encode())
            r = await m.host.command("AT+CIPSTATE?")
            assert r.lines == [f'+CIPSTATE:0,"TCPv6","::1",{client_port},8080,1'.encode()], r.raw
        finally:
            writer.close()
        await m.host.read_until(b"0,CLOSED\r\n")
