"""Advertising, scanning, connection initiation and periodic sync on the air.

Delivery is scanner-driven. Each :class:`ScanSession` (a scanner, or an
initiator looking for the device it wants to connect to) ticks once per scan
interval (at least every ``MIN_TICK`` seconds of world time). On a tick it
visits the advertisers it can hear and gives each one *credit* equal to the
number of its advertising events the scanner would have caught in that tick::

    events = tick / adv_interval * scan_window / scan_interval * channels / 3

scaled down on both ends by Wi-Fi/Bluetooth coexistence. Whenever an
advertiser's credit reaches one, one report is delivered (at most one per
tick and advertiser, as if duplicates within a scan interval were merged),
so a 20 ms advertiser and a 10 s advertiser are heard at their real relative
rates while nothing at all happens for advertisers nobody scans for. Initial
credit is drawn from the world's seeded random generator (the phase between
the two radios).

Active scanners send a scan request to scannable advertisers; when the
advertiser's filter policy allows it, the scan response follows as a second
report. Directed advertising is only reported to (and connectable by) its
target. Filter policies consult the nodes' filter accept lists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import IntEnum

from esp_at_sim.world.radio import coex
from esp_at_sim.world.radio.air import AirAddress, BleAir, RadioNode
from esp_at_sim.world.radio.link import AirLink, LinkParams

MIN_TICK = 0.1  # seconds of world time between two visits of a scanner
HIGH_DUTY_DIRECTED_TIMEOUT = 1.28  # LE high duty cycle directed advertising stops after this


class AdvKind(IntEnum):
    """Advertising PDU types, numbered as AT+BLEADVPARAM's <adv_type>."""

    IND = 0
    DIRECT_IND_HIGH = 1
    SCAN_IND = 2
    NONCONN_IND = 3
    DIRECT_IND_LOW = 4
    EXT_NONCONN_NONSCAN = 5
    EXT_CONNECTABLE = 6
    EXT_SCANNABLE = 7

    @property
    def connectable(self) -> bool:
        return self in (AdvKind.IND, AdvKind.DIRECT_IND_HIGH, AdvKind.DIRECT_IND_LOW, AdvKind.EXT_CONNECTABLE)

    @property
    def scannable(self) -> bool:
        return self in (AdvKind.IND, AdvKind.SCAN_IND, AdvKind.EXT_SCANNABLE)

    @property
    def directed(self) -> bool:
        return self in (AdvKind.DIRECT_IND_HIGH, AdvKind.DIRECT_IND_LOW)

    @property
    def extended(self) -> bool:
        return self >= AdvKind.EXT_NONCONN_NONSCAN


@dataclass(eq=False)
class AdvertisingSet:
    """What one advertiser puts on the air."""

    node: RadioNode
    address: AirAddress
    kind: AdvKind = AdvKind.IND
    data: bytes = b""
    scan_response: bytes = b""
    interval: float = 0.1  # seconds between advertising events
    channel_map: int = 7
    filter_policy: int = 0  # 0 any/any, 1 scan accept-list, 2 connect accept-list, 3 both
    target: AirAddress | None = None  # directed advertising
    handle: int = 0  # controller's set handle
    sid: int = 0
    primary_phy: int = 1
    secondary_phy: int = 1
    tx_power: int = 0
    periodic_data: bytes | None = None
    periodic_interval: float = 0.1
    periodic_enabled: bool = False
    id: int = 0
    started_at: float = 0.0
    _timeout: asyncio.TimerHandle | None = None

    def scan_allowed(self, scanner: AirAddress) -> bool:
        return self.filter_policy in (0, 2) or self.node.accepts(scanner)

    def connect_allowed(self, initiator: AirAddress) -> bool:
        if self.kind.directed:
            return self.target is not None and self.target.same_device(initiator)
        return self.filter_policy in (0, 1) or self.node.accepts(initiator)


@dataclass(frozen=True, slots=True)
class AdvReport:
    """One advertising report as a scanner's controller receives it."""

    kind: AdvKind
    address: AirAddress
    data: bytes
    rssi: int
    scan_response: bool = False
    target: AirAddress | None = None
    sid: int = 0
    primary_phy: int = 1
    secondary_phy: int = 1
    tx_power: int = 127
    periodic_interval: float = 0.0


