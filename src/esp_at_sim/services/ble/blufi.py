"""BluFi on the module: Wi-Fi provisioning from a phone over BLE.

``AT+BLUFI=1`` takes the radio, publishes the BluFi service (0xFFFF: the
phone writes 0xFF01, the module notifies 0xFF02) and advertises under the
BluFi name. A phone connects (``+BLUFICONN``), negotiates a key, sends the
station SSID (``+SSID:<ssid>``) and password (``+PASSWORD:<password>``) and
asks to connect: the module joins the world's access point through its
Wi-Fi station - so ``WIFI CONNECTED`` and ``WIFI GOT IP`` follow as after
``AT+CWJAP`` - refusing APs below the auth-mode floor of ``AT+BLUFI``, and
reports the result to the phone. Custom data travels both ways
(``AT+BLUFISEND``, ``+BLUFIDATA:<len>,<data>``).
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

from bumble import att, gatt, hci
from bumble.core import UUID
from bumble.device import AdvertisingType

from esp_at_sim.services.ble import blufi_proto as bp
from esp_at_sim.services.ble.radio import BtRadio

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)
P = att.Attribute.Permissions
SERVICE = UUID.from_16_bits(0xFFFF, "BluFi")
TO_DEVICE = UUID.from_16_bits(0xFF01, "BluFi phone to device")
TO_PHONE = UUID.from_16_bits(0xFF02, "BluFi device to phone")
DEFAULT_NAME = "BLUFI_DEVICE"
MAX_CUSTOM = 600


class BlufiError(Exception):
    """BluFi cannot do that now."""


class BlufiEvents:
    def connected(self) -> None: ...

    def disconnected(self) -> None: ...

    def ssid(self, ssid: bytes) -> None: ...

    def password(self, password: bytes) -> None: ...

    def custom(self, data: bytes) -> None: ...


class Blufi:
    """Per-boot service: ``module.service(Blufi)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.active = False
        self.events = BlufiEvents()
        self.device: Any = None
        self.connection: Any = None
        self.codec = bp.BlufiCodec(device=True)
        self.auth_floor = 0
        self.ssid = b""
        self.password = b""
        self.bssid: bytes | None = None
        self.opmode = 1
        self._notify_char: Any = None
        self._heap: Any = None

    @property
    def name(self) -> str:
        return str(self.module.settings.get("blufi", "name", DEFAULT_NAME))

    # ------------------------------------------------------------ lifecycle
    async def start(self, auth_floor: int) -> None:
        if self.active:
            return
        self.auth_floor = auth_floor
        device = await self.module.service(BtRadio).acquire("blufi")
        self.device = device
        self._heap = self.module.heap.alloc(12_000, "blufi")
        device.name = self.name
        self._notify_char = gatt.Characteristic(
            TO_PHONE, gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY, P.READABLE, b""
        )
        device.gatt_server.add_service(
            gatt.Service(
                SERVICE,
                [
                    gatt.Characteristic(
                        TO_DEVICE,
                        gatt.Characteristic.Properties.WRITE,
                        P.WRITEABLE,
                        att.AttributeValue(write=self._on_write),
                    ),
                    self._notify_char,
                ],
            )
        )
        device.on("connection", self._on_connection)
        self.active = True
        self.module.vars["blufi.active"] = True
        await self._advertise()

    async def _advertise(self) -> None:
        raw = self.name.encode()
        self.device.advertising_data = (
            bytes([2, 0x01, 0x06, 3, 0x03, 0xFF, 0xFF]) + bytes([len(raw) + 1, 0x09]) + raw
        )[:31]
        self.device.advertising_interval_min = self.device.advertising_interval_max = 100.0
        await self.device.start_advertising(
            advertising_type=AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE,
            own_address_type=hci.OwnAddressType.PUBLIC,
        )

    async def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        self.module.vars.pop("blufi.active", None)
        if self._heap is not None:
            self._heap.free()
            self._heap = None
        self.connection = None
        self.device = None
        await self.module.service(BtRadio).release("blufi")

    # --------------------------------------------------------------- BLE
    def _on_connection(self, connection: Any) -> None:
        if self.connection is not None or not self.active:
            return
        self.connection = connection
        self.codec = bp.BlufiCodec(device=True)
        connection.on("disconnection", lambda _r: self._on_disconnection(connection))
        self.events.connected()
        self.module.notify("blufi", step="connected", peer=str(connection.peer_address))

    def _on_disconnection(self, connection: Any) -> None:
        if connection is not self.connection:
            return
        self.connection = None
        self.events.disconnected()
        self.module.notify("blufi", step="disconnected")
        if self.active:
            self.module.scope.spawn(self._advertise(), name=f"{self.module.name}-blufi-adv")

    def _on_write(self, connection: Any, value: bytes) -> None:
        if connection is not self.connection:
            return
        try:
            message = self.codec.decode(bytes(value))
        except bp.BlufiError as exc:
            self.module.chip_log(f"BLUFI: {exc}")
            return
        if message is not None:
            self.module.scope.spawn(self._handle(message), name=f"{self.module.name}-blufi")

    async def _send(self, kind: int, subtype: int, data: bytes) -> None:
        if self.connection is None:
            raise BlufiError("ble is not connected yet")
        mtu = self.connection.att_mtu
        for frame in self.codec.encode(kind, subtype, data, mtu):
            await self.device.gatt_server.notify_subscriber(self.connection, self._notify_char, frame, force=True)

    async def send_custom(self, data: bytes) -> None:
        await self._send(bp.KIND_DATA, bp.DATA_CUSTOM, data)

    # ---------------------------------------------------------- messages
    async def _handle(self, m: bp.Message) -> None:
        if m.kind == bp.KIND_DATA:
            await self._data(m)
        else:
            await self._control(m)

    async def _data(self, m: bp.Message) -> None:
        if m.subtype == bp.DATA_NEG:
            if m.data[:1] == bytes([bp.NEG_SET_TOTAL_LENGTH]):
                return
            try:
                public, key = bp.device_answer(m.data)
            except bp.BlufiError as exc:
                self.module.chip_log(f"BLUFI: {exc}")
                return
            await self._send(bp.KIND_DATA, bp.DATA_NEG, public)
            self.codec.key = key
        elif m.subtype == bp.DATA_STA_SSID:
            self.ssid = m.data
            self.events.ssid(m.data)
            self.module.notify("blufi", step="ssid", ssid=m.data.decode("utf-8", "replace"))
        elif m.subtype == bp.DATA_STA_PASSWD:
            self.password = m.data
            self.events.password(m.data)
            # observers learn that a password came, never the password
            self.module.notify("blufi", step="password", length=len(m.data))
        elif m.subtype == bp.DATA_STA_BSSID:
            self.bssid = m.data[:6]
        elif m.subtype == bp.DATA_CUSTOM:
            self.events.custom(m.data)
            self.module.notify("blufi", step="custom", length=len(m.data))

    async def _control(self, m: bp.Message) -> None:
        if m.subtype == bp.CTRL_SEC_MODE and m.data:
            self.codec.set_security(m.data[0])
        elif m.subtype == bp.CTRL_OPMODE and m.data:
            self.opmode = m.data[0]
            self._set_mode(self.opmode)
        elif m.subtype == bp.CTRL_CONNECT_AP:
            await self._connect_ap()
        elif m.subtype == bp.CTRL_DISCONNECT_AP:
            wifi = self._wifi()
            if wifi is not None:
                wifi.sta.quit()
        elif m.subtype == bp.CTRL_GET_STATUS:
            await self._report()
        elif m.subtype == bp.CTRL_GET_VERSION:
            await self._send(bp.KIND_DATA, bp.DATA_VERSION, bytes(bp.VERSION))
        elif m.subtype == bp.CTRL_DISCONNECT_BLE and self.connection is not None:
            await self.connection.disconnect()

    # --------------------------------------------------------------- Wi-Fi
    def _wifi(self) -> Any:
        try:
            from esp_at_sim.services.wifi import WifiService
        except ImportError:  # pragma: no cover - Wi-Fi is part of every build with BluFi
            return None
        return self.module.service(WifiService)

    def _set_mode(self, mode: int) -> None:
        wifi = self._wifi()
        if wifi is not None and wifi.mode != mode:
            wifi.set_mode(mode, auto_connect=False, persist=self.module.settings.sysstore)

    async def _connect_ap(self) -> None:
        wifi = self._wifi()
        if wifi is None:
            return
        from esp_at_sim.services.wifi_config import NS, StationConfig

        if not wifi.mode & 1:
            self._set_mode(1)
        cfg = StationConfig(ssid=self.ssid, password=self.password, bssid=self.bssid, authmode=self.auth_floor)
        self.module.settings.set(NS, "sta", cfg.to_json(), persist=self.module.settings.sysstore)
        self.module.notify("blufi", step="connect_ap", ssid=self.ssid.decode("utf-8", "replace"))
        code = await wifi.sta.connect(cfg, cfg.jap_timeout)
        self.module.notify("blufi", step="connect_ap_result", ssid=self.ssid.decode("utf-8", "replace"), code=code)
        if code:
            self.module.chip_log(f"BLUFI: connect failed ({code})")
        await self._report()

    async def _report(self) -> None:
        wifi = self._wifi()
        if self.connection is None or wifi is None:
            return
        sta = wifi.sta
        state = 0 if sta.connected else 1
        body = bytes([wifi.mode, state, 0])
        if sta.connected and sta.ap is not None:
            ap = sta.ap
            ssid, bssid = bytes(ap.spec.ssid), bytes(ap.bssid)
            body += bytes([bp.DATA_STA_BSSID, 6]) + bssid
            body += bytes([bp.DATA_STA_SSID, len(ssid)]) + ssid
        await self._send(bp.KIND_DATA, bp.DATA_WIFI_REPORT, body)


def report_state(data: bytes) -> tuple[int, int, dict[int, bytes]]:
    """Parse a ``DATA_WIFI_REPORT``: (opmode, station state, TLVs)."""
    if len(data) < 3:
        raise bp.BlufiError("short report")
    tlv: dict[int, bytes] = {}
    pos = 3
    while pos + 2 <= len(data):
        t, n = data[pos], data[pos + 1]
        tlv[t] = data[pos + 2 : pos + 2 + n]
        pos += 2 + n
    return data[0], data[1], tlv


def pack_u16(value: int) -> bytes:
    return struct.pack("<H", value)
