"""The module's Wi-Fi: mode, station and SoftAP, without any AT.

Theory of operation
-------------------
:class:`WifiService` (``module.service(WifiService)``, one per boot) owns the
Wi-Fi mode, a :class:`Station` and a :class:`~esp_at_sim.services.softap.SoftAp`.
It reports what happens as events (:class:`Connected`, :class:`GotIp`,
:class:`Disconnected`, :class:`StationJoined`...) to its listeners;
``commands/wifi.py`` turns them into ``WIFI CONNECTED``, ``+STA_CONNECTED:``
and the rest.

The station joins the way the firmware's supplicant does, every step
taking simulated time on the module's clock:

1. **scan** - probe the allowed channels (country, band mode) for the SSID,
   120 ms per channel; a fast scan stops at the first match, an
   all-channel scan picks the strongest (or the given BSSID);
2. **authenticate** - open system, or SAE commit/confirm for WPA3;
3. **associate** - the AP checks capacity, AKM and PMF;
4. **4-way handshake** (PSK, SAE, 802.1X after EAP) with real key
   derivation and MIC checks; with a wrong passphrase the AP never answers
   M2 and, after its M1 retries, deauthenticates with reason 15;
5. **DHCP** - the station's address, or the static one of AT+CIPSTA.

A failure ends in a reason code (802.11 / ESP-IDF numbering) that AT+CWJAP
maps to ``+CWJAP:<code>``. Once connected, the station watches the link: a
deauthentication, or beacons missing for ``sta_inactive_time`` (AT+CWCONFIG,
default 6 s), disconnects it (``Disconnected``), after which it reconnects
every ``interval_second`` up to ``repeat_count`` times (AT+CWRECONNCFG),
logging ``wifi reconnect..(i/n)`` on the chip's log port.

Addresses go to :class:`~esp_at_sim.services.netif.NetIf` (``up("sta", ...)``
on ``GotIp``, ``down("sta")`` when the link is lost) so that TCP/IP and the
application protocols see the network come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.services.wifi_config import NS, StationConfig, interface_mac
from esp_at_sim.world.radio.coex import set_wifi_active, wifi_share
from esp_at_sim.world.sae import SaeError, SaePeer
from esp_at_sim.world.wifi import (
    REASON_4WAY_TIMEOUT,
    REASON_802_1X_AUTH_FAILED,
    REASON_ASSOC_FAIL,
    REASON_ASSOC_LEAVE,
    REASON_ASSOC_TOOMANY,
    REASON_AUTH_FAIL,
    REASON_AUTH_LEAVE,
    REASON_BEACON_TIMEOUT,
    REASON_NO_AP_COMPATIBLE_SECURITY,
    REASON_NO_AP_FOUND,
    REASON_NO_AP_IN_AUTHMODE_THRESHOLD,
    STATUS_SUCCESS,
    STATUS_TOO_MANY,
    AccessPoint,
    ScanEntry,
    WifiAir,
    link_local,
    mac_text,
)
from esp_at_sim.world.wifi_radio import ACTIVE_DWELL, AUTH_RANK, CHANNELS_5, Security, best_rank, seeded_random
from esp_at_sim.world.wpa import Akm, HandshakeError, Supplicant, psk_pmk

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.services.softap import SoftAp
    from esp_at_sim.world.eap import EapCredentials

# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class Connected:
    ssid: bytes
    bssid: bytes
    channel: int


@dataclass(frozen=True)
class GotIp:
    ip: str
    gateway: str
    netmask: str


@dataclass(frozen=True)
class GotIpv6:
    ip: str
    scope: str  # "ll" (link-local) or "gl" (global)


@dataclass(frozen=True)
class Disconnected:
    reason: int
    was_connected: bool


@dataclass(frozen=True)
class StationJoined:
    mac: bytes


@dataclass(frozen=True)
class StationLeased:
    mac: bytes
    ip: str


@dataclass(frozen=True)
class StationLeft:
    mac: bytes


WifiEvent = Connected | GotIp | GotIpv6 | Disconnected | StationJoined | StationLeased | StationLeft
Listener = Callable[[WifiEvent], None]


class StaState(IntEnum):
    """AT+CWSTATE's ``<state>``."""

    IDLE = 0
    CONNECTED = 1
    GOT_IP = 2
    CONNECTING = 3
    DISCONNECTED = 4


