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
* ``dhcp`` (``world/dhcp.py``) and ``leave``.

The AP calls back into the station through the :class:`StationLink` it got
at association: deauthentication, beacons stopping and coming back. An AP
owned by a module (SoftAP) reports station arrivals, leases and departures
to its owner through :class:`ApObserver`.

Faults (``ap_down``, ``ap_up``, ``rssi``, ``ap_password``, ``deauth``,
``dhcp_down``, ``dhcp_up``, ``beacon_loss``) and the provisioning event
``smartconfig`` are registered in ``world/faults.py`` and
are also plain methods of :class:`WifiAir`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.dhcp import DhcpOffer, DhcpServer
from esp_at_sim.world.faults import fault
from esp_at_sim.world.sae import SaeError, SaePeer
from esp_at_sim.world.scenario import section
from esp_at_sim.world.wifi_radio import (
    SENSITIVITY,
    Security,
    band_of,
    path_loss_rssi,
    seeded_random,
    valid_channel,
)
from esp_at_sim.world.wpa import Akm, Authenticator, HandshakeError, psk_pmk, rsn_element

if TYPE_CHECKING:
    from esp_at_sim.world.eap import EapCredentials, EapUser
    from esp_at_sim.world.world import World

# IEEE 802.11 reason and status codes (and ESP-IDF's own >= 200) the world uses
REASON_UNSPECIFIED = 1
REASON_AUTH_EXPIRE = 2
REASON_AUTH_LEAVE = 3
REASON_ASSOC_EXPIRE = 4
REASON_ASSOC_TOOMANY = 5
REASON_NOT_AUTHED = 6
REASON_NOT_ASSOCED = 7
REASON_ASSOC_LEAVE = 8
REASON_IE_INVALID = 13
REASON_MIC_FAILURE = 14
REASON_4WAY_TIMEOUT = 15
REASON_802_1X_AUTH_FAILED = 23
REASON_BEACON_TIMEOUT = 200
REASON_NO_AP_FOUND = 201
REASON_AUTH_FAIL = 202
REASON_ASSOC_FAIL = 203
REASON_HANDSHAKE_TIMEOUT = 204
REASON_CONNECTION_FAIL = 205
REASON_NO_AP_COMPATIBLE_SECURITY = 210
REASON_NO_AP_IN_AUTHMODE_THRESHOLD = 211

STATUS_SUCCESS = 0
STATUS_TOO_MANY = 17
STATUS_ROBUST_POLICY = 31  # "robust management frame policy violation" (PMF)
STATUS_INVALID_AKMP = 43

MAX_SSID = 32


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def link_local(mac: bytes, prefix: str = "fe80::/64") -> str:
    """The EUI-64 IPv6 address of ``mac`` in ``prefix`` (what lwIP forms)."""
    eui = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    net = ipaddress.IPv6Network(prefix, strict=False)
    return str(ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(eui, "big")))


def parse_mac(text: str) -> bytes:
    parts = text.strip().split(":")
    if len(parts) != 6:
        raise ValueError(f"bad MAC address {text!r}")
    try:
        raw = bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(f"bad MAC address {text!r}") from None
    if any(len(p) != 2 for p in parts):
        raise ValueError(f"bad MAC address {text!r}")
    return raw


# --------------------------------------------------------------------- interfaces


class StationLink(Protocol):
    """How an access point reaches a station associated with it."""

    @property
    def mac(self) -> bytes: ...

    @property
    def name(self) -> str: ...  # the station's module name (for the RSSI model)

    def on_deauth(self, reason: int) -> None: ...

    def on_beacons(self, present: bool) -> None: ...


class ApObserver(Protocol):
    """What the owner of a SoftAP hears about its stations."""

    def station_joined(self, mac: bytes) -> None: ...

    def station_left(self, mac: bytes) -> None: ...

    def address_leased(self, mac: bytes, ip: str) -> None: ...


