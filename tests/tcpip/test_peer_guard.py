"""Abusive peers: a TCP server flooded from one address, a SoftAP fed wrong
passwords by one station - the peer is blocked for a while and reported on the
log port and to observers, never on the AT port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest
from tests.tcpip.conftest import online

from esp_at_sim import Module
from esp_at_sim.errors import ConfigError
from esp_at_sim.services.peer_guard import GuardPolicies, GuardPolicy, PeerGuard
from esp_at_sim.world.scenario import parse_scenario


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def events_of(m: Module) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    m.subscribe(lambda event, fields: seen.append((event, fields)) if event.startswith("peer_") else None)
    return seen


async def _connect(port: int) -> bytes:
    """Open a connection, give the module a moment, close; what the peer read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(reader.read(100), 0.2)
        return b"(open)"
    except ConnectionError:
        return b""  # reset
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_connection_flood_blocks_the_address() -> None:
    world = parse_scenario(
        {"module": [{"name": "srv", "guard": {"tcp_attempts": 3, "tcp_window": 10, "block_seconds": 5}}]}
    ).build_world()
    async with Module.start("esp32c3", world=world, name="srv") as m:
        h = m.host
        events = events_of(m)
        online(m)
        port = free_port()
        for cmd in ("ATE0", "AT+CIPMUX=1", f"AT+CIPSERVER=1,{port}"):
            assert (await h.command(cmd)).ok
        for _ in range(3):
            assert await _connect(port) == b"(open)"
            await h.read_until(b",CONNECT\r\n")
            await h.read_until(b",CLOSED\r\n")
        # the fourth within the window: reset before the server sees it
        assert await _connect(port) == b""
        await h.expect_silence(0.3)  # no CONNECT, and no invented URC
        assert any("at-guard: 4 connection attempts from 127.0.0.1 in 10 s" in ln for ln in m.log_lines)
        assert events == [
            ("peer_blocked", {"kind": "tcp", "peer": "127.0.0.1", "count": 4, "window": 10.0, "seconds": 5.0})
        ]
        assert m.service(PeerGuard).blocks("tcp", "127.0.0.1")
        # the block lifts by itself
        await m.clock.sleep(5.5)
        assert events[-1] == ("peer_unblocked", {"kind": "tcp", "peer": "127.0.0.1"})
        assert await _connect(port) == b"(open)"
        await h.read_until(b",CONNECT\r\n")


async def test_wrong_passwords_block_a_station_at_the_softap() -> None:
    world = parse_scenario(
        {
            "world": {"seed": "guard"},
            "module": [{"name": "ap", "guard": {"wpa_failures": 2, "block_seconds": 30}}, {"name": "sta"}],
        }
    ).build_world()
    async with (
        Module.start("esp32c3", world=world, name="ap") as ap,
        Module.start("esp32c3", world=world, name="sta") as sta,
    ):
        events = events_of(ap)
        for m in (ap, sta):
            assert (await m.host.command("ATE0")).ok
        assert (await ap.host.command("AT+CWMODE=2")).ok
        assert (await ap.host.command('AT+CWSAP="lab","labpass12",11,3,2')).ok
        sta_mac = (await sta.host.command("AT+CIPSTAMAC?")).lines[0].split(b'"')[1].decode()
        for _ in range(6):
            reply = await sta.host.command('AT+CWJAP="lab","wrongpass9"', timeout=40)
            assert reply.final == b"ERROR"
            if events:
                break
        assert events and events[0][0] == "peer_blocked"
        assert events[0][1]["kind"] == "wifi" and events[0][1]["peer"] == sta_mac
        assert any(f"failed handshakes from {sta_mac}" in ln for ln in ap.log_lines)
        # blocked: even the right password does not get it in now
        reply = await sta.host.command('AT+CWJAP="lab","labpass12"', timeout=40)
        assert reply.final == b"ERROR"
        await ap.host.expect_silence(0.2)  # the AT port of the SoftAP says nothing about it
        await ap.clock.sleep(31)
        assert events[-1] == ("peer_unblocked", {"kind": "wifi", "peer": sta_mac})
        reply = await sta.host.command('AT+CWJAP="lab","labpass12"', timeout=40)
        assert reply.ok, reply.raw
        await ap.host.read_until(f'+STA_CONNECTED:"{sta_mac}"'.encode(), timeout=10)


async def test_guard_configuration() -> None:
    world = parse_scenario({"module": [{"name": "a", "guard": False}, {"name": "b"}]}).build_world()
    policies = world.extension(GuardPolicies)
    assert policies.of("a") == GuardPolicy(enabled=False)
    assert policies.of("b") == GuardPolicy()
    for bad in ({"tcp_attempts": 0}, {"block_seconds": "long"}, {"speed": 1}, "yes"):
        with pytest.raises(ConfigError):
            parse_scenario({"module": [{"name": "x", "guard": bad}]}).build_world()
    # switched off: floods are not counted
    async with Module.start("esp32c3", world=world, name="a") as m:
        guard = m.service(PeerGuard)
        assert all(guard.tcp_attempt("10.0.0.9") for _ in range(500))