MODE_NULL, MODE_STA, MODE_AP, MODE_APSTA = 0, 1, 2, 3
#: what the Wi-Fi driver holds (buffers, tasks); AT+CWINIT=0 gives it back to the heap
DRIVER_HEAP = 52 * 1024
#: between two tries of a failing join under the ``cwjap_full_timeout`` quirk
RETRY_PAUSE = 1.0


def jap_error(reason: int) -> int:
    """``+CWJAP:<code>`` for a disconnect reason: 2 wrong password, 3 no AP, 4 failed."""
    if reason in (REASON_NO_AP_FOUND, REASON_NO_AP_COMPATIBLE_SECURITY, REASON_NO_AP_IN_AUTHMODE_THRESHOLD):
        return 3
    if reason in (REASON_4WAY_TIMEOUT, REASON_AUTH_FAIL, 14, 204, REASON_802_1X_AUTH_FAILED):
        return 2
    return 4


class JoinTimeout(Exception):
    pass


# ------------------------------------------------------------------ station


class Station:
    """The station interface: scanning, joining, keeping and losing the link."""

    M1_RETRIES = 4  # the AP sends M1 this many times before giving up (hostapd)
    M1_TIMEOUT = 1.0

    def __init__(self, wifi: WifiService) -> None:
        self.wifi = wifi
        self.module = wifi.module
        self.name = self.module.name
        self.state = StaState.IDLE
        self.ap: AccessPoint | None = None
        self.target_ssid: bytes = b""
        self.ip: IpConfig | None = None
        self.hostname = "espressif"
        self._job: asyncio.Task[Any] | None = None  # a reconnect loop
        self._dhcp: asyncio.Task[Any] | None = None
        self._watch: asyncio.Task[Any] | None = None
        self._ra: asyncio.Task[Any] | None = None
        self._got_ip = asyncio.Event()
        self._attempts = 0
        self.last_reason = 0
        self.joining = 0  # a join is under way: the radio cannot scan for the host meanwhile

    # ---------------------------------------------------------- properties
    @property
    def mac(self) -> bytes:
        return interface_mac(self.module, "sta")

    @property
    def connected(self) -> bool:
        return self.ap is not None

    def config(self) -> StationConfig:
        return StationConfig.from_json(self.module.settings.get(NS, "sta"))

    def rssi(self) -> int:
        if self.ap is None:
            return 0
        value = self.wifi.air.rssi(self.ap, self.name)
        return value if value is not None else -100

    def _rng(self) -> Any:
        self._attempts += 1
        return seeded_random(self.module.world.seed, "join", self.name, self.module.boot_count, self._attempts)

    # ------------------------------------------------------------- scanning
    def allowed_channels(self) -> list[int]:
        """Channels the country and band mode let the station use, in sweep order."""
        country = self.wifi.country()
        start, count = country["start"], country["count"]
        chans = [c for c in range(start, start + count) if 1 <= c <= 14]
        if "5" in self.module.profile.bands:
            mode = self.wifi.band_mode()
            bitmap = country.get("bitmap5", (1 << len(CHANNELS_5)) - 1)
            five = [c for i, c in enumerate(CHANNELS_5) if bitmap >> i & 1]
            if mode == 2:
                chans = five
            elif mode == 3:
                chans = chans + five
        return chans

    async def scan(
        self,
        *,
        ssid: bytes | None = None,
        bssid: bytes | None = None,
        channels: list[int] | None = None,
        dwell: float = ACTIVE_DWELL,
        stop_at_first: bool = False,
    ) -> list[ScanEntry]:
        """Sweep ``channels`` (default: all allowed), taking ``dwell`` per channel."""
        sweep = channels if channels is not None else self.allowed_channels()
        if not sweep:
            return []
        found = self.wifi.air.scan(self.name, set(sweep), ssid=ssid, bssid=bssid)
        # one radio: while Bluetooth is on the air too, each channel takes longer
        set_wifi_active(self.module, True)
        dwell /= max(0.1, wifi_share(self.module))
        try:
            if stop_at_first and found:
                first = min(sweep.index(e.channel) for e in found)
                await self.module.clock.sleep(dwell * (first + 1))
                return [e for e in found if sweep.index(e.channel) == first]
            await self.module.clock.sleep(dwell * len(sweep))
            return found
        finally:
            set_wifi_active(self.module, False)

    # ------------------------------------------------------------ the join
    async def connect(self, cfg: StationConfig, timeout: float, *, eap: EapCredentials | None = None) -> int:
        """Host-requested join (AT+CWJAP): 0 when the station got an address,
        otherwise the ``+CWJAP`` error code (1 timeout, 2, 3, 4)."""
        self.cancel_reconnect()
        if self.connected:
            self.drop(REASON_ASSOC_LEAVE, by_host=True)
        self.target_ssid = cfg.ssid
        self.state = StaState.CONNECTING
        self._got_ip.clear()
        loop = asyncio.get_running_loop()
        deadline = self.module.clock.now() + timeout
        attempt = loop.create_task(self._attempt(cfg, eap))
        try:
            reason = await self.module.clock.wait_for(asyncio.shield(attempt), timeout)
        except TimeoutError:
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await attempt
            if not self.connected:
                self.state = StaState.DISCONNECTED
            return 1
        except asyncio.CancelledError:
            attempt.cancel()
            raise
        while reason and "cwjap_full_timeout" in self.module.quirks:
            # the firmware quirk: a failing join is retried until the timeout runs out
            # and only then answered, with the last attempt's reason
            remaining = deadline - self.module.clock.now() - RETRY_PAUSE
            if remaining <= 0:
                break
            self.module.chip_log(f"at-wifi: join failed (reason {reason}), retrying")
            await self.module.clock.sleep(RETRY_PAUSE)
            again = loop.create_task(self._attempt(cfg, eap))
            try:
                reason = await self.module.clock.wait_for(asyncio.shield(again), remaining)
            except TimeoutError:
                again.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await again
                break
            except asyncio.CancelledError:
                again.cancel()
                raise
        if reason:
            self.state = StaState.DISCONNECTED
            return jap_error(reason)
        remaining = deadline - self.module.clock.now()
        try:
            await self.module.clock.wait_for(self._got_ip.wait(), max(0.0, remaining))
        except TimeoutError:
            # associated but no address: DHCP keeps trying in the background,
            # and "WIFI GOT IP" still comes when a server answers
            return 1
        return 0

    async def _attempt(self, cfg: StationConfig, eap: EapCredentials | None = None) -> int:
        """One join: scan, auth, assoc, keys. 0 on success, else a reason code."""
        self.joining += 1
        try:
            return await self._join_steps(cfg, eap)
        finally:
            self.joining -= 1

    async def _join_steps(self, cfg: StationConfig, eap: EapCredentials | None) -> int:
        rng = self._rng()
        clock = self.module.clock
        self.module.vars["wifi_sta_started"] = True
        chans = self.allowed_channels()
        min_rssi = -127
        if cfg.eap:
            # AT+CWJEAP: an RSSI threshold, and the channel the sweep starts at
            min_rssi = int(cfg.eap.get("rssi", -127))
            first = int(cfg.eap.get("channel", 0))
            if first in chans:
                at = chans.index(first)
                chans = chans[at:] + chans[:at]
        entries = await self.scan(ssid=cfg.ssid, bssid=cfg.bssid, channels=chans, stop_at_first=cfg.scan_mode == 0)
        entries = [e for e in entries if e.rssi >= min_rssi]
        if not entries:
            return self._fail(REASON_NO_AP_FOUND)
        threshold = 2 if cfg.pci_en and self.module.generation <= 3 else cfg.authmode
        usable = [
            e
            for e in entries
            if best_rank(e.security, pmf_ok=bool(cfg.pmf)) >= AUTH_RANK.get(threshold, 0)
            and (e.security.enterprise == (eap is not None))
        ]
        if not usable:
            return self._fail(REASON_NO_AP_IN_AUTHMODE_THRESHOLD)
        compatible = [e for e in usable if self._akm_for(e.ap, cfg)[0]]
        if not compatible:
            return self._fail(REASON_NO_AP_COMPATIBLE_SECURITY)
        entry = max(compatible, key=lambda e: e.rssi) if cfg.scan_mode == 1 else compatible[0]
        ap = entry.ap
        akm = self._akm_for(ap, cfg)[1]
        # -- authentication
        await clock.sleep(rng.uniform(0.004, 0.015))
        sae_pmk = b""
        if akm is Akm.SAE:
            outcome = await self._sae(ap, cfg, rng)
            if isinstance(outcome, int):
                return self._fail(outcome)
            sae_pmk = outcome
        elif ap.open_auth(self.mac) != STATUS_SUCCESS:
            return self._fail(REASON_AUTH_FAIL)
        # -- association
        await clock.sleep(rng.uniform(0.004, 0.02))
        own_ie = ap.rsn_ie(akm) if akm is not None else b""
        status = ap.associate(self, akm, own_ie, cfg.pmf, wep_key=cfg.password)
        if status == STATUS_TOO_MANY:
            return self._fail(REASON_ASSOC_TOOMANY)
        if status != STATUS_SUCCESS:
            return self._fail(REASON_ASSOC_FAIL if status >= 0 else REASON_NO_AP_FOUND)
        # -- 802.1X and the 4-way handshake; the link counts only once they are done
        try:
            reason = await self._keys(ap, akm, cfg, eap, sae_pmk, own_ie, rng)
        except BaseException:
            ap.handshake_failed(self.mac)  # cancelled (timeout): the AP forgets the half-open link
            raise
        if reason:
            ap.handshake_failed(self.mac)
            return self._fail(reason)
        # -- connected
        self.ap = ap
        self.state = StaState.CONNECTED
        self.last_reason = 0
        self.wifi.emit(Connected(ap.ssid, ap.bssid, ap.channel))
        self.wifi.station_channel(ap.channel)
        if self.ap is ap:
            self._start_ip()
        return 0

    async def _keys(
        self,
        ap: AccessPoint,
        akm: Akm | None,
        cfg: StationConfig,
        eap: EapCredentials | None,
        sae_pmk: bytes,
        own_ie: bytes,
        rng: Any,
    ) -> int:
        if akm is None:
            return 0
        pmk = sae_pmk
        if eap is not None:
            await self.module.clock.sleep(rng.uniform(0.25, 0.6))  # the TLS tunnel takes a while
            result = ap.eap_authenticate(self.mac, eap)
            if isinstance(result, int):
                return REASON_802_1X_AUTH_FAILED
            pmk = result
        elif akm in (Akm.PSK, Akm.WPA_PSK):
            pmk = psk_pmk(cfg.password, ap.ssid)
        return await self._four_way(ap, akm, pmk, own_ie, rng)

    def _fail(self, reason: int) -> int:
        self.last_reason = reason
        self.module.chip_log(f"I ({int(self.module.uptime * 1000)}) at-wifi: wifi disconnected, rc:{reason}")
        return reason

    def _akm_for(self, ap: AccessPoint, cfg: StationConfig) -> tuple[bool, Akm | None]:
        """Whether the station can join ``ap`` and with which AKM (None: open/WEP).

        PMF decides WPA3: SAE needs protected management frames, so a station
        with ``<pmf>`` 0 cannot join a WPA3-only AP and uses WPA2 on a
        transition AP; ``<pmf>`` "required" refuses an AP without PMF."""
        sec = ap.security
        if cfg.pmf & 2 and not ap.pmf & 1:
            return False, None
        if sec in (Security.OPEN, Security.WEP):
            return sec is Security.OPEN or len(cfg.password) in (5, 10, 13, 26), None
        if sec is Security.WPA3:
            return bool(cfg.pmf), Akm.SAE
        if sec is Security.WPA2_WPA3:
            return True, Akm.SAE if cfg.pmf else Akm.PSK
        if sec is Security.WPA:
            return True, Akm.WPA_PSK
        if sec in (Security.WPA2, Security.WPA_WPA2):
            return True, Akm.PSK
        if sec is Security.WPA2_ENTERPRISE:
            return True, Akm.IEEE8021X
        return bool(cfg.pmf), Akm.IEEE8021X_SHA256

    async def _sae(self, ap: AccessPoint, cfg: StationConfig, rng: Any) -> bytes | int:
        """SAE commit/confirm: the PMK, or a reason code. The AP stays silent to
        a confirm that does not verify (another password)."""
        clock = self.module.clock
        for _ in range(3):  # the supplicant retransmits its commit/confirm
            peer = SaePeer(cfg.password, self.mac, ap.bssid)
            await clock.sleep(rng.uniform(0.06, 0.12))  # ECC on the chip is slow
            reply = ap.sae_commit(self.mac, peer.commit_frame())
            if reply is None:
                await clock.sleep(1.0)
                continue
            try:
                peer.on_commit(reply)
            except SaeError:
                continue
            await clock.sleep(rng.uniform(0.03, 0.06))
            confirm = ap.sae_confirm(self.mac, peer.confirm_frame())
            if confirm is None:
                await clock.sleep(1.0)
                continue
            try:
                peer.on_confirm(confirm)
            except SaeError:
                continue
            return peer.pmk
        return REASON_AUTH_FAIL

    async def _four_way(self, ap: AccessPoint, akm: Akm, pmk: bytes, own_ie: bytes, rng: Any) -> int:
        clock = self.module.clock
        sup = Supplicant(pmk, ap.bssid, self.mac, akm, own_ie=own_ie, beacon_ie=ap.rsn_ie(akm))
        for _ in range(self.M1_RETRIES):
            m1 = ap.eapol_m1(self.mac)
            if m1 is None:
                return REASON_4WAY_TIMEOUT
            await clock.sleep(rng.uniform(0.003, 0.01))
            try:
                m2 = sup.on_message_1(m1)
            except HandshakeError:
                return REASON_4WAY_TIMEOUT
            m3 = ap.eapol_m2(self.mac, m2)
            if m3 is None:
                await clock.sleep(self.M1_TIMEOUT)  # the AP drops M2 and retries M1 later
                continue
            await clock.sleep(rng.uniform(0.003, 0.01))
            try:
                m4 = sup.on_message_3(m3)
            except HandshakeError:
                return REASON_4WAY_TIMEOUT
            if not ap.eapol_m4(self.mac, m4):
                return REASON_4WAY_TIMEOUT
            return 0
        return REASON_4WAY_TIMEOUT

    # ------------------------------------------------------------ addresses
    def _start_ip(self) -> None:
        if self._dhcp is not None:
            self._dhcp.cancel()
        self._dhcp = self.module.scope.spawn(self._acquire_ip(), name=f"{self.name}-dhcp")

    async def _acquire_ip(self) -> None:
        wifi = self.wifi
        if not wifi.dhcp_bits() & 1:
            static = wifi.static_ip()
            if static is None:
                self.module.chip_log("at-wifi: dhcp disable and no static ip!")
                return
            self._set_ip(static, dns=())
            return
        rng = self._rng()
        backoff = 4.0
        await self.module.clock.sleep(rng.uniform(0.15, 1.0))  # DISCOVER..ACK with a home router
        while self.ap is not None:
            offer = self.ap.dhcp_request(self.mac, self.hostname)
            if offer is not None:
                self._set_ip(IpConfig(offer.lease.ip, offer.gateway, offer.netmask), dns=offer.dns)
                return
            # DISCOVER unanswered: retransmit with exponential backoff (RFC 2131 4.1)
            await self.module.clock.sleep(backoff + rng.uniform(-1.0, 1.0))
            backoff = min(backoff * 2, 64.0)

    def _set_ip(self, cfg: IpConfig, dns: tuple[str, ...]) -> None:
        self.ip = cfg
        netif = self.module.service(NetIf)
        if dns and not netif.dns_servers:
            netif.dns_servers = list(dns)
        netif.up("sta", cfg)
        self.state = StaState.GOT_IP
        self._got_ip.set()
        self.wifi.emit(GotIp(cfg.ip, cfg.gateway, cfg.netmask))
        if self.wifi.ipv6_enabled():
            # the link-local address is formed locally at once; a global one
            # follows the AP's router advertisement, if it sends any
            netif.clear_ipv6("sta")
            ll = netif.add_ipv6("sta", link_local(self.mac))
            self.wifi.emit(GotIpv6(ll, "ll"))
            if self.ap is not None and self.ap.spec.ipv6_prefix:
                self._ra = self.module.scope.spawn(self._router_advert(self.ap), name=f"{self.name}-ra")

    async def _router_advert(self, ap: AccessPoint) -> None:
        await self.module.clock.sleep(self._rng().uniform(0.2, 1.5))
        if self.ap is not ap or ap.spec.ipv6_prefix is None:
            return
        gl = self.module.service(NetIf).add_ipv6("sta", link_local(self.mac, ap.spec.ipv6_prefix))
        self.wifi.emit(GotIpv6(gl, "gl"))

    def apply_static_ip(self) -> None:
        """AT+CIPSTA while connected: the new address applies at once."""
        static = self.wifi.static_ip()
        if self.ap is not None and static is not None:
            self.ip = static
            self.module.service(NetIf).up("sta", static)

    # -------------------------------------------------------------- the link
    # StationLink: what the AP calls
    def on_deauth(self, reason: int) -> None:
        if self.ap is not None:
            self._lost(reason)

    def on_beacons(self, present: bool) -> None:
        if present:
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            return
        if self._watch is None or self._watch.done():
            self._watch = self.module.scope.spawn(self._beacon_timeout(), name=f"{self.name}-beacons")

    async def _beacon_timeout(self) -> None:
        await self.module.clock.sleep(self.wifi.inactive_times()[1])
        self._watch = None
        if self.ap is not None:
            self.ap.leave(self.mac)
            self._lost(REASON_BEACON_TIMEOUT)

    def _lost(self, reason: int) -> None:
        """Passive disconnection: report it and start reconnecting."""
        self._clear_link()
        self._fail(reason)
        self.state = StaState.DISCONNECTED
        self.wifi.emit(Disconnected(reason, was_connected=True))
        self.start_reconnect()

    def _clear_link(self) -> None:
        self.ap = None
        self.ip = None
        self._got_ip.clear()
        for task in (self._dhcp, self._watch, self._ra):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._dhcp = self._watch = self._ra = None
        netif = self.module.service(NetIf)
        netif.clear_ipv6("sta")
        netif.down("sta")

    def drop(self, reason: int = REASON_AUTH_LEAVE, *, by_host: bool = True) -> bool:
        """Leave the AP (AT+CWQAP, mode change, new AT+CWJAP). True if it was connected."""
        ap = self.ap
        if ap is None:
            return False
        ap.leave(self.mac)
        self._clear_link()
        self.state = StaState.DISCONNECTED
        self.wifi.emit(Disconnected(reason, was_connected=True))
        return True

    def quit(self) -> None:
        """AT+CWQAP: disconnect and stop any reconnection."""
        self.cancel_reconnect()
        was = self.drop(REASON_ASSOC_LEAVE)
        if not was and self.state is not StaState.IDLE:
            self.state = StaState.DISCONNECTED

    def shutdown(self) -> None:
        """The station interface goes away (mode without station, reboot)."""
        self.cancel_reconnect()
        self.drop(REASON_ASSOC_LEAVE)
        self.state = StaState.IDLE

    # ------------------------------------------------------------- reconnect
    def cancel_reconnect(self) -> None:
        if self._job is not None and self._job is not asyncio.current_task():
            self._job.cancel()
        self._job = None

    def start_reconnect(self, *, immediately: bool = False) -> None:
        """Reconnect per AT+CWRECONNCFG (also the power-on auto-connect)."""
        interval, _count = self.wifi.reconnect_config()
        cfg = self.config()
        if not cfg.ssid or (interval == 0 and not immediately):
            return
        self.cancel_reconnect()
        self.target_ssid = cfg.ssid
        self.state = StaState.CONNECTING
        self._job = self.module.scope.spawn(self._reconnect_loop(immediately), name=f"{self.name}-reconnect")

    async def _reconnect_loop(self, immediately: bool) -> None:
        interval, count = self.wifi.reconnect_config()
        cfg = self.config()
        attempt = 0
        if immediately:
            if await self._attempt(cfg) == 0:
                self._job = None
                return
            if interval == 0:
                self.state = StaState.DISCONNECTED
                self._job = None
                return
        while count == 0 or attempt < count:
            await self.module.clock.sleep(interval)
            attempt += 1
            self.module.chip_log(f"I ({int(self.module.uptime * 1000)}) at-wifi: wifi reconnect..({attempt}/{count})")
            if await self._attempt(cfg) == 0:
                self._job = None
                return
        self.state = StaState.DISCONNECTED
        self._job = None

    @property
    def reconnecting(self) -> bool:
        return self._job is not None and not self._job.done()


