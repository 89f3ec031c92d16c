"""Network faults a scenario, the control API or a test can inject.

* ``link_drop``: links of a module break as if the peer vanished (``CLOSED``);
* ``peer_reset``: the same with a TCP reset towards the peer;
* ``packet_loss``: a share of the module's UDP datagrams is lost both ways;
* ``dns_failure``: a name stops resolving (or resolves again).
"""

from __future__ import annotations

from esp_at_sim.errors import ConfigError
from esp_at_sim.services.links import LinkTable
from esp_at_sim.world.faults import fault
from esp_at_sim.world.net import fabric_of
from esp_at_sim.world.world import World


def _table(world: World, module: str) -> LinkTable:
    m = world.modules.get(module)
    if m is None:
        raise ConfigError(f"no module named {module!r} in this world")
    return m.service(LinkTable)


def _ids(link: int | None, table: LinkTable) -> list[int]:
    return sorted(table.links) if link is None else [int(link)]


@fault(
    "link_drop",
    "TCP/UDP/SSL links of a module break (the host sees CLOSED)",
    module="module name",
    link="link id (all when left out)",
)
def _link_drop(world: World, module: str, link: int | None = None) -> None:
    table = _table(world, module)
    for i in _ids(link, table):
        if i in table.links:
            table.drop(table.links[i])


@fault(
    "peer_reset",
    "links of a module are reset (RST to the peer, CLOSED to the host)",
    module="module name",
    link="link id (all when left out)",
)
def _peer_reset(world: World, module: str, link: int | None = None) -> None:
    table = _table(world, module)
    for i in _ids(link, table):
        if i in table.links:
            table.drop(table.links[i], reset=True)


@fault("packet_loss", "a share of a module's UDP datagrams is lost", module="module name", rate="0.0 to 1.0")
def _packet_loss(world: World, module: str, rate: float = 0.1) -> None:
    if not 0.0 <= float(rate) <= 1.0:
        raise ConfigError("packet_loss rate must be between 0 and 1")
    fabric_of(world).udp_loss[module] = float(rate)


@fault(
    "dns_failure",
    "a name stops resolving for every module (restore=True brings it back)",
    host="host name",
    restore="bool",
)
def _dns_failure(world: World, host: str, restore: bool = False) -> None:
    holes = fabric_of(world).dns_blackhole
    if restore:
        holes.discard(host)
    else:
        holes.add(host)
