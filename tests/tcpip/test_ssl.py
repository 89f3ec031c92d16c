"""SSL links against a real TLS server with a CA made by the test."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import pytest
from tests.tcpip.conftest import TcpPeer, online

from esp_at_sim import Module
from esp_at_sim.device.nvs import NvsType
from esp_at_sim.services import tls
from esp_at_sim.services.systime import SystemTime


@pytest.fixture(scope="module")
def pki() -> tls.Pki:
    return tls.make_pki("test CA", server_names=("localhost", "127.0.0.1"))


def server_ctx(pki: tls.Pki, *, require_client: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls._load_chain(ctx, pki.server_cert, pki.server_key)
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=pki.ca_pem.decode())
    return ctx


def install(m: Module, pki: tls.Pki) -> None:
    cert, key = pki.clients[0]
    m.nvs.mfg.set("client_ca", "client_ca.0", pki.ca_pem, NvsType.BLOB)
    m.nvs.mfg.set("client_cert", "client_cert.0", cert, NvsType.BLOB)
    m.nvs.mfg.set("client_key", "client_key.0", key, NvsType.BLOB)


async def test_ssl_client_without_verification(esp: Module, pki: tls.Pki) -> None:
    peer = await TcpPeer().start(ssl=server_ctx(pki))
    try:
        online(esp)
        h = esp.host
        await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{peer.port}')
        await h.expect(b"CONNECT\r\n\r\nOK\r\n")
        await h.send("AT+CIPSEND=4")
        await h.read_until(b">")
        await h.write(b"test")
        await h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n")
        await h.expect(b"\r\n+IPD,4:test")
    finally:
        await peer.close()


async def test_ssl_verification_needs_the_ca_and_the_clock(esp: Module, pki: tls.Pki) -> None:
    peer = await TcpPeer().start(ssl=server_ctx(pki, require_client=True))
    try:
        online(esp)
        h = esp.host
        await h.send("AT+CIPSSLCCONF=3,0,0")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+CIPSSLCCONF?")
        await h.expect(b"+CIPSSLCCONF:3,0,0\r\n\r\nOK\r\n")
        # the default PKI's CA did not sign this server
        await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{peer.port}')
        await h.expect(b"\r\nERROR\r\n")
        install(esp, pki)
        # right CA, but the module still believes it is 1970
        await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{peer.port}')
        await h.expect(b"\r\nERROR\r\n")
        assert any("validity starts in the future" in ln for ln in esp.log_lines)
        esp.service(SystemTime).set(time.time())
        await h.send('AT+CIPSSLCCN="wrong.name"')
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{peer.port}')
        await h.expect(b"\r\nERROR\r\n")
        await h.send('AT+CIPSSLCCN="localhost"')
        await h.expect(b"\r\nOK\r\n")
        await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{peer.port}')
        await h.expect(b"CONNECT\r\n\r\nOK\r\n")
        await h.send("AT+CIPSENDEX=10")
        await h.read_until(b">")
        await h.write(b"abc\\0")
        await h.expect(b"\r\nRecv 3 bytes\r\n\r\nSEND OK\r\n")
        await h.expect(b"\r\n+IPD,3:abc")
        assert esp.heap.free < esp.heap.baseline - 30000  # a TLS session costs its heap
    finally:
        await peer.close()


async def test_ssl_alpn_and_sni_reach_the_server(esp: Module, pki: tls.Pki) -> None:
    seen: dict[str, object] = {}
    ctx = server_ctx(pki)
    ctx.set_alpn_protocols(["h2", "mqtt"])

    def sni_cb(sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen["sni"] = name

    ctx.sni_callback = sni_cb  # type: ignore[assignment]
    peer = await TcpPeer().start(ssl=ctx)
    try:
        online(esp)
        h = esp.host
        for cmd in ('AT+CIPSSLCSNI="broker.example"', 'AT+CIPSSLCALPN=1,"mqtt"'):
            await h.send(cmd)
            await h.expect(b"\r\nOK\r\n")
        await h.send("AT+CIPSSLCALPN?")
        await h.expect(b'+CIPSSLCALPN:0,"mqtt"\r\n\r\nOK\r\n')
        await h.send(f'AT+CIPSTART="SSL","127.0.0.1",{peer.port}')
        await h.expect(b"CONNECT\r\n\r\nOK\r\n")
        assert seen["sni"] == "broker.example"
    finally:
        await peer.close()


async def test_ssl_server_in_the_module(esp: Module) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    online(esp)
    h = esp.host
    for cmd in ("AT+CIPMUX=1", f'AT+CIPSERVER=1,{port},"SSL"'):
        await h.send(cmd)
        await h.expect(b"\r\nOK\r\n")
    ctx = ssl.create_default_context(cadata=tls.default_pki().ca_pem.decode())
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    try:
        await h.expect(b"0,CONNECT\r\n")
        writer.write(b"over tls")
        await writer.drain()
        await h.expect(b"\r\n+IPD,0,8:over tls")
        await h.send("AT+CIPSEND=0,2")
        await h.read_until(b">")
        await h.write(b"ok")
        await h.read_until(b"SEND OK\r\n")
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"ok"
    finally:
        writer.close()
