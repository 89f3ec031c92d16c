"""IPv6 inside one world: two modules on an access point that advertises a /64
reach each other over TCPv6, UDPv6 and SSLv6 through the virtual IP fabric,
by link-local and by global address, and ping each other."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.wifi.support import world_with

from esp_at_sim import Module

AP = {"ssid": "lab6", "password": "lab6pass", "channel": 1, "rssi": -45, "ipv6_prefix": "2001:db8:6::/64"}


async def _bring_up(m: Module) -> tuple[str, str, str]:
    """AT+CIPV6=1, join, wait for the global address: (IPv4, link-local, global)."""
    h = m.host
    for cmd in ("ATE0", "AT+CIPV6=1"):
        await h.send(cmd)
        await h.read_until(b"OK\r\n")
    r = await h.command('AT+CWJAP="lab6","lab6pass"', timeout=30)
    assert r.ok, r.raw
    await h.read_until(b"WIFI GOT IPv6 GL\r\n", timeout=10)
    r = await h.command("AT+CIFSR")
    rows = dict(re.findall(rb'\+CIFSR:(\w+),"([^"]*)"', r.raw))
    return rows[b"STAIP"].decode(), rows[b"STAIP6LL"].decode(), rows[b"STAIP6GL"].decode()


@asynccontextmanager
async def two_modules() -> AsyncIterator[tuple[Module, Module, tuple[str, str, str], tuple[str, str, str]]]:
    world = world_with(AP, seed="ipv6-world")
    async with (
        Module.start("esp32c3", world=world, name="a") as a,
        Module.start("esp32c3", world=world, name="b", port_map=((8080, 0), (8443, 0))) as b,
    ):
        yield a, b, await _bring_up(a), await _bring_up(b)


async def test_tcpv6_between_modules_by_global_and_link_local_address() -> None:
    async with two_modules() as (a, b, a_ips, b_ips):
        assert a_ips[1].startswith("fe80::") and a_ips[2].startswith("2001:db8:6:0:")
        assert len({a_ips[1], b_ips[1], a_ips[2], b_ips[2]}) == 4
        for cmd in ("AT+CIPMUX=1", 'AT+CIPSERVER=1,8080,"TCPv6"', "AT+CIPDINFO=1"):
            assert (await b.host.command(cmd)).ok, cmd
        for cmd in ("AT+CIPMUX=1", "AT+CIPDINFO=1"):
            assert (await a.host.command(cmd)).ok, cmd
        # by the global address: the server sees a's global address
        r = await a.host.command(f'AT+CIPSTART=0,"TCPv6","{b_ips[2]}",8080')
        assert r.lines == [b"0,CONNECT"] and r.ok, r.raw
        await b.host.read_until(b"0,CONNECT\r\n")
        st = (await b.host.command("AT+CIPSTATE?")).info("+CIPSTATE")[0]
        m = re.fullmatch(rf'\+CIPSTATE:0,"TCPv6","{a_ips[2]}",(\d+),8080,1', st)
        assert m is not None, st
        a_port = int(m.group(1))
        st = (await a.host.command("AT+CIPSTATE?")).info("+CIPSTATE")[0]
        assert st.startswith(f'+CIPSTATE:0,"TCPv6","{b_ips[2]}",8080,{a_port},0'), st
        await a.host.send("AT+CIPSEND=0,4")
        await a.host.read_until(b">")
        await a.host.write(b"ping")
        await a.host.read_until(b"SEND OK\r\n")
        await b.host.read_until(f'+IPD,0,4,"{a_ips[2]}",{a_port}:ping'.encode())
        await b.host.send("AT+CIPSEND=0,4")
        await b.host.read_until(b">")
        await b.host.write(b"pong")
        await b.host.read_until(b"SEND OK\r\n")
        await a.host.read_until(f'+IPD,0,4,"{b_ips[2]}",8080:pong'.encode())
        # by the link-local address: the source is a's link-local address
        r = await a.host.command(f'AT+CIPSTART=1,"TCPv6","{b_ips[1]}",8080')
        assert r.lines == [b"1,CONNECT"], r.raw
        await b.host.read_until(b"1,CONNECT\r\n")
        st = (await b.host.command("AT+CIPSTATE?")).info("+CIPSTATE")
        assert st[1].startswith(f'+CIPSTATE:1,"TCPv6","{a_ips[1]}",'), st
        # an IPv6 server takes no IPv4 client, and an IPv4 server no IPv6 one
        r = await a.host.command(f'AT+CIPSTART=2,"TCP","{b_ips[0]}",8080')
        assert r.final == b"ERROR", r.raw
        r = await a.host.command("AT+CIPCLOSE=0")
        assert r.ok
        await b.host.read_until(b"0,CLOSED\r\n")


async def test_tcp_server_is_ipv4_only() -> None:
    async with two_modules() as (a, b, _a_ips, b_ips):
        for cmd in ("AT+CIPMUX=1", "AT+CIPSERVER=1,8080"):
            assert (await b.host.command(cmd)).ok
        r = await a.host.command(f'AT+CIPSTART="TCPv6","{b_ips[2]}",8080')
        assert r.final == b"ERROR" and not r.lines, r.raw
        r = await a.host.command(f'AT+CIPSTART="TCP","{b_ips[0]}",8080')
        assert r.lines == [b"CONNECT"], r.raw


async def test_udpv6_between_modules() -> None:
    async with two_modules() as (a, b, a_ips, b_ips):
        for m in (a, b):
            assert (await m.host.command("AT+CIPDINFO=1")).ok
        # b listens on local port 5005 with a changeable remote (mode 2)
        r = await b.host.command(f'AT+CIPSTART="UDPv6","{a_ips[2]}",5006,5005,2')
        assert r.lines == [b"CONNECT"], r.raw
        r = await a.host.command(f'AT+CIPSTART="UDPv6","{b_ips[2]}",5005,5006,0')
        assert r.lines == [b"CONNECT"], r.raw
        await a.host.send("AT+CIPSEND=5")
        await a.host.read_until(b">")
        await a.host.write(b"dgram")
        await a.host.read_until(b"SEND OK\r\n")
        await b.host.read_until(f'+IPD,5,"{a_ips[2]}",5006:dgram'.encode())
        await b.host.send("AT+CIPSEND=4")
        await b.host.read_until(b">")
        await b.host.write(b"back")
        await b.host.read_until(b"SEND OK\r\n")
        await a.host.read_until(f'+IPD,4,"{b_ips[2]}",5005:back'.encode())
        # to the link-local address, sent to a given remote with AT+CIPSEND
        await a.host.send(f'AT+CIPSEND=2,"{b_ips[1]}",5005')
        await a.host.read_until(b">")
        await a.host.write(b"ll")
        await a.host.read_until(b"SEND OK\r\n")
        await b.host.read_until(f'+IPD,2,"{a_ips[1]}",5006:ll'.encode())


async def test_sslv6_between_modules() -> None:
    async with two_modules() as (a, b, a_ips, b_ips):
        for cmd in ("AT+CIPMUX=1", 'AT+CIPSERVER=1,8443,"SSLv6"'):
            assert (await b.host.command(cmd)).ok, cmd
        r = await a.host.command(f'AT+CIPSTART="SSLv6","{b_ips[2]}",8443', timeout=15)
        assert r.lines == [b"CONNECT"] and r.ok, r.raw
        await b.host.read_until(b"0,CONNECT\r\n", timeout=10)
        await a.host.send("AT+CIPSEND=3")
        await a.host.read_until(b">")
        await a.host.write(b"tls")
        await a.host.read_until(b"SEND OK\r\n")
        await b.host.read_until(b"+IPD,0,3:tls")
        st = (await b.host.command("AT+CIPSTATE?")).info("+CIPSTATE")[0]
        assert st.startswith(f'+CIPSTATE:0,"SSLv6","{a_ips[2]}",'), st


async def test_ping_an_ipv6_address_in_the_world() -> None:
    async with two_modules() as (a, _b, a_ips, b_ips):
        for target in (b_ips[2], b_ips[1], b_ips[2].upper()):
            r = await a.host.command(f'AT+PING="{target}"')
            assert r.ok and r.lines[-1].startswith(b"+PING:"), (target, r.raw)
            assert r.lines[-1] != b"+PING:TIMEOUT"
        r = await a.host.command('AT+PING="2001:db8:6::dead"')  # nobody has it
        assert r.lines[-1] == b"+PING:TIMEOUT" and r.final == b"ERROR"
        assert a_ips[2] != b_ips[2]


async def test_no_ipv6_without_cipv6_at_the_join() -> None:
    world = world_with(AP, seed="ipv6-world")
    async with (
        Module.start("esp32c3", world=world, name="a") as a,
        Module.start("esp32c3", world=world, name="b") as b,
    ):
        _ip4, _ll, b_gl = await _bring_up(b)
        await a.host.send("ATE0")
        await a.host.read_until(b"OK\r\n")
        assert (await a.host.command('AT+CWJAP="lab6","lab6pass"', timeout=30)).ok
        assert (await a.host.command("AT+CIPV6=1")).ok  # too late: no IPv6 address on this join
        r = await a.host.command(f'AT+PING="{b_gl}"')
        assert r.lines[-1] == b"+PING:TIMEOUT" and r.final == b"ERROR"
        r = await a.host.command(f'AT+CIPSTART="TCPv6","{b_gl}",8080')
        assert r.final == b"ERROR"


async def test_local_ip_chooses_the_source_address() -> None:
    """The spec's example binds the link-local source for a link-local peer;
    a bound global address is the source for a global one."""
    async with two_modules() as (a, b, a_ips, b_ips):
        for cmd in ("AT+CIPMUX=1", 'AT+CIPSERVER=1,8080,"TCPv6"'):
            assert (await b.host.command(cmd)).ok, cmd
        assert (await a.host.command("AT+CIPMUX=1")).ok
        r = await a.host.command(f'AT+CIPSTART=0,"TCPv6","{b_ips[1]}",8080,,"{a_ips[1].upper()}"')
        assert r.lines == [b"0,CONNECT"], r.raw
        await b.host.read_until(b"0,CONNECT\r\n")
        r = await a.host.command(f'AT+CIPSTART=1,"TCPv6","{b_ips[2]}",8080,,"{a_ips[2]}"')
        assert r.lines == [b"1,CONNECT"], r.raw
        await b.host.read_until(b"1,CONNECT\r\n")
        st = (await b.host.command("AT+CIPSTATE?")).info("+CIPSTATE")
        assert st[0].startswith(f'+CIPSTATE:0,"TCPv6","{a_ips[1]}",'), st
        assert st[1].startswith(f'+CIPSTATE:1,"TCPv6","{a_ips[2]}",'), st


async def test_local_ip_that_is_not_the_module_s() -> None:
    async with two_modules() as (a, b, _a_ips, b_ips):
        for cmd in ("AT+CIPMUX=1", 'AT+CIPSERVER=1,8080,"TCPv6"'):
            assert (await b.host.command(cmd)).ok, cmd
        assert (await a.host.command("AT+SYSLOG=1")).ok
        # not an address at all: parameter 4 is invalid
        r = await a.host.command(f'AT+CIPSTART="TCPv6","{b_ips[2]}",8080,,"fe80::zz"')
        assert r.lines == [b"ERR CODE:0x01070004"] and r.final == b"ERROR", r.raw
        # the other IP version: bind() refuses it
        r = await a.host.command(f'AT+CIPSTART="TCPv6","{b_ips[2]}",8080,,"192.168.1.10"')
        assert r.lines[0] == b"+ERRNO:0x16" and r.final == b"ERROR", r.raw
        # somebody else's address (b's): the answer never comes back, the connect times out
        r = await a.host.command(f'AT+CIPSTART="TCPv6","{b_ips[2]}",8080,,"{b_ips[2]}",3000', timeout=10)
        assert r.lines[0] == b"+ERRNO:0x6e" and r.final == b"ERROR", r.raw
        await b.host.expect_silence(0.1)
