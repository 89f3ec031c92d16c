"""Air latency: a peer's reply crosses the air after SEND OK, jitter never reorders
bytes, a stream is delayed and not serialised, two modules' airs add up."""

from __future__ import annotations

import asyncio
import os
import random

import pytest
from tests.tcpip.conftest import TcpPeer, UdpPeer, online

from esp_at_sim import Module, World
from esp_at_sim.errors import ConfigError
from esp_at_sim.services.links import LinkTable
from esp_at_sim.world.clock import Clock
from esp_at_sim.world.faults import inject
from esp_at_sim.world.latency import DelayLine, LatencyModel, NetLatency, latency_of
from esp_at_sim.world.scenario import parse_scenario


def links_of_module(m: Module) -> LinkTable:
    return m.service(LinkTable)


async def _echo_round(m: Module, peer_port: int) -> tuple[float, float, bytes]:
    """(world time the payload went to the module, of the echoed +IPD, the bytes up to SEND OK)."""
    h = m.host
    clock = m.clock
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{peer_port}')
    await h.read_until(b"CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPSEND=4")
    await h.read_until(b">")
    # the lower bound is measured from the write: nothing here can make it look longer
    written_at = clock.now()
    await h.write(b"ping")
    with_send_ok = await h.read_until(b"SEND OK\r\n")
    await h.read_until(b"+IPD,4:ping")
    return written_at, clock.now(), with_send_ok


async def test_the_reply_crosses_the_air_after_send_ok(tcp_echo: TcpPeer) -> None:
    world = World()
    latency_of(world).set(None, latency_ms=10, jitter_ms=0)
    async with Module.start("esp32c3", world=world) as m:
        online(m)
        written_at, echoed_at, first = await _echo_round(m, tcp_echo.port)
        # SEND OK as soon as the stack has the data; the reply comes later
        assert b"+IPD" not in first
        # out over the air, back over the air: at least 20 ms
        assert echoed_at - written_at >= 0.020 - 1e-3
        transport = links_of_module(m).links[0].transport
        assert transport is not None and transport.get_extra_info("air_latency") is True


async def test_without_latency_nothing_is_wrapped(tcp_echo: TcpPeer) -> None:
    scenario = parse_scenario({"net": {"air_latency_ms": 0}})
    world = scenario.build_world()
    assert not latency_of(world).active("esp0")
    async with Module.start("esp32c3", world=world, name="esp0") as m:
        online(m)
        _written_at, _echoed_at, first = await _echo_round(m, tcp_echo.port)
        assert first.endswith(b"SEND OK\r\n")
        transport = links_of_module(m).links[0].transport
        assert transport is not None and transport.get_extra_info("air_latency") is None


async def test_jitter_never_reorders_a_stream() -> None:
    world = World()
    latency_of(world).set(None, latency_ms=2, jitter_ms=30)
    peer = await TcpPeer(echo=False).start()
    try:
        async with Module.start("esp32c3", world=world) as m:
            online(m)
            h = m.host
            await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{peer.port}')
            await h.read_until(b"CONNECT\r\n\r\nOK\r\n")
            await peer.connected.wait()
            # many small writes from the peer, each sampled with its own jitter
            sent = bytearray()
            for i in range(200):
                piece = f"<{i}>".encode()
                sent += piece
                peer.writers[0].write(piece)
                await asyncio.sleep(0.0005)
            got = bytearray()
            while len(got) < len(sent):
                await h.read_until(b"+IPD,")
                n = int((await h.read_until(b":"))[:-1])
                got += await h.read_exactly(n)
            assert got == sent
            # and the other way, through passthrough, 256 KiB in pieces
            for cmd in ("AT+CIPMODE=1", "AT+CIPSEND"):
                await h.send(cmd)
                await h.read_until(b">" if cmd == "AT+CIPSEND" else b"OK\r\n")
            blob = os.urandom(256 * 1024)
            rng = random.Random(1)
            i = 0
            while i < len(blob):
                n = rng.randint(1, 4000)
                await h.write(blob[i : i + n])
                i += n
            data = await peer.wait_bytes(len(blob), timeout=30)
            assert data == blob
    finally:
        await peer.close()


async def test_a_stream_is_delayed_not_serialised() -> None:
    clock = Clock()
    delivered: list[tuple[float, bytes]] = []
    line = DelayLine(clock, lambda: 0.005, lambda b: delivered.append((clock.now(), b)))
    start = clock.now()
    for i in range(2000):
        line.push(bytes([i % 256]) * 100)  # 200 KB pushed in one go
    while line.queued:
        await asyncio.sleep(0.001)
    assert b"".join(b for _t, b in delivered) == b"".join(bytes([i % 256]) * 100 for i in range(2000))
    # every piece was due 5 ms after it went in: the last one is not 2000 x 5 ms late
    assert delivered[-1][0] - start < 0.5
    assert delivered[0][0] - start >= 0.005 - 1e-4


