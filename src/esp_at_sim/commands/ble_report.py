"""How the LE stack's events look on the UART (the firmware's messages).

Formats are those of ESP-AT 4.x (the ``+BLE...`` strings of the firmware's
AT core). Status messages (``+BLECONN``, ``+BLEDISCONN``, security) go out at
once; messages that carry received data (``+WRITE``, ``+NOTIFY``,
``+INDICATE``, ``+READ``, ``+BLESCAN``, ``+BLESYNC``) go through one ordered
pipe that waits while a command runs and when the host stops reading.

``+BLESCAN`` follows the 4.x firmware: one line per advertising report with
the advertising data *or* the scan response, then the address type and the
advertising event type (4 for a scan response)::

    +BLESCAN:"24:0a:c4:d6:e4:46",-29,0201060a09...,,0,0
    +BLESCAN:"24:0a:c4:d6:e4:46",-29,,0909455350...,0,4

(the older five-field layout of the documentation lacks the event type).
"""

from __future__ import annotations

from collections import deque

import esp_at_sim.world.radio.scenario  # noqa: F401  (scenario tables and faults of the air)
from esp_at_sim.device.module import Module, on_boot
from esp_at_sim.services.ble.events import BleListener, ConnParams, ScanReport
from esp_at_sim.world.radio import BleAir

CRLF = b"\r\n"


@on_boot
def _serve_hci(module: Module) -> None:
    """A ``ble_hci`` export of the scenario starts with the module's first boot."""
    air = module.world.extension(BleAir)
    if module.name in air.hci_exports and module.name not in air.started_exports:
        from esp_at_sim.services.ble.hci_export import ensure_export

        module.scope.spawn(ensure_export(module.world, module.name), name=f"{module.name}-hci-export")


class DataPipe:
    """Ordered, back-pressured output of received data for one boot."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self._queue: deque[bytes] = deque()
        self._running = False

    def put(self, data: bytes) -> None:
        self._queue.append(data)
        if not self._running:
            self._running = True
            try:
                self.module.scope.spawn(self._drain(), name=f"{self.module.name}-ble-out")
            except RuntimeError:  # the boot is over
                self._queue.clear()
                self._running = False

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self.module.send_data(self._queue.popleft())
        finally:
            self._running = False


def data_pipe(module: Module) -> DataPipe:
    pipe = module.vars.get("ble.pipe")
    if pipe is None:
        pipe = module.vars["ble.pipe"] = DataPipe(module)
    assert isinstance(pipe, DataPipe)
    return pipe


def status_messages_in_passthrough(module: Module) -> bool:
    """AT+SYSMSG bit 2: connection status messages while in passthrough."""
    value = module.settings.get("base", "sysmsg", 0)
    try:
        return bool(int(value) & 0b100)
    except (TypeError, ValueError):
        return False


class AtBleReporter(BleListener):
    def __init__(self, module: Module) -> None:
        self.module = module
        self.pipe = data_pipe(module)

    def status(self, text: str) -> None:
        m = self.module
        if m.in_passthrough and not status_messages_in_passthrough(m):
            return
        m.urc(text, "ble")

    # ----------------------------------------------------------------- GAP
    def scan_report(self, r: ScanReport) -> None:
        line = f'+BLESCAN:"{r.address}",{r.rssi},{r.adv_data.hex()},{r.scan_rsp.hex()},{r.addr_type},{r.event_type}'
        self.pipe.put(line.encode() + CRLF)

    def scan_done(self) -> None:
        self.module.urc("+BLESCANDONE", "ble")

    def connected(self, index: int, address: str) -> None:
        self.status(f'+BLECONN:{index},"{address}"')

    def disconnected(self, index: int, address: str, reason: int) -> None:
        self.status(f'+BLEDISCONN:{index},"{address}"')

    def conn_params(self, index: int, params: ConnParams | None) -> None:
        if params is None:
            self.module.urc(f"+BLECONNPARAM:{index},-1", "ble")
            return
        p = params
        self.module.urc(
            f"+BLECONNPARAM:{index},{p.min_interval},{p.max_interval},{p.interval},{p.latency},{p.timeout}", "ble"
        )

    def mtu(self, index: int, mtu: int) -> None:
        self.module.urc(f"+BLECFGMTU:{index},{mtu}", "ble")

    def service_changed(self, index: int) -> None:
        self.module.urc(f"+SRV_CHG:{index}", "ble")

    # ---------------------------------------------------------------- GATT
    def read(self, index: int, address: str) -> None:
        self.pipe.put(f'+READ:{index},"{address}"'.encode() + CRLF)

    def write(self, index: int, srv: int, char: int, desc: int | None, value: bytes) -> None:
        d = "" if desc is None else str(desc)
        self.pipe.put(f"+WRITE:{index},{srv},{char},{d},{len(value)},".encode() + value + CRLF)

    def notification(self, index: int, srv: int, char: int, value: bytes, indication: bool) -> None:
        name = "+INDICATE" if indication else "+NOTIFY"
        self.pipe.put(f"{name}:{index},{srv},{char},{len(value)},".encode() + value + CRLF)

    def sync_report(self, address: str, rssi: int, data: bytes) -> None:
        self.pipe.put(f'+BLESYNC:"{address}",{rssi},{data.hex()}'.encode() + CRLF)

    # ------------------------------------------------------------ security
    def security_request(self, index: int) -> None:
        self.module.urc(f"+BLESECREQ:{index}", "ble")

    def passkey_notify(self, index: int, passkey: int) -> None:
        self.module.urc(f"+BLESECNTFYKEY:{index},{passkey:06d}", "ble")

    def passkey_request(self, index: int) -> None:
        self.module.urc(f"+BLESECKEYREQ:{index}", "ble")

    def numeric_comparison(self, index: int, number: int) -> None:
        self.module.urc(f"+BLESECNCREQ:{index},{number}", "ble")

    def key_type(self, index: int, key_type: int) -> None:
        self.module.urc(f"+BLESECKEYTYPE:{index},{key_type}", "ble")

    def auth_complete(self, index: int, ok: bool) -> None:
        self.module.urc(f"+BLEAUTHCMPL:{index},{0 if ok else 1}", "ble")

    # ------------------------------------------------------------ BLE SPP
    def spp_data(self, data: bytes) -> None:
        self.pipe.put(data)

    def spp_subscribed(self, index: int) -> None:
        self.status(f"+WRITE:{index}")
