"""The radio side of the Wi-Fi world: channels, bands, security modes, RSSI.

Theory of operation
-------------------
**Channels.** 1..14 are 2.4 GHz; 36..165 are 5 GHz (:func:`band_of`). A
station only scans and joins the channels its country allows
(``AT+CWCOUNTRY``: ``start_channel`` and ``total_channel_count`` for
2.4 GHz; on the ESP32-C5 a 5 GHz bitmap) and the bands its chip and band mode
allow (only the C5 has 5 GHz; ``AT+CWBANDMODE``).

**RSSI model.** An access point either has a fixed ``rssi`` (what every
module sees, dBm), or a ``position = [x, y]`` in metres and a ``tx_power``
(dBm, default 20). With a position, a module at ``(mx, my)`` (scenario
``[wifi] positions``, default the origin) sees the log-distance path loss::

    rssi = tx_power - (L0 + 10 * n * log10(max(d, 1 m))) + shadow

with ``L0`` the free-space loss at 1 m (40 dB at 2.4 GHz, 47 dB at 5 GHz),
``n = 3`` (indoor) and ``shadow`` a fixed per-(AP, module) offset in
[-3, +3] dB drawn from the world seed, so two modules at the same spot still
differ a little, reproducibly. ``[wifi] rssi_jitter = J`` adds a per-scan
uniform jitter of +-J dB (default 0: scans are byte-for-byte repeatable).
A module's SoftAP seen by another module, without positions, sits at a
desk-neighbour distance: -38 to -52 dBm, fixed per pair. Below the receive
sensitivity (-96 dBm) an AP is not heard at all.
"""

from __future__ import annotations

import hashlib
import math
import random
from enum import Enum

SENSITIVITY = -96  # dBm: weaker than this is not received
CHANNELS_24 = tuple(range(1, 15))
CHANNELS_5 = (
    36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128,
    132, 136, 140, 144, 149, 153, 157, 161, 165,
)  # fmt: skip
ACTIVE_DWELL = 0.120  # seconds per channel (the firmware's default active scan time)
PASSIVE_DWELL = 0.360


def band_of(channel: int) -> str:
    return "5" if channel >= 36 else "2.4"


def valid_channel(channel: int) -> bool:
    return channel in CHANNELS_24 or channel in CHANNELS_5


def seeded_random(*parts: object) -> random.Random:
    """A random generator that depends only on ``parts`` (world seed, names...)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def path_loss_rssi(tx_power: float, distance: float, channel: int, shadow: float) -> float:
    l0 = 47.0 if band_of(channel) == "5" else 40.0
    return tx_power - (l0 + 30.0 * math.log10(max(distance, 1.0))) + shadow


class Security(Enum):
    """Security of an access point, by its scenario name."""

    OPEN = "open"
    WEP = "wep"
    WPA = "wpa"
    WPA2 = "wpa2"
    WPA_WPA2 = "wpa_wpa2"
    WPA2_ENTERPRISE = "wpa2_enterprise"
    WPA3 = "wpa3"
    WPA2_WPA3 = "wpa2_wpa3"
    WPA3_ENTERPRISE = "wpa3_enterprise"

    @property
    def ecn(self) -> int:
        """The ``<ecn>`` of AT+CWLAP (the firmware's wifi_auth_mode_t)."""
        return _ECN[self]

    @property
    def ciphers(self) -> tuple[int, int]:
        """(pairwise, group) as AT+CWLAP prints them: 0 none, 1 WEP40, 2 WEP104,
        3 TKIP, 4 CCMP, 5 TKIP+CCMP."""
        return _CIPHERS[self]

    @property
    def personal(self) -> bool:
        return self in (Security.WPA, Security.WPA2, Security.WPA_WPA2, Security.WPA3, Security.WPA2_WPA3)

    @property
    def enterprise(self) -> bool:
        return self in (Security.WPA2_ENTERPRISE, Security.WPA3_ENTERPRISE)

    @property
    def needs_password(self) -> bool:
        return self is Security.WEP or self.personal

    @property
    def sae(self) -> bool:
        return self in (Security.WPA3, Security.WPA2_WPA3)

    @property
    def psk(self) -> bool:
        return self in (Security.WPA, Security.WPA2, Security.WPA_WPA2, Security.WPA2_WPA3)

    @property
    def default_pmf(self) -> int:
        """PMF an AP of this kind advertises unless told: 0 none, 1 capable, 3 required."""
        if self in (Security.WPA3, Security.WPA3_ENTERPRISE):
            return 3
        if self is Security.WPA2_WPA3:
            return 1
        return 0

    @classmethod
    def from_ecn(cls, ecn: int) -> Security | None:
        for sec, value in _ECN.items():
            if value == ecn:
                return sec
        return None


_ECN = {
    Security.OPEN: 0,
    Security.WEP: 1,
    Security.WPA: 2,
    Security.WPA2: 3,
    Security.WPA_WPA2: 4,
    Security.WPA2_ENTERPRISE: 5,
    Security.WPA3: 6,
    Security.WPA2_WPA3: 7,
    Security.WPA3_ENTERPRISE: 14,
}
_CIPHERS = {
    Security.OPEN: (0, 0),
    Security.WEP: (1, 1),
    Security.WPA: (3, 3),
    Security.WPA2: (4, 4),
    Security.WPA_WPA2: (5, 3),
    Security.WPA2_ENTERPRISE: (4, 4),
    Security.WPA3: (4, 4),
    Security.WPA2_WPA3: (4, 4),
    Security.WPA3_ENTERPRISE: (4, 4),
}

#: strength of the firmware's auth modes (wifi_auth_mode_t values), for the
#: ``<authmode>`` threshold of AT+CWJAP and the auth floor of SmartConfig/WPS
AUTH_RANK = {
    0: 0,
    1: 1,
    2: 2,
    3: 3,
    4: 2,
    5: 3,
    6: 4,
    7: 3,
    8: 3,
    9: 1,
    10: 5,
    11: 4,
    12: 4,
    13: 4,
    14: 4,
    15: 3,
    16: 2,
}


def best_rank(sec: Security, *, pmf_ok: bool) -> int:
    """The strongest mode a station can use with an AP of this security."""
    if sec is Security.OPEN:
        return 0
    if sec is Security.WEP:
        return 1
    if sec is Security.WPA:
        return 2
    if sec in (Security.WPA2, Security.WPA_WPA2, Security.WPA2_ENTERPRISE):
        return 3
    if sec is Security.WPA2_WPA3:
        return 4 if pmf_ok else 3
    return 4