def test_weak_signal_and_channel_load_add_delay() -> None:
    model = LatencyModel(latency_ms=3, jitter_ms=0, weak_rssi=-70, weak_ms_per_db=1.0)
    rng = random.Random(0)
    assert model.one_way(rng, -55) == pytest.approx(0.003)
    assert model.one_way(rng, -85) == pytest.approx(0.018)
    assert LatencyModel(latency_ms=0, jitter_ms=5).one_way(rng, -90) == 0.0
    # ten other stations on the channel: up to 10 x 0.5 ms of contention on top
    busy = [model.one_way(rng, -55, others=10) for _ in range(200)]
    assert all(0.003 <= d <= 0.008 + 1e-9 for d in busy)
    assert max(busy) > 0.006 and sum(busy) / len(busy) > 0.004
    with pytest.raises(ConfigError):
        LatencyModel(latency_ms=-1)


async def test_two_modules_cross_both_airs() -> None:
    world = World()
    air = latency_of(world)
    air.set(None, jitter_ms=0)
    air.set("a", latency_ms=10)
    air.set("b", latency_ms=20)
    async with (
        Module.start("esp32c3", world=world, name="a") as a,
        Module.start("esp32c3", world=world, name="b") as b,
    ):
        online(a, "192.168.1.10")
        online(b, "192.168.1.11")
        r = await a.host.command('AT+PING="192.168.1.11"')
        assert r.lines[-1] == b"+PING:60"  # 2 x 10 ms + 2 x 20 ms
        for cmd in ("AT+CIPMUX=1", "AT+CIPSERVER=1,8080"):
            await b.host.command(cmd)
        r = await a.host.command('AT+CIPSTART="TCP","192.168.1.11",8080')
        assert r.final == b"OK"
        await b.host.read_until(b"0,CONNECT\r\n")
        await a.host.send("AT+CIPSEND=3")
        await a.host.read_until(b">")
        await a.host.write(b"hey")
        await a.host.read_until(b"SEND OK\r\n")
        sent = a.clock.now()
        await b.host.read_until(b"+IPD,0,3:hey")
        assert a.clock.now() - sent >= 0.030 - 1e-3  # a's air, then b's


async def test_udp_datagrams_are_delayed_too(udp_echo: UdpPeer) -> None:
    world = World()
    latency_of(world).set(None, latency_ms=15, jitter_ms=0)
    async with Module.start("esp32c3", world=world) as m:
        online(m)
        h = m.host
        await h.send(f'AT+CIPSTART="UDP","127.0.0.1",{udp_echo.port}')
        await h.read_until(b"CONNECT\r\n\r\nOK\r\n")
        await h.send("AT+CIPSEND=2")
        await h.read_until(b">")
        await h.write(b"hi")
        await h.read_until(b"SEND OK\r\n")
        sent = m.clock.now()
        await h.read_until(b"+IPD,2:hi")
        assert m.clock.now() - sent >= 0.030 - 1e-3


async def test_scenario_fault_and_api() -> None:
    scenario = parse_scenario(
        {
            "net": {"latency_ms": 7, "jitter_ms": 2},
            "module": [{"name": "esp0"}, {"name": "esp1", "net": {"latency_ms": 40}}],
        }
    )
    world = scenario.build_world()
    air = world.extension(NetLatency)
    assert air.model("esp0") == LatencyModel(latency_ms=7, jitter_ms=2)
    assert air.model("esp1") == LatencyModel(latency_ms=40, jitter_ms=2)
    with pytest.raises(ConfigError):
        parse_scenario({"net": {"latency_ms": "slow"}}).build_world()
    with pytest.raises(ConfigError):
        parse_scenario({"module": [{"name": "x", "net": {"speed": 1}}]}).build_world()
    async with Module.start("esp32c3", world=world, name="esp0"):
        await inject(world, "net_latency", module="esp0", latency_ms=0, jitter_ms=0)
        assert not air.active("esp0")
        await inject(world, "net_latency", latency_ms=1)
        assert air.model("esp1").latency_ms == 40 and air.default.latency_ms == 1
        with pytest.raises(ConfigError):
            await inject(world, "net_latency", module="nobody", latency_ms=1)


async def test_weak_signal_and_a_busy_channel_slow_the_air() -> None:
    """Three stations on one AP: each sees two others on its channel; a weak
    signal makes the round trip between two of them longer."""
    world = parse_scenario(
        {
            "world": {"seed": "air"},
            "net": {"latency_ms": 2, "jitter_ms": 0, "load_ms_per_station": 0},
            "access_point": [
                {"ssid": "lab", "password": "labpass12", "channel": 3, "rssi": -50, "subnet": "192.168.7.0/24"}
            ],
        }
    ).build_world()
    air = latency_of(world)
    async with (
        Module.start("esp32c3", world=world, name="a") as a,
        Module.start("esp32c3", world=world, name="b") as b,
        Module.start("esp32c3", world=world, name="c") as c,
    ):
        for m in (a, b, c):
            assert (await m.host.command('AT+CWJAP="lab","labpass12"', timeout=30)).ok
        assert air._station_link("a") == (-50.0, 2)
        r = await b.host.command("AT+CIPSTA?")
        b_ip = r.raw.split(b'+CIPSTA:ip:"')[1].split(b'"')[0].decode()
        r = await a.host.command(f'AT+PING="{b_ip}"')
        assert r.lines[-1] == b"+PING:8"  # 2 ms each way, on each module's air
        await inject(world, "rssi", ssid="lab", rssi=-80)
        await a.clock.sleep(1.0)  # past the RSSI refresh of the model
        r = await a.host.command(f'AT+PING="{b_ip}"')
        assert r.lines[-1] == b"+PING:48"  # 10 dB below -70 adds 10 ms per hop
