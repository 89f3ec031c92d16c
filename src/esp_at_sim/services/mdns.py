"""mDNS: a module announces ``<hostname>.local`` and one service (AT+MDNS=1) and
looks services up (AT+MDNS=2).

Inside a world the announcements go to a shared registry: other modules
resolve the host name (``AT+CIPSTART="TCP","espressif.local",35``) and find the
service. With ``[mdns] announce = true`` in the scenario the service is also
published on the host's network with ``zeroconf``, at the host address and port
where the module's port is served (127.0.0.1 and its ``port_map`` entry), so a
browser on the PC finds it; ``interfaces = ["127.0.0.1"]`` keeps the multicast
on loopback (the tests do). A module's announcement ends with AT+MDNS=0 and
with its boot (AT+RST, deep sleep, power-off), as the firmware's RAM-only mDNS
state does; the host responder closes when nothing is announced any more.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esp_at_sim.world.net import fabric_of
from esp_at_sim.world.scenario import section
from esp_at_sim.world.world import World

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)


@dataclass
class MdnsService:
    owner: str  # module name
    hostname: str
    service: str  # "_iot"
    proto: str  # "_tcp"
    port: int
    instance: str
    txt: dict[str, str] = field(default_factory=dict)
    ip: str = ""
    host_port: int = 0  # where the port is served on the host (0: the same)


class MdnsRegistry:
    """World extension: every module's announcement."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.services: dict[str, MdnsService] = {}
        self.announce_on_host = False
        self.host_interfaces: list[str] | None = None  # None: every interface of the host
        self._zeroconf: Any = None  # zeroconf.asyncio.AsyncZeroconf while something is announced
        self._infos: dict[str, Any] = {}

    async def publish(self, svc: MdnsService) -> None:
        await self.withdraw(svc.owner)
        self.services[svc.owner] = svc
        if svc.ip:
            fabric_of(self.world).mdns_hosts[f"{svc.hostname.lower()}.local"] = svc.ip
        if self.announce_on_host:
            await self._host_publish(svc)

    async def withdraw(self, owner: str) -> None:
        old = self.services.pop(owner, None)
        if old is None:
            return
        fabric_of(self.world).mdns_hosts.pop(f"{old.hostname.lower()}.local", None)
        info = self._infos.pop(owner, None)
        if info is not None and self._zeroconf is not None:
            with contextlib.suppress(Exception):
                await self._zeroconf.async_unregister_service(info)
        if not self._infos and self._zeroconf is not None:
            responder, self._zeroconf = self._zeroconf, None
            await responder.async_close()

    def find(self, service: str, proto: str) -> list[MdnsService]:
        return [s for s in self.services.values() if s.service == service and s.proto == proto]

    def find_instance(self, instance: str, service: str, proto: str) -> list[MdnsService]:
        return [s for s in self.find(service, proto) if s.instance == instance]

    def find_host(self, hostname: str) -> list[MdnsService]:
        return [s for s in self.services.values() if s.hostname.lower() == hostname.lower()]

    async def _host_publish(self, svc: MdnsService) -> None:
        from zeroconf import IPVersion, ServiceInfo
        from zeroconf.asyncio import AsyncZeroconf

        if self._zeroconf is None:
            if self.host_interfaces is None:
                self._zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only)
            else:
                self._zeroconf = AsyncZeroconf(interfaces=self.host_interfaces, ip_version=IPVersion.V4Only)
        info = ServiceInfo(
            f"{svc.service}.{svc.proto}.local.",
            f"{svc.instance}.{svc.service}.{svc.proto}.local.",
            addresses=[socket.inet_aton("127.0.0.1")],
            port=svc.host_port or svc.port,
            properties=svc.txt,
            server=f"{svc.hostname}.local.",
        )
        try:
            await self._zeroconf.async_register_service(info)
        except Exception as exc:  # a name another responder on the network owns: the world keeps it
            log.warning("mDNS: could not announce %s on the host: %s", info.name, exc)
            if not self._infos:
                responder, self._zeroconf = self._zeroconf, None
                await responder.async_close()
            return
        self._infos[svc.owner] = info


def registry(module: Module) -> MdnsRegistry:
    return module.world.extension(MdnsRegistry)


@section("mdns")
def _load_mdns(world: World, table: Any) -> None:
    from esp_at_sim.errors import ConfigError

    if not isinstance(table, dict) or set(table) - {"announce", "interfaces"}:
        raise ConfigError('[mdns] takes announce = true|false and interfaces = ["127.0.0.1", ...]')
    reg = world.extension(MdnsRegistry)
    reg.announce_on_host = bool(table.get("announce", False))
    interfaces = table.get("interfaces")
    if interfaces is not None:
        if not isinstance(interfaces, list) or not all(isinstance(i, str) for i in interfaces):
            raise ConfigError('[mdns] interfaces must be a list of addresses, e.g. ["127.0.0.1"]')
        reg.host_interfaces = list(interfaces)
