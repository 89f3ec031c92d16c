"""Abusive peers: a module that serves notices one peer flooding it and shuts it out.

Theory of operation
-------------------
A module that serves - a SoftAP, a TCP/SSL server (AT+CIPSERVER), the web
server - counts, per peer, the events that mark abuse: connection attempts
from one IP address to any of its listening ports, and failed WPA handshakes
(wrong passphrase: a bad MIC in message 2, a bad SAE confirm) from one station
MAC. More than :attr:`GuardPolicy.tcp_attempts` in ``tcp_window`` seconds, or
more than ``wpa_failures`` in ``wpa_window`` seconds, and the peer is blocked
for ``block_seconds``: its connections are reset before the server sees them
(no ``CONNECT``, no link used) and the SoftAP no longer answers its
authentication. The block lifts by itself.

ESP-AT has no URC for this, so nothing is written on the AT port: the module
reports it on its log port (``at-guard: ...``) and to the observers of the
control API (``module.notify("peer_blocked", ...)`` and ``"peer_unblocked"``).
The real firmware does not block anybody - lwIP and the Wi-Fi driver just
take the load - so the thresholds are far above what a well-behaved host or
station does; ``[[module]] guard = false`` switches the guard off and
``guard = { tcp_attempts = 10, ... }`` tunes it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.scenario import module_key

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.world.world import World


@dataclass(frozen=True)
class GuardPolicy:
    enabled: bool = True
    tcp_attempts: int = 50  # connection attempts from one IP address...
    tcp_window: float = 1.0  # ...within this many seconds
    wpa_failures: int = 5  # failed handshakes from one station...
    wpa_window: float = 60.0  # ...within this many seconds
    block_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError("guard: enabled must be true or false")
        for name in ("tcp_attempts", "wpa_failures"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"guard: {name} must be a whole number >= 1")
        for name in ("tcp_window", "wpa_window", "block_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 86400:
                raise ConfigError(f"guard: {name} must be a number of seconds between 0 and 86400")


class GuardPolicies:
    """Each module's policy (``world.extension(GuardPolicies)``), from the scenario."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.per_module: dict[str, GuardPolicy] = {}

    def of(self, module: str) -> GuardPolicy:
        return self.per_module.get(module, GuardPolicy())


@module_key("guard")
def _module_guard(world: World, module: str, table: Any) -> None:
    """``[[module]] guard = false`` or ``guard = { tcp_attempts = 10, block_seconds = 30 }``."""
    policies = world.extension(GuardPolicies)
    if isinstance(table, bool):
        policies.per_module[module] = GuardPolicy(enabled=table)
        return
    if not isinstance(table, dict):
        raise ConfigError(f"[[module]] {module}: guard must be true, false or a table")
    known = {f.name for f in fields(GuardPolicy)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"[[module]] {module}: guard: unknown keys {', '.join(sorted(unknown))}")
    policies.per_module[module] = replace(GuardPolicy(), **{str(k): v for k, v in table.items()})


#: what each kind of peer is, and what is counted, for the log line
_KINDS = {
    "tcp": ("connection attempts", "tcp_attempts", "tcp_window"),
    "wifi": ("failed handshakes", "wpa_failures", "wpa_window"),
}


class PeerGuard:
    """Per-boot service (``module.service(PeerGuard)``): counts and blocks peers."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self._seen: dict[tuple[str, str], deque[float]] = {}
        #: (kind, peer) -> world time the block ends
        self.blocked: dict[tuple[str, str], float] = {}

    @property
    def policy(self) -> GuardPolicy:
        return self.module.world.extension(GuardPolicies).of(self.module.name)

    def blocks(self, kind: str, peer: str) -> bool:
        """Is ``peer`` shut out now? (A block that has run out is lifted here.)"""
        until = self.blocked.get((kind, peer))
        if until is None:
            return False
        if self.module.clock.now() < until:
            return True
        self._lift(kind, peer)
        return False

    def record(self, kind: str, peer: str) -> bool:
        """One more abuse event from ``peer``; True when it is (now) blocked."""
        policy = self.policy
        if not policy.enabled:
            return False
        if self.blocks(kind, peer):
            return True
        what, limit_name, window_name = _KINDS[kind]
        limit, window = getattr(policy, limit_name), getattr(policy, window_name)
        now = self.module.clock.now()
        seen = self._seen.setdefault((kind, peer), deque())
        seen.append(now)
        while seen and seen[0] <= now - window:
            seen.popleft()
        if len(seen) <= limit:
            return False
        count = len(seen)
        del self._seen[(kind, peer)]
        self.blocked[(kind, peer)] = now + policy.block_seconds
        self.module.chip_log(
            f"at-guard: {count} {what} from {peer} in {window:g} s, blocked for {policy.block_seconds:g} s"
        )
        self.module.notify(
            "peer_blocked", kind=kind, peer=peer, count=count, window=window, seconds=policy.block_seconds
        )
        self.module.scope.spawn(self._lift_later(kind, peer, policy.block_seconds), name="guard-lift")
        return True

    async def _lift_later(self, kind: str, peer: str, seconds: float) -> None:
        await self.module.clock.sleep(seconds)
        if (kind, peer) in self.blocked and self.module.clock.now() >= self.blocked[(kind, peer)] - 1e-6:
            self._lift(kind, peer)

    def _lift(self, kind: str, peer: str) -> None:
        if self.blocked.pop((kind, peer), None) is None:
            return
        self.module.chip_log(f"at-guard: {peer} unblocked")
        self.module.notify("peer_unblocked", kind=kind, peer=peer)

    # ----------------------------------------------------------- the hooks
    def tcp_attempt(self, ip: str) -> bool:
        """A connection attempt to one of the module's servers: False refuses it."""
        if not self.policy.enabled:
            return True
        return not self.record("tcp", ip)

    def wifi_refuses(self, mac: str) -> bool:
        return self.policy.enabled and self.blocks("wifi", mac)

    def wifi_auth_failed(self, mac: str) -> None:
        self.record("wifi", mac)