@dataclass(eq=False)
class ScanSession:
    """A scanner (or initiator) on the air."""

    node: RadioNode
    own_address: AirAddress
    active: bool = False
    interval: float = 0.1
    window: float = 0.05
    filter_policy: int = 0  # 0 all, 1 accept list only, 2/3 as 0/1 (no RPAs here)
    credit: dict[int, float] = field(default_factory=dict)
    handle: asyncio.TimerHandle | None = None
    closed: bool = False

    @property
    def tick(self) -> float:
        return max(self.interval, MIN_TICK)

    def duty(self) -> float:
        share = coex.bt_share(self.node.owner)
        return min(1.0, self.window / self.interval) * share


@dataclass(eq=False)
class Initiation(ScanSession):
    """A connection attempt: scans for one advertiser (or the accept list) and
    connects on the first connectable advertising event it hears."""

    peer: AirAddress | None = None  # None: any advertiser on the accept list
    params: LinkParams = field(default_factory=LinkParams)
    phy: int = 1


@dataclass(eq=False)
class PeriodicSync:
    """A scanner synchronized (or trying to) with a periodic advertising train."""

    node: RadioNode
    address: AirAddress
    sid: int
    established: bool = False
    handle: asyncio.TimerHandle | None = None
    adv_id: int = 0
    sync_handle: int = 0
    timeout: float = 10.0
    closed: bool = False


# ------------------------------------------------------------------ advertising
def advertise(air: BleAir, adv: AdvertisingSet) -> None:
    """Put an advertising set on the air (replacing itself if already there)."""
    if not adv.id:
        adv.id = air.next_id()
    adv.started_at = air.now()
    air.advertisers[adv.id] = adv
    if adv._timeout is not None:
        adv._timeout.cancel()
        adv._timeout = None
    if adv.kind is AdvKind.DIRECT_IND_HIGH:
        adv._timeout = air.call_later(HIGH_DUTY_DIRECTED_TIMEOUT, _directed_timeout, air, adv)


def stop_advertising(air: BleAir, adv: AdvertisingSet) -> None:
    air.advertisers.pop(adv.id, None)
    if adv._timeout is not None:
        adv._timeout.cancel()
        adv._timeout = None


def _directed_timeout(air: BleAir, adv: AdvertisingSet) -> None:
    adv._timeout = None
    if air.advertisers.get(adv.id) is adv:
        stop_advertising(air, adv)
        adv.node.on_advertising_ended(adv, 0x3C)  # Advertising Timeout


def advertising_of(air: BleAir, node: RadioNode) -> list[AdvertisingSet]:
    return [a for a in air.advertisers.values() if a.node is node]


# --------------------------------------------------------------------- scanning
def start_scan(air: BleAir, session: ScanSession) -> None:
    session.closed = False
    air.sessions.add(session)
    # the first window opens right away; the first tick ends after one window
    _schedule(air, session, min(session.window, session.tick))


def stop_scan(air: BleAir, session: ScanSession) -> None:
    session.closed = True
    air.sessions.discard(session)
    if session.handle is not None:
        session.handle.cancel()
        session.handle = None


def _schedule(air: BleAir, session: ScanSession, delay: float) -> None:
    session.handle = air.call_later(delay, _tick, air, session, delay)


def _tick(air: BleAir, session: ScanSession, elapsed: float) -> None:
    session.handle = None
    if session.closed or air.nodes.get(session.node.name) is not session.node:
        return
    if isinstance(session, Initiation):
        if _initiate(air, session, elapsed):
            return
    else:
        _scan(air, session, elapsed)
    if not session.closed:
        _schedule(air, session, session.tick)


def _heard(air: BleAir, session: ScanSession, adv: AdvertisingSet, elapsed: float, duty: float) -> bool:
    """Account for one tick of listening to ``adv``; True when an event was caught."""
    share = coex.bt_share(adv.node.owner)
    channels = bin(adv.channel_map & 7).count("1") or 3
    events = elapsed / max(adv.interval, 0.02) * duty * share * channels / 3.0
    credit = session.credit.get(adv.id)
    if credit is None:
        credit = air.rng.random()
    credit = min(credit + events, 1.0 + events)
    if credit < 1.0:
        session.credit[adv.id] = credit
        return False
    session.credit[adv.id] = min(credit - 1.0, 1.0)
    return not air.lost(adv.node, session.node)


