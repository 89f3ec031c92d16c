"""The NONOS AT 1.x names of the Wi-Fi commands: ``_CUR`` (RAM only) and ``_DEF``
(saved to flash).

They exist only on firmware generation 1 (ESP8266 NONOS AT up to 1.7); ESP-AT
2.0 replaced them with the plain names governed by AT+SYSSTORE. The set is the
1.7 instruction set's (device/builds.py lists the whole of it; AT+SYSMSG_CUR/_DEF
are declared with AT+SYSMSG). AT+CWJEAP never had them: NONOS AT has no
Enterprise command. The handlers are the plain commands'; they read
``ctx.variant``/``ctx.persist`` and print the alias's own name
(``+CWMODE_CUR:1``), and on generation 1 the 1.x layouts where they differ
(``+CWJAP_CUR:<ssid>,<bssid>,<channel>,<rssi>``, ``FAIL`` after
``+CWJAP:<code>``, AT+CWDHCP's ``<mode>,<en>`` order, the 7-field +CWLAP,
AT+CWLIF without a prefix).
"""

from __future__ import annotations

from esp_at_sim.at.registry import REGISTRY
from esp_at_sim.commands import wifi, wifi_ap

LEGACY_GENERATIONS = (1, 1)

for _base in (
    wifi.cwmode,
    wifi.cwjap,
    wifi.cwcountry,
    wifi_ap.cwsap,
    wifi_ap.cwdhcp,
    wifi_ap.cwdhcps,
    wifi_ap.cipsta,
    wifi_ap.cipap,
    REGISTRY.get("+CIPSTAMAC"),
    REGISTRY.get("+CIPAPMAC"),
):
    assert _base is not None
    for _variant in ("cur", "def"):
        REGISTRY.alias(f"{_base.name}_{_variant.upper()}", _base, variant=_variant, generations=LEGACY_GENERATIONS)
