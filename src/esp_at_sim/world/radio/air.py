"""The air: who hears whom, and the nodes that share it.

A :class:`BleAir` is the world extension of the Bluetooth radio
(``world.extension(BleAir)``). It owns the geometry (positions, pairwise
RSSI overrides, nodes that left the world, interference) and the registries
of what is on the air; the advertising/scanning machinery lives in
``scanning.py``, connections in ``link.py`` and Classic inquiry/paging in
``classic.py``.

Received power follows the log-distance model::

    rssi = tx_power - loss_at_1m - 10 * exponent * log10(distance / 1 m)

with ``loss_at_1m`` = 40 dB (free space at 2.4 GHz) and ``exponent`` 2.5
(an office). A node hears another when the RSSI is at or above the
sensitivity (-97 dBm for LE 1M, as the ESP32 datasheets give). Nodes without
a configured position get a deterministic spot 1-5 m from the origin, so a
fresh world has every module in range of every other one.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esp_at_sim.world.radio.classic import InquiryResult
    from esp_at_sim.world.radio.link import AirLink
    from esp_at_sim.world.radio.scanning import AdvertisingSet, AdvReport, Initiation, PeriodicSync, ScanSession
    from esp_at_sim.world.world import World

LOSS_AT_1M = 40.0
DEFAULT_EXPONENT = 2.5
DEFAULT_SENSITIVITY = -97.0
OUT_OF_RANGE = -200.0


@dataclass(frozen=True, slots=True)
class AirAddress:
    """A Bluetooth device address as printed (most significant byte first)."""

    value: bytes
    random: bool = False

    def __post_init__(self) -> None:
        if len(self.value) != 6:
            raise ValueError("a Bluetooth address has 6 bytes")

    @classmethod
    def parse(cls, text: str, random: bool = False) -> AirAddress:
        parts = text.strip().split(":")
        if len(parts) != 6 or not all(len(p) == 2 for p in parts):
            raise ValueError(f"bad Bluetooth address {text!r}")
        return cls(bytes(int(p, 16) for p in parts), random)

    def __str__(self) -> str:
        return ":".join(f"{b:02x}" for b in self.value)

    def same_device(self, other: AirAddress) -> bool:
        return self.value == other.value and self.random == other.random


class RadioNode:
    """One radio on the air (a module's controller, a beacon, an exported
    controller). Subclasses override the ``on_*`` callbacks."""

    def __init__(self, name: str, *, tx_power: float = 0.0, owner: Any = None) -> None:
        self.name = name
        self.tx_power = tx_power
        self.owner = owner  # the Module, when there is one (coexistence)
        self.air: BleAir | None = None
        self.le_addresses: set[AirAddress] = set()  # addresses this node answers to on LE
        self.accept_list: set[AirAddress] = set()  # LE filter accept list
        # Classic
        self.classic_address: AirAddress | None = None
        self.inquiry_scan = False
        self.page_scan = False
        self.class_of_device = 0
        self.local_name = b""
        self.links: list[AirLink] = []

    # ------------------------------------------------------------- helpers
    def accepts(self, address: AirAddress) -> bool:
        return any(address.same_device(a) for a in self.accept_list)

    def answers_to(self, address: AirAddress) -> bool:
        return any(address.same_device(a) for a in self.le_addresses)

    # ----------------------------------------------------------- callbacks
    def on_advertising_report(self, session: ScanSession, report: AdvReport) -> None:
        """An advertisement (or scan response) was heard while scanning."""

    def on_periodic_report(self, sync: PeriodicSync, data: bytes, rssi: int) -> None:
        """Periodic advertising data of a synchronized train."""

    def on_sync_established(self, sync: PeriodicSync) -> None:
        """A periodic advertising sync was established."""

    def on_sync_lost(self, sync: PeriodicSync) -> None:
        """A periodic advertising train is no longer heard."""

    def on_link_up(self, link: AirLink, initiation: Initiation | None, adv: AdvertisingSet | None) -> None:
        """A connection was made: ``initiation`` on the central, ``adv`` on the peripheral."""

    def on_initiation_cancelled(self, initiation: Initiation) -> None:
        """A connection attempt ended without a link (cancelled, timed out)."""

    def on_link_frame(self, link: AirLink, frame: object) -> None:
        """A frame arrived over a link."""

    def on_link_down(self, link: AirLink, reason: int) -> None:
        """A link is gone (``reason`` is an HCI error code: 0x08, 0x13, ...)."""

    def on_advertising_ended(self, adv: AdvertisingSet, reason: int) -> None:
        """An advertising set stopped on its own (directed advertising timeout)."""

    def on_inquiry_result(self, result: InquiryResult) -> None:
        """A Classic device answered an inquiry."""

    def on_inquiry_complete(self) -> None:
        """The inquiry ended."""

    def on_page(self, link: AirLink) -> None:
        """A Classic page reached this node and made a baseband link."""


class BleAir:
    """The Bluetooth air of one world."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clock = world.clock
        self.rng = random.Random(f"ble-air:{world.seed}")
        self.exponent = DEFAULT_EXPONENT
        self.sensitivity = DEFAULT_SENSITIVITY
        self.rssi_jitter = 0.0
        self.positions: dict[str, tuple[float, float, float]] = {}
        self.rssi_overrides: dict[frozenset[str], float] = {}
        self.blocked: set[frozenset[str]] = set()  # pairs that cannot hear each other
        self.absent: set[str] = set()  # nodes that left the world
        self.loss: float = 0.0  # interference everywhere
        self.node_loss: dict[str, float] = {}  # interference around one node
        self.hci_exports: dict[str, str] = {}  # module name -> transport spec (real hosts)
        self.started_exports: dict[str, Any] = {}  # module name -> the running export
        self.nodes: dict[str, RadioNode] = {}
        self._default_slots: dict[str, int] = {}
        self._geometry_listeners: list[Callable[[], None]] = []
        # registries filled by scanning.py / link.py / classic.py
        self.advertisers: dict[int, AdvertisingSet] = {}
        self.sessions: set[ScanSession] = set()
        self.links: set[AirLink] = set()
        self._ids = 0

    # -------------------------------------------------------------- nodes
    def attach(self, node: RadioNode) -> None:
        if node.name in self.nodes and self.nodes[node.name] is not node:
            old = self.nodes[node.name]
            self.detach(old)
        self.nodes[node.name] = node
        node.air = self
        if node.name not in self.positions and node.name not in self._default_slots:
            self._default_slots[node.name] = len(self._default_slots)

    def detach(self, node: RadioNode) -> None:
        """The node's radio is switched off: everything it had on the air goes."""
        from esp_at_sim.world.radio import scanning

        if self.nodes.get(node.name) is node:
            del self.nodes[node.name]
        scanning.forget_node(self, node)
        for link in list(node.links):
            link.lose_end(node)
        node.air = None

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    # ------------------------------------------------------------ geometry
    def position(self, name: str) -> tuple[float, float, float]:
        pos = self.positions.get(name)
        if pos is not None:
            return pos
        slot = self._default_slots.get(name)
        if slot is None:
            slot = self._default_slots[name] = len(self._default_slots)
        # a golden-angle spiral: every default spot is 1-5 m from the others
        radius = 1.0 + 0.4 * math.sqrt(slot)
        angle = slot * 2.399963229728653
        return (radius * math.cos(angle), radius * math.sin(angle), 0.0)

    def distance(self, a: str, b: str) -> float:
        pa, pb = self.position(a), self.position(b)
        return math.dist(pa, pb)

    def rssi(self, tx: RadioNode, rx: RadioNode) -> float:
        """Power received by ``rx`` from ``tx`` in dBm (``OUT_OF_RANGE`` if none)."""
        if tx.name in self.absent or rx.name in self.absent:
            return OUT_OF_RANGE
        pair = frozenset((tx.name, rx.name))
        if pair in self.blocked:
            return OUT_OF_RANGE
        fixed = self.rssi_overrides.get(pair)
        if fixed is not None:
            return fixed
        d = max(self.distance(tx.name, rx.name), 0.1)
        return tx.tx_power - LOSS_AT_1M - 10.0 * self.exponent * math.log10(d)

    def hears(self, tx: RadioNode, rx: RadioNode) -> bool:
        return self.rssi(tx, rx) >= self.sensitivity

    def reported_rssi(self, tx: RadioNode, rx: RadioNode) -> int:
        value = self.rssi(tx, rx)
        if self.rssi_jitter:
            value += self.rng.uniform(-self.rssi_jitter, self.rssi_jitter)
        return max(-127, min(20, round(value)))

    def loss_between(self, a: RadioNode, b: RadioNode) -> float:
        """Probability that one packet between ``a`` and ``b`` is lost."""
        keep = (1.0 - self.loss) * (1.0 - self.node_loss.get(a.name, 0.0)) * (1.0 - self.node_loss.get(b.name, 0.0))
        return 1.0 - keep

    def lost(self, a: RadioNode, b: RadioNode) -> bool:
        p = self.loss_between(a, b)
        return p > 0.0 and self.rng.random() < p

    def in_range(self, node: RadioNode) -> Iterator[RadioNode]:
        for other in self.nodes.values():
            if other is not node and self.hears(other, node):
                yield other

    # ----------------------------------------------------- geometry changes
    def on_geometry_change(self, fn: Callable[[], None]) -> None:
        self._geometry_listeners.append(fn)

    def geometry_changed(self) -> None:
        """Positions, presence or interference changed: links re-check their
        ends, scanners simply see the new world on their next tick."""
        for link in list(self.links):
            link.check_hearing()
        for fn in list(self._geometry_listeners):
            fn()

    def move(self, name: str, x: float, y: float, z: float = 0.0) -> None:
        self.positions[name] = (float(x), float(y), float(z))
        self.geometry_changed()

    def leave(self, name: str) -> None:
        self.absent.add(name)
        self.geometry_changed()

    def come_back(self, name: str) -> None:
        self.absent.discard(name)
        self.geometry_changed()

    def block(self, a: str, b: str | None = None) -> None:
        """``a`` and ``b`` (or ``a`` and everyone) can no longer hear each other."""
        others = [b] if b is not None else [n for n in self.nodes if n != a]
        for other in others:
            self.blocked.add(frozenset((a, other)))
        self.geometry_changed()

    def unblock(self, a: str, b: str | None = None) -> None:
        self.blocked = {p for p in self.blocked if not (a in p and (b is None or b in p))}
        self.geometry_changed()

    def set_rssi(self, a: str, b: str, rssi: float | None) -> None:
        pair = frozenset((a, b))
        if rssi is None:
            self.rssi_overrides.pop(pair, None)
        else:
            self.rssi_overrides[pair] = float(rssi)
        self.geometry_changed()

    def set_interference(self, loss: float, around: str | None = None) -> None:
        loss = min(1.0, max(0.0, float(loss)))
        if around is None:
            self.loss = loss
        elif loss:
            self.node_loss[around] = loss
        else:
            self.node_loss.pop(around, None)
        self.geometry_changed()

    # ------------------------------------------------------------- timers
    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        """Run ``fn`` after ``seconds`` of world time."""
        loop = asyncio.get_running_loop()
        return loop.call_later(self.clock.real_seconds(seconds), fn, *args)

    def now(self) -> float:
        return self.clock.now()
