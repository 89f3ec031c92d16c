r"""Peers of golden transcripts: real servers and clients on loopback.

A transcript that shows networking needs somebody on the other end: the TCP
server a module connects to, the PC that connects to the module's server, a
TLS server with the default certificates, an SNTP or DNS server. The
``@peer``/``@connect`` directives start them in the test process, on
127.0.0.1 (``::1`` with ``v6``) and an ephemeral port, so nothing collides
and nothing leaves the machine; ``${NAME.port}`` and ``${NAME.host}`` put
their address into the bytes of later lines.

Every peer keeps what it received in one buffer: ``@peer-expect`` consumes
exactly the bytes it names from the front of it (datagrams are appended in
order), ``@peer-send`` writes to the latest connection (a UDP peer answers the
last sender) and ``@peer-close`` closes that connection. TLS peers use the
PKI every module starts with (:func:`esp_at_sim.services.tls.default_pki`),
so the module's default ``client_ca``/``client_cert`` and ``server_cert``
fit them, as the firmware's defaults fit the certificates of Espressif's
examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esp_at_sim.services import tls

NTP_DELTA = 2208988800  # seconds from 1900 to 1970


class PeerError(Exception):
    """A peer directive cannot be carried out (bad options, nothing connected...)."""


def _tls_server_context(*, verify_client: bool) -> ssl.SSLContext:
    pki = tls.default_pki()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_chain(ctx, pki.server_cert, pki.server_key)
    if verify_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=pki.ca_pem.decode())
    return ctx


def _tls_client_context(*, client_cert: bool) -> ssl.SSLContext:
    pki = tls.default_pki()
    ctx = ssl.create_default_context(cadata=pki.ca_pem.decode())
    if client_cert:
        cert, key = pki.clients[0]
        tls.load_chain(ctx, cert, key)
    return ctx


@dataclass
class Peer:
    """What every peer has: an address, a receive buffer and a change signal."""

    name: str
    host: str = "127.0.0.1"
    port: int = 0
    received: bytearray = field(default_factory=bytearray)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def variables(self) -> dict[str, str]:
        return {f"{self.name}.port": str(self.port), f"{self.name}.host": self.host}

    def _got(self, data: bytes) -> None:
        self.received += data
        self.changed.set()

    async def wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not ready():
            self.changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return True

    async def send(self, data: bytes, timeout: float) -> None:
        raise PeerError(f"peer {self.name} cannot send")

    async def close_connection(self, timeout: float) -> None:
        raise PeerError(f"peer {self.name} has no connection to close")

    async def aclose(self) -> None:
        pass


class StreamPeer(Peer):
    """A TCP or TLS server (``@peer``) or client (``@connect``)."""

    def __init__(self, name: str, *, host: str, echo: bool) -> None:
        super().__init__(name, host)
        self.echo = echo
        self.server: asyncio.AbstractServer | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def listen(self, ctx: ssl.SSLContext | None) -> None:
        self.server = await asyncio.start_server(self._accepted, self.host, 0, ssl=ctx)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def connect(self, port: int, ctx: ssl.SSLContext | None, timeout: float) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, port, ssl=ctx, server_hostname="localhost" if ctx else None),
            timeout,
        )
        self.port = int(writer.get_extra_info("sockname")[1])
        self._attach(reader, writer)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._attach(reader, writer)

    def _attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.changed.set()
        self.tasks.append(asyncio.ensure_future(self._read(reader, writer)))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self._got(data)
                if self.echo:
                    writer.write(data)
        except (ConnectionError, OSError, ssl.SSLError):
            pass
        finally:
            if writer in self.writers:
                self.writers.remove(writer)
            writer.close()
            self.changed.set()

    async def _current(self, timeout: float) -> asyncio.StreamWriter:
        if not await self.wait(lambda: bool(self.writers), timeout):
            raise PeerError(f"nobody connected to peer {self.name} within {timeout:g} s")
        return self.writers[-1]

    async def send(self, data: bytes, timeout: float) -> None:
        writer = await self._current(timeout)
        writer.write(data)
        await writer.drain()

    async def close_connection(self, timeout: float) -> None:
        writer = await self._current(timeout)
        self.writers.remove(writer)
        writer.close()
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            await writer.wait_closed()

    async def aclose(self) -> None:
        for writer in list(self.writers):
            writer.close()
        self.writers.clear()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class PskPeer(StreamPeer):
    """A TLS 1.2 server with pre-shared keys (mbed TLS), like ``openssl s_server -psk``."""

    def __init__(self, name: str, *, host: str, echo: bool, keys: dict[str, bytes]) -> None:
        super().__init__(name, host=host, echo=echo)
        self.keys = keys
        self.failures: list[str] = []

    async def listen_psk(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _PskAccept(self), self.host, 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def handshake(self, raw: asyncio.Transport) -> None:
        from esp_at_sim.services.tls_psk import PskHandshakeError, start_psk_server

        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport = await start_psk_server(raw, protocol, self.keys)
        except PskHandshakeError as exc:
            self.failures.append(str(exc))
            self.changed.set()
            return
        self._attach(reader, asyncio.StreamWriter(transport, protocol, reader, loop))


class _PskAccept(asyncio.Protocol):
    def __init__(self, peer: PskPeer) -> None:
        self.peer = peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # the ClientHello is for mbed TLS
        self.peer.tasks.append(asyncio.ensure_future(self.peer.handshake(transport)))


class DatagramPeer(Peer, asyncio.DatagramProtocol):
    """A UDP endpoint: a server (``@peer``) answers the last sender, a client
    (``@connect``) sends to the module's port."""

    def __init__(self, name: str, *, host: str, echo: bool) -> None:
        Peer.__init__(self, name, host)
        self.echo = echo
        self.transport: asyncio.DatagramTransport | None = None
        self.target: tuple[str, int] | None = None

    async def bind(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, 0), family=family)
        self.port = int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.target = (str(addr[0]), int(addr[1]))
        self._got(data)
        if self.echo and self.transport is not None:
            self.transport.sendto(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass

    async def send(self, data: bytes, timeout: float) -> None:
        if self.target is None or self.transport is None:
            raise PeerError(f"UDP peer {self.name} has nobody to send to yet")
        self.transport.sendto(data, self.target)

    async def aclose(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class SntpPeer(DatagramPeer):
    """An SNTP server whose clock reads ``time`` (Unix seconds) at every request."""

    def __init__(self, name: str, *, host: str, unix_time: float) -> None:
        super().__init__(name, host=host, echo=False)
        self.unix_time = unix_time

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if len(data) < 48:
            return
        reply = bytearray(48)
        reply[0] = 0x24  # LI 0, version 4, mode 4 (server)
        reply[1] = 1  # stratum 1
        reply[24:32] = data[40:48]  # originate = the client's transmit time
        seconds = int(self.unix_time) + NTP_DELTA
        fraction = int((self.unix_time % 1) * (1 << 32))
        reply[32:40] = reply[40:48] = struct.pack("!II", seconds, fraction)
        if self.transport is not None:
            self.transport.sendto(bytes(reply), addr)


class DnsPeer(DatagramPeer):
    """A DNS server answering from a zone (dnslib's zone resolver): ``NAME=ADDRESS``
    options become A (or AAAA) records; any other name is answered NXDOMAIN."""

    def __init__(self, name: str, *, host: str, records: dict[str, str]) -> None:
        super().__init__(name, host=host, echo=False)
        from dnslib.zoneresolver import ZoneResolver

        zone = "\n".join(f"{n}. 60 IN {'AAAA' if ':' in a else 'A'} {a}" for n, a in records.items())
        self.resolver = ZoneResolver(zone)
        self.queries: list[str] = []

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        from dnslib import DNSRecord

        try:
            request = DNSRecord.parse(data)
        except Exception:
            return
        self.queries.append(str(request.q.qname).rstrip("."))
        self.changed.set()
        reply = self.resolver.resolve(request, None)
        if self.transport is not None:
            self.transport.sendto(reply.pack(), addr)


def _options(words: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        out[key] = value if eq else "1"
    return out


class PeerSet:
    """The peers of one transcript run."""

    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}
        #: ``${...}`` names other than the peers' (module ports served on host ports)
        self.extra: dict[str, str] = {}

    def variables(self) -> dict[str, str]:
        out = dict(self.extra)
        for peer in self.peers.values():
            out.update(peer.variables())
        return out

    def get(self, name: str) -> Peer:
        try:
            return self.peers[name]
        except KeyError:
            raise PeerError(f"no peer named {name!r}") from None

    def _add(self, peer: Peer) -> None:
        if peer.name in self.peers:
            raise PeerError(f"a peer named {peer.name!r} exists already")
        self.peers[peer.name] = peer

    async def start(self, name: str, kind: str, words: list[str]) -> None:
        """``@peer NAME KIND [options]``: a server on an ephemeral loopback port."""
        opts = _options(words)
        host = "::1" if "v6" in opts else "127.0.0.1"
        echo = "echo" in opts
        if kind in ("tcp", "tls"):
            peer = StreamPeer(name, host=host, echo=echo)
            ctx = _tls_server_context(verify_client="verify_client" in opts) if kind == "tls" else None
            self._add(peer)
            await peer.listen(ctx)
        elif kind == "udp":
            udp = DatagramPeer(name, host=host, echo=echo)
            self._add(udp)
            await udp.bind()
            if "to" in opts:  # sends before anybody sent to it go to this (host) port
                udp.target = (host, int(opts["to"]))
        elif kind == "sntp":
            sntp = SntpPeer(name, host=host, unix_time=float(opts.get("time", "1634559147")))
            self._add(sntp)
            await sntp.bind()
        elif kind == "psk":
            try:
                keys = {opts["identity"]: bytes.fromhex(opts["key"])}
            except (KeyError, ValueError):
                raise PeerError("a psk peer needs identity=NAME key=HEX") from None
            psk = PskPeer(name, host=host, echo=echo, keys=keys)
            self._add(psk)
            await psk.listen_psk()
        elif kind == "dns":
            records = {k: v for k, v in opts.items() if k != "v6"}
            ns = DnsPeer(name, host=host, records=records)
            self._add(ns)
            await ns.bind()
        else:
            raise PeerError(f"unknown peer kind {kind!r} (tcp, tls, psk, udp, sntp, dns)")

    async def connect(self, name: str, kind: str, host_port: int, words: list[str], timeout: float) -> None:
        """``@connect NAME KIND PORT [options]``: a client of the module's server."""
        opts = _options(words)
        host = "::1" if "v6" in opts else "127.0.0.1"
        if kind in ("tcp", "tls"):
            peer = StreamPeer(name, host=host, echo="echo" in opts)
            ctx = _tls_client_context(client_cert="client_cert" in opts) if kind == "tls" else None
            self._add(peer)
            await peer.connect(host_port, ctx, timeout)
        elif kind == "udp":
            udp = DatagramPeer(name, host=host, echo="echo" in opts)
            self._add(udp)
            await udp.bind()
            udp.target = (host, host_port)
        else:
            raise PeerError(f"cannot connect a {kind!r} peer (tcp, tls, udp)")

    async def expect(self, name: str, data: bytes, timeout: float) -> bytes | None:
        """Wait until the peer received ``data`` next; None when it did, else what it got."""
        peer = self.get(name)

        def enough() -> bool:
            n = min(len(data), len(peer.received))
            return bytes(peer.received[:n]) != data[:n] or len(peer.received) >= len(data)

        await peer.wait(enough, timeout)
        if bytes(peer.received[: len(data)]) == data:
            del peer.received[: len(data)]
            return None
        return bytes(peer.received[: len(data) + 40])

    async def aclose(self) -> None:
        for peer in self.peers.values():
            with contextlib.suppress(Exception):
                await peer.aclose()
        self.peers.clear()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for a module port served on the host)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
