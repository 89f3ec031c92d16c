"""The module's SoftAP: an access point on the world's air, run by the module.

Theory of operation
-------------------
Starting the SoftAP (``AT+CWMODE=2/3`` or a boot in such a mode) puts an
:class:`~esp_at_sim.world.wifi.AccessPoint` on the air, built from the
AT+CWSAP configuration, with the SoftAP MAC as BSSID and a DHCP server
on the AT+CIPAP network using the AT+CWDHCPS pool. Other modules scan it
and join it with the same station code as for any router. The SoftAP is
the AP's observer: arrivals, leases and departures become
:class:`StationJoined`, :class:`StationLeased` and :class:`StationLeft`
events (``+STA_CONNECTED:``, ``+DIST_STA_IP:``, ``+STA_DISCONNECTED:``).

The default configuration is the firmware's: SSID ``ESP_`` plus the last
three bytes of the SoftAP MAC, open, channel 1, 192.168.4.1/24, leases
192.168.4.2-192.168.4.101 for 120 minutes.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.services.peer_guard import PeerGuard
from esp_at_sim.services.wifi_config import NS, SoftApConfig, chip_wifi, interface_mac
from esp_at_sim.world.wifi import REASON_AUTH_LEAVE, AccessPoint, AccessPointSpec, link_local, mac_text
from esp_at_sim.world.wifi_radio import Security

if TYPE_CHECKING:
    from esp_at_sim.services.wifi import WifiService

DEFAULT_AP_IP = ("192.168.4.1", "192.168.4.1", "255.255.255.0")
DEFAULT_LEASE_MINUTES = 120
POOL_SIZE = 100  # lwIP's DHCP server hands out at most 100 addresses

ECN_SECURITY = {0: Security.OPEN, 2: Security.WPA, 3: Security.WPA2, 4: Security.WPA_WPA2}


class SoftAp:
    def __init__(self, wifi: WifiService) -> None:
        self.wifi = wifi
        self.module = wifi.module
        self.ap: AccessPoint | None = None

    # ---------------------------------------------------------- configuration
    @property
    def mac(self) -> bytes:
        return interface_mac(self.module, "ap")

    def config(self) -> SoftApConfig:
        raw = self.module.settings.get(NS, "ap")
        if raw:
            return SoftApConfig.from_json(raw)
        tail = self.mac[3:].hex().upper()
        return SoftApConfig(f"ESP_{tail}".encode(), max_conn=chip_wifi(self.module).default_max_conn)

    def address(self) -> IpConfig:
        value = self.module.settings.get(NS, "ap_ip") or DEFAULT_AP_IP
        return IpConfig(*value)

    def pool(self) -> tuple[int, str, str]:
        """(lease minutes, first, last) of the DHCP server."""
        stored = self.module.settings.get(NS, "dhcps")
        if stored:
            return int(stored[0]), str(stored[1]), str(stored[2])
        ip = ipaddress.IPv4Address(self.address().ip)
        net = ipaddress.IPv4Network(f"{ip}/{self.address().netmask}", strict=False)
        first = ip + 1
        last = min(first + POOL_SIZE - 1, net.broadcast_address - 1)
        return DEFAULT_LEASE_MINUTES, str(first), str(last)

    # -------------------------------------------------------------- running
    @property
    def running(self) -> bool:
        return self.ap is not None

    def start(self) -> None:
        if self.ap is not None:
            return
        cfg = self.config()
        addr = self.address()
        net = ipaddress.IPv4Network(f"{addr.ip}/{addr.netmask}", strict=False)
        spec = AccessPointSpec(
            ssid=cfg.ssid,
            password=cfg.password if cfg.ecn else b"",
            security=ECN_SECURITY.get(cfg.ecn, Security.OPEN),
            channel=cfg.channel,
            hidden=bool(cfg.hidden),
            subnet=str(net),
            max_connections=cfg.max_conn,
            pmf=0,
            dhcp=True,
        )
        ap = self.wifi.air.add(spec, owner=self.module.name, bssid=self.mac)
        if self.wifi.sta.ap is not None:
            ap.channel = self.wifi.sta.ap.channel
        ap.gateway = addr.gateway
        if ap.dhcp is not None:
            lease, first, last = self.pool()
            ap.dhcp.reserved = {addr.ip}
            ap.dhcp.gateway = addr.ip
            ap.dhcp.dns = (addr.ip,)
            ap.dhcp.configure(first, last, lease * 60.0)
            ap.dhcp.responding = bool(self.wifi.dhcp_bits() & 2)
        ap.observer = self
        self.ap = ap
        netif = self.module.service(NetIf)
        if self.wifi.ipv6_enabled():
            netif.clear_ipv6("ap")
            netif.add_ipv6("ap", link_local(self.mac))
        netif.up("ap", addr)

    def stop(self) -> None:
        ap, self.ap = self.ap, None
        if ap is None:
            return
        ap.observer = None
        ap.deauth(None, REASON_AUTH_LEAVE)
        self.wifi.air.remove(ap)
        netif = self.module.service(NetIf)
        netif.clear_ipv6("ap")
        netif.down("ap")

    def restart(self) -> None:
        """A new configuration takes effect: the SoftAP restarts (stations drop)."""
        if self.ap is not None:
            self.stop()
            self.start()

    def update_dhcp(self) -> None:
        if self.ap is not None and self.ap.dhcp is not None:
            lease, first, last = self.pool()
            self.ap.dhcp.configure(first, last, lease * 60.0)
            self.ap.dhcp.responding = bool(self.wifi.dhcp_bits() & 2)

    def stations(self) -> list[tuple[bytes, str | None]]:
        """(MAC, leased IP) of the stations associated now (AT+CWLIF)."""
        if self.ap is None:
            return []
        return [(mac, assoc.ip) for mac, assoc in self.ap.stations.items() if assoc.authorized]

    # ------------------------------------------------------------- observer
    def station_refused(self, mac: bytes) -> bool:
        return self.module.service(PeerGuard).wifi_refuses(mac_text(mac))

    def station_auth_failed(self, mac: bytes) -> None:
        self.module.service(PeerGuard).wifi_auth_failed(mac_text(mac))

    def station_joined(self, mac: bytes) -> None:
        from esp_at_sim.services.wifi import StationJoined

        self.wifi.emit(StationJoined(mac))

    def station_left(self, mac: bytes) -> None:
        from esp_at_sim.services.wifi import StationLeft

        self.wifi.emit(StationLeft(mac))

    def address_leased(self, mac: bytes, ip: str) -> None:
        from esp_at_sim.services.wifi import StationLeased

        self.wifi.emit(StationLeased(mac, ip))
