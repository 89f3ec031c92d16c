"""The wired LAN of a world: the ``[ethernet]`` table of a scenario.

::

    [ethernet]
    subnet = "192.168.105.0/24"   # the LAN; its DHCP server hands out addresses
    gateway = "192.168.105.1"     # default: the first address of the subnet
    dns = ["192.168.105.1"]
    dhcp = true                   # a DHCP server on the LAN
    modules = ["esp0"]            # cable plugged in (default: every module)

Modules with Ethernet (the ESP32 profile) see the link come up at boot when
their cable is plugged. The ``eth_unplug`` and ``eth_plug`` faults pull and
put back a module's cable; ports listen through :meth:`EthernetLan.watch`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import fault
from esp_at_sim.world.scenario import section
from esp_at_sim.world.world import World

LinkWatcher = Callable[[bool], None]


@dataclass
class EthernetLan:
    """World extension: ``world.extension(EthernetLan)``."""

    world: World
    configured: bool = False
    subnet: ipaddress.IPv4Network = field(default_factory=lambda: ipaddress.IPv4Network("192.168.105.0/24"))
    gateway: str = "192.168.105.1"
    dns: list[str] = field(default_factory=list)
    dhcp: bool = True
    modules: set[str] | None = None  # None: every module is plugged in
    unplugged: set[str] = field(default_factory=set)
    leases: dict[str, str] = field(default_factory=dict)  # MAC -> address
    watchers: dict[str, list[LinkWatcher]] = field(default_factory=dict)

    def configure(self, raw: dict[str, Any]) -> None:
        unknown = set(raw) - {"subnet", "gateway", "dns", "dhcp", "modules"}
        if unknown:
            raise ConfigError(f"[ethernet]: unknown keys {', '.join(sorted(unknown))}")
        try:
            self.subnet = ipaddress.IPv4Network(str(raw.get("subnet", "192.168.105.0/24")), strict=False)
            hosts = self.subnet.hosts()
            self.gateway = str(ipaddress.IPv4Address(str(raw.get("gateway", next(hosts)))))
        except (ValueError, StopIteration) as exc:
            raise ConfigError(f"[ethernet]: {exc}") from None
        dns = raw.get("dns", [self.gateway])
        if not isinstance(dns, list):
            raise ConfigError("[ethernet]: dns is a list of addresses")
        self.dns = [str(d) for d in dns]
        self.dhcp = bool(raw.get("dhcp", True))
        mods = raw.get("modules")
        self.modules = None if mods is None else {str(m) for m in mods}
        self.configured = True

    def plugged(self, module: str) -> bool:
        if not self.configured or module in self.unplugged:
            return False
        return self.modules is None or module in self.modules

    def lease(self, mac: str) -> str | None:
        """A DHCP address for ``mac`` (stable for the world's life), None when the pool is empty."""
        if not self.dhcp:
            return None
        if mac in self.leases:
            return self.leases[mac]
        taken = set(self.leases.values()) | {self.gateway, *self.dns}
        hosts = list(self.subnet.hosts())
        start = min(99, len(hosts) // 2)  # leases from .100 on in a /24, as many home routers do
        for host in hosts[start:] + hosts[:start]:
            if str(host) not in taken:
                self.leases[mac] = str(host)
                return str(host)
        return None

    def watch(self, module: str, fn: LinkWatcher) -> Callable[[], None]:
        self.watchers.setdefault(module, []).append(fn)

        def stop() -> None:
            fns = self.watchers.get(module, [])
            if fn in fns:
                fns.remove(fn)

        return stop

    def set_plugged(self, module: str, plugged: bool) -> None:
        if plugged:
            self.unplugged.discard(module)
        else:
            self.unplugged.add(module)
        for fn in list(self.watchers.get(module, [])):
            fn(self.plugged(module))


@section("ethernet")
def _load_ethernet(world: World, raw: Any) -> None:
    if not isinstance(raw, dict):
        raise ConfigError("[ethernet] must be a table")
    world.extension(EthernetLan).configure(raw)


@fault("eth_unplug", "pull a module's Ethernet cable", module="name of the module")
def _unplug(world: World, module: str) -> None:
    world.extension(EthernetLan).set_plugged(module, False)


@fault("eth_plug", "plug a module's Ethernet cable back in", module="name of the module")
def _plug(world: World, module: str) -> None:
    world.extension(EthernetLan).set_plugged(module, True)
