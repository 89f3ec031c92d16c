"""TLS-PSK links (AT+CIPSSLCPSK/AT+CIPSSLCPSKHEX) against a PSK server of the same
library (mbed TLS through python-mbedtls)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest
from tests.tcpip.conftest import online

from esp_at_sim import Module
from esp_at_sim.transcript_peers import PskPeer

KEY = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")


@pytest.fixture
async def psk_echo() -> AsyncIterator[PskPeer]:
    peer = PskPeer("psk", host="127.0.0.1", echo=True, keys={"sensor-7": KEY})
    await peer.listen_psk()
    yield peer
    await peer.aclose()


async def test_psk_suite_is_negotiated_per_link(esp: Module, psk_echo: PskPeer) -> None:
    online(esp)
    h = esp.host
    for cmd in ("AT+CIPMUX=1", f'AT+CIPSSLCPSKHEX=1,"{KEY.hex()}","sensor-7"'):
        assert (await h.command(cmd)).ok
    r = await h.command("AT+CIPSSLCPSKHEX?")
    assert f'+CIPSSLCPSKHEX:1,"{KEY.hex()}","sensor-7"'.encode() in r.lines
    # link 0 has no key: a certificate handshake the PSK server refuses
    r = await h.command(f'AT+CIPSTART=0,"SSL","127.0.0.1",{psk_echo.port}')
    assert r.final == b"ERROR"
    await h.send(f'AT+CIPSTART=1,"SSL","127.0.0.1",{psk_echo.port}')
    await h.expect(b"1,CONNECT\r\n\r\nOK\r\n")
    assert any("PSK handshake done, TLS-" in line and "-PSK-" in line for line in esp.log_lines)
    await h.send("AT+CIPSEND=1,5")
    await h.read_until(b">")
    await h.write(b"hello")
    await h.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n")
    await h.expect(b"\r\n+IPD,1,5:hello")
    await h.send("AT+CIPCLOSE=1")
    await h.expect(b"1,CLOSED\r\n\r\nOK\r\n")


async def test_a_large_transfer_through_psk_passthrough(esp: Module, psk_echo: PskPeer) -> None:
    online(esp)
    h = esp.host
    assert (await h.command(f'AT+CIPSSLCPSKHEX="{KEY.hex()}","sensor-7"')).ok
    await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{psk_echo.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    assert (await h.command("AT+CIPMODE=1")).ok
    await h.send("AT+CIPSEND")
    await h.expect(b"\r\nOK\r\n\r\n>")
    blob = os.urandom(256 * 1024)

    async def writer() -> None:
        for i in range(0, len(blob), 8192):
            await h.write(blob[i : i + 8192])

    task = asyncio.ensure_future(writer())
    back = await h.read_exactly(len(blob), timeout=60)
    await task
    assert hashlib.sha256(back).digest() == hashlib.sha256(blob).digest()
    await asyncio.sleep(0.05)
    await h.write(b"+++")
    await asyncio.sleep(0.05)


async def test_the_server_closing_reports_closed(esp: Module, psk_echo: PskPeer) -> None:
    online(esp)
    h = esp.host
    assert (await h.command(f'AT+CIPSSLCPSKHEX="{KEY.hex()}","sensor-7"')).ok
    await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{psk_echo.port}')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await psk_echo.send(b"last words", 5)
    await psk_echo.close_connection(5)
    await h.expect(b"\r\n+IPD,10:last wordsCLOSED\r\n")
    r = await h.command(f'AT+CIPSSLCPSK="{"x" * 33}","sensor-7"')  # 32 bytes at most
    assert r.final == b"ERROR"
