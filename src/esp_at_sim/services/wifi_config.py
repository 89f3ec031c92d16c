"""The Wi-Fi configuration a module keeps (RAM and, per SYSSTORE, flash).

Everything lives in the settings namespace ``wifi`` (``module.settings``),
so ``AT+SYSSTORE``, ``_CUR``/``_DEF`` and ``AT+RESTORE`` apply uniformly:

=============  ==============================================================
key            value
=============  ==============================================================
``mode``       0..3 (AT+CWMODE); default 1 - read by AT+SLEEP too
``sta``        :class:`StationConfig` as a dict (AT+CWJAP and friends)
``reconn``     ``[interval_second, repeat_count]`` (AT+CWRECONNCFG)
``autoconn``   0/1 (AT+CWAUTOCONN), always in flash
``ap``         :class:`SoftApConfig` as a dict (AT+CWSAP)
``dhcp``       DHCP bits: 0 station, 1 SoftAP, 2 Ethernet (AT+CWDHCP)
``sta_ip``     static station address ``[ip, gateway, netmask]`` or None
``ap_ip``      SoftAP address ``[ip, gateway, netmask]``
``dhcps``      SoftAP pool ``[lease_minutes, start, end]`` or None (default)
``sta_mac``    station MAC (hex) when set by AT+CIPSTAMAC
``ap_mac``     SoftAP MAC (hex) when set by AT+CIPAPMAC
``bandwidth``  ``{"0": [bw_2g, bw_5g], "1": [...]}`` (AT+CWBANDWIDTH)
``proto``      ``{"sta": [p_2g, p_5g], "ap": [...]}`` (AT+CWSTAPROTO/CWAPPROTO)
``config``     ``[ap_inactive, sta_inactive, listen_interval]`` (AT+CWCONFIG)
``bandmode``   1 / 2 / 3 (AT+CWBANDMODE, ESP32-C5)
=============  ==============================================================

SSIDs and passwords are bytes (they may hold any octet); they are stored as hex.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

NS = "wifi"


@dataclass
class StationConfig:
    """What AT+CWJAP configures (and AT+CWJAP? partly reports)."""

    ssid: bytes = b""
    password: bytes = b""
    bssid: bytes | None = None
    authmode: int = 0  # threshold (wifi_auth_mode_t); pci_en=1 means WPA on older firmware
    pci_en: int = 0
    listen_interval: int = 3
    scan_mode: int = 0  # 0 fast, 1 all channels
    jap_timeout: int = 15
    pmf: int = 1  # bit 0 capable, bit 1 required
    # AT+CWJEAP (Enterprise): None when the station is configured by AT+CWJAP
    eap: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ssid"] = self.ssid.hex()
        d["password"] = self.password.hex()
        d["bssid"] = self.bssid.hex() if self.bssid else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> StationConfig:
        if not d:
            return cls()
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["ssid"] = bytes.fromhex(d.get("ssid", ""))
        known["password"] = bytes.fromhex(d.get("password", ""))
        known["bssid"] = bytes.fromhex(d["bssid"]) if d.get("bssid") else None
        return cls(**known)


@dataclass
class SoftApConfig:
    """What AT+CWSAP configures."""

    ssid: bytes
    password: bytes = b""
    channel: int = 1
    ecn: int = 0
    max_conn: int = 10
    hidden: int = 0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ssid"] = self.ssid.hex()
        d["password"] = self.password.hex()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SoftApConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["ssid"] = bytes.fromhex(d["ssid"])
        known["password"] = bytes.fromhex(d.get("password", ""))
        return cls(**known)


@dataclass(frozen=True)
class ChipWifi:
    """Per-chip Wi-Fi facts the commands need (from the spec's notes)."""

    max_conn: int = 10  # SoftAP station limit (ESP_WIFI_MAX_CONN_NUM)
    default_max_conn: int = 10
    bw_sta: int = 2  # default bandwidth, 1 = HT20, 2 = HT40
    bw_ap: int = 2
    ht40: bool = True
    lr: bool = True  # 802.11 LR protocol bit
    ax: bool = False  # 802.11ax
    proto_sta: int = 0x07
    proto_ap: int = 0x07
    legacy_ap_mac: bool = False  # ESP8266: SoftAP MAC = station MAC with the local bit
    extra: dict[str, Any] = field(default_factory=dict)


CHIP_WIFI: dict[str, ChipWifi] = {
    "esp32": ChipWifi(max_conn=15),
    "esp32c2": ChipWifi(max_conn=10, bw_sta=1, bw_ap=1, ht40=False, lr=False),
    "esp32c3": ChipWifi(),
    "esp32c5": ChipWifi(bw_sta=1, bw_ap=2, ax=True, proto_sta=0x17),
    "esp32c6": ChipWifi(bw_sta=1, bw_ap=2, ax=True, proto_sta=0x17),
    "esp32c61": ChipWifi(bw_sta=1, bw_ap=2, lr=False, ax=True, proto_sta=0x17),
    "esp32s2": ChipWifi(),
    "esp8266": ChipWifi(max_conn=8, default_max_conn=4, lr=False, legacy_ap_mac=True),
}


def chip_wifi(module: Module) -> ChipWifi:
    return CHIP_WIFI.get(module.profile.key, ChipWifi())


# -------------------------------------------------------------------- addresses


def base_mac(module: Module) -> bytes:
    """The factory (eFuse) base MAC: the scenario's ``mac`` or one derived from the seed."""
    if module.config.mac:
        from esp_at_sim.world.wifi import parse_mac

        return parse_mac(module.config.mac)
    return module.profile.base_mac(module.config.seed + module.name)


def factory_mac(module: Module, iface: str) -> bytes:
    """Interface MACs derived from the base as the chip does: station = base,
    SoftAP = base + 1, Bluetooth = base + 2, Ethernet = base + 3 (four universal
    addresses); the ESP8266 SoftAP uses the station MAC with the locally
    administered bit set."""
    base = bytearray(base_mac(module))
    if iface == "ap" and chip_wifi(module).legacy_ap_mac:
        base[0] |= 0x02
        return bytes(base)
    offset = {"sta": 0, "ap": 1, "bt": 2, "eth": 3}[iface]
    base[5] = (base[5] + offset) & 0xFF
    return bytes(base)


def interface_mac(module: Module, iface: str) -> bytes:
    stored = module.settings.get(NS, f"{iface}_mac")
    if stored:
        return bytes.fromhex(stored)
    return factory_mac(module, iface)
