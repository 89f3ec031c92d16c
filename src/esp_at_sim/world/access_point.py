"""Access points: what one AP does with the stations that talk to it.

Theory of operation
-------------------
An :class:`AccessPoint` is built from an :class:`AccessPointSpec` (a
scenario's ``[[access_point]]`` table or a module's SoftAP configuration)
and lives on the :class:`~esp_at_sim.world.wifi.WifiAir`. A station talks
to it frame exchange by frame exchange:

* ``open_auth`` / ``sae_commit`` + ``sae_confirm`` (802.11 authentication;
  SAE is a real password-authenticated exchange, ``world/sae.py``);
* ``associate`` (capacity, security and PMF compatibility);
* ``eapol_m1`` / ``eapol_m2`` / ``eapol_m4`` (the 4-way handshake with real
  MIC checks, ``world/wpa.py``) or ``eap_authenticate`` for Enterprise;
* ``dhcp_request`` (``world/dhcp.py``) and ``leave``.

The AP calls back into the station through the :class:`StationLink` it got
at association: deauthentication, beacons stopping and coming back. An AP
owned by a module (SoftAP) reports station arrivals, leases and departures
to its owner through :class:`ApObserver`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.dhcp import DhcpOffer, DhcpServer
from esp_at_sim.world.sae import SaeError, SaePeer
from esp_at_sim.world.wifi_radio import Security, band_of, valid_channel
from esp_at_sim.world.wpa import Akm, Authenticator, HandshakeError, psk_pmk, rsn_element

if TYPE_CHECKING:
    from esp_at_sim.world.eap import EapCredentials, EapUser
    from esp_at_sim.world.wifi import WifiAir

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
    auth_failure_told: bool = False  # the observer heard of this association's bad MIC


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
        return STATUS_SUCCESS if self.on_air and not self._refused(sta_mac) else -1

    def _refused(self, sta_mac: bytes) -> bool:
        """The owner shuts this station out (``station_refused`` of the observer, optional)."""
        check = getattr(self.observer, "station_refused", None)
        return bool(check is not None and check(sta_mac))

    def _auth_failed(self, sta_mac: bytes) -> None:
        """A wrong passphrase (``station_auth_failed`` of the observer, optional)."""
        tell = getattr(self.observer, "station_auth_failed", None)
        if tell is not None:
            tell(sta_mac)

    def sae_commit(self, sta_mac: bytes, commit: bytes) -> bytes | None:
        """The AP's answer to a station's SAE commit (``None``: no answer)."""
        if not self.on_air or not self.security.sae or self._refused(sta_mac):
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
            self._auth_failed(sta_mac)
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
        if not self.on_air or self._refused(link.mac):
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
            if not assoc.auth_failure_told:  # the station retries M2: one failure per attempt
                assoc.auth_failure_told = True
                self._auth_failed(sta_mac)
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