def _scan(air: BleAir, session: ScanSession, elapsed: float) -> None:
    node = session.node
    duty = session.duty()
    for adv in list(air.advertisers.values()):
        if adv.node is node or session.closed:
            continue
        rssi = air.rssi(adv.node, node)
        if rssi < air.sensitivity:
            continue
        if adv.kind.directed and not (adv.target is not None and adv.target.same_device(session.own_address)):
            continue
        if session.filter_policy in (1, 3) and not node.accepts(adv.address):
            continue
        if not _heard(air, session, adv, elapsed, duty):
            continue
        reported = air.reported_rssi(adv.node, node)
        node.on_advertising_report(
            session,
            AdvReport(
                kind=adv.kind,
                address=adv.address,
                data=b"" if adv.kind.directed else adv.data,
                rssi=reported,
                target=adv.target,
                sid=adv.sid,
                primary_phy=adv.primary_phy,
                secondary_phy=adv.secondary_phy,
                tx_power=adv.tx_power,
                periodic_interval=adv.periodic_interval if adv.periodic_enabled else 0.0,
            ),
        )
        if (
            session.active
            and adv.kind.scannable
            and adv.scan_allowed(session.own_address)
            and not air.lost(node, adv.node)
            and not session.closed
        ):
            node.on_advertising_report(
                session,
                AdvReport(
                    kind=adv.kind,
                    address=adv.address,
                    data=adv.scan_response,
                    rssi=reported,
                    scan_response=True,
                    sid=adv.sid,
                    primary_phy=adv.primary_phy,
                    secondary_phy=adv.secondary_phy,
                    tx_power=adv.tx_power,
                ),
            )


# ------------------------------------------------------------------- initiating
def start_initiation(air: BleAir, initiation: Initiation) -> None:
    start_scan(air, initiation)


def cancel_initiation(air: BleAir, initiation: Initiation) -> None:
    if initiation.closed:
        return
    stop_scan(air, initiation)
    initiation.node.on_initiation_cancelled(initiation)


def _initiate(air: BleAir, init: Initiation, elapsed: float) -> bool:
    node = init.node
    duty = init.duty()
    for adv in list(air.advertisers.values()):
        if adv.node is node or not adv.kind.connectable:
            continue
        if init.peer is not None:
            if not adv.address.same_device(init.peer):
                continue
        elif not node.accepts(adv.address):
            continue
        if not air.hears(adv.node, node) or not air.hears(node, adv.node):
            continue
        if not adv.connect_allowed(init.own_address):
            continue
        # high duty cycle directed advertising is caught at once
        if adv.kind is not AdvKind.DIRECT_IND_HIGH and not _heard(air, init, adv, elapsed, duty):
            continue
        stop_scan(air, init)
        stop_advertising(air, adv)
        params = init.params
        link = AirLink(
            air,
            central=node,
            peripheral=adv.node,
            central_address=init.own_address,
            peripheral_address=adv.address,
            params=params,
            phy=init.phy if adv.kind.extended else 1,
        )
        adv.node.on_link_up(link, None, adv)
        node.on_link_up(link, init, None)
        return True
    return False


# -------------------------------------------------------------- periodic sync
def start_sync(air: BleAir, sync: PeriodicSync) -> None:
    sync.closed = False
    _sync_tick(air, sync)


def stop_sync(air: BleAir, sync: PeriodicSync) -> None:
    sync.closed = True
    if sync.handle is not None:
        sync.handle.cancel()
        sync.handle = None


def _find_train(air: BleAir, sync: PeriodicSync) -> AdvertisingSet | None:
    for adv in air.advertisers.values():
        if adv.periodic_enabled and adv.address.same_device(sync.address) and adv.sid == sync.sid:
            return adv
    return None


def _sync_tick(air: BleAir, sync: PeriodicSync) -> None:
    sync.handle = None
    if sync.closed:
        return
    adv = _find_train(air, sync)
    node = sync.node
    heard = adv is not None and air.hears(adv.node, node) and air.nodes.get(node.name) is node
    interval = max(adv.periodic_interval if adv is not None else MIN_TICK, MIN_TICK)
    if heard and adv is not None:
        if not sync.established:
            sync.established = True
            sync.adv_id = adv.id
            node.on_sync_established(sync)
        if not air.lost(adv.node, node) and adv.periodic_data is not None:
            node.on_periodic_report(sync, adv.periodic_data, air.reported_rssi(adv.node, node))
    elif sync.established:
        sync.established = False
        sync.closed = True
        node.on_sync_lost(sync)
        return
    if not sync.closed:
        sync.handle = air.call_later(interval, _sync_tick, air, sync)


def forget_node(air: BleAir, node: RadioNode) -> None:
    """Remove everything ``node`` had on the air (its radio is off)."""
    for adv in advertising_of(air, node):
        stop_advertising(air, adv)
    for session in [s for s in air.sessions if s.node is node]:
        stop_scan(air, session)
