"""What the LE stack reports, independent of AT wording.

The AT layer implements :class:`BleListener` and turns each call into the
firmware's message (``+BLECONN:...``, ``+WRITE:...``); the stack never
formats AT text itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScanReport:
    address: str  # "24:0a:c4:00:00:01"
    addr_type: int  # 0 public, 1 random
    rssi: int
    adv_data: bytes
    scan_rsp: bytes
    event_type: int  # 0 ADV_IND, 1 DIRECT, 2 SCAN_IND, 3 NONCONN, 4 SCAN_RSP


@dataclass(frozen=True, slots=True)
class ConnParams:
    min_interval: int
    max_interval: int
    interval: int
    latency: int
    timeout: int


class BleListener:
    """Callbacks of the LE stack; every method is optional."""

    def scan_report(self, report: ScanReport) -> None: ...

    def scan_done(self) -> None: ...

    def connected(self, index: int, address: str) -> None: ...

    def disconnected(self, index: int, address: str, reason: int) -> None: ...

    def conn_params(self, index: int, params: ConnParams | None) -> None: ...

    def mtu(self, index: int, mtu: int) -> None: ...

    def read(self, index: int, address: str) -> None: ...

    def write(self, index: int, srv: int, char: int, desc: int | None, value: bytes) -> None: ...

    def notification(self, index: int, srv: int, char: int, value: bytes, indication: bool) -> None: ...

    def service_changed(self, index: int) -> None: ...

    def sync_report(self, address: str, rssi: int, data: bytes) -> None: ...

    # security
    def security_request(self, index: int) -> None: ...

    def passkey_notify(self, index: int, passkey: int) -> None: ...

    def passkey_request(self, index: int) -> None: ...

    def numeric_comparison(self, index: int, number: int) -> None: ...

    def key_type(self, index: int, key_type: int) -> None: ...

    def auth_complete(self, index: int, ok: bool) -> None: ...

    # BLE SPP (passthrough)
    def spp_data(self, data: bytes) -> None: ...

    def spp_subscribed(self, index: int) -> None: ...
