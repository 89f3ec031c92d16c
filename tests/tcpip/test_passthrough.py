"""Passthrough (AT+CIPMODE=1 + AT+CIPSEND): raw bytes both ways, +++ to leave."""

from __future__ import annotations

import asyncio
import hashlib
import os

from tests.tcpip.conftest import TcpPeer, UdpPeer, online

from esp_at_sim import Module

GUARD = 0.05  # comfortably more than the 20 ms +++ guard


async def enter(esp: Module, start: str) -> None:
    h = esp.host
    await h.send(start)
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPMODE=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPSEND")
    await h.expect(b"\r\nOK\r\n\r\n>")


async def leave(esp: Module) -> None:
    await asyncio.sleep(GUARD)
    await esp.host.write(b"+++")
    await asyncio.sleep(GUARD)


async def test_all_byte_values_round_trip(esp: Module, tcp_echo: TcpPeer) -> None:
    online(esp)
    await enter(esp, f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    payload = bytes(range(256)) * 4
    await esp.host.write(payload)
    assert await esp.host.read_exactly(len(payload)) == payload
    await leave(esp)
    await esp.host.send("AT")
    await esp.host.expect(b"\r\nOK\r\n")
    assert bytes(tcp_echo.received) == payload


async def test_one_mebibyte_each_way_by_hash(esp: Module, tcp_echo: TcpPeer) -> None:
    online(esp)
    await enter(esp, f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    blob = os.urandom(1 << 20)

    async def writer() -> None:
        for i in range(0, len(blob), 16384):
            await esp.host.write(blob[i : i + 16384])

    task = asyncio.ensure_future(writer())
    back = await esp.host.read_exactly(len(blob), timeout=60)
    await task
    assert hashlib.sha256(back).digest() == hashlib.sha256(blob).digest()
    assert hashlib.sha256(bytes(tcp_echo.received)).digest() == hashlib.sha256(blob).digest()
    await leave(esp)


async def test_plus_edge_cases(esp: Module, tcp_echo: TcpPeer) -> None:
    online(esp)
    h = esp.host
    await enter(esp, f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    # +++ inside data is data
    await h.write(b"a+++b")
    assert await h.read_exactly(5) == b"a+++b"
    # +++ with silence before but more bytes right after is data too
    await asyncio.sleep(GUARD)
    await h.write(b"+++x")
    assert await h.read_exactly(4) == b"+++x"
    # +++ without the silence before is data
    await h.write(b"y")
    await h.write(b"+++")
    assert await h.read_exactly(4) == b"y+++"
    await leave(esp)
    await h.send("AT+CIPMODE?")
    await h.expect(b"+CIPMODE:1\r\n\r\nOK\r\n")
    # back in command mode with the link still up: AT+CIPSEND enters again
    await h.send("AT+CIPSEND")
    await h.expect(b"\r\nOK\r\n\r\n>")
    await h.write(b"again")
    assert await h.read_exactly(5) == b"again"
    await leave(esp)
    await h.send("AT+CIPMODE=0")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPCLOSE")
    await h.expect(b"CLOSED\r\n\r\nOK\r\n")


async def test_packing_follows_transintvl(esp: Module, tcp_sink: TcpPeer) -> None:
    sizes: list[int] = []
    tcp_sink.on_data = lambda d: sizes.append(len(d))
    online(esp)
    await enter(esp, f'AT+CIPSTART="TCP","127.0.0.1",{tcp_sink.port}')
    await esp.host.write(b"x" * 3000)  # one full 2920-byte packet now, 80 bytes after 20 ms
    await tcp_sink.wait_bytes(3000)
    assert sum(sizes) == 3000 and sizes[0] >= 2920
    await leave(esp)


async def test_udp_passthrough(esp: Module, udp_echo: UdpPeer) -> None:
    online(esp)
    await enter(esp, f'AT+CIPSTART="UDP","127.0.0.1",{udp_echo.port},0,0')
    await esp.host.write(b"datagram")
    assert await esp.host.read_exactly(8) == b"datagram"
    await leave(esp)


async def test_passthrough_needs_mode_zero_for_udp_and_cipmode(esp: Module, udp_echo: UdpPeer) -> None:
    online(esp)
    h = esp.host
    await h.send(f'AT+CIPSTART="UDP","127.0.0.1",{udp_echo.port},0,2')
    await h.expect(b"CONNECT\r\n\r\nOK\r\n")
    await h.send("AT+CIPSEND")
    await h.expect(b"\r\nERROR\r\n")  # AT+CIPMODE=0
    await h.send("AT+CIPMODE=1")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPSEND")
    await h.expect(b"\r\nERROR\r\n")  # UDP mode 2
    await h.send("AT+CIPSEND=4")
    await h.expect(b"\r\nERROR\r\n")  # no counted sends in passthrough mode


async def test_client_passthrough_reconnects_until_plus(esp: Module) -> None:
    peer = await TcpPeer(echo=True).start()
    port = peer.port
    online(esp)
    h = esp.host
    await enter(esp, f'AT+CIPSTART="TCP","127.0.0.1",{port}')
    await peer.connected.wait()
    for w in peer.writers:
        w.close()
    peer.writers.clear()
    peer.connected.clear()
    await asyncio.wait_for(peer.connected.wait(), 10)  # the module came back by itself
    await asyncio.sleep(0.01)
    await h.write(b"after")
    assert await h.read_exactly(5) == b"after"
    await leave(esp)
    await peer.close()


async def test_server_passthrough_single_client(esp: Module) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    online(esp)
    h = esp.host
    for cmd in ("AT+CIPMUX=1", "AT+CIPSERVERMAXCONN=1", f"AT+CIPSERVER=1,{port}", "AT+CIPMODE=1"):
        await h.send(cmd)
        await h.expect(b"\r\nOK\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await h.expect(b"0,CONNECT\r\n")
        await h.send("AT+CIPSEND")
        await h.expect(b"\r\nOK\r\n\r\n>")
        writer.write(b"from-client")
        await writer.drain()
        assert await h.read_exactly(11) == b"from-client"
        await h.write(b"from-host")
        assert await asyncio.wait_for(reader.readexactly(9), 5) == b"from-host"
        await leave(esp)
    finally:
        writer.close()


async def test_savetranslink_reconnects_at_boot(esp: Module, tcp_echo: TcpPeer) -> None:
    h = esp.host
    await h.send(f'AT+SAVETRANSLINK=1,"127.0.0.1",{tcp_echo.port},"TCP"')
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+RST")
    await h.expect(b"\r\nOK\r\n")
    await h.read_until(b"ready\r\n")
    await asyncio.sleep(0.05)
    online(esp)  # Wi-Fi comes up after the boot
    await asyncio.wait_for(tcp_echo.connected.wait(), 10)
    await asyncio.sleep(0.1)
    await h.write(b"transparent")
    assert await h.read_exactly(11) == b"transparent"
    await leave(esp)
    r = await h.command("AT+SAVETRANSLINK=0")  # echo is back on after the reset
    assert r.final == b"OK"


async def test_quitt_with_sysmsg_bit_0(esp: Module, tcp_echo: TcpPeer) -> None:
    online(esp)
    esp.settings.set("base", "sysmsg", 1)
    await enter(esp, f'AT+CIPSTART="TCP","127.0.0.1",{tcp_echo.port}')
    await leave(esp)
    await esp.host.expect(b"+QUITT\r\n")
