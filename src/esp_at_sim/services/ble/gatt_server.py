"""The module's GATT server: the ESP-AT attribute table on Bumble.

The server opens, as Bluedroid does, with the Generic Attribute service
(0x1801, Service Changed) and the Generic Access service (0x1800: Device
Name, Appearance, Central Address Resolution), then the services of the
table (``gatt_table.py``). On Bluedroid chips the table is created by
``AT+BLEGATTSSRVCRE`` and each service becomes visible to clients with
``AT+BLEGATTSSRVSTART`` (and invisible again with ``...STOP``); on NimBLE
chips everything is created and started by ``AT+BLEINIT``.

Values live in the table model and are shared by all connections (the
firmware's attribute table is not per connection, CCCDs included). Reads
and writes are checked against the row's permissions - including MITM
protection, which is decided from how the link was actually paired, not
from Bumble's ``authenticated`` flag - and reported to the AT layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bumble import att, gatt
from bumble import gatt_server as bumble_gatt_server
from bumble.core import UUID

from esp_at_sim.services.ble import gatt_table as table
from esp_at_sim.services.ble.gatt_table import Characteristic, Descriptor, Service

if TYPE_CHECKING:
    from bumble.device import Connection, Device

P = att.Attribute.Permissions


class AtGattServer(bumble_gatt_server.Server):
    """Bumble's server with services that can be hidden and shown again
    without renumbering the handles of the others."""

    def next_handle(self) -> int:
        hidden = getattr(self, "_hidden_max", 0)
        top = max((a.handle for a in self.attributes), default=0)
        return max(top, hidden) + 1

    def hide(self, attributes: list[att.Attribute[Any]]) -> None:
        ids = {id(a) for a in attributes}
        self.attributes = [a for a in self.attributes if id(a) not in ids]
        for a in attributes:
            self.attributes_by_handle.pop(a.handle, None)
            self._hidden_max = max(getattr(self, "_hidden_max", 0), a.handle)

    def show(self, attributes: list[att.Attribute[Any]]) -> None:
        present = {id(a) for a in self.attributes}
        self.attributes.extend(a for a in attributes if id(a) not in present)
        self.attributes.sort(key=lambda a: a.handle)


def to_uuid(u: table.Uuid) -> UUID:
    if len(u.value) == 2:
        return UUID.from_16_bits(int.from_bytes(u.value, "big"))
    if len(u.value) == 4:
        return UUID.from_32_bits(int.from_bytes(u.value, "big"))
    return UUID.from_bytes(bytes(reversed(u.value)))


def from_uuid(u: UUID) -> table.Uuid:
    raw = bytes(u)  # little-endian, 2/4/16 bytes
    return table.Uuid(bytes(reversed(raw)))


def _permissions(perm: int) -> att.Attribute.Permissions:
    p = P(0)
    if perm & (table.PERM_READ | table.PERM_READ_ENCRYPTED | table.PERM_READ_ENC_MITM):
        p |= P.READABLE
    if perm & (table.PERM_READ_ENCRYPTED | table.PERM_READ_ENC_MITM):
        p |= P.READ_REQUIRES_ENCRYPTION
    if perm & (table.PERM_WRITE | table.PERM_WRITE_ENCRYPTED | table.PERM_WRITE_ENC_MITM | table.PERM_WRITE_SIGNED):
        p |= P.WRITEABLE
    if perm & (table.PERM_WRITE_ENCRYPTED | table.PERM_WRITE_ENC_MITM):
        p |= P.WRITE_REQUIRES_ENCRYPTION
    return p


def _getter(target: Characteristic | Descriptor) -> Callable[[], bytes]:
    return lambda: target.value


class GattEvents:
    """What the server tells the AT layer (overridden by the stack)."""

    def on_read(self, connection: Connection) -> None: ...

    def on_write(self, connection: Connection, srv: int, char: int, desc: int | None, value: bytes) -> None: ...

    def mitm(self, connection: Connection) -> bool:
        return False


class GattServerTable:
    """The ESP-AT table installed in a Bumble device's GATT server."""

    def __init__(self, device: Device, events: GattEvents, *, name: Callable[[], bytes]) -> None:
        self.device = device
        self.events = events
        self.server: AtGattServer = device.gatt_server  # type: ignore[assignment]
        self.services: list[Service] = []
        self.created = False
        self._attrs: dict[int, list[att.Attribute[Any]]] = {}  # srv index -> its attributes
        self._value_attr: dict[tuple[int, int], gatt.Characteristic[Any]] = {}
        self._name = name
        self._install_base()

    # ---------------------------------------------------------- base services
    def _install_base(self) -> None:
        service_changed = gatt.Characteristic(
            gatt.GATT_SERVICE_CHANGED_CHARACTERISTIC, gatt.Characteristic.Properties.INDICATE, P(0), b"\x00\x00\x00\x00"
        )
        self.server.add_service(gatt.Service(gatt.GATT_GENERIC_ATTRIBUTE_SERVICE, [service_changed]))
        self.service_changed = service_changed
        gap = gatt.Service(
            gatt.GATT_GENERIC_ACCESS_SERVICE,
            [
                gatt.Characteristic(
                    gatt.GATT_DEVICE_NAME_CHARACTERISTIC,
                    gatt.Characteristic.Properties.READ,
                    P.READABLE,
                    att.AttributeValue(read=self._read_name),
                ),
                gatt.Characteristic(
                    gatt.GATT_APPEARANCE_CHARACTERISTIC, gatt.Characteristic.Properties.READ, P.READABLE, b"\x00\x00"
                ),
                gatt.Characteristic(
                    UUID.from_16_bits(0x2AA6, "Central Address Resolution"),
                    gatt.Characteristic.Properties.READ,
                    P.READABLE,
                    b"\x00",
                ),
            ],
        )
        self.server.add_service(gap)

    def _read_name(self, _connection: Any) -> bytes:
        return self._name()

    # --------------------------------------------------------------- create
    def create(self, services: list[Service], *, start: bool = False) -> None:
        """Add the table's services (hidden until started)."""
        self.services = services
        for srv in services:
            chars = []
            for ch in srv.characteristics:
                descriptors = [self._descriptor(srv, ch, d) for d in ch.descriptors]
                value: gatt.Characteristic[Any] = gatt.Characteristic(
                    to_uuid(ch.uuid),
                    gatt.Characteristic.Properties(ch.properties),
                    _permissions(ch.perm),
                    att.AttributeValue(
                        read=self._reader(ch.perm, _getter(ch)),
                        write=self._writer(srv, ch, None),
                    ),
                    descriptors,
                )
                self._value_attr[(srv.index, ch.index)] = value
                chars.append(value)
            service = gatt.Service(to_uuid(srv.uuid), chars, primary=srv.primary)
            first = len(self.server.attributes)
            self.server.add_service(service)
            attrs = self.server.attributes[first:]
            self._attrs[srv.index] = list(attrs)
            self.server.hide(list(attrs))
            srv.started = False
        self.created = True
        if start:
            self.start(None)

    def _descriptor(self, srv: Service, ch: Characteristic, d: Descriptor) -> gatt.Descriptor:
        return gatt.Descriptor(
            to_uuid(d.uuid),
            _permissions(d.perm),
            att.AttributeValue(read=self._reader(d.perm, _getter(d)), write=self._writer(srv, ch, d)),
        )

    def _reader(self, perm: int, get: Callable[[], bytes]) -> Callable[[Any], bytes]:
        def read(connection: Connection) -> bytes:
            if perm & table.PERM_READ_ENC_MITM and not self.events.mitm(connection):
                raise att.ATT_Error(att.ErrorCode.INSUFFICIENT_AUTHENTICATION)
            self.events.on_read(connection)
            return get()

        return read

    def _writer(self, srv: Service, ch: Characteristic, d: Descriptor | None) -> Callable[[Any, bytes], None]:
        target: Characteristic | Descriptor = d if d is not None else ch
        perm = target.perm

        def write(connection: Connection, value: bytes) -> None:
            if perm & table.PERM_WRITE_ENC_MITM and not self.events.mitm(connection):
                raise att.ATT_Error(att.ErrorCode.INSUFFICIENT_AUTHENTICATION)
            if len(value) > target.max_len:
                raise att.ATT_Error(att.ErrorCode.INVALID_ATTRIBUTE_LENGTH)
            target.value = bytes(value)
            self.events.on_write(connection, srv.index, ch.index, None if d is None else d.index, bytes(value))

        return write

    # --------------------------------------------------------- start / stop
    def start(self, index: int | None) -> None:
        for srv in self.services:
            if index is None or srv.index == index:
                self.server.show(self._attrs[srv.index])
                srv.started = True

    def stop(self, index: int | None) -> None:
        for srv in self.services:
            if index is None or srv.index == index:
                self.server.hide(self._attrs[srv.index])
                srv.started = False

    def remove_all(self) -> None:
        self.stop(None)
        self.services = []
        self._attrs.clear()
        self._value_attr.clear()
        self.created = False

    # ------------------------------------------------------------ accessors
    def service(self, srv: int) -> Service | None:
        return next((s for s in self.services if s.index == srv), None)

    def characteristic(self, srv: int, char: int) -> Characteristic | None:
        s = self.service(srv)
        if s is None:
            return None
        return next((c for c in s.characteristics if c.index == char), None)

    def value_attribute(self, srv: int, char: int) -> gatt.Characteristic[Any] | None:
        return self._value_attr.get((srv, char))

    def cccd(self, srv: int, char: int) -> int:
        ch = self.characteristic(srv, char)
        d = ch.descriptor(table.CCCD) if ch is not None else None
        if d is None or len(d.value) < 1:
            return 0
        return int.from_bytes(d.value[:2].ljust(2, b"\x00"), "little")

    async def notify(self, connection: Connection, srv: int, char: int, value: bytes, *, indicate: bool) -> None:
        attr = self._value_attr[(srv, char)]
        if indicate:
            await self.server.indicate_subscriber(connection, attr, value, force=True)
        else:
            await self.server.notify_subscriber(connection, attr, value, force=True)
