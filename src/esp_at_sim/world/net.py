"""The virtual IP fabric: how modules of one world reach each other.

Theory of operation
-------------------
Every interface a module brings up (``NetIf.up``) registers its virtual
address here. A connection to one of those addresses never leaves the
process: :meth:`NetFabric.connect_tcp` looks up the listener registered for
``(address, port)`` and joins the two ends with a pair of
:class:`FabricTransport` objects. They are real ``asyncio.Transport``
implementations (flow control with ``pause_writing``/``pause_reading``,
half-close, abort, ``start_tls``), so every protocol above them - AT links,
MQTT, HTTP, TLS - runs unchanged over an in-world connection or a host socket.
The peer sees the connecting module's virtual address and an ephemeral port
from the fabric, as on a real LAN.

UDP works the same way with :meth:`bind_udp`/:meth:`send_udp`: a datagram to a
bound ``(address, port)`` is delivered, anything else is dropped, as UDP does.

IPv6 addresses (link-local and global, registered by ``NetIf.add_ipv6``) are
routed the same way. Every address is kept in one text form, the one lwIP's
``ip6addr_ntoa`` prints (:func:`ip_text`), so a table lookup, a ``+IPD`` and
an ``AT+CIPSTATE`` line agree whatever spelling the host typed.

Everything that is not a virtual address goes out through host sockets; the
``redirects`` table lets a scenario or a test send a well-known port
somewhere else (SNTP's port 123 to a test responder on 127.0.0.1:40123).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esp_at_sim.world.scenario import section
from esp_at_sim.world.world import World

if TYPE_CHECKING:
    from esp_at_sim.services.netif import NetIf

Address = tuple[str, int]
#: called with the connecting peer's address; returns the protocol of the accepted end, or None to refuse
AcceptFn = Callable[[Address], asyncio.Protocol | None]
DatagramFn = Callable[[bytes, Address], None]

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
EPHEMERAL_FIRST = 49152
EPHEMERAL_LAST = 65535


def ip_text(ip: str) -> str:
    """An address as the firmware prints it. IPv4 is dotted decimal; IPv6 is
    lowercase hex without leading zeros, the *first* run of two or more zero
    groups written ``::`` (lwIP's ``ip6addr_ntoa``; RFC 5952 would pick the
    longest run). Anything that is not an address is returned unchanged."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip
    if addr.version == 4:
        return str(addr)
    groups = [int.from_bytes(addr.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    start = next((i for i in range(7) if groups[i] == 0 and groups[i + 1] == 0), -1)
    if start < 0:
        return ":".join(f"{g:x}" for g in groups)
    end = start
    while end < 8 and groups[end] == 0:
        end += 1
    head = ":".join(f"{g:x}" for g in groups[:start])
    tail = ":".join(f"{g:x}" for g in groups[end:])
    return f"{head}::{tail}"


def is_ipv6(ip: str) -> bool:
    return ":" in ip


def is_link_local6(ip: str) -> bool:
    try:
        return ipaddress.IPv6Address(ip.split("%", 1)[0]).is_link_local
    except ValueError:
        return False


class FabricTransport(asyncio.Transport):
    """One end of an in-world stream connection."""

    _start_tls_compatible = True  # loop.start_tls() accepts it

    def __init__(
        self, loop: asyncio.AbstractEventLoop, protocol: asyncio.BaseProtocol, local: Address, remote: Address
    ):
        super().__init__({"sockname": local, "peername": remote, "fabric": True})
        self._loop = loop
        self._protocol = protocol
        self.peer: FabricTransport | None = None
        self._inbox: deque[bytes] = deque()
        self._inbox_size = 0
        self._reading = True
        self._flush_scheduled = False
        self._eof_in = False  # peer closed its writing side; deliver after the inbox
        self._close_in = False  # peer closed completely
        self._closing = False
        self._lost = False
        self._writer_paused = False  # we asked the peer's protocol to pause writing
        self._high = HIGH_WATER
        self._low = LOW_WATER

    # ------------------------------------------------------------ protocol
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    # ------------------------------------------------------------- reading
    def is_reading(self) -> bool:
        return self._reading and not self._lost

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if not self._reading:
            self._reading = True
            self._schedule_flush()

    def _deliver(self, data: bytes) -> None:
        """Bytes written by the peer."""
        if self._lost or self._close_in:
            return
        self._inbox.append(data)
        self._inbox_size += len(data)
        if self._inbox_size > self._high and self.peer is not None and not self._writer_paused:
            self._writer_paused = True
            self.peer._call_protocol("pause_writing")
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and not self._lost:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._lost:
            return
        while self._inbox and self._reading:
            data = self._inbox.popleft()
            self._inbox_size -= len(data)
            self._feed(data)
        if self._writer_paused and self._inbox_size <= self._low and self.peer is not None:
            self._writer_paused = False
            self.peer._call_protocol("resume_writing")
        if self._inbox or not self._reading:
            return
        if self._eof_in:
            self._eof_in = False
            keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
            if not keep_open and not self._close_in:
                self.close()
        if self._close_in:
            self._connection_lost(None)

    def _feed(self, data: bytes) -> None:
        """Hand bytes to the protocol; a BufferedProtocol (asyncio's TLS layer is
        one) is filled through its own buffers, as asyncio's socket transports do."""
        protocol = self._protocol
        if not isinstance(protocol, asyncio.BufferedProtocol):
            protocol.data_received(data)  # type: ignore[attr-defined]
            return
        view = memoryview(data)
        while view:
            buf = memoryview(protocol.get_buffer(len(view)))
            n = min(len(buf), len(view))
            if n == 0:
                raise RuntimeError("get_buffer() returned an empty buffer")
            buf[:n] = view[:n]
            protocol.buffer_updated(n)
            view = view[n:]

    def _call_protocol(self, name: str) -> None:
        if self._lost:
            return
        try:
            getattr(self._protocol, name)()
        except Exception:  # a protocol bug must not break the other end
            self._loop.call_exception_handler({"message": f"{name}() failed", "protocol": self._protocol})

    # ------------------------------------------------------------- writing
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._lost or self.peer is None:
            return
        if data:
            self.peer._deliver(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self.peer is None:
            return
        self.peer._eof_in = True
        self.peer._schedule_flush()

    def get_write_buffer_size(self) -> int:
        return self.peer._inbox_size if self.peer is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self.peer is not None:
            self.peer._high = HIGH_WATER if high is None else high
            self.peer._low = (self.peer._high // 4) if low is None else low

    # ------------------------------------------------------------- closing
    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        """Orderly close: the peer gets what was written, then EOF and close."""
        if self._closing or self._lost:
            return
        self._closing = True
        peer = self.peer
        if peer is not None and not peer._lost:
            peer._eof_in = True
            peer._close_in = True
            peer._schedule_flush()
        self._loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        """Reset: the peer loses unread data and sees ``ConnectionResetError``."""
        if self._lost:
            return
        self._closing = True
        peer = self.peer
        if peer is not None and not peer._lost:
            peer._inbox.clear()
            peer._inbox_size = 0
            peer._loop.call_soon(peer._connection_lost, ConnectionResetError("connection reset by peer"))
        self._loop.call_soon(self._connection_lost, None)

    def _force_close(self, exc: BaseException | None) -> None:
        """What asyncio's TLS layer calls on a fatal error: a reset."""
        self.abort()

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._inbox.clear()
        self._inbox_size = 0
        self._protocol.connection_lost(exc)


@dataclass
class UdpBinding:
    callback: DatagramFn
    owner: object = None


class NetFabric:
    """World-wide routing state (``world.extension(NetFabric)``)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.addresses: dict[str, NetIf] = {}
        self.tcp_listeners: dict[Address, AcceptFn] = {}
        self.udp_bindings: dict[Address, UdpBinding] = {}
        #: (host, port) -> (host, port): outgoing host connections/datagrams go elsewhere
        self.redirects: dict[Address, Address] = {}
        #: names that fail to resolve on purpose (the dns_failure fault)
        self.dns_blackhole: set[str] = set()
        #: probability that a UDP datagram is lost (the packet_loss fault), by module name
        self.udp_loss: dict[str, float] = {}
        #: "name.local" -> address, announced by modules' AT+MDNS
        self.mdns_hosts: dict[str, str] = {}
        #: the host resolver answers for DNS servers this process does not send to
        #: (``[net] host_resolver``; see services/dns.py)
        self.host_resolver = True
        self._ports: dict[str, itertools.count[int]] = {}

    # ---------------------------------------------------------- addresses
    def register(self, ip: str, netif: NetIf) -> None:
        self.addresses[ip] = netif

    def unregister(self, ip: str, netif: NetIf) -> None:
        if self.addresses.get(ip) is netif:
            del self.addresses[ip]
            for table in (self.tcp_listeners, self.udp_bindings):
                for key in [k for k in table if k[0] == ip]:
                    del table[key]

    def is_virtual(self, ip: str) -> bool:
        return ip in self.addresses

    def owner(self, ip: str) -> NetIf | None:
        return self.addresses.get(ip)

    def ephemeral_port(self, ip: str) -> int:
        counter = self._ports.get(ip)
        if counter is None:
            counter = itertools.count(EPHEMERAL_FIRST)
            self._ports[ip] = counter
        while True:
            port = next(counter)
            if port > EPHEMERAL_LAST:
                counter = itertools.count(EPHEMERAL_FIRST)
                self._ports[ip] = counter
                continue
            if (ip, port) not in self.tcp_listeners and (ip, port) not in self.udp_bindings:
                return port

    def redirect(self, host: str, port: int) -> Address:
        return self.redirects.get((host, port), (host, port))

    def unredirect(self, host: str, port: int) -> Address:
        """Where a reply from a redirect's target seems to come from: the address
        the module sent to (the module never learns about the detour)."""
        for src, dst in self.redirects.items():
            if dst == (host, port):
                return src
        return (host, port)

    # ---------------------------------------------------------------- TCP
    def listen_tcp(self, ip: str, port: int, accept: AcceptFn) -> None:
        if (ip, port) in self.tcp_listeners:
            raise OSError(98, "address in use")
        self.tcp_listeners[(ip, port)] = accept

    def unlisten_tcp(self, ip: str, port: int, accept: AcceptFn | None = None) -> None:
        if accept is None or self.tcp_listeners.get((ip, port)) is accept:
            self.tcp_listeners.pop((ip, port), None)

    async def connect_tcp(
        self, src_ip: str, dst: Address, protocol_factory: Callable[[], asyncio.BaseProtocol]
    ) -> tuple[FabricTransport, asyncio.BaseProtocol]:
        """Connect to a listener at a virtual address; raises ConnectionRefusedError."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # a connect is never synchronous
        accept = self.tcp_listeners.get(dst)
        if accept is None:
            raise ConnectionRefusedError(111, f"connection refused by {dst[0]}:{dst[1]}")
        src = (src_ip, self.ephemeral_port(src_ip))
        server_protocol = accept(src)
        if server_protocol is None:
            raise ConnectionResetError(104, f"connection reset by {dst[0]}:{dst[1]}")
        client_protocol = protocol_factory()
        client = FabricTransport(loop, client_protocol, src, dst)
        server = FabricTransport(loop, server_protocol, dst, src)
        client.peer, server.peer = server, client
        server_protocol.connection_made(server)
        client_protocol.connection_made(client)
        return client, client_protocol

    # ---------------------------------------------------------------- UDP
    def bind_udp(self, ip: str, port: int, callback: DatagramFn, owner: object = None) -> None:
        if (ip, port) in self.udp_bindings:
            raise OSError(98, "address in use")
        self.udp_bindings[(ip, port)] = UdpBinding(callback, owner)

    def unbind_udp(self, ip: str, port: int, owner: object = None) -> None:
        binding = self.udp_bindings.get((ip, port))
        if binding is not None and (owner is None or binding.owner is owner):
            del self.udp_bindings[(ip, port)]

    def send_udp(self, src: Address, dst: Address, data: bytes) -> bool:
        """Deliver a datagram in the world; False when nobody is bound there."""
        loop = asyncio.get_running_loop()
        targets: list[UdpBinding] = []
        if _is_broadcast(dst[0]):
            targets = [b for (ip, port), b in self.udp_bindings.items() if port == dst[1] and ip != src[0]]
        else:
            b = self.udp_bindings.get(dst)
            if b is not None:
                targets = [b]
        for b in targets:
            loop.call_soon(b.callback, bytes(data), src)
        return bool(targets)


def _is_broadcast(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return ip == "255.255.255.255" or (addr.version == 4 and ip.endswith(".255"))


def fabric_of(world: World) -> NetFabric:
    return world.extension(NetFabric)


@section("dns")
def _load_dns(world: World, table: Any) -> None:
    """``[dns]`` maps names to addresses: ``"example.test" = "127.0.0.1"``."""
    from esp_at_sim.errors import ConfigError

    if not isinstance(table, dict):
        raise ConfigError("[dns] must be a table of name = address")
    for name, addr in table.items():
        try:
            ipaddress.ip_address(str(addr))
        except ValueError:
            raise ConfigError(f"[dns] {name}: {addr!r} is not an IP address") from None
        world.dns[str(name)] = str(addr)


@section("net")
def _load_net(world: World, table: Any) -> None:
    """``[net] redirect = { "127.0.0.1:123" = "127.0.0.1:40123" }`` sends traffic for a
    host address elsewhere; ``host_resolver = false`` stops the host's resolver from
    answering in place of DNS servers outside this machine (default true);
    ``latency_ms`` (or ``air_latency_ms``; 0 switches the model off),
    ``jitter_ms``, ``weak_rssi``, ``weak_ms_per_db``, ``load_ms_per_station`` set the
    air latency of every module (``world/latency.py``)."""
    from esp_at_sim.errors import ConfigError

    if not isinstance(table, dict):
        raise ConfigError("[net] must be a table")
    from esp_at_sim.world.latency import ALIASES as LATENCY_ALIASES
    from esp_at_sim.world.latency import KEYS as LATENCY_KEYS
    from esp_at_sim.world.latency import load_latency

    unknown = set(table) - {"redirect", "host_resolver", *LATENCY_KEYS, *LATENCY_ALIASES}
    if unknown:
        raise ConfigError(f"[net]: unknown keys {', '.join(sorted(unknown))}")
    load_latency(world, table)
    fabric = fabric_of(world)
    if "host_resolver" in table:
        if not isinstance(table["host_resolver"], bool):
            raise ConfigError("[net] host_resolver is true or false")
        fabric.host_resolver = table["host_resolver"]
    for src, dst in dict(table.get("redirect", {})).items():
        fabric.redirects[_host_port(str(src))] = _host_port(str(dst))


def _host_port(text: str) -> Address:
    from esp_at_sim.errors import ConfigError

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"[net] {text!r}: expected host:port")
    return host.strip("[]"), int(port)
