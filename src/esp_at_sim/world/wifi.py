"""The Wi-Fi world: access points on the air and what happens to them.

Theory of operation
-------------------
:class:`WifiAir` is the world extension (``world.extension(WifiAir)``) that
holds every :class:`AccessPoint` on the air: those of the scenario
(``[[access_point]]``) and the SoftAPs modules start. A station (the
module's Wi-Fi service) scans the air, then talks to one AP through its
methods, frame exchange by frame exchange:

* ``open_auth`` / ``sae_commit`` + ``sae_confirm`` (802.11 authentication;
  SAE is a real password-authenticated exchange, ``world/sae.py``);
* ``associate`` (capacity, security and PMF compatibility);
* ``eapol_m1`` / ``eapol_m2`` / ``eapol_m4`` (the 4-way handshake with real
  MIC checks, ``world/wpa.py``) or ``eap_authenticate`` for Enterprise;
* ``dhcp_request`` (``world/dhcp.py``) and ``leave``.

What one AP does with its stations is in ``world/access_point.py``; this
module holds the air: the registry of APs, the radio levels between them
and modules (``world/wifi_radio.py`` documents the model), scans, the
scenario tables ``[[access_point]]`` and ``[wifi]``, and the faults.

Faults (``ap_down``, ``ap_up``, ``rssi``, ``ap_password``, ``deauth``,
``dhcp_down``, ``dhcp_up``, ``beacon_loss``) and the provisioning event
``smartconfig`` are registered in ``world/faults.py`` and
are also plain methods of :class:`WifiAir`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.access_point import (
    MAX_SSID,
    REASON_4WAY_TIMEOUT,
    REASON_802_1X_AUTH_FAILED,
    REASON_ASSOC_EXPIRE,
    REASON_ASSOC_FAIL,
    REASON_ASSOC_LEAVE,
    REASON_ASSOC_TOOMANY,
    REASON_AUTH_EXPIRE,
    REASON_AUTH_FAIL,
    REASON_AUTH_LEAVE,
    REASON_BEACON_TIMEOUT,
    REASON_CONNECTION_FAIL,
    REASON_HANDSHAKE_TIMEOUT,
    REASON_IE_INVALID,
    REASON_MIC_FAILURE,
    REASON_NO_AP_COMPATIBLE_SECURITY,
    REASON_NO_AP_FOUND,
    REASON_NO_AP_IN_AUTHMODE_THRESHOLD,
    REASON_NOT_ASSOCED,
    REASON_NOT_AUTHED,
    REASON_UNSPECIFIED,
    STATUS_INVALID_AKMP,
    STATUS_ROBUST_POLICY,
    STATUS_SUCCESS,
    STATUS_TOO_MANY,
    AccessPoint,
    AccessPointSpec,
    ApObserver,
    Association,
    ScanEntry,
    StationLink,
    link_local,
    mac_text,
    parse_mac,
    spec_from_table,
)
from esp_at_sim.world.faults import fault
from esp_at_sim.world.scenario import section
from esp_at_sim.world.wifi_radio import SENSITIVITY, path_loss_rssi, seeded_random

if TYPE_CHECKING:
    from esp_at_sim.world.world import World

__all__ = [
    "MAX_SSID",
    "REASON_4WAY_TIMEOUT",
    "REASON_802_1X_AUTH_FAILED",
    "REASON_ASSOC_EXPIRE",
    "REASON_ASSOC_FAIL",
    "REASON_ASSOC_LEAVE",
    "REASON_ASSOC_TOOMANY",
    "REASON_AUTH_EXPIRE",
    "REASON_AUTH_FAIL",
    "REASON_AUTH_LEAVE",
    "REASON_BEACON_TIMEOUT",
    "REASON_CONNECTION_FAIL",
    "REASON_HANDSHAKE_TIMEOUT",
    "REASON_IE_INVALID",
    "REASON_MIC_FAILURE",
    "REASON_NOT_ASSOCED",
    "REASON_NOT_AUTHED",
    "REASON_NO_AP_COMPATIBLE_SECURITY",
    "REASON_NO_AP_FOUND",
    "REASON_NO_AP_IN_AUTHMODE_THRESHOLD",
    "REASON_UNSPECIFIED",
    "STATUS_INVALID_AKMP",
    "STATUS_ROBUST_POLICY",
    "STATUS_SUCCESS",
    "STATUS_TOO_MANY",
    "AccessPoint",
    "AccessPointSpec",
    "ApObserver",
    "Association",
    "ScanEntry",
    "StationLink",
    "WifiAir",
    "link_local",
    "mac_text",
    "parse_mac",
    "spec_from_table",
]

# -------------------------------------------------------------------- the air


@dataclass
class WifiAir:
    """Every access point of one world, and the radio between them and modules."""

    world: World
    aps: list[AccessPoint] = field(default_factory=list)
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    rssi_jitter: float = 0.0
    #: modules in SmartConfig: module name -> what to call with (ssid, password, bssid)
    smartconfig_listeners: dict[str, Callable[[bytes, bytes, bytes | None], None]] = field(default_factory=dict)
    _scan_counter: int = 0
    _tasks: set[Any] = field(default_factory=set)

    # ------------------------------------------------------------ registry
    def add(self, spec: AccessPointSpec, *, owner: str | None = None, bssid: bytes | None = None) -> AccessPoint:
        mac = bssid or spec.bssid or self._generated_bssid(spec.ssid, len(self.aps))
        if any(ap.bssid == mac for ap in self.aps):
            raise ConfigError(f"two access points with BSSID {mac_text(mac)}")
        ap = AccessPoint(self, spec, mac, owner=owner)
        self.aps.append(ap)
        return ap

    def remove(self, ap: AccessPoint) -> None:
        ap.power_off()
        ap._orphans = []
        if ap in self.aps:
            self.aps.remove(ap)

    def _generated_bssid(self, ssid: bytes, index: int) -> bytes:
        h = hashlib.sha256(f"{self.world.seed}\x1fap\x1f{index}\x1f".encode() + ssid).digest()
        return bytes([h[0] & 0xFC]) + h[1:6]  # universally administered, unicast

    def find(self, ssid: str | bytes | None = None, bssid: str | bytes | None = None) -> list[AccessPoint]:
        """APs by SSID and/or BSSID (``ConfigError`` when nothing matches)."""
        want_ssid = ssid.encode() if isinstance(ssid, str) else ssid
        want_bssid = parse_mac(bssid) if isinstance(bssid, str) else bssid
        found = [
            ap
            for ap in self.aps
            if (want_ssid is None or ap.ssid == want_ssid) and (want_bssid is None or ap.bssid == want_bssid)
        ]
        if not found:
            raise ConfigError(f"no access point with ssid={ssid!r} bssid={bssid!r}")
        return found

    def by_bssid(self, bssid: bytes) -> AccessPoint | None:
        for ap in self.aps:
            if ap.bssid == bssid:
                return ap
        return None

    # ---------------------------------------------------------------- radio
    def rssi(self, ap: AccessPoint, module: str, *, jitter: bool = False) -> int | None:
        """What ``module`` receives from ``ap`` (dBm), ``None`` below sensitivity."""
        if ap.owner == module:
            return None
        if ap.rssi_override is not None:
            value = ap.rssi_override
        else:
            here = self.positions.get(module, (0.0, 0.0))
            shadow = seeded_random(self.world.seed, "shadow", ap.bssid, module).uniform(-3.0, 3.0)
            if ap.spec.position is not None:
                dist = ((here[0] - ap.spec.position[0]) ** 2 + (here[1] - ap.spec.position[1]) ** 2) ** 0.5
                value = path_loss_rssi(ap.spec.tx_power, dist, ap.channel, shadow)
            elif ap.owner is not None and ap.owner in self.positions and module in self.positions:
                there = self.positions[ap.owner]
                dist = ((here[0] - there[0]) ** 2 + (here[1] - there[1]) ** 2) ** 0.5
                value = path_loss_rssi(ap.spec.tx_power, dist, ap.channel, shadow)
            else:
                value = seeded_random(self.world.seed, "desk", ap.bssid, module).randint(-52, -38)
        if jitter and self.rssi_jitter:
            self._scan_counter += 1
            value += seeded_random(self.world.seed, "jitter", ap.bssid, module, self._scan_counter).uniform(
                -self.rssi_jitter, self.rssi_jitter
            )
        rounded = round(value)
        return rounded if rounded >= SENSITIVITY else None

    def scan(
        self,
        module: str,
        channels: set[int],
        *,
        ssid: bytes | None = None,
        bssid: bytes | None = None,
        show_hidden: bool = False,
    ) -> list[ScanEntry]:
        """APs ``module`` hears on ``channels`` (in channel order, as a sweep finds them).

        A hidden AP answers only a probe carrying its SSID (``ssid``)."""
        found: list[ScanEntry] = []
        for ap in self.aps:
            if not ap.on_air or ap.channel not in channels:
                continue
            if ssid is not None and ap.ssid != ssid:
                continue
            if bssid is not None and ap.bssid != bssid:
                continue
            if ap.hidden and ssid is None and not show_hidden:
                continue
            level = self.rssi(ap, module, jitter=True)
            if level is None:
                continue
            found.append(ScanEntry(ap, level))
        found.sort(key=lambda e: e.channel)
        return found

    # ---------------------------------------------------------------- faults
    def _one(self, ssid: str | None, bssid: str | None) -> list[AccessPoint]:
        if ssid is None and bssid is None:
            raise ConfigError("name the access point by ssid or bssid")
        return self.find(ssid, bssid)

    def ap_down(self, ssid: str | None = None, bssid: str | None = None) -> None:
        for ap in self._one(ssid, bssid):
            ap.power_off()

    def ap_up(self, ssid: str | None = None, bssid: str | None = None) -> None:
        for ap in self._one(ssid, bssid):
            ap.power_on()

    def set_rssi(self, rssi: float | None, ssid: str | None = None, bssid: str | None = None) -> None:
        for ap in self._one(ssid, bssid):
            ap.rssi_override = rssi
        self.recheck()

    def move(self, module: str, x: float, y: float) -> None:
        """A module moves (for APs with a position, and SoftAPs between placed modules)."""
        self.positions[module] = (float(x), float(y))
        self.recheck()

    def place(self, ap: AccessPoint, position: tuple[float, float] | None) -> None:
        """An AP moves (``None``: back to its fixed ``rssi``)."""
        from dataclasses import replace

        ap.spec = replace(ap.spec, position=position)
        self.recheck()

    def recheck(self) -> None:
        """After a change of level: stations whose AP fell below the sensitivity
        stop hearing its beacons (and drop after sta_inactive_time); those back
        in range hear them again."""
        for ap in self.aps:
            if not ap.up:
                continue
            for assoc in list(ap.stations.values()):
                heard = ap.beaconing and self.rssi(ap, assoc.link.name) is not None
                assoc.link.on_beacons(heard)

    def change_password(self, password: str, ssid: str | None = None, bssid: str | None = None) -> None:
        for ap in self._one(ssid, bssid):
            ap.change_password(password.encode())

    def deauth(
        self,
        ssid: str | None = None,
        bssid: str | None = None,
        station: str | None = None,
        reason: int = REASON_AUTH_LEAVE,
    ) -> int:
        mac = parse_mac(station) if station else None
        return sum(ap.deauth(mac, reason) for ap in self._one(ssid, bssid))

    def dhcp_responding(self, on: bool, ssid: str | None = None, bssid: str | None = None) -> None:
        for ap in self._one(ssid, bssid):
            if ap.dhcp is not None:
                ap.dhcp.responding = on

    async def beacon_loss(self, seconds: float, ssid: str | None = None, bssid: str | None = None) -> None:
        """Beacons stop for ``seconds`` (returns at once; they come back on their own)."""
        import asyncio

        aps = self._one(ssid, bssid)
        for ap in aps:
            ap.set_beacons(False)

        async def restore() -> None:
            await self.world.clock.sleep(seconds)
            for ap in aps:
                if ap.up:
                    ap.set_beacons(True)

        task = asyncio.get_running_loop().create_task(restore())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def smartconfig(
        self, module: str, ssid: str | bytes, password: str | bytes = b"", bssid: str | None = None
    ) -> None:
        """A phone app broadcasts credentials to ``module`` (which must be in SmartConfig)."""
        handler = self.smartconfig_listeners.get(module)
        if handler is None:
            raise ConfigError(f"module {module!r} is not waiting for SmartConfig")
        s = ssid.encode() if isinstance(ssid, str) else ssid
        p = password.encode() if isinstance(password, str) else password
        handler(s, p, parse_mac(bssid) if bssid else None)


# ------------------------------------------------------------------- scenario


@section("access_point")
def _load_access_points(world: World, tables: Any) -> None:
    if not isinstance(tables, list):
        raise ConfigError("access_point must be an array of tables ([[access_point]])")
    air = world.extension(WifiAir)
    for i, raw in enumerate(tables):
        air.add(spec_from_table(raw, i))


@section("wifi")
def _load_wifi(world: World, table: Any) -> None:
    if not isinstance(table, dict):
        raise ConfigError("[wifi] must be a table")
    unknown = set(table) - {"positions", "rssi_jitter"}
    if unknown:
        raise ConfigError(f"[wifi]: unknown keys {', '.join(sorted(unknown))}")
    air = world.extension(WifiAir)
    for name, pos in dict(table.get("positions", {})).items():
        air.positions[str(name)] = (float(pos[0]), float(pos[1]))
    air.rssi_jitter = float(table.get("rssi_jitter", 0.0))


# --------------------------------------------------------------------- faults


@fault("ap_down", "the access point stops (no beacons, no answers)", ssid="SSID", bssid="BSSID (optional)")
def _ap_down(world: World, ssid: str | None = None, bssid: str | None = None) -> None:
    world.extension(WifiAir).ap_down(ssid, bssid)


@fault("ap_up", "the access point comes back", ssid="SSID", bssid="BSSID (optional)")
def _ap_up(world: World, ssid: str | None = None, bssid: str | None = None) -> None:
    world.extension(WifiAir).ap_up(ssid, bssid)


@fault("rssi", "the signal of an access point changes", ssid="SSID", rssi="dBm", bssid="BSSID (optional)")
def _rssi(world: World, rssi: float, ssid: str | None = None, bssid: str | None = None) -> None:
    world.extension(WifiAir).set_rssi(float(rssi), ssid, bssid)


@fault("ap_password", "the access point changes its password and drops its stations", ssid="SSID", password="new")
def _ap_password(world: World, password: str, ssid: str | None = None, bssid: str | None = None) -> None:
    world.extension(WifiAir).change_password(password, ssid, bssid)


@fault(
    "deauth",
    "the access point deauthenticates one station (or all)",
    ssid="SSID",
    station="station MAC (optional: all)",
    reason="802.11 reason code (default 3)",
)
def _deauth(
    world: World, ssid: str | None = None, bssid: str | None = None, station: str | None = None, reason: int = 3
) -> None:
    world.extension(WifiAir).deauth(ssid, bssid, station, int(reason))


@fault("dhcp_down", "the access point's DHCP server stops answering", ssid="SSID")
def _dhcp_down(world: World, ssid: str | None = None, bssid: str | None = None) -> None:
    world.extension(WifiAir).dhcp_responding(False, ssid, bssid)


@fault("dhcp_up", "the access point's DHCP server answers again", ssid="SSID")
def _dhcp_up(world: World, ssid: str | None = None, bssid: str | None = None) -> None:
    world.extension(WifiAir).dhcp_responding(True, ssid, bssid)


@fault("beacon_loss", "the access point's beacons are not heard for a while", ssid="SSID", seconds="duration")
async def _beacon_loss(world: World, seconds: float, ssid: str | None = None, bssid: str | None = None) -> None:
    await world.extension(WifiAir).beacon_loss(float(seconds), ssid, bssid)


@fault("smartconfig", "a phone sends Wi-Fi credentials by SmartConfig", module="module name", ssid="SSID")
def _smartconfig(world: World, module: str, ssid: str, password: str = "", bssid: str | None = None) -> None:
    world.extension(WifiAir).smartconfig(module, ssid, password, bssid)
