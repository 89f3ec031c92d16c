"""Wi-Fi / Bluetooth coexistence: one 2.4 GHz radio, shared in time.

On every ESP chip Wi-Fi and Bluetooth use the same RF front end, and the
coexistence arbiter time-slices it (ESP-IDF "RF Coexistence"). The model
here is a fixed time split while both are active:

=========  =============================  ==================================
chip       Bluetooth share (Wi-Fi active)  why
=========  =============================  ==================================
ESP32      0.50                            BR/EDR+LE dual mode, 50/50 slices
ESP32-C3   0.40                            LE only, Wi-Fi favoured by default
ESP32-C5   0.45                            dual band, 2.4 GHz slots shared
ESP32-C6   0.40                            as C3
ESP32-C61  0.40                            as C3
=========  =============================  ==================================

"Wi-Fi active" means a station connected to an AP or a SoftAP up (the
network interfaces of ``services/netif.py``), or the Wi-Fi code saying so
through :func:`set_wifi_active` (scans). "Bluetooth active" means the
module's radio node is on the air. While both are active, Bluetooth air
time is divided by its share (throughput drops, scan windows and advertising
events thin out) and :func:`wifi_share` tells the Wi-Fi/TCP code how much of
the radio it keeps; ``AT+BLEINIT=0`` / ``AT+CWINIT=0`` give it back.
"""

from __future__ import annotations

from typing import Any

BT_SHARE = {"esp32": 0.50, "esp32c3": 0.40, "esp32c5": 0.45, "esp32c6": 0.40, "esp32c61": 0.40, "esp32c2": 0.40}
_WIFI_FLAG = "coex.wifi_active"
_BT_FLAG = "coex.bt_active"


def set_wifi_active(module: Any, active: bool) -> None:
    """Hook for the Wi-Fi code: the station or SoftAP is using the radio."""
    module.vars[_WIFI_FLAG] = bool(active)


def set_bt_active(module: Any, active: bool) -> None:
    """Called by the Bluetooth services when their radio goes on or off."""
    module.vars[_BT_FLAG] = bool(active)


def wifi_active(module: Any) -> bool:
    if module is None:
        return False
    if module.vars.get(_WIFI_FLAG):
        return True
    try:
        from esp_at_sim.services.netif import AP, STA, NetIf
    except ImportError:  # pragma: no cover - netif is part of the foundation
        return False
    if not module.has_service(NetIf):
        return False
    ifaces = module.service(NetIf).interfaces
    return STA in ifaces or AP in ifaces


def bt_active(module: Any) -> bool:
    return module is not None and bool(module.vars.get(_BT_FLAG))


def bt_share(module: Any) -> float:
    """Fraction of radio time Bluetooth gets on ``module`` (1.0 without Wi-Fi)."""
    if module is None or not wifi_active(module):
        return 1.0
    return BT_SHARE.get(getattr(module, "chip", ""), 0.5)


def wifi_share(module: Any) -> float:
    """Fraction of radio time Wi-Fi gets on ``module`` (1.0 without Bluetooth).

    The Wi-Fi and TCP/IP code may scale throughput and scan dwell by it.
    """
    if module is None or not bt_active(module):
        return 1.0
    return 1.0 - BT_SHARE.get(getattr(module, "chip", ""), 0.5)
