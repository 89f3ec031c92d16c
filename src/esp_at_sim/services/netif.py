"""Network interfaces of a module and the way out to peers.

Theory of operation
-------------------
A module has up to three IPv4 interfaces: the Wi-Fi station (address from an
access point's DHCP or ``AT+CIPSTA``), the SoftAP (``AT+CIPAP``) and, on an
ESP32, Ethernet. The Wi-Fi and Ethernet code bring interfaces up and down
here; everything that opens connections (TCP/IP links, MQTT, HTTP, WebSocket,
SNTP, ping) asks this service whether there is a network, resolves names
through it and opens connections through it.

Names resolve through the world's DNS table (``[dns]`` in a scenario) first,
then as literal addresses, then through the host resolver. Connections go out
through real host sockets; traffic to another module's virtual address is
routed inside the world by the TCP/IP layer (see ``services/fabric.py`` once
present), which plugs into :meth:`NetIf.open_connection` via ``router``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


class NetIf:
    """Per-boot service: ``module.service(NetIf)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.interfaces: dict[str, IpConfig] = {}
        self.ipv6: dict[str, list[str]] = {}
        self.dns_servers: list[str] = []
        self._listeners: list[Listener] = []
        #: set by the TCP/IP layer to route to in-world peers; returns None for "not mine"
        self.router: Router | None = None

    # ------------------------------------------------------------- state
    def up(self, iface: str, cfg: IpConfig) -> None:
        self.interfaces[iface] = cfg
        self._emit(iface, cfg)

    def down(self, iface: str) -> None:
        if self.interfaces.pop(iface, None) is not None:
            self._emit(iface, None)

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

    # --------------------------------------------------------- resolving
    async def resolve(self, host: str, family: int = socket.AF_INET) -> str:
        """Name to address; raises LookupError when it cannot be resolved."""
        table = self.module.world.dns
        if host in table:
            return table[host]
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        if not self.online:
            raise LookupError(host)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_STREAM)
        except OSError:
            raise LookupError(host) from None
        if not infos:
            raise LookupError(host)
        return str(infos[0][4][0])

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
        """A TCP (or TLS) stream to ``host:port`` as this module."""
        self.require()
        addr = await self.resolve(host)
        if self.router is not None:
            routed = self.router(addr, port, ssl=ssl, server_hostname=server_hostname, **kwargs)
            if routed is not None:
                return await routed
        return await asyncio.open_connection(
            addr,
            port,
            ssl=ssl,
            server_hostname=(server_hostname or host) if ssl else None,
            local_addr=None,
            **kwargs,
        )
