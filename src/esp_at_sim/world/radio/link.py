"""Connections on the air: ordered frames with air time, and supervision.

An :class:`AirLink` joins two nodes (LE central/peripheral, or a Classic
baseband link). Each direction is a FIFO: a frame waits for the next
connection event (or for the frames before it), then occupies the air for
its air time::

    LE packet   = (payload + 10 [+ 4 MIC]) * 8 / phy_rate + 150 us
                  + empty reply (80 bits) + 150 us
    frame       = ceil(size / data_length) packets

divided by the share of radio time Bluetooth gets on both chips
(coexistence) and by ``1 - loss`` (retransmissions under interference).
With 27-byte packets on the 1M PHY that is about 40 kB/s, with 251-byte
packets about 100 kB/s, on 2M about 180 kB/s - the ballpark ESP32 BLE
throughput measurements give.

A link whose ends stop hearing each other (moved apart, one left the world,
its radio was switched off, interference above 95 %) holds its frames; if
that lasts the supervision timeout, both remaining ends get reason 0x08
(Connection Timeout). A graceful close travels as the last frame.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esp_at_sim.world.radio import coex

#: a sender that was on the air this recently is still in its connection
#: event (the "more data" bit): its next packet follows at once
EVENT_CONTINUE = 0.0015

if TYPE_CHECKING:
    from esp_at_sim.world.radio.air import AirAddress, BleAir, RadioNode

CONNECTION_TIMEOUT = 0x08
PHY_RATE = {1: 1_000_000.0, 2: 2_000_000.0, 3: 125_000.0}
CLASSIC_RATE = 1_400_000.0  # 2-DH5 packets, effective
CLASSIC_SLOT = 0.000625
MAX_OCTETS = 251
BROKEN_LOSS = 0.95


@dataclass(frozen=True)
class LinkParams:
    """Connection parameters, in seconds (interval, timeout) and events (latency)."""

    interval: float = 0.030
    latency: int = 0
    timeout: float = 5.0


_TERMINATE = object()


class _Direction:
    __slots__ = ("free_at", "handle", "queue")

    def __init__(self) -> None:
        self.queue: deque[tuple[float, Any, Callable[[], None] | None]] = deque()
        self.free_at = 0.0
        self.handle: asyncio.TimerHandle | None = None


class AirLink:
    def __init__(
        self,
        air: BleAir,
        *,
        central: RadioNode,
        peripheral: RadioNode,
        central_address: AirAddress,
        peripheral_address: AirAddress,
        params: LinkParams,
        phy: int = 1,
        classic: bool = False,
    ) -> None:
        self.air = air
        self.id = air.next_id()
        self.central = central
        self.peripheral = peripheral
        self.addresses = {id(central): central_address, id(peripheral): peripheral_address}
        self.params = params
        self.classic = classic
        self.established_at = air.now()
        self.tx_phy = {id(central): phy, id(peripheral): phy}
        self.max_tx_octets = {id(central): 27, id(peripheral): 27}
        self.encrypted = False
        self.alive = True
        self.closing = False
        self.hearing = True
        self.context: dict[int, Any] = {}  # per-end bookkeeping of the controllers
        self._gone: set[int] = set()  # ends whose radio is off
        self._dirs = {id(central): _Direction(), id(peripheral): _Direction()}
        self._held: list[tuple[RadioNode, Any, int, Callable[[], None] | None]] = []
        self._supervision: asyncio.TimerHandle | None = None
        air.links.add(self)
        central.links.append(self)
        peripheral.links.append(self)

    # ------------------------------------------------------------- queries
    def peer(self, node: RadioNode) -> RadioNode:
        return self.peripheral if node is self.central else self.central

    def address_of(self, node: RadioNode) -> AirAddress:
        return self.addresses[id(node)]

    def is_central(self, node: RadioNode) -> bool:
        return node is self.central

    def rssi(self, at: RadioNode) -> int:
        return self.air.reported_rssi(self.peer(at), at)

    def next_event(self, t: float) -> float:
        interval = self.params.interval
        if interval <= 0:
            return t
        n = math.ceil((t - self.established_at) / interval - 1e-9)
        return self.established_at + max(n, 0) * interval

    def _granted_event(self, sender: RadioNode, t: float) -> float:
        """The next connection event the coexistence arbiter gives Bluetooth.

        With Wi-Fi active, only ``share`` of the events are Bluetooth's: an
        idle link waits ``interval / share`` on average instead of
        ``interval`` (modelled deterministically as a stretched event grid).
        """
        share = min(coex.bt_share(sender.owner), coex.bt_share(self.peer(sender).owner))
        nxt = self.next_event(t)
        if share >= 1.0 or self.params.interval <= 0:
            return nxt
        return nxt + self.params.interval * (1.0 / max(share, 0.05) - 1.0)

    def packet_octets(self, sender: RadioNode) -> int:
        return max(27, min(self.max_tx_octets[id(sender)], MAX_OCTETS))

    def airtime(self, sender: RadioNode, size: int) -> float:
        receiver = self.peer(sender)
        share = min(coex.bt_share(sender.owner), coex.bt_share(receiver.owner))
        loss = self.air.loss_between(sender, receiver)
        if self.classic:
            t = size * 8 / CLASSIC_RATE + 2 * CLASSIC_SLOT
        else:
            rate = PHY_RATE.get(self.tx_phy[id(sender)], PHY_RATE[1])
            octets = self.packet_octets(sender)
            packets = max(1, math.ceil(size / octets))
            overhead = 14 if self.encrypted else 10
            per_packet = (min(size, octets) + overhead) * 8 / rate + 300e-6 + 80 / rate
            t = packets * per_packet
        return t / max(share, 0.05) / max(1.0 - loss, 0.05)

    # ---------------------------------------------------------------- data
    def send(self, sender: RadioNode, frame: object, size: int, on_sent: Callable[[], None] | None = None) -> None:
        """Queue ``frame`` (``size`` bytes on the air) towards the other end.

        ``on_sent`` runs when the frame has left the sender (its buffers are
        free again); frames on a dead link are dropped without it.
        """
        if not self.alive or self.closing or id(sender) in self._gone:
            return
        if not self.hearing:
            self._held.append((sender, frame, size, on_sent))
            return
        d = self._dirs[id(sender)]
        now = self.air.now()
        if d.free_at > 0 and now - d.free_at <= EVENT_CONTINUE:
            # the connection event is still open (more data): no new event needed
            start = max(now, d.free_at)
        else:
            start = max(self._granted_event(sender, now), d.free_at)
        at = start + self.airtime(sender, size)
        d.free_at = at
        d.queue.append((at, frame, on_sent))
        if d.handle is None:
            self._arm(sender, d)

    def _arm(self, sender: RadioNode, d: _Direction) -> None:
        at = d.queue[0][0]
        d.handle = self.air.call_later(max(0.0, at - self.air.now()), self._flush, sender, d)

    def _flush(self, sender: RadioNode, d: _Direction) -> None:
        d.handle = None
        now = self.air.now()
        receiver = self.peer(sender)
        while d.queue and d.queue[0][0] <= now + 1e-9:
            _at, frame, on_sent = d.queue.popleft()
            if on_sent is not None:
                on_sent()
            if frame is _TERMINATE:
                self._finish_close(sender)
                return
            if self.alive and id(receiver) not in self._gone:
                receiver.on_link_frame(self, frame)
            if not self.alive:
                return
        if d.queue:
            self._arm(sender, d)

    # -------------------------------------------------------------- changes
    def update_params(self, params: LinkParams) -> None:
        self.established_at = self.next_event(self.air.now())
        self.params = params

    def set_phy(self, node: RadioNode, phy: int) -> None:
        self.tx_phy[id(node)] = phy

    def set_max_tx_octets(self, node: RadioNode, octets: int) -> None:
        self.max_tx_octets[id(node)] = max(27, min(octets, MAX_OCTETS))

    # ---------------------------------------------------------- supervision
    def check_hearing(self) -> None:
        if not self.alive:
            return
        air = self.air
        c, p = self.central, self.peripheral
        present = id(c) not in self._gone and id(p) not in self._gone
        present = present and air.nodes.get(c.name) is c and air.nodes.get(p.name) is p
        hearing = present and air.hears(c, p) and air.hears(p, c) and air.loss_between(c, p) < BROKEN_LOSS
        if hearing == self.hearing and (hearing or self._supervision is not None):
            return
        self.hearing = hearing
        if hearing:
            if self._supervision is not None:
                self._supervision.cancel()
                self._supervision = None
            held, self._held = self._held, []
            for sender, frame, size, on_sent in held:
                self.send(sender, frame, size, on_sent)
        elif self._supervision is None:
            self._supervision = air.call_later(self.params.timeout, self._supervision_expired)

    def _supervision_expired(self) -> None:
        self._supervision = None
        if self.alive and not self.hearing:
            self._down(CONNECTION_TIMEOUT)

    def lose_end(self, node: RadioNode) -> None:
        """``node``'s radio went off without a goodbye: the other end times out."""
        self._gone.add(id(node))
        if len(self._gone) == 2:
            self._down(CONNECTION_TIMEOUT)
        else:
            self.check_hearing()

    # ---------------------------------------------------------------- close
    def close(self, by: RadioNode, reason: int) -> None:
        """``by`` terminates the link; the peer learns it after the frames in flight."""
        if not self.alive or self.closing:
            return
        self.closing = True
        self._close_reason = reason
        self._gone.add(id(by))  # its controller forgot the link already
        peer = self.peer(by)
        if id(peer) in self._gone or not self.hearing:
            # nobody to tell, or nobody hears: the peer will time out
            self._gone.add(id(by))
            if not self.hearing:
                return
            self._down(reason)
            return
        d = self._dirs[id(by)]
        now = self.air.now()
        at = max(self.next_event(now), d.free_at) + self.airtime(by, 2)
        d.free_at = at
        d.queue.append((at, _TERMINATE, None))
        if d.handle is None:
            self._arm(by, d)

    def _finish_close(self, by: RadioNode) -> None:
        self._down(getattr(self, "_close_reason", 0x13))

    def _down(self, reason: int) -> None:
        if not self.alive:
            return
        self.alive = False
        if self._supervision is not None:
            self._supervision.cancel()
            self._supervision = None
        for d in self._dirs.values():
            if d.handle is not None:
                d.handle.cancel()
                d.handle = None
            d.queue.clear()
        self._held.clear()
        self.air.links.discard(self)
        for node in (self.central, self.peripheral):
            if self in node.links:
                node.links.remove(self)
        for node in (self.central, self.peripheral):
            if id(node) not in self._gone:
                node.on_link_down(self, reason)
