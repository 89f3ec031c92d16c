"""AT+CIPSENDL: long sends in parallel with progress reports; +++ cancels."""

from __future__ import annotations

import asyncio
import hashlib
import os

from tests.tcpip.conftest import TcpPeer, online

from esp_at_sim import Module, World


async def test_cipsendl_one_mebibyte_with_progress(esp: Module, tcp_sink: TcpPeer) -> None:
    online(esp)
    h = esp.host
    await h.send("AT+CIPSENDLCFG=65536,2920")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPSENDLCFG?")
    await h.expect(b"+CIPSENDLCFG:65536,2920\r\n\r\nOK\r\n")
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_sink.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    blob = os.urandom(1 << 20)
    await h.send(f"AT+CIPSENDL={len(blob)}")
    await h.expect(b"\r\nOK\r\n\r\n>")
    for i in range(0, len(blob), 8192):
        await h.write(blob[i : i + 8192])
    out = await h.read_until(b"SEND OK\r\n", timeout=60)
    reports = [ln for ln in out.split(b"\r\n") if ln.startswith(b"+CIPSENDL:")]
    assert reports[0].startswith(b"+CIPSENDL:65536,")
    assert reports[-1].startswith(b"+CIPSENDL:1048576,")
    await tcp_sink.wait_bytes(len(blob))
    assert hashlib.sha256(bytes(tcp_sink.received)).digest() == hashlib.sha256(blob).digest()


async def test_cipsendl_cancelled_by_plus(esp: Module, tcp_echo: TcpPeer) -> None:
    online(esp)
    h = esp.host
    await h.send(f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPSENDL=100000")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"z" * 300)
    await asyncio.sleep(0.1)
    await h.write(b"+++")
    out = await h.read_until(b"SEND CANCELLED\r\n")
    assert b"+CIPSENDL:300,300" in out
    await tcp_echo.wait_bytes(300)


async def test_udp_between_modules() -> None:
    world = World()
    async with Module.start("esp32c3", world=world, name="a") as a, Module.start("esp32c3", world=world, name="b") as b:
        online(a, "192.168.1.10")
        online(b, "192.168.1.11")
        r = await b.host.command('AT+CIPSTART="UDP","0.0.0.0",0,5000,2')
        assert r.final == b"OK"
        r = await a.host.command('AT+CIPSTART="UDP","192.168.1.11",5000,6000,0')
        assert r.final == b"OK"
        await a.host.send("AT+CIPSEND=5")
        await a.host.read_until(b">")
        await a.host.write(b"hello")
        await a.host.read_until(b"SEND OK\r\n")
        await b.host.read_until(b"+IPD,5:hello")
        # mode 2: b now answers whoever spoke last
        await b.host.send("AT+CIPSEND=3")
        await b.host.read_until(b">")
        await b.host.write(b"ack")
        await b.host.read_until(b"SEND OK\r\n")
        await a.host.read_until(b"+IPD,3:ack")
        r = await b.host.command("AT+CIPSTATE?")
        assert b'"UDP","192.168.1.10",6000,5000,0' in r.raw


async def test_cifsr_after_a_real_join() -> None:
    from pathlib import Path

    from esp_at_sim.world.scenario import load_scenario

    scenario = load_scenario(Path(__file__).parent.parent / "golden" / "wifi" / "world.toml")
    async with Module.start("esp32c3", world=scenario.build_world()) as m:
        r = await m.host.command('AT+CWJAP="esp-at-sim","espressif"', timeout=30)
        assert r.final == b"OK"
        r = await m.host.command("AT+CIFSR")
        lines = r.info("+CIFSR")
        assert lines[0] == '+CIFSR:STAIP,"192.168.1.2"' and lines[1].startswith('+CIFSR:STAMAC,"')
        r = await m.host.command("AT+CIPSTATUS")
        assert r.lines[1] == b"STATUS:2"
