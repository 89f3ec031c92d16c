"""SNTP, PING, DNS, socket options, mDNS and OTA against peers started here."""

from __future__ import annotations

import asyncio
import json
import struct

from tests.tcpip.conftest import online

from esp_at_sim import Module, World
from esp_at_sim.services.ota import OtaServer
from esp_at_sim.world.net import fabric_of

NTP_DELTA = 2208988800
FIXED = 1_700_000_000  # Tue Nov 14 22:13:20 2023 UTC


class SntpResponder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.requests = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        reply = bytearray(48)
        reply[0] = 0x24  # version 4, mode 4 (server)
        reply[1] = 1
        reply[40:48] = struct.pack("!II", FIXED + NTP_DELTA, 0)
        assert self.transport is not None
        self.transport.sendto(bytes(reply), addr)


async def test_sntp_sets_the_clock_and_reports(esp: Module) -> None:
    loop = asyncio.get_running_loop()
    responder = SntpResponder()
    transport, _ = await loop.create_datagram_endpoint(lambda: responder, local_addr=("127.0.0.1", 0))
    responder.transport = transport
    try:
        port = transport.get_extra_info("sockname")[1]
        esp.world.dns["ntp.test"] = "127.0.0.1"
        fabric_of(esp.world).redirects[("127.0.0.1", 123)] = ("127.0.0.1", port)
        h = esp.host
        await h.send("AT+CIPSNTPTIME?")
        await h.expect(b"+CIPSNTPTIME:Thu Jan  1 00:00:00 1970\r\n\r\nOK\r\n")
        online(esp)
        await h.send('AT+CIPSNTPCFG=1,8,"ntp.test"')
        await h.expect(b"\r\nOK\r\n")
        await h.expect(b"+TIME_UPDATED\r\n")
        await h.send("AT+CIPSNTPCFG?")
        await h.expect(b'+CIPSNTPCFG:1,8,"ntp.test"\r\n\r\nOK\r\n')
        await h.send("AT+CIPSNTPTIME?")
        await h.expect(b"+CIPSNTPTIME:Wed Nov 15 06:13:2")  # UTC+8, a second or so later
        await h.read_until(b"OK\r\n")
        await h.send("AT+CIPSNTPINTV=15")
        await h.expect(b"\r\nOK\r\n")
        await h.send("AT+CIPSNTPINTV?")
        await h.expect(b"+CIPSNTPINTV:15\r\n\r\nOK\r\n")
    finally:
        transport.close()


async def test_ping_in_world_and_loopback() -> None:
    world = World()
    async with Module.start("esp32c3", world=world, name="a") as a, Module.start("esp32c3", world=world, name="b") as b:
        r = await a.host.command('AT+PING="192.168.1.11"')
        assert r.lines[-1] == b"+PING:TIMEOUT" and r.final == b"ERROR"  # not online yet
        online(a, "192.168.1.10")
        online(b, "192.168.1.11")
        r = await a.host.command('AT+PING="192.168.1.11"')
        assert r.final == b"OK" and r.lines[-1].startswith(b"+PING:")
        r = await a.host.command('AT+PING="127.0.0.1"')
        assert r.final == b"OK", r.raw
        fabric_of(world).dns_blackhole.add("gone.example")
        r = await a.host.command('AT+PING="gone.example"')
        assert r.lines[-1] == b"+PING:TIMEOUT" and r.final == b"ERROR"


async def test_dns_and_domain(esp: Module) -> None:
    h = esp.host
    await h.send("AT+CIPDNS?")
    await h.expect(b'+CIPDNS:0,"208.67.222.222","114.114.114.114","8.8.8.8"\r\n\r\nOK\r\n')
    await h.send('AT+CIPDNS=1,"1.1.1.1","1.1.1.1"')
    await h.expect(b"\r\nERROR\r\n")
    await h.send('AT+CIPDNS=1,"1.1.1.1","9.9.9.9"')
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPDNS?")
    await h.expect(b'+CIPDNS:1,"1.1.1.1","9.9.9.9"\r\n\r\nOK\r\n')
    esp.world.dns["iot.example"] = "127.0.0.1"
    online(esp)
    await h.send('AT+CIPDOMAIN="iot.example"')
    await h.expect(b'+CIPDOMAIN:"127.0.0.1"\r\n\r\nOK\r\n')


async def test_tcpopt_query_and_set(esp: Module) -> None:
    h = esp.host
    await h.send("AT+CIPTCPOPT=,1,5000,60")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPTCPOPT?")
    r = await h.read_reply()
    assert r.lines[0] == b"+CIPTCPOPT:0,-1,1,5000,60"
    await h.send("AT+CIPRECONNINTV=10")
    await h.expect(b"\r\nOK\r\n")
    await h.send("AT+CIPRECONNINTV?")
    await h.expect(b"+CIPRECONNINTV:10\r\n\r\nOK\r\n")


async def test_mdns_in_world() -> None:
    world = World()
    async with Module.start("esp32c3", world=world, name="a") as a, Module.start("esp32c3", world=world, name="b") as b:
        online(a, "192.168.1.10")
        online(b, "192.168.1.11")
        r = await b.host.command('AT+MDNS=1,"espressif","_printer",35,"my_instance","_tcp",1,"product","my_printer"')
        assert r.final == b"OK"
        r = await a.host.command('AT+MDNS=2,0,"_printer","_tcp"')
        assert r.final == b"OK"
        block = r.raw.split(b"+MDNS:", 1)[1].split(b"\r\n\r\nOK")[0]
        n, rest = block.split(b",", 1)
        assert int(n) == len(rest)
        assert b"PTR=my_instance" in rest and b"SRV=espressif.local:35" in rest and b"A=192.168.1.11" in rest
        r = await a.host.command('AT+CIPDOMAIN="espressif.local"')
        assert b'+CIPDOMAIN:"192.168.1.11"' in r.raw
        r = await b.host.command("AT+MDNS=0")
        assert r.final == b"OK"


def app_image(version: str) -> bytes:
    image = bytearray(1024)
    image[0] = 0xE9
    struct.pack_into("<I", image, 32, 0xABCD5432)
    image[48 : 48 + len(version)] = version.encode()
    return bytes(image)


async def test_ciupdate_from_a_local_server(esp: Module) -> None:
    target = esp.profile.target
    image = app_image("v9.9.9.9")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ")[1].decode()
        if path == f"/{target}/versions":
            body = json.dumps(["v4.1.1.0", "v9.9.9.9"]).encode()
        elif path == f"/{target}/v9.9.9.9/ota.bin":
            body = image
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        esp.world.extension(OtaServer).url = f"http://127.0.0.1:{port}"
        online(esp)
        h = esp.host
        await h.send("AT+CIPFWVER?")
        await h.expect(b'+CIPFWVER:"v4.1.1.0"\r\n+CIPFWVER:"v9.9.9.9"\r\n\r\nOK\r\n')
        await h.send('AT+CIUPDATE=0,"v1.0.0.0"')
        await h.expect(b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n\r\nERROR\r\n")
        await h.send("AT+CIUPDATE")
        await h.expect(b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n+CIPUPDATE:4\r\n\r\nOK\r\n")
        await h.read_until(b"ready\r\n")
        r = await h.command("AT+GMR")
        assert b"v9.9.9.9" in r.raw
    finally:
        server.close()
        await server.wait_closed()