# ------------------------------------------------------------------ service


class WifiService:
    """Per-boot Wi-Fi of one module: ``module.service(WifiService)``."""

    def __init__(self, module: Module) -> None:
        from esp_at_sim.services.softap import SoftAp

        self.module = module
        self.air = module.world.extension(WifiAir)
        self.inited = True
        self._listeners: list[Listener] = []
        self.sta = Station(self)
        self.softap: SoftAp = SoftAp(self)
        self.publish_macs()
        module.scope.on_close(self._shutdown)

    def publish_macs(self) -> None:
        """Tell the network interfaces which MACs the Wi-Fi uses (AT+CIFSR...)."""
        macs = self.module.service(NetIf).macs
        macs["sta"] = mac_text(self.sta.mac)
        macs["ap"] = mac_text(self.softap.mac)

    # ------------------------------------------------------------ listening
    def listen(self, fn: Listener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def emit(self, event: WifiEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:
                self.module.log.exception("wifi listener failed")
        self.module.notify("wifi", kind=type(event).__name__, detail=event)

    # -------------------------------------------------------------- settings
    @property
    def mode(self) -> int:
        return int(self.module.settings.get(NS, "mode", MODE_STA))

    @property
    def sta_enabled(self) -> bool:
        return self.inited and bool(self.mode & MODE_STA)

    @property
    def ap_enabled(self) -> bool:
        return self.inited and bool(self.mode & MODE_AP)

    def reconnect_config(self) -> tuple[int, int]:
        value = self.module.settings.get(NS, "reconn", [0, 0])
        return int(value[0]), int(value[1])

    def autoconnect(self) -> bool:
        return bool(self.module.settings.get(NS, "autoconn", 1))

    def dhcp_bits(self) -> int:
        default = 0b111 if self.module.has_group("eth") else 0b011
        return int(self.module.settings.get(NS, "dhcp", default))

    def ipv6_enabled(self) -> bool:
        """AT+CIPV6=1 (the TCP/IP chapter's setting)."""
        return bool(self.module.settings.get("tcpip", "ipv6", 0))

    def static_ip(self) -> IpConfig | None:
        value = self.module.settings.get(NS, "sta_ip")
        return IpConfig(*value) if value else None

    def inactive_times(self) -> tuple[int, int, int]:
        value = self.module.settings.get(NS, "config", [300, 6, 3])
        return int(value[0]), int(value[1]), int(value[2])

    def band_mode(self) -> int:
        return int(self.module.settings.get(NS, "bandmode", 3))

    def country(self) -> dict[str, Any]:
        """The country in effect (AT+CWCOUNTRY, RAM only; factory params at boot)."""
        current: dict[str, Any] | None = self.module.vars.get("wifi.country")
        if current is None:
            mfg = self.module.nvs.mfg
            fp = self.module.factory
            current = {
                "policy": 1,
                "code": mfg.get("factory_param", "country_code", fp.country_code),
                "start": int(mfg.get("factory_param", "start_channel", fp.start_channel)),
                "count": int(mfg.get("factory_param", "channel_num", fp.channel_num)),
            }
            self.module.vars["wifi.country"] = current
        return current

    # ------------------------------------------------------------------ mode
    def set_mode(self, mode: int, *, auto_connect: bool, persist: bool) -> None:
        old = self.mode
        self.module.settings.set(NS, "mode", mode, persist=persist)
        self.apply_mode(old, mode, auto_connect=auto_connect)

    def apply_mode(self, old: int, new: int, *, auto_connect: bool) -> None:
        if old & MODE_STA and not new & MODE_STA:
            self.sta.shutdown()
        if old & MODE_AP and not new & MODE_AP:
            self.softap.stop()
        if new & MODE_AP and not old & MODE_AP:
            self.softap.start()
        if new & MODE_STA and not old & MODE_STA and auto_connect and self.stored_station_config():
            self.sta.start_reconnect(immediately=True)

    def stored_station_config(self) -> bool:
        """Whether a station configuration is saved in flash (auto-connect needs one)."""
        stored = self.module.settings.stored(NS, "sta")
        return bool(stored and stored.get("ssid"))

    def station_channel(self, channel: int) -> None:
        """One radio: in station+SoftAP mode the SoftAP follows the station's channel."""
        if self.softap.ap is not None and self.softap.ap.channel != channel:
            self.softap.ap.channel = channel

    # ------------------------------------------------------------- lifetime
    def boot(self) -> None:
        """Power-on: bring up the SoftAP and auto-connect, as the firmware does."""
        if self.ap_enabled:
            self.softap.start()
        if self.sta_enabled and self.autoconnect() and self.stored_station_config():
            self.sta.start_reconnect(immediately=True)

    def deinit(self) -> None:
        """AT+CWINIT=0: the driver goes, and its memory returns to the heap."""
        if not self.inited:
            return
        self.sta.shutdown()
        self.softap.stop()
        self.inited = False
        self.module.heap.baseline += DRIVER_HEAP

    def init(self) -> None:
        if self.inited:
            return
        self.inited = True
        self.module.heap.baseline -= DRIVER_HEAP
        if self.ap_enabled:
            self.softap.start()

    def _shutdown(self) -> None:
        if not self.inited:  # the next boot initialises the driver again
            self.inited = True
            self.module.heap.baseline -= DRIVER_HEAP
        # a restart stops the Wi-Fi driver, which deauthenticates cleanly
        self.sta.cancel_reconnect()
        if self.sta.ap is not None:
            self.sta.ap.leave(self.sta.mac)
            self.sta.ap = None
        self.softap.stop()
