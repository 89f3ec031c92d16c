"""DHCP servers of access points: address pools and leases.

Theory of operation
-------------------
Every access point with DHCP (a router from the scenario, a module's SoftAP
with its DHCP server on) owns a :class:`DhcpServer`. A station asks for an
address with :meth:`DhcpServer.request` - the DISCOVER/OFFER/REQUEST/ACK
exchange collapsed into one call that either returns a :class:`Lease` or
``None`` when the server does not answer (switched off by a fault) or has no
free address left (pool exhausted). Timing and retransmission are the
client's business (``services/wifi.py``), as on the air.

Leases are sticky per MAC address: a station that comes back gets the same
address while its lease is still known, the way lwIP's DHCP server and home
routers behave. The hostname the client sent (``AT+CWHOSTNAME``) is
recorded with the lease.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass
class Lease:
    mac: bytes
    ip: str
    hostname: str
    expires: float  # world clock seconds

    @property
    def mac_text(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac)


@dataclass(frozen=True)
class DhcpOffer:
    """What the server hands out with a lease."""

    lease: Lease
    gateway: str
    netmask: str
    dns: tuple[str, ...]
    lease_time: float


@dataclass
class DhcpServer:
    """An address pool on one IPv4 network."""

    network: ipaddress.IPv4Network
    gateway: str
    start: str
    end: str
    lease_time: float = 7200.0  # seconds
    dns: tuple[str, ...] = ()
    responding: bool = True
    leases: dict[bytes, Lease] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)  # addresses not to hand out (the AP's own)

    @classmethod
    def for_subnet(cls, subnet: str, *, dns: tuple[str, ...] = (), first_host: int = 2) -> DhcpServer:
        """A router's pool: the gateway is the first host, leases from ``first_host``."""
        net = ipaddress.IPv4Network(subnet, strict=False)
        hosts = list(net.hosts()) if net.num_addresses <= 65536 else []
        if len(hosts) < 2:
            raise ValueError(f"subnet {subnet} has no room for clients")
        gateway = str(hosts[0])
        start = str(hosts[min(first_host - 1, len(hosts) - 1)])
        return cls(net, gateway, start, str(hosts[-1]), dns=dns or (gateway,), reserved={gateway})

    @property
    def netmask(self) -> str:
        return str(self.network.netmask)

    def _pool(self) -> range:
        return range(int(ipaddress.IPv4Address(self.start)), int(ipaddress.IPv4Address(self.end)) + 1)

    def configure(self, start: str, end: str, lease_time: float | None = None) -> None:
        self.start = start
        self.end = end
        if lease_time is not None:
            self.lease_time = lease_time
        # leases outside the new range are forgotten, like a restarted server
        pool = self._pool()
        self.leases = {m: ls for m, ls in self.leases.items() if int(ipaddress.IPv4Address(ls.ip)) in pool}

    def request(
        self, mac: bytes, hostname: str, now: float, *, avoid: set[str] | frozenset[str] = frozenset()
    ) -> DhcpOffer | None:
        """Lease an address to ``mac``; ``None`` if the server stays silent.

        ``avoid``: addresses in use elsewhere in the world (the IP fabric is
        flat, so two routers on the same subnet must not hand out the same one)."""
        if not self.responding:
            return None
        lease = self.leases.get(mac)
        if lease is not None and lease.ip in avoid:
            del self.leases[mac]
            lease = None
        if lease is None:
            ip = self._free_address(now, avoid)
            if ip is None:
                return None
            lease = Lease(mac, ip, hostname, now + self.lease_time)
            self.leases[mac] = lease
        lease.hostname = hostname
        lease.expires = now + self.lease_time
        return DhcpOffer(lease, self.gateway, self.netmask, self.dns, self.lease_time)

    def _free_address(self, now: float, avoid: set[str] | frozenset[str] = frozenset()) -> str | None:
        known = {ls.ip for ls in self.leases.values()} | self.reserved | set(avoid)
        for value in self._pool():
            ip = str(ipaddress.IPv4Address(value))
            if ip not in known:
                return ip
        # an expired lease of another station is reused only when nothing else is free
        for mac, lease in list(self.leases.items()):
            if lease.expires <= now and lease.ip not in self.reserved and lease.ip not in avoid:
                del self.leases[mac]
                return lease.ip
        return None

    def release(self, mac: bytes) -> None:
        """The station left; its address stays remembered for it (sticky)."""
        lease = self.leases.get(mac)
        if lease is not None:
            lease.expires = min(lease.expires, 0.0)

    def active(self, now: float) -> list[Lease]:
        return [ls for ls in self.leases.values() if ls.expires > now]
