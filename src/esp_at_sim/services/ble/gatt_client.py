"""The module's GATT client: discovery, reads, writes and notifications by
AT index.

Like Bluedroid's GATTC cache, a connection's remote database exists once
``AT+BLEGATTCPRIMSRV`` has searched it: services are numbered in handle
order from 1, ``AT+BLEGATTCCHAR`` numbers a service's characteristics and
their descriptors. Reads, writes and notifications are addressed - and
reported - by these indexes; without a search they fail, as on the chip.

Writing a Client Characteristic Configuration descriptor registers the
client for the characteristic's notifications/indications (Bluedroid's
``register_for_notify``) and, as the firmware does, writes ``0x0001`` for a
characteristic that can notify (``0x0002`` if it can only indicate) whatever
the host typed - so notifications cannot be switched off this way
(espressif/esp-at #161, #608, #892).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble import att, gatt

from esp_at_sim.services.ble import gatt_table as table
from esp_at_sim.services.ble.gatt_server import from_uuid

if TYPE_CHECKING:
    from esp_at_sim.services.ble.stack import BleLink


class GattClientError(Exception):
    """A GATT client operation failed (no such index, not permitted, ATT error)."""


@dataclass
class RemoteDescriptor:
    index: int
    uuid: table.Uuid
    proxy: Any


@dataclass
class RemoteCharacteristic:
    index: int
    uuid: table.Uuid
    properties: int
    proxy: Any
    descriptors: list[RemoteDescriptor] = field(default_factory=list)


@dataclass
class RemoteService:
    index: int
    uuid: table.Uuid
    primary: bool
    proxy: Any
    characteristics: list[RemoteCharacteristic] | None = None
    included: list[RemoteService] | None = None


@dataclass
class ClientDb:
    services: list[RemoteService] = field(default_factory=list)

    def service(self, index: int) -> RemoteService:
        for s in self.services:
            if s.index == index:
                return s
        raise GattClientError(f"no service {index}")

    def locate(self, handle: int) -> tuple[RemoteService, RemoteCharacteristic] | None:
        for s in self.services:
            for c in s.characteristics or []:
                if c.proxy.handle == handle:
                    return s, c
        return None


NotificationSink = Callable[[int, int, bytes, bool], None]


async def discover_services(link: BleLink) -> list[RemoteService]:
    client = link.connection.gatt_client
    proxies = await client.discover_services()
    proxies = sorted(proxies, key=lambda p: p.handle)
    link.db = ClientDb(
        [RemoteService(i + 1, from_uuid(p.uuid), True, p) for i, p in enumerate(proxies)],
    )
    return link.db.services


def db(link: BleLink) -> ClientDb:
    if link.db is None:
        raise GattClientError("services not discovered")
    return link.db


async def discover_characteristics(link: BleLink, srv_index: int) -> RemoteService:
    srv = db(link).service(srv_index)
    client = link.connection.gatt_client
    chars = await client.discover_characteristics((), srv.proxy)
    out = []
    for i, ch in enumerate(sorted(chars, key=lambda c: c.handle)):
        descs = await client.discover_descriptors(ch)
        out.append(
            RemoteCharacteristic(
                index=i + 1,
                uuid=from_uuid(ch.uuid),
                properties=int(ch.properties),
                proxy=ch,
                descriptors=[
                    RemoteDescriptor(j + 1, from_uuid(d.type), d)
                    for j, d in enumerate(sorted(descs, key=lambda d: d.handle))
                ],
            )
        )
    srv.characteristics = out
    return srv


async def discover_included(link: BleLink, srv_index: int) -> RemoteService:
    srv = db(link).service(srv_index)
    client = link.connection.gatt_client
    included = await client.discover_included_services(srv.proxy)
    srv.included = [RemoteService(i + 1, from_uuid(p.uuid), True, p) for i, p in enumerate(included)]
    return srv


def characteristic(link: BleLink, srv_index: int, char_index: int) -> RemoteCharacteristic:
    srv = db(link).service(srv_index)
    for c in srv.characteristics or []:
        if c.index == char_index:
            return c
    raise GattClientError(f"no characteristic {srv_index}/{char_index}")


def descriptor(ch: RemoteCharacteristic, desc_index: int) -> RemoteDescriptor:
    for d in ch.descriptors:
        if d.index == desc_index:
            return d
    raise GattClientError(f"no descriptor {desc_index}")


async def read(link: BleLink, srv_index: int, char_index: int, desc_index: int | None) -> bytes:
    ch = characteristic(link, srv_index, char_index)
    target = ch.proxy if desc_index is None else descriptor(ch, desc_index).proxy
    if desc_index is None and not ch.properties & table.PROP_READ:
        raise GattClientError("not readable")
    try:
        return bytes(await link.connection.gatt_client.read_value(target.handle))
    except att.ATT_Error as exc:
        raise GattClientError(str(exc)) from None


async def write(
    link: BleLink,
    srv_index: int,
    char_index: int,
    desc_index: int | None,
    value: bytes,
    sink: NotificationSink,
) -> None:
    ch = characteristic(link, srv_index, char_index)
    client = link.connection.gatt_client
    if desc_index is not None:
        d = descriptor(ch, desc_index)
        if d.uuid.short == table.CCCD:
            value = _cccd_value(ch, value)
            _register(link, srv_index, ch, sink)
        try:
            await client.write_value(d.proxy.handle, value, with_response=True)
        except att.ATT_Error as exc:
            raise GattClientError(str(exc)) from None
        return
    props = ch.properties
    if not props & (table.PROP_WRITE | table.PROP_WRITE_NR):
        raise GattClientError("not writable")
    try:
        await client.write_value(ch.proxy.handle, value, with_response=bool(props & table.PROP_WRITE))
    except att.ATT_Error as exc:
        raise GattClientError(str(exc)) from None


async def write_no_response(link: BleLink, ch: RemoteCharacteristic, value: bytes) -> None:
    await link.connection.gatt_client.write_value(ch.proxy.handle, value, with_response=False)


def _cccd_value(ch: RemoteCharacteristic, typed: bytes) -> bytes:
    if ch.properties & table.PROP_NOTIFY:
        return b"\x01\x00"
    if ch.properties & table.PROP_INDICATE:
        return b"\x02\x00"
    return typed


def _register(link: BleLink, srv_index: int, ch: RemoteCharacteristic, sink: NotificationSink) -> None:
    """Deliver this characteristic's notifications and indications to ``sink``."""
    handle = ch.proxy.handle
    if handle in link.subscribed:
        return
    link.subscribed.add(handle)
    client = link.connection.gatt_client

    def on_notify(value: bytes) -> None:
        sink(srv_index, ch.index, bytes(value), False)

    def on_indicate(value: bytes) -> None:
        sink(srv_index, ch.index, bytes(value), True)

    client.notification_subscribers.setdefault(handle, set()).add(on_notify)
    client.indication_subscribers.setdefault(handle, set()).add(on_indicate)


def register(link: BleLink, srv_index: int, ch: RemoteCharacteristic, sink: NotificationSink) -> None:
    _register(link, srv_index, ch, sink)


def uuid_text(u: table.Uuid) -> str:
    return u.at_text()


def is_primary(p: Any) -> bool:
    return bool(
        getattr(p, "type", gatt.GATT_PRIMARY_SERVICE_ATTRIBUTE_TYPE) == gatt.GATT_PRIMARY_SERVICE_ATTRIBUTE_TYPE
    )
