"""HID over GATT: the module as a Bluetooth LE keyboard, mouse and media remote.

``AT+BLEHIDINIT=1`` takes the radio (the general LE commands and BluFi are
then unavailable, as on the chip), publishes the HID service (0x1812) with
a report map of three reports - keyboard (ID 1, with its LED output),
mouse (ID 2), consumer control (ID 3) - plus Battery (0x180F) and Device
Information (0x180A), and advertises as a keyboard. A host connects, pairs
(Just Works, bonded) and subscribes to the input reports; ``AT+BLEHIDKB``,
``AT+BLEHIDMUS`` and ``AT+BLEHIDCONSUMER`` notify them. After a host leaves
the module advertises again.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

from bumble import att, gatt, hci
from bumble.core import UUID
from bumble.device import AdvertisingType
from bumble.pairing import PairingConfig, PairingDelegate

from esp_at_sim.services.ble.radio import BtRadio
from esp_at_sim.services.ble.stack import addr_text

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)
P = att.Attribute.Permissions

REPORT_KEYBOARD, REPORT_MOUSE, REPORT_CONSUMER = 1, 2, 3

# a keyboard (ID 1, 8 bytes, 5 LEDs out), a mouse (ID 2, buttons, x, y, wheel),
# a consumer control (ID 3, one 16-bit usage)
REPORT_MAP = bytes(
    [
        0x05, 0x01, 0x09, 0x06, 0xA1, 0x01, 0x85, REPORT_KEYBOARD,
        0x05, 0x07, 0x19, 0xE0, 0x29, 0xE7, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02,
        0x95, 0x01, 0x75, 0x08, 0x81, 0x01,
        0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02,
        0x95, 0x01, 0x75, 0x03, 0x91, 0x01,
        0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00,
        0xC0,
        0x05, 0x01, 0x09, 0x02, 0xA1, 0x01, 0x85, REPORT_MOUSE, 0x09, 0x01, 0xA1, 0x00,
        0x05, 0x09, 0x19, 0x01, 0x29, 0x08, 0x15, 0x00, 0x25, 0x01, 0x95, 0x08, 0x75, 0x01, 0x81, 0x02,
        0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7F, 0x75, 0x08, 0x95, 0x03, 0x81, 0x06,
        0xC0, 0xC0,
        0x05, 0x0C, 0x09, 0x01, 0xA1, 0x01, 0x85, REPORT_CONSUMER,
        0x15, 0x00, 0x26, 0xFF, 0x03, 0x19, 0x00, 0x2A, 0xFF, 0x03, 0x75, 0x10, 0x95, 0x01, 0x81, 0x00,
        0xC0,
    ]
)  # fmt: skip

HID_SERVICE = UUID.from_16_bits(0x1812, "Human Interface Device")
APPEARANCE_KEYBOARD = 0x03C1
DEFAULT_NAME = "ESP-AT-HID"


def _report(report_id: int, kind: int, perms: att.Attribute.Permissions, props: int, initial: bytes) -> Any:
    ref = gatt.Descriptor(
        gatt.GATT_REPORT_REFERENCE_DESCRIPTOR, P.READABLE | P.READ_REQUIRES_ENCRYPTION, bytes([report_id, kind])
    )
    return gatt.Characteristic(
        UUID.from_16_bits(0x2A4D, "Report"), gatt.Characteristic.Properties(props), perms, initial, [ref]
    )


class HidError(Exception):
    """The HID profile cannot do that now (not initialized, not connected)."""


class BleHid:
    """Per-boot service: ``module.service(BleHid)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.initialized = False
        self.device: Any = None
        self.connection: Any = None
        self.on_connected: Any = None
        self.on_disconnected: Any = None
        self._reports: dict[int, Any] = {}
        self._heap: Any = None

    @property
    def name(self) -> str:
        return str(self.module.settings.get("blehid", "name", DEFAULT_NAME))

    async def init(self) -> None:
        if self.initialized:
            return
        radio = self.module.service(BtRadio)
        device = await radio.acquire("hid")
        self.device = device
        self._heap = self.module.heap.alloc(9_000, "ble_hid")
        device.name = self.name
        read_enc = P.READABLE | P.READ_REQUIRES_ENCRYPTION
        rw_enc = read_enc | P.WRITEABLE | P.WRITE_REQUIRES_ENCRYPTION
        notify = gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY
        keyboard = _report(REPORT_KEYBOARD, 1, read_enc, notify, bytes(8))
        leds = _report(
            REPORT_KEYBOARD,
            2,
            rw_enc,
            gatt.Characteristic.Properties.READ
            | gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            b"\x00",
        )
        mouse = _report(REPORT_MOUSE, 1, read_enc, notify, bytes(4))
        consumer = _report(REPORT_CONSUMER, 1, read_enc, notify, bytes(2))
        self._reports = {REPORT_KEYBOARD: keyboard, REPORT_MOUSE: mouse, REPORT_CONSUMER: consumer}
        props = gatt.Characteristic.Properties
        server = device.gatt_server
        server.add_service(
            gatt.Service(
                HID_SERVICE,
                [
                    gatt.Characteristic(
                        UUID.from_16_bits(0x2A4A, "HID Information"),
                        props.READ,
                        read_enc,
                        struct.pack("<HBB", 0x0111, 0, 2),
                    ),
                    gatt.Characteristic(UUID.from_16_bits(0x2A4B, "Report Map"), props.READ, read_enc, REPORT_MAP),
                    gatt.Characteristic(
                        UUID.from_16_bits(0x2A4C, "HID Control Point"),
                        props.WRITE_WITHOUT_RESPONSE,
                        P.WRITEABLE | P.WRITE_REQUIRES_ENCRYPTION,
                        b"\x00",
                    ),
                    gatt.Characteristic(
                        UUID.from_16_bits(0x2A4E, "Protocol Mode"),
                        props.READ | props.WRITE_WITHOUT_RESPONSE,
                        rw_enc,
                        b"\x01",
                    ),
                    keyboard,
                    leds,
                    mouse,
                    consumer,
                ],
            )
        )
        server.add_service(
            gatt.Service(
                UUID.from_16_bits(0x180F, "Battery"),
                [
                    gatt.Characteristic(
                        UUID.from_16_bits(0x2A19, "Battery Level"), props.READ | props.NOTIFY, P.READABLE, b"\x64"
                    )
                ],
            )
        )
        server.add_service(
            gatt.Service(
                UUID.from_16_bits(0x180A, "Device Information"),
                [
                    gatt.Characteristic(
                        UUID.from_16_bits(0x2A50, "PnP ID"),
                        props.READ,
                        P.READABLE,
                        struct.pack("<BHHH", 0x02, 0x303A, 0x4001, 0x0100),
                    )
                ],
            )
        )
        device.pairing_config_factory = lambda _c: PairingConfig(
            sc=True,
            mitm=False,
            bonding=True,
            delegate=PairingDelegate(io_capability=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT),
        )
        device.on("connection", self._on_connection)
        self.initialized = True
        self.module.vars["blehid.active"] = True
        await self._advertise()

    async def _advertise(self) -> None:
        device = self.device
        raw_name = self.name.encode()
        device.advertising_data = (
            bytes([2, 0x01, 0x06])
            + bytes([3, 0x19]) + struct.pack("<H", APPEARANCE_KEYBOARD)
            + bytes([3, 0x03]) + struct.pack("<H", 0x1812)
            + bytes([len(raw_name) + 1, 0x09]) + raw_name
        )[:31]  # fmt: skip
        device.advertising_interval_min = device.advertising_interval_max = 20.0
        await device.start_advertising(
            advertising_type=AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE,
            own_address_type=hci.OwnAddressType.PUBLIC,
        )

    def _on_connection(self, connection: Any) -> None:
        if self.connection is not None:
            return
        self.connection = connection
        connection.on("disconnection", lambda _reason: self._on_disconnection(connection))
        if self.on_connected is not None:
            self.on_connected(addr_text(connection.peer_address))

    def _on_disconnection(self, connection: Any) -> None:
        if connection is not self.connection:
            return
        self.connection = None
        if self.on_disconnected is not None:
            self.on_disconnected()
        if self.initialized:
            self.module.scope.spawn(self._advertise(), name=f"{self.module.name}-hid-adv")

    async def deinit(self) -> None:
        if not self.initialized:
            return
        self.initialized = False
        self.module.vars.pop("blehid.active", None)
        if self._heap is not None:
            self._heap.free()
            self._heap = None
        self.connection = None
        self.device = None
        await self.module.service(BtRadio).release("hid")

    async def send(self, report_id: int, value: bytes) -> None:
        if not self.initialized:
            raise HidError("not initialized")
        if self.connection is None:
            raise HidError("ble not connected")
        await self.device.gatt_server.notify_subscriber(self.connection, self._reports[report_id], value)
