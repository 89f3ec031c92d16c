"""Network interfaces of a module and the way out to peers.

Theory of operation
-------------------
A module has up to three IPv4 interfaces: the Wi-Fi station (address from an
access point's DHCP or ``AT+CIPSTA``), the SoftAP (``AT+CIPAP``) and, on an
ESP32, Ethernet. The Wi-Fi and Ethernet code bring interfaces up and down
here, with the IPv6 addresses AT+CIPV6=1 gives them (a link-local one at
once, a global one after the access point's router advertisement);
everything that opens connections (TCP/IP links, MQTT, HTTP, WebSocket,
SNTP, ping) asks this service whether there is a network, resolves names
through it and opens connections through it.

Names resolve through the world's DNS table (``[dns]`` in a scenario) first,
then as literal addresses, then as mDNS names of modules in the world
(``espressif.local``), then through the module's DNS servers
(``services/dns.py``: real queries to servers on loopback, the host resolver
in place of servers outside when the scenario allows it). A connection to another
module's virtual address is routed inside the world by the fabric
(``world/net.py``), with this module's virtual address as its source;
everything else goes out through real host sockets. An IPv6 destination
needs an IPv6 source: a link-local one for ``fe80::/10``, a global one for
anything else, else there is no route (``EHOSTUNREACH``), as lwIP answers.

Two levels of API: :meth:`open_connection` gives asyncio streams (MQTT, HTTP,
WebSocket); :meth:`create_connection`, :meth:`create_datagram` and
:meth:`start_server` give transports for a protocol (the AT links).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esp_at_sim.services.peer_guard import PeerGuard
from esp_at_sim.world.latency import AirSide, latency_of, protocol_over_air, transport_of
from esp_at_sim.world.net import Address, FabricTransport, NetFabric, fabric_of, ip_text, is_ipv6, is_link_local6

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

STA = "sta"
AP = "ap"
ETH = "eth"


@dataclass(frozen=True)
class IpConfig:
    ip: str
    gateway: str = "0.0.0.0"
    netmask: str = "255.255.255.0"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.ip}/{self.netmask}", strict=False)


Listener = Callable[[str, IpConfig | None], None]
Router = Callable[..., Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None]


class NoNetwork(Exception):
    """No interface is up (no ``WIFI GOT IP``, no SoftAP, no Ethernet)."""


EHOSTUNREACH = 113  # lwIP's errno for ERR_RTE


class NoRoute(OSError):
    """No address of this module can reach the destination (IPv6 without a usable source)."""

    def __init__(self, dst: str) -> None:
        super().__init__(EHOSTUNREACH, f"no route to {dst}")


class NetIf:
    """Per-boot service: ``module.service(NetIf)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.interfaces: dict[str, IpConfig] = {}
        #: IPv6 addresses by interface, in the firmware's text form (link-local first)
        self.ipv6: dict[str, list[str]] = {}
        self.dns_servers: list[str] = []
        self.macs: dict[str, str] = {}
        self._listeners: list[Listener] = []
        self._address_watchers: list[Callable[[], None]] = []
        #: an extra router tried before the fabric; returns None for "not mine"
        self.router: Router | None = None
        self.fabric: NetFabric = fabric_of(module.world)
        module.scope.on_close(self._release)
        module.scope.on_close(lambda: latency_of(module.world).settle(module.name))

    # ------------------------------------------------------------- state
    def up(self, iface: str, cfg: IpConfig) -> None:
        old = self.interfaces.get(iface)
        if old is not None and old.ip != cfg.ip:
            self.fabric.unregister(old.ip, self)
        self.interfaces[iface] = cfg
        self.fabric.register(cfg.ip, self)
        self._emit(iface, cfg)
        self._addresses_changed()

    def down(self, iface: str) -> None:
        cfg = self.interfaces.pop(iface, None)
        if cfg is not None:
            if cfg.ip not in {c.ip for c in self.interfaces.values()}:
                self.fabric.unregister(cfg.ip, self)
            self._emit(iface, None)
            self._addresses_changed()

    def add_ipv6(self, iface: str, addr: str) -> str:
        """An IPv6 address on ``iface`` (link-local at once, global after a router
        advertisement); it joins the world's fabric. Returns it in the firmware's form."""
        text = ip_text(addr)
        addrs = self.ipv6.setdefault(iface, [])
        if text not in addrs:
            addrs.append(text)
            addrs.sort(key=lambda a: not is_link_local6(a))
        self.fabric.register(text, self)
        self._addresses_changed()
        return text

    def clear_ipv6(self, iface: str) -> None:
        """The interface loses its IPv6 addresses (disconnect, SoftAP stop)."""
        gone = self.ipv6.pop(iface, [])
        for addr in gone:
            if not any(addr in others for others in self.ipv6.values()):
                self.fabric.unregister(addr, self)
        if gone:
            self._addresses_changed()

    def addresses(self, v6: bool = False) -> list[str]:
        """Every address of this module of one family."""
        if v6:
            return [a for addrs in self.ipv6.values() for a in addrs]
        return [c.ip for c in self.interfaces.values()]

    def iface_of(self, ip: str) -> str | None:
        for name, cfg in self.interfaces.items():
            if cfg.ip == ip:
                return name
        for name, addrs in self.ipv6.items():
            if ip in addrs:
                return name
        return None

    def watch_addresses(self, fn: Callable[[], None]) -> Callable[[], None]:
        """``fn()`` after any address (IPv4 or IPv6) comes or goes."""
        self._address_watchers.append(fn)
        return lambda: self._address_watchers.remove(fn) if fn in self._address_watchers else None

    def _addresses_changed(self) -> None:
        for fn in list(self._address_watchers):
            fn()

    def _release(self) -> None:
        """The boot ends (reboot, deep sleep, stop): the addresses leave the world."""
        for cfg in self.interfaces.values():
            self.fabric.unregister(cfg.ip, self)
        for addrs in self.ipv6.values():
            for addr in addrs:
                self.fabric.unregister(addr, self)
        self.interfaces.clear()
        self.ipv6.clear()

    def mac(self, iface: str) -> str:
        """The interface's MAC: set by Wi-Fi/Ethernet, else derived from the chip's base MAC
        (station = base, SoftAP = base + 1, Ethernet = base + 3, as ESP-IDF does)."""
        if iface in self.macs:
            return self.macs[iface]
        cfg_mac = self.module.config.mac
        if cfg_mac:
            base = bytes(int(x, 16) for x in cfg_mac.split(":"))
        else:
            base = self.module.profile.base_mac(f"{self.module.config.seed}/{self.module.name}")
        offset = {STA: 0, AP: 1, ETH: 3}.get(iface, 0)
        value = (int.from_bytes(base, "big") + offset) & 0xFFFF_FFFF_FFFF
        return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))

    def listen(self, fn: Listener) -> Callable[[], None]:
        """Called with (iface, config or None) on every change."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _emit(self, iface: str, cfg: IpConfig | None) -> None:
        for fn in list(self._listeners):
            fn(iface, cfg)

    @property
    def online(self) -> bool:
        return bool(self.interfaces)

    def address(self, iface: str) -> str | None:
        cfg = self.interfaces.get(iface)
        return cfg.ip if cfg else None

    def require(self) -> None:
        if not self.online:
            raise NoNetwork()

    def source_ip(self, dst: str | None = None) -> str:
        """The address this module speaks from towards ``dst``; raises NoRoute for an
        IPv6 destination this module has no IPv6 address for."""
        self.require()
        if dst is not None and is_ipv6(dst):
            return self.source_ip6(dst)
        if dst is not None:
            try:
                addr = ipaddress.ip_address(dst)
            except ValueError:
                addr = None
            if addr is not None and addr.version == 4:
                for cfg in self.interfaces.values():
                    if addr in cfg.network:
                        return cfg.ip
        for iface in (STA, ETH, AP):
            if iface in self.interfaces:
                return self.interfaces[iface].ip
        return next(iter(self.interfaces.values())).ip

    def source_ip6(self, dst: str) -> str:
        """lwIP's source selection, reduced: a link-local source for a link-local
        destination, a global one for the rest (station first)."""
        want_ll = is_link_local6(dst)
        for iface in (STA, ETH, AP):
            for addr in self.ipv6.get(iface, []):
                if is_link_local6(addr) == want_ll:
                    return addr
        raise NoRoute(dst)

    def is_virtual(self, ip: str) -> bool:
        return self.fabric.is_virtual(ip)

    # --------------------------------------------------------- resolving
    async def resolve(self, host: str, family: int = socket.AF_INET) -> str:
        """Name to address; raises LookupError when it cannot be resolved."""
        table = self.module.world.dns
        if host in self.fabric.dns_blackhole:
            raise LookupError(host)
        if host in table:
            return table[host]
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            return ip_text(host)
        except ValueError:
            pass
        if not self.online:
            raise LookupError(host)
        local = self.fabric.mdns_hosts.get(host.lower().removesuffix("."))
        if local is not None:
            return local
        from esp_at_sim.services.dns import resolve_with_servers

        return await resolve_with_servers(self.module, self.fabric, host, family)

    # ------------------------------------------------------- connections
    async def open_connection(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        local_port: int | None = None,
        **kwargs: Any,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP (or TLS) stream to ``host:port`` as this module (``limit=`` and
        ``reader_class=`` choose the StreamReader)."""
        self.require()
        addr = await self.resolve(host)
        if self.router is not None:
            routed = self.router(addr, port, ssl=ssl, server_hostname=server_hostname, **kwargs)
            if routed is not None:
                return await routed
        loop = asyncio.get_running_loop()
        limit = kwargs.pop("limit", 2**16)
        reader_class: type[asyncio.StreamReader] = kwargs.pop("reader_class", asyncio.StreamReader)
        reader = reader_class(limit=limit, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await self.create_connection(lambda: protocol, addr, port)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        if ssl is not None:
            name = server_hostname if server_hostname is not None else host
            await writer.start_tls(ssl, server_hostname=name or None)
        return reader, writer

    async def create_connection(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        addr: str,
        port: int,
        *,
        family: int = 0,
        local_ip: str | None = None,
    ) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        """A plain TCP connection to a resolved address: in-world or a host socket.
        ``local_ip`` (one of this module's addresses) is the source in the world.
        With air latency (``world/latency.py``) the connection takes a round trip
        to open and its bytes cross the module's air both ways."""
        self.require()
        src = local_ip or self.source_ip(addr)  # NoRoute for IPv6 without a usable address
        world, name = self.module.world, self.module.name
        air = latency_of(world)
        factory = protocol_factory
        if air.active(name):
            await self.module.clock.sleep(air.round_trip(name))  # SYN out, SYN-ACK back

            def factory() -> asyncio.BaseProtocol:
                return protocol_over_air(world, name, protocol_factory())

        transport: asyncio.Transport
        if self.fabric.is_virtual(addr):
            transport, protocol = await self.fabric.connect_tcp(src, (addr, port), factory)
        else:
            host, hport = self.fabric.redirect(addr, port)
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.create_connection(factory, host, hport, family=family)
        if isinstance(protocol, AirSide):
            own = transport_of(protocol, transport)
            assert isinstance(own, asyncio.Transport)
            return own, protocol.protocol
        return transport, protocol

    async def create_datagram(
        self,
        protocol_factory: Callable[[], asyncio.DatagramProtocol],
        local_port: int = 0,
        *,
        family: int = socket.AF_INET,
    ) -> tuple[asyncio.DatagramTransport, asyncio.DatagramProtocol]:
        """A host UDP socket on loopback for this module (the in-world side is :meth:`bind_udp`)."""
        self.require()
        loop = asyncio.get_running_loop()
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        transport, protocol = await loop.create_datagram_endpoint(
            protocol_factory, local_addr=(host, self.host_port(local_port) if local_port else 0), family=family
        )
        return transport, protocol

    def host_port(self, port: int) -> int:
        """The host port a module port is served on (``port_map`` in the scenario)."""
        return dict(self.module.config.port_map).get(port, port)

    async def start_server(
        self,
        accept: Callable[[Address, Address], asyncio.Protocol | None],
        port: int,
        *,
        family: int = socket.AF_INET,
    ) -> Callable[[], None]:
        """Listen on ``port``: on a host socket (127.0.0.1, or ``port_map``) and at every
        virtual address of this module. ``accept(peer, local)`` returns the protocol of
        an accepted connection or None to refuse it. Returns the function that stops it.
        A server may start before any interface is up (it listens on all of them, as
        lwIP's INADDR_ANY does); addresses that come up later are served too."""
        loop = asyncio.get_running_loop()
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        hport = self.host_port(port)
        world, name = self.module.world, self.module.name
        server_accept = accept

        guard = self.module.service(PeerGuard)

        def accept_over_air(peer: Address, local: Address) -> asyncio.Protocol | None:
            if not guard.tcp_attempt(peer[0]):
                return None  # a flooding address: reset before the server sees it
            protocol = server_accept(peer, local)
            if protocol is None:
                return None
            over_air = protocol_over_air(world, name, protocol, announce_late=True)
            assert isinstance(over_air, asyncio.Protocol)
            return over_air

        def host_factory() -> asyncio.Protocol:
            return _HostAccept(accept_over_air, (host, port))

        server = await loop.create_server(host_factory, host, hport, family=family, reuse_address=True)
        registered: dict[str, Callable[[Address], asyncio.Protocol | None]] = {}

        def register(ip: str) -> None:
            if ip in registered:
                return

            def fabric_accept(peer: Address) -> asyncio.Protocol | None:
                return accept_over_air(peer, (ip, port))

            try:
                self.fabric.listen_tcp(ip, port, fabric_accept)
            except OSError:
                return
            registered[ip] = fabric_accept

        v6 = family == socket.AF_INET6  # a TCPv6 server takes IPv6 clients only, as lwIP's IP6_ADDR_ANY does

        def on_change() -> None:
            current = set(self.addresses(v6))
            for ip in [ip for ip in registered if ip not in current]:
                self.fabric.unlisten_tcp(ip, port, registered.pop(ip))
            for ip in current:
                register(ip)

        on_change()
        unsubscribe = self.watch_addresses(on_change)

        def stop() -> None:
            unsubscribe()
            server.close()
            for ip, fn in registered.items():
                self.fabric.unlisten_tcp(ip, port, fn)
            registered.clear()

        return stop


class _HostAccept(asyncio.Protocol):
    """Accepts a host-socket connection: asks the server, then hands over to its protocol."""

    def __init__(self, accept: Callable[[Address, Address], asyncio.Protocol | None], local: Address) -> None:
        self._accept = accept
        self._local = local

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        protocol = self._accept((ip_text(str(peer[0])), int(peer[1])), self._local)
        if protocol is None:
            transport.abort()
            return
        transport.set_protocol(protocol)
        protocol.connection_made(transport)


__all__ = ["AP", "ETH", "STA", "FabricTransport", "IpConfig", "NetIf", "NoNetwork", "NoRoute"]
