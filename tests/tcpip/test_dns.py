"""Name resolution through the module's DNS servers: real DNS queries over UDP to
servers on loopback (dnslib), AT+CIPDNS, the access point's DHCP servers, the
host resolver only where the world allows it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from dnslib import RR, DNSRecord
from dnslib.server import BaseResolver, DNSServer
from tests.tcpip.conftest import TcpPeer, online

from esp_at_sim import Module, World
from esp_at_sim.transcript_peers import DnsPeer
from esp_at_sim.world.net import fabric_of
from esp_at_sim.world.scenario import parse_scenario


async def dns_server(records: dict[str, str]) -> DnsPeer:
    ns = DnsPeer("ns", host="127.0.0.1", records=records)
    await ns.bind()
    return ns


@pytest.fixture
async def ns() -> AsyncIterator[DnsPeer]:
    server = await dns_server({"svc.lab": "127.0.0.1", "printer.lab": "10.1.2.3", "v6.lab": "::1"})
    yield server
    await server.aclose()


def point_port_53_at(module: Module, ip: str, port: int) -> None:
    fabric_of(module.world).redirects[(ip, 53)] = ("127.0.0.1", port)


async def test_cipdns_servers_answer_cipdomain_and_cipstart(esp: Module, ns: DnsPeer, tcp_echo: TcpPeer) -> None:
    online(esp)
    h = esp.host
    r = await h.command('AT+CIPDNS=1,"127.0.0.1"')
    assert r.ok, r.raw
    point_port_53_at(esp, "127.0.0.1", ns.port)
    await h.send('AT+CIPDOMAIN="printer.lab"')
    await h.expect(b'+CIPDOMAIN:"10.1.2.3"\r\n\r\nOK\r\n')
    assert ns.queries == ["printer.lab"]
    await h.send('AT+CIPDOMAIN="v6.lab",3')
    await h.expect(b'+CIPDOMAIN:"::1"\r\n\r\nOK\r\n')
    await h.send(f'AT+CIPSTART="TCP","svc.lab",{tcp_echo.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    assert ns.queries[-1] == "svc.lab"
    # the server knows nothing of this name: NXDOMAIN ends the lookup at once
    await h.send('AT+CIPDOMAIN="nowhere.lab"')
    await h.expect(b"\r\nERROR\r\n")
    await h.send("AT+CIPCLOSE")
    await h.expect(b"CLOSED\r\n\r\nOK\r\n")
    await h.send('AT+CIPSTART="TCP","nowhere.lab",80')
    await h.expect(b"\r\nERROR\r\n")
    assert ns.queries[-1] == "nowhere.lab"


async def test_the_scenario_table_and_literals_come_first(esp: Module, ns: DnsPeer) -> None:
    online(esp)
    esp.world.dns["printer.lab"] = "192.168.7.7"
    h = esp.host
    assert (await h.command('AT+CIPDNS=1,"127.0.0.1"')).ok
    point_port_53_at(esp, "127.0.0.1", ns.port)
    await h.send('AT+CIPDOMAIN="printer.lab"')
    await h.expect(b'+CIPDOMAIN:"192.168.7.7"\r\n\r\nOK\r\n')
    await h.send('AT+CIPDOMAIN="10.9.8.7"')
    await h.expect(b'+CIPDOMAIN:"10.9.8.7"\r\n\r\nOK\r\n')
    assert ns.queries == []


async def test_a_silent_server_is_retried_then_the_next_one_answers(esp: Module, ns: DnsPeer) -> None:
    online(esp)
    silent = await dns_server({})
    silent_port = silent.port
    await silent.aclose()  # nobody listens there any more: queries go unanswered
    h = esp.host
    assert (await h.command('AT+CIPDNS=1,"127.0.0.2","127.0.0.3"')).ok
    point_port_53_at(esp, "127.0.0.2", silent_port)
    point_port_53_at(esp, "127.0.0.3", ns.port)
    t0 = esp.clock.now()
    await h.send('AT+CIPDOMAIN="printer.lab"')
    await h.expect(b'+CIPDOMAIN:"10.1.2.3"\r\n\r\nOK\r\n', timeout=30)
    assert esp.clock.now() - t0 >= 5.0  # three tries at the first server: 1 + 2 + 2 s
    assert any("does not answer" in line for line in esp.log_lines)
    # nobody answers at all: ERROR after every server had its tries
    assert (await h.command('AT+CIPDNS=1,"127.0.0.2"')).ok
    await h.send('AT+CIPDOMAIN="printer.lab"')
    await h.expect(b"\r\nERROR\r\n", timeout=30)


async def test_dhcp_hands_out_the_access_points_dns_server(ns: DnsPeer) -> None:
    scenario = parse_scenario(
        {
            "access_point": [
                {
                    "ssid": "lab",
                    "password": "labpassword",
                    "subnet": "192.168.20.0/24",
                    "dns": [f"127.0.0.1:{ns.port}"],
                }
            ],
            "net": {"host_resolver": False},
        }
    )
    world = scenario.build_world()
    async with Module.start("esp32c3", world=world) as m:
        h = m.host
        await h.send('AT+CWJAP="lab","labpassword"')
        await h.read_until(b"OK\r\n", timeout=30)
        await h.send("AT+CIPDNS?")
        await h.read_until(b'+CIPDNS:0,"127.0.0.1"\r\n\r\nOK\r\n')
        await h.send('AT+CIPDOMAIN="printer.lab"')
        await h.read_until(b'+CIPDOMAIN:"10.1.2.3"\r\n\r\nOK\r\n')
        assert ns.queries == ["printer.lab"]
        # manual servers take over; the public defaults are outside this machine and,
        # with host_resolver = false, nobody answers for them
        await h.send("AT+CIPDNS=1")
        await h.read_until(b"OK\r\n")
        await h.send("AT+CIPDNS?")
        await h.read_until(b'+CIPDNS:1,"208.67.222.222","114.114.114.114","8.8.8.8"\r\n\r\nOK\r\n')
        await h.send('AT+CIPDOMAIN="localhost"')
        await h.read_until(b"\r\nERROR\r\n")
        await h.send("AT+CIPDNS=0")
        await h.read_until(b"OK\r\n")
        await h.send('AT+CIPDOMAIN="printer.lab"')
        await h.read_until(b'+CIPDOMAIN:"10.1.2.3"\r\n\r\nOK\r\n')


@pytest.mark.real_time  # the host resolver runs in a thread: its answer takes real time
async def test_the_host_resolver_answers_for_servers_outside_only_when_allowed() -> None:
    world = World()
    async with Module.start("esp32c3", world=world) as m:
        online(m)  # no DHCP: the factory servers, which are outside this machine
        r = await m.host.command('AT+CIPDOMAIN="localhost"')
        assert r.ok and r.lines[-1] in (b'+CIPDOMAIN:"127.0.0.1"', b'+CIPDOMAIN:"::1"'), r.raw
        fabric_of(world).host_resolver = False
        r = await m.host.command('AT+CIPDOMAIN="localhost"')
        assert r.final == b"ERROR"
        world.dns["localhost"] = "127.0.0.1"  # the scenario's table still answers
        r = await m.host.command('AT+CIPDOMAIN="localhost"')
        assert r.ok


async def test_esp8266_1x_says_dns_fail(tcp_echo: TcpPeer) -> None:
    world = World()
    fabric_of(world).host_resolver = False
    async with Module.start("esp8266", world=world, generation=1) as m:
        online(m)
        h = m.host
        await h.send('AT+CIPDOMAIN="nowhere.lab"')
        await h.read_until(b"DNS Fail\r\n\r\nERROR\r\n")
        await h.send('AT+CIPSTART="TCP","nowhere.lab",80')
        await h.read_until(b"DNS Fail\r\n\r\nERROR\r\n")
        await h.read_until(b"CLOSED\r\n")


class _Zone(BaseResolver):  # type: ignore[misc]
    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        if str(request.q.qname) == "threaded.lab.":
            reply.add_answer(*RR.fromZone("threaded.lab. 60 A 127.0.0.1"))
        return reply


@pytest.mark.real_time
async def test_against_dnslibs_threaded_server() -> None:
    """dnslib's own UDP server (a thread): answers arrive in real time."""
    server = DNSServer(_Zone(), address="127.0.0.1", port=0)
    server.start_thread()
    try:
        world = World()
        async with Module.start("esp32c3", world=world) as m:
            online(m)
            fabric_of(world).redirects[("127.0.0.1", 53)] = ("127.0.0.1", server.server.server_address[1])
            r = await m.host.command('AT+CIPDNS=1,"127.0.0.1"')
            assert r.ok
            r = await m.host.command('AT+CIPDOMAIN="threaded.lab"', timeout=10)
            assert r.lines[-1] == b'+CIPDOMAIN:"127.0.0.1"', r.raw
    finally:
        server.stop()
        server.server.server_close()
