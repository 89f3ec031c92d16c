"""mDNS: a module announces ``<hostname>.local`` and one service (AT+MDNS=1) and
looks services up (AT+MDNS=2).

Inside a world the announcements go to a shared registry: other modules
resolve the host name (``AT+CIPSTART="TCP","espressif.local",35``) and find the
service. With ``[mdns] announce = true`` in the scenario the service is also
published on the host's network with ``zeroconf`` (it needs multicast on a
real interface, so tests keep it off).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esp_at_sim.world.net import fabric_of
from esp_at_sim.world.scenario import section
from esp_at_sim.world.world import World

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module


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


class MdnsRegistry:
    """World extension: every module's announcement."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.services: dict[str, MdnsService] = {}
        self.announce_on_host = False
        self._zeroconf: Any = None
        self._infos: dict[str, Any] = {}

    def publish(self, svc: MdnsService) -> None:
        self.withdraw(svc.owner)
        self.services[svc.owner] = svc
        if svc.ip:
            fabric_of(self.world).mdns_hosts[f"{svc.hostname.lower()}.local"] = svc.ip
        if self.announce_on_host:
            self._host_publish(svc)

    def withdraw(self, owner: str) -> None:
        old = self.services.pop(owner, None)
        if old is None:
            return
        fabric_of(self.world).mdns_hosts.pop(f"{old.hostname.lower()}.local", None)
        info = self._infos.pop(owner, None)
        if info is not None and self._zeroconf is not None:
            with contextlib.suppress(Exception):
                self._zeroconf.unregister_service(info)

    def find(self, service: str, proto: str) -> list[MdnsService]:
        return [s for s in self.services.values() if s.service == service and s.proto == proto]

    def find_instance(self, instance: str, service: str, proto: str) -> list[MdnsService]:
        return [s for s in self.find(service, proto) if s.instance == instance]

    def find_host(self, hostname: str) -> list[MdnsService]:
        return [s for s in self.services.values() if s.hostname.lower() == hostname.lower()]

    def _host_publish(self, svc: MdnsService) -> None:
        import socket

        from zeroconf import ServiceInfo, Zeroconf

        if self._zeroconf is None:
            self._zeroconf = Zeroconf()
        info = ServiceInfo(
            f"{svc.service}.{svc.proto}.local.",
            f"{svc.instance}.{svc.service}.{svc.proto}.local.",
            addresses=[socket.inet_aton("127.0.0.1")],
            port=svc.port,
            properties=svc.txt,
            server=f"{svc.hostname}.local.",
        )
        self._zeroconf.register_service(info)
        self._infos[svc.owner] = info


def registry(module: Module) -> MdnsRegistry:
    return module.world.extension(MdnsRegistry)


@section("mdns")
def _load_mdns(world: World, table: Any) -> None:
    from esp_at_sim.errors import ConfigError

    if not isinstance(table, dict) or set(table) - {"announce"}:
        raise ConfigError("[mdns] takes announce = true|false")
    world.extension(MdnsRegistry).announce_on_host = bool(table.get("announce", False))