# ----------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AccessPointSpec:
    """One access point as a scenario describes it (validated on construction)."""

    ssid: bytes
    password: bytes = b""
    security: Security = Security.OPEN
    channel: int = 1
    rssi: float | None = None
    bssid: bytes | None = None
    hidden: bool = False
    subnet: str = "192.168.1.0/24"
    wps: bool = False
    max_connections: int = 32
    pmf: int | None = None  # None: the security's default
    position: tuple[float, float] | None = None
    tx_power: float = 20.0
    protocol: int | None = None  # CWLAP <wifi_protocol> bits; None: by band
    dns: tuple[str, ...] = ()
    dhcp: bool = True
    eap_users: tuple[EapUser, ...] = ()
    ipv6_prefix: str | None = None  # router advertisements: stations form a global address

    def __post_init__(self) -> None:
        if not 0 < len(self.ssid) <= MAX_SSID:
            raise ConfigError(f"access point SSID must be 1..{MAX_SSID} bytes: {self.ssid!r}")
        if not valid_channel(self.channel):
            raise ConfigError(f"access point {self.ssid!r}: invalid channel {self.channel}")
        sec = self.security
        if sec.personal and not 8 <= len(self.password) <= 64:
            raise ConfigError(f"access point {self.ssid!r}: a {sec.value} password has 8..64 characters")
        if sec is Security.WEP and len(self.password) not in (5, 10, 13, 26):
            raise ConfigError(f"access point {self.ssid!r}: a WEP key has 5 or 13 characters (10 or 26 hex)")
        if sec is Security.OPEN and self.password:
            raise ConfigError(f"access point {self.ssid!r}: an open network has no password")
        if self.bssid is not None and (len(self.bssid) != 6 or self.bssid[0] & 1):
            raise ConfigError(f"access point {self.ssid!r}: invalid BSSID")
        if self.pmf not in (None, 0, 1, 3):
            raise ConfigError(f"access point {self.ssid!r}: pmf is one of disabled, capable, required")
        if sec.sae and self.pmf == 0:
            raise ConfigError(f"access point {self.ssid!r}: WPA3 needs protected management frames")
        if self.max_connections < 1:
            raise ConfigError(f"access point {self.ssid!r}: max_connections must be positive")
        try:
            ipaddress.IPv4Network(self.subnet, strict=False)
        except ValueError:
            raise ConfigError(f"access point {self.ssid!r}: invalid subnet {self.subnet!r}") from None
        if self.ipv6_prefix is not None:
            try:
                if ipaddress.IPv6Network(self.ipv6_prefix, strict=False).prefixlen != 64:
                    raise ValueError
            except ValueError:
                raise ConfigError(f"access point {self.ssid!r}: ipv6_prefix must be a /64") from None

    @property
    def effective_pmf(self) -> int:
        return self.security.default_pmf if self.pmf is None else self.pmf


_PMF_NAMES = {"disabled": 0, "capable": 1, "required": 3}
_SPEC_KEYS = {
    "ssid",
    "password",
    "security",
    "channel",
    "rssi",
    "bssid",
    "hidden",
    "subnet",
    "wps",
    "max_connections",
    "pmf",
    "position",
    "tx_power",
    "protocol",
    "dns",
    "dhcp",
    "eap_users",
    "ipv6_prefix",
}


def spec_from_table(raw: dict[str, Any], index: int = 0) -> AccessPointSpec:
    """Map one ``[[access_point]]`` table onto an :class:`AccessPointSpec`."""
    from esp_at_sim.world.eap import EapUser

    if not isinstance(raw, dict):
        raise ConfigError(f"[[access_point]] #{index} must be a table")
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise ConfigError(f"[[access_point]] {raw.get('ssid', index)}: unknown keys {', '.join(sorted(unknown))}")
    if "ssid" not in raw:
        raise ConfigError(f"[[access_point]] #{index}: ssid is required")
    password = str(raw.get("password", "")).encode()
    default_sec = "wpa2" if password else "open"
    try:
        security = Security(str(raw.get("security", default_sec)).lower())
    except ValueError:
        names = ", ".join(s.value for s in Security)
        raise ConfigError(f"[[access_point]] {raw['ssid']}: security is one of {names}") from None
    pmf_raw = raw.get("pmf")
    pmf: int | None
    if pmf_raw is None:
        pmf = None
    elif isinstance(pmf_raw, str) and pmf_raw in _PMF_NAMES:
        pmf = _PMF_NAMES[pmf_raw]
    else:
        raise ConfigError(f"[[access_point]] {raw['ssid']}: pmf is one of disabled, capable, required")
    try:
        bssid = parse_mac(raw["bssid"]) if "bssid" in raw else None
    except ValueError as exc:
        raise ConfigError(f"[[access_point]] {raw['ssid']}: {exc}") from None
    pos = raw.get("position")
    position = (float(pos[0]), float(pos[1])) if pos is not None else None
    users = tuple(EapUser.from_table(u) for u in raw.get("eap_users", []))
    return AccessPointSpec(
        ssid=str(raw["ssid"]).encode(),
        password=password,
        security=security,
        channel=int(raw.get("channel", 1)),
        rssi=float(raw["rssi"]) if "rssi" in raw else None,
        bssid=bssid,
        hidden=bool(raw.get("hidden", False)),
        subnet=str(raw.get("subnet", "192.168.1.0/24")),
        wps=bool(raw.get("wps", False)),
        max_connections=int(raw.get("max_connections", 32)),
        pmf=pmf,
        position=position,
        tx_power=float(raw.get("tx_power", 20.0)),
        protocol=int(raw["protocol"]) if "protocol" in raw else None,
        dns=tuple(str(d) for d in raw.get("dns", [])),
        dhcp=bool(raw.get("dhcp", True)),
        eap_users=users,
        ipv6_prefix=str(raw["ipv6_prefix"]) if "ipv6_prefix" in raw else None,
    )


