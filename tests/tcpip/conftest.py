"""Peers for the TCP/IP tests: real servers on loopback, started by the tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from esp_at_sim import Module
from esp_at_sim.services.netif import IpConfig, NetIf


def online(module: Module, ip: str = "192.168.1.10", iface: str = "sta", ipv6: tuple[str, ...] = ()) -> NetIf:
    """Bring an interface up the way Wi-Fi does after WIFI GOT IP (and, with
    ``ipv6``, WIFI GOT IPv6 LL/GL)."""
    netif = module.service(NetIf)
    netif.up(iface, IpConfig(ip, ip.rsplit(".", 1)[0] + ".1"))
    for addr in ipv6:
        netif.add_ipv6(iface, addr)
    return netif


#: the station addresses of a module on an IPv6-capable network
V6_ADDRS = ("fe80::32ae:a4ff:fe80:65ac", "2001:db8:1::32ae:a4ff:fe80:65ac")


class TcpPeer:
    """A TCP server on 127.0.0.1 that records what it gets and can echo."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.received = bytearray()
        self.writers: list[asyncio.StreamWriter] = []
        self.connected = asyncio.Event()
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.on_data: Callable[[bytes], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", ssl: object = None) -> TcpPeer:
        self.server = await asyncio.start_server(self._client, host, 0, ssl=ssl)  # type: ignore[arg-type]
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.connected.set()
        try:
            while data := await reader.read(65536):
                self.received += data
                if self.on_data:
                    self.on_data(data)
                if self.echo:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def wait_bytes(self, n: int, timeout: float = 10.0) -> bytes:
        async def _wait() -> None:
            while len(self.received) < n:
                await asyncio.sleep(0.001)

        await asyncio.wait_for(_wait(), timeout)
        return bytes(self.received)

    async def close(self) -> None:
        for w in self.writers:
            with contextlib.suppress(Exception):
                w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class UdpPeer(asyncio.DatagramProtocol):
    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.got = asyncio.Event()

    async def start(self, host: str = "127.0.0.1") -> UdpPeer:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append((data, addr))
        self.got.set()
        if self.echo and self.transport is not None:
            self.transport.sendto(data, addr)

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@pytest.fixture
async def tcp_echo() -> AsyncIterator[TcpPeer]:
    peer = await TcpPeer().start()
    yield peer
    await peer.close()


@pytest.fixture
async def udp_echo() -> AsyncIterator[UdpPeer]:
    peer = await UdpPeer().start()
    yield peer
    await peer.close()


@pytest.fixture
async def tcp_sink() -> AsyncIterator[TcpPeer]:
    """A TCP peer that keeps what it gets and answers only when the test writes."""
    peer = await TcpPeer(echo=False).start()
    yield peer
    await peer.close()


@pytest.fixture
async def udp_sink() -> AsyncIterator[UdpPeer]:
    """A UDP peer that keeps what it gets and answers only when the test sends."""
    peer = await UdpPeer(echo=False).start()
    yield peer
    await peer.close()


@pytest.fixture
async def esp() -> AsyncIterator[Module]:
    async with Module.start("esp32c3") as m:
        await m.host.send("ATE0")
        await m.host.read_until(b"OK\r\n")
        yield m