# ------------------------------------------------------------------ the AP model


@dataclass
class Association:
    link: StationLink
    aid: int
    akm: Akm | None = None
    station_ie: bytes = b""
    pmk: bytes = b""
    authenticator: Authenticator | None = None
    authorized: bool = False
    decrypts: bool = True  # False: a WEP station with another key
    ip: str | None = None


@dataclass
class ScanEntry:
    """One AP as a scan sees it."""

    ap: AccessPoint
    rssi: int

    @property
    def ssid(self) -> bytes:
        return self.ap.ssid

    @property
    def bssid(self) -> bytes:
        return self.ap.bssid

    @property
    def channel(self) -> int:
        return self.ap.channel

    @property
    def security(self) -> Security:
        return self.ap.security


class AccessPoint:
    """An access point on the air (a router of the scenario or a module's SoftAP)."""

    def __init__(self, air: WifiAir, spec: AccessPointSpec, bssid: bytes, *, owner: str | None = None) -> None:
        self.air = air
        self.spec = spec
        self.bssid = bssid
        self.owner = owner
        self.ssid = spec.ssid
        self.password = spec.password
        self.security = spec.security
        self.channel = spec.channel
        self.hidden = spec.hidden
        self.pmf = spec.effective_pmf
        self.max_connections = spec.max_connections
        self.rssi_override: float | None = spec.rssi
        self.up = True
        self.beaconing = True
        self.stations: dict[bytes, Association] = {}
        self.observer: ApObserver | None = None
        self.gtk = os.urandom(16)
        self._orphans: list[StationLink] = []  # links lost when the AP went down
        self._sae: dict[bytes, SaePeer] = {}
        net = ipaddress.IPv4Network(spec.subnet, strict=False)
        self.dhcp: DhcpServer | None = DhcpServer.for_subnet(str(net), dns=spec.dns) if spec.dhcp else None
        self.gateway = str(next(net.hosts()))
        self.netmask = str(net.netmask)

    def __repr__(self) -> str:
        return f"<AccessPoint {self.ssid!r} {mac_text(self.bssid)} ch{self.channel}>"

    # ----------------------------------------------------------- properties
    @property
    def band(self) -> str:
        return band_of(self.channel)

    @property
    def protocol(self) -> int:
        if self.spec.protocol is not None:
            return self.spec.protocol
        return 0x64 if self.band == "5" else 0x07  # a/n/ac : b/g/n

    @property
    def on_air(self) -> bool:
        return self.up and self.beaconing

    @property
    def wps_active(self) -> bool:
        """In WPS push-button mode: an AP with ``wps = true`` enrols whoever asks
        (as if its button were pressed when the module starts AT+WPS)."""
        return self.spec.wps and self.on_air

    def _akms(self) -> list[Akm]:
        sec = self.security
        if sec is Security.WPA:
            return [Akm.WPA_PSK]
        if sec in (Security.WPA2, Security.WPA_WPA2):
            return [Akm.PSK]
        if sec is Security.WPA3:
            return [Akm.SAE]
        if sec is Security.WPA2_WPA3:
            return [Akm.SAE, Akm.PSK]
        if sec is Security.WPA2_ENTERPRISE:
            return [Akm.IEEE8021X]
        if sec is Security.WPA3_ENTERPRISE:
            return [Akm.IEEE8021X_SHA256]
        return []

    def rsn_ie(self, akm: Akm) -> bytes:
        """The security element the AP advertises for ``akm``."""
        if akm is Akm.WPA_PSK:
            pairwise: tuple[int, ...] = (2, 4) if self.security is Security.WPA_WPA2 else (2,)
            return rsn_element(akm, pairwise, 2, 0)
        pairwise = (2, 4) if self.security is Security.WPA_WPA2 else (4,)
        group = 2 if self.security is Security.WPA_WPA2 else 4
        return rsn_element(akm, pairwise, group, self.pmf)

    # ------------------------------------------------------- authentication
    def open_auth(self, sta_mac: bytes) -> int:
        """802.11 open-system authentication: a status code."""
        return STATUS_SUCCESS if self.on_air else -1

    def sae_commit(self, sta_mac: bytes, commit: bytes) -> bytes | None:
        """The AP's answer to a station's SAE commit (``None``: no answer)."""
        if not self.on_air or not self.security.sae:
            return None
        peer = SaePeer(self.password, self.bssid, sta_mac)
        try:
            peer.on_commit(commit)
        except SaeError:
            return None
        self._sae[sta_mac] = peer
        return peer.commit_frame()

    def sae_confirm(self, sta_mac: bytes, confirm: bytes) -> bytes | None:
        """Verify the station's confirm; a wrong password gets no confirm back."""
        peer = self._sae.get(sta_mac)
        if peer is None or not self.on_air:
            return None
        try:
            peer.on_confirm(confirm)
        except SaeError:
            del self._sae[sta_mac]
            return None
        return peer.confirm_frame()

    # ----------------------------------------------------------- association
    def associate(
        self, link: StationLink, akm: Akm | None, station_ie: bytes, pmf: int, *, wep_key: bytes = b""
    ) -> int:
        """Association request: a status code (0 = success).

        WEP with open-system authentication cannot tell a wrong key here: the
        association succeeds and the station's frames then fail to decrypt,
        so its DHCP requests go unanswered (a wrong WEP key times out)."""
        if not self.on_air:
            return -1
        if link.mac not in self.stations and len(self.stations) >= self.max_connections:
            return STATUS_TOO_MANY
        if self.pmf & 2 and not pmf & 1:
            return STATUS_ROBUST_POLICY
        if pmf & 2 and not self.pmf & 1:
            return STATUS_ROBUST_POLICY
        akms = self._akms()
        if akms and akm not in akms:
            return STATUS_INVALID_AKMP
        if akm is Akm.SAE and (link.mac not in self._sae or not self._sae[link.mac].pmk):
            return STATUS_INVALID_AKMP
        old = self.stations.pop(link.mac, None)
        if old is not None:
            self._forget(old, notify=True)
        aid = 1
        used = {a.aid for a in self.stations.values()}
        while aid in used:
            aid += 1
        assoc = Association(link, aid, akm, station_ie)
        if akm is Akm.SAE:
            assoc.pmk = self._sae.pop(link.mac).pmk
        elif akm in (Akm.PSK, Akm.WPA_PSK):
            assoc.pmk = psk_pmk(self.password, self.ssid)
        elif akm is None:
            assoc.authorized = True
            assoc.decrypts = self.security is not Security.WEP or wep_key == self.password
        self.stations[link.mac] = assoc
        if assoc.authorized:
            self._joined(link.mac)
        return STATUS_SUCCESS

    def eap_authenticate(self, sta_mac: bytes, creds: EapCredentials) -> bytes | int:
        """802.1X: run the EAP method. On success both ends hold the same PMK
        (from the method's MSK) and the 4-way handshake follows; otherwise a
        reason code."""
        from esp_at_sim.world.eap import authenticate

        assoc = self.stations.get(sta_mac)
        if assoc is None or not self.security.enterprise or not self.on_air:
            return REASON_NOT_ASSOCED
        result = authenticate(self, creds)
        if isinstance(result, bytes):
            assoc.pmk = result
        return result

    def eapol_m1(self, sta_mac: bytes) -> bytes | None:
        assoc = self.stations.get(sta_mac)
        if assoc is None or assoc.akm is None or not assoc.pmk or not self.on_air:
            return None
        if assoc.authenticator is None:
            assoc.authenticator = Authenticator(
                assoc.pmk,
                self.bssid,
                sta_mac,
                assoc.akm,
                beacon_ie=self.rsn_ie(assoc.akm),
                station_ie=assoc.station_ie,
                gtk=self.gtk,
            )
        return assoc.authenticator.message_1()

    def eapol_m2(self, sta_mac: bytes, frame: bytes) -> bytes | None:
        """M2 in, M3 out; a bad MIC (wrong passphrase) is silently dropped."""
        assoc = self.stations.get(sta_mac)
        if assoc is None or assoc.authenticator is None or not self.on_air:
            return None
        try:
            return assoc.authenticator.on_message_2(frame)
        except HandshakeError:
            return None

    def eapol_m4(self, sta_mac: bytes, frame: bytes) -> bool:
        assoc = self.stations.get(sta_mac)
        if assoc is None or assoc.authenticator is None or not self.on_air:
            return False
        try:
            assoc.authenticator.on_message_4(frame)
        except HandshakeError:
            return False
        assoc.authorized = True
        self._joined(sta_mac)
        return True

    def handshake_failed(self, sta_mac: bytes) -> None:
        """The AP gives up on a station whose handshake did not complete (deauth 15)."""
        assoc = self.stations.pop(sta_mac, None)
        if assoc is not None:
            self._forget(assoc, notify=False)

    # ------------------------------------------------------------------ DHCP
    def dhcp_request(self, sta_mac: bytes, hostname: str) -> DhcpOffer | None:
        assoc = self.stations.get(sta_mac)
        if assoc is None or not assoc.authorized or not assoc.decrypts or self.dhcp is None or not self.on_air:
            return None
        from esp_at_sim.world.net import fabric_of

        # addresses other modules hold are skipped: the world's IP fabric is flat
        link = assoc.link
        in_use = {
            ip
            for ip, netif in fabric_of(self.air.world).addresses.items()
            if getattr(netif.module, "name", None) != link.name
        }
        offer = self.dhcp.request(sta_mac, hostname, self.air.world.clock.now(), avoid=in_use)
        if offer is not None:
            assoc.ip = offer.lease.ip
            if self.observer is not None:
                self.observer.address_leased(sta_mac, offer.lease.ip)
        return offer

    # --------------------------------------------------------------- leaving
    def leave(self, sta_mac: bytes) -> None:
        """The station deauthenticates itself (AT+CWQAP, mode change, reset)."""
        assoc = self.stations.pop(sta_mac, None)
        self._sae.pop(sta_mac, None)
        if assoc is not None:
            self._forget(assoc, notify=True)

    def deauth(self, sta_mac: bytes | None = None, reason: int = REASON_AUTH_LEAVE) -> int:
        """The AP throws out one station (or all); returns how many left."""
        victims = [m for m in self.stations if sta_mac is None or m == sta_mac]
        for mac in victims:
            assoc = self.stations.pop(mac)
            self._forget(assoc, notify=True)
            assoc.link.on_deauth(reason)
        return len(victims)

    def _joined(self, mac: bytes) -> None:
        if self.observer is not None:
            self.observer.station_joined(mac)

    def _forget(self, assoc: Association, *, notify: bool) -> None:
        if self.dhcp is not None:
            self.dhcp.release(assoc.link.mac)
        if notify and assoc.authorized and self.observer is not None:
            self.observer.station_left(assoc.link.mac)

    # ---------------------------------------------------------------- power
    def power_off(self) -> None:
        """The AP disappears: no beacons, no answers; stations notice by beacon loss."""
        if not self.up:
            return
        self.up = False
        links = [a.link for a in self.stations.values()]
        for assoc in list(self.stations.values()):
            self._forget(assoc, notify=True)
        self.stations.clear()
        self._sae.clear()
        self._orphans = links
        for link in links:
            link.on_beacons(False)

    def power_on(self) -> None:
        """Back on the air. Stations that had not yet noticed the outage get
        a deauthentication (class 3 frame from a non-associated station)."""
        if self.up:
            return
        self.up = True
        orphans, self._orphans = self._orphans, []
        for link in orphans:
            link.on_deauth(REASON_NOT_ASSOCED)

    def set_beacons(self, on: bool) -> None:
        if self.beaconing == on:
            return
        self.beaconing = on
        for assoc in list(self.stations.values()):
            assoc.link.on_beacons(on and self.air.rssi(self, assoc.link.name) is not None)

    def change_password(self, password: bytes, *, kick: bool = True) -> None:
        if self.security.personal and not 8 <= len(password) <= 64:
            raise ConfigError("a WPA password has 8..64 characters")
        self.password = password
        if kick:
            self.deauth(None, REASON_AUTH_LEAVE)


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
