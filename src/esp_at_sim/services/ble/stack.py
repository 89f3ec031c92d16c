"""The LE stack of a module: what ``AT+BLE...`` commands drive.

Theory of operation
-------------------
:class:`BleStack` is a per-boot service. ``init(role)`` acquires the
module's radio (controller + Bumble host, ``radio.py``) and wires Bumble's
events to a :class:`BleListener` (the AT layer); ``deinit()`` releases it.
In between it keeps what the firmware keeps: advertising and scan
parameters, the connection table indexed by AT ``<conn_index>`` (0..2),
the GATT server table (``gatt_server.py``), the GATT client's discovered
databases (``gatt_client.py``) and the security manager (``security.py``).

Bumble does the protocol work (HCI, L2CAP, ATT, SMP); this class decides
the ESP-AT policy around it: which index a new connection gets, that a
connection ends advertising, that at most three connections and
advertisements coexist, what a scan report looks like, when the
connection parameters and MTU are reported.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble import hci
from bumble.core import ConnectionError as BumbleConnectionError
from bumble.core import PhysicalTransport
from bumble.device import (
    AdvertisingEventProperties,
    AdvertisingParameters,
    AdvertisingType,
    Connection,
    ConnectionParametersPreferences,
    LegacyAdvertiser,
    PeriodicAdvertisingParameters,
)

from esp_at_sim.services.ble import gatt_table
from esp_at_sim.services.ble.events import BleListener, ConnParams, ScanReport
from esp_at_sim.services.ble.gatt_server import GattEvents, GattServerTable
from esp_at_sim.services.ble.radio import BtRadio, EspDevice

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.services.ble.gatt_client import ClientDb

log = logging.getLogger(__name__)

MAX_LINKS = 3
ZERO_ADDR = "00:00:00:00:00:00"
# what the firmware asks for when it connects (Bluedroid's defaults):
# 30-50 ms interval, no latency, 5 s supervision timeout
CONNECT_PREFS = ConnectionParametersPreferences(
    connection_interval_min=30.0, connection_interval_max=50.0, max_latency=0, supervision_timeout=5000
)


class BleError(Exception):
    """An LE operation failed (the command answers ERROR)."""


@dataclass
class AdvParams:
    int_min: int = 0x20
    int_max: int = 0x40
    adv_type: int = 0
    own_addr_type: int = 0
    channel_map: int = 7
    filter_policy: int = 0
    peer_addr_type: int = 0
    peer_addr: str = ZERO_ADDR
    primary_phy: int = 1
    secondary_phy: int = 1
    configured: bool = False


@dataclass
class ScanParams:
    scan_type: int = 0
    own_addr_type: int = 0
    filter_policy: int = 0
    interval: int = 0x40
    window: int = 0x40


@dataclass
class ScanFilter:
    kind: int = 0  # 0 none, 1 MAC, 2 NAME, 3 UUID, 4 RSSI
    value: Any = None
    duplicates: bool = False


@dataclass
class BleLink:
    index: int
    connection: Connection
    address: str
    addr_type: int
    central: bool
    heap: Any = None
    mtu: int = 23
    req_min: int = 0
    req_max: int = 0
    mitm: bool = False
    db: ClientDb | None = None
    subscribed: set[int] = field(default_factory=set)


def addr_text(address: hci.Address) -> str:
    return address.to_string(False).lower()


def default_scan_params(chip: str) -> ScanParams:
    if chip == "esp32":
        return ScanParams(interval=0x140, window=0x30)
    if chip == "esp32c3":
        return ScanParams(interval=0x40, window=0x40)
    return ScanParams(interval=0x50, window=0x50)


class BleStack(GattEvents):
    """Per-boot service: ``module.service(BleStack)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.radio = module.service(BtRadio)
        self.listener = BleListener()
        self.role = 0
        self.device: EspDevice | None = None
        self.adv = AdvParams()
        self.adv_data = b""
        self.scan_rsp = b""
        self.advdataex: tuple[str, str, str, int] | None = None
        self.periodic_data = b""
        self.scan_params = default_scan_params(module.chip)
        self.links: dict[int, BleLink] = {}
        self.random_address: str | None = None
        self.advertising = False
        self.periodic_advertising = False
        self.scanning = False
        self._scan_filter = ScanFilter()
        self._scan_seen: set[tuple[str, int]] = set()
        self._scan_timer: asyncio.TimerHandle | None = None
        self._adv_set: Any = None
        self._pending_central: tuple[int, str] | None = None
        self._sids: dict[str, tuple[int, Any]] = {}
        self.gatts: GattServerTable | None = None
        self.security: Any = None
        self.spp: Any = None
        self.sync: Any = None
        self._gatts_heap: list[Any] = []
        self._load_persisted()

    # --------------------------------------------------------------- settings
    def _load_persisted(self) -> None:
        s = self.module.settings
        stored = s.get("ble", "advparam")
        if stored:
            self.adv = AdvParams(**stored)
        self.adv_data = bytes.fromhex(s.get("ble", "advdata", ""))
        self.scan_rsp = bytes.fromhex(s.get("ble", "scanrsp", ""))
        ex = s.get("ble", "advdataex")
        self.advdataex = (str(ex[0]), str(ex[1]), str(ex[2]), int(ex[3])) if ex else None
        sp = s.get("ble", "scanparam")
        if sp:
            self.scan_params = ScanParams(**sp)

    def persist(self, key: str, value: Any, persist: bool | None) -> None:
        self.module.settings.set("ble", key, value, persist=persist)

    @property
    def name(self) -> str:
        return str(self.module.settings.get("ble", "name", "ESP-AT"))

    @property
    def bluedroid(self) -> bool:
        return (self.module.profile.ble_stack or "bluedroid") == "bluedroid"

    @property
    def max_links(self) -> int:
        return 2 if self.module.chip == "esp32c2" else MAX_LINKS

    @property
    def initialized(self) -> bool:
        return self.role != 0 and self.device is not None

    def require(self) -> EspDevice:
        if self.device is None or self.role == 0:
            raise BleError("ble not initialized")
        return self.device

    # ------------------------------------------------------------- lifecycle
    async def init(self, role: int) -> None:
        if self.role:
            if role == self.role:
                return
            raise BleError("role cannot change")
        device = await self.radio.acquire("ble")
        self.device = device
        self.role = role
        device.name = self.name
        device.raw_report_listener = self._on_raw_report
        device.on("connection", self._on_connection)
        self.gatts = GattServerTable(device, self, name=lambda: self.name.encode())
        from esp_at_sim.services.ble.security import SecurityManager

        self.security = SecurityManager(self)
        from esp_at_sim.services.ble.spp import BleSpp

        self.spp = BleSpp(self)
        if role in (2, 3) and not self.bluedroid:
            self.create_services()
            assert self.gatts is not None
            self.gatts.start(None)

    async def deinit(self) -> None:
        if not self.role:
            return
        device = self.device
        self._stop_scan_timer()
        for link in list(self.links.values()):
            self._drop_link(link)
        self.role = 0
        self.advertising = self.scanning = self.periodic_advertising = False
        self._adv_set = None
        if device is not None:
            device.raw_report_listener = None
            device.remove_listener("connection", self._on_connection)
            if self.gatts is not None:
                self.gatts.remove_all()
        for h in self._gatts_heap:
            h.free()
        self._gatts_heap.clear()
        self.gatts = None
        self.device = None
        if self.spp is not None and self.spp.active:
            self.spp.active = False
            self.module.leave_passthrough()
        self.spp = None
        self.security = None
        await self.radio.release("ble")

    # ---------------------------------------------------------------- address
    @property
    def public_address(self) -> str:
        return self.radio.address

    async def set_random_address(self, address: str | None) -> None:
        device = self.require()
        if address is None:
            addr = hci.Address.generate_private_address(device.irk)
        else:
            addr = hci.Address(address, hci.Address.RANDOM_DEVICE_ADDRESS)
        await device.send_sync_command(hci.HCI_LE_Set_Random_Address_Command(random_address=addr))
        device.random_address = addr
        self.random_address = addr_text(addr)

    def clear_random_address(self) -> None:
        self.random_address = None

    def query_address(self) -> str:
        if not self.bluedroid and self.random_address:
            return self.random_address
        return self.public_address

    # ------------------------------------------------------------ advertising
    def adv_payload(self) -> tuple[bytes, bytes]:
        return self.adv_data, self.scan_rsp

    def links_and_advs(self) -> int:
        return len(self.links) + (1 if self.advertising else 0)

    async def start_advertising(self) -> None:
        device = self.require()
        if self.advertising:
            await self.stop_advertising()
        kind = self.adv.adv_type
        connectable = kind in (0, 1, 4, 6)
        if connectable and len(self.links) >= self.max_links:
            raise BleError("connection table full")
        if self.adv.own_addr_type == 1 and self.random_address is None:
            raise BleError("no random address")
        own = hci.OwnAddressType.RANDOM if self.adv.own_addr_type == 1 else hci.OwnAddressType.PUBLIC
        peer = hci.Address(
            self.adv.peer_addr,
            hci.Address.RANDOM_DEVICE_ADDRESS if self.adv.peer_addr_type else hci.Address.PUBLIC_DEVICE_ADDRESS,
        )
        if kind >= 5 or device.supports_le_extended_advertising:
            await self._start_extended(device, kind, own, peer)
        else:
            adv_type = AdvertisingType(kind)
            device.advertising_data = self.adv_data if adv_type.has_data else b""
            device.scan_response_data = self.scan_rsp
            device.advertising_interval_min = self.adv.int_min * 0.625
            device.advertising_interval_max = self.adv.int_max * 0.625
            advertiser = _AtLegacyAdvertiser(
                device=device,
                advertising_type=adv_type,
                own_address_type=own,
                peer_address=peer if adv_type.is_directed else hci.Address.ANY,
                auto_restart=False,
                channel_map=self.adv.channel_map,
                filter_policy=self.adv.filter_policy,
            )
            try:
                await advertiser.start()
            except hci.HCI_Error as exc:
                raise BleError(str(exc)) from None
            device.legacy_advertiser = advertiser
        self.advertising = True

    async def _start_extended(self, device: EspDevice, kind: int, own: Any, peer: hci.Address) -> None:
        if kind >= 5:
            props = AdvertisingEventProperties(
                is_connectable=kind == 6, is_scannable=kind == 7, is_directed=False, is_legacy=False
            )
        else:
            props = AdvertisingEventProperties.from_advertising_type(AdvertisingType(kind))
        params = AdvertisingParameters(
            advertising_event_properties=props,
            primary_advertising_interval_min=self.adv.int_min * 0.625,
            primary_advertising_interval_max=self.adv.int_max * 0.625,
            primary_advertising_channel_map=hci.HCI_LE_Set_Extended_Advertising_Parameters_Command.ChannelMap(
                self.adv.channel_map
            ),
            own_address_type=own,
            peer_address=peer if kind in (1, 4) else hci.Address.ANY,
            advertising_filter_policy=self.adv.filter_policy,
            primary_advertising_phy=hci.Phy(self.adv.primary_phy if kind >= 5 else 1),
            secondary_advertising_phy=hci.Phy(self.adv.secondary_phy if kind >= 5 else 1),
        )
        data = self.adv_data if kind not in (1, 4) else b""
        rsp = self.scan_rsp if kind in (0, 2, 7) else b""
        if kind == 7:
            data = b""  # extended scannable advertising carries its data in the scan response
        periodic = None
        if kind == 5 and self.periodic_data:
            periodic = PeriodicAdvertisingParameters(
                periodic_advertising_interval_min=100.0, periodic_advertising_interval_max=100.0
            )
        try:
            self._adv_set = await device.create_advertising_set(
                advertising_parameters=params,
                random_address=device.random_address if own == hci.OwnAddressType.RANDOM else None,
                advertising_data=data,
                scan_response_data=rsp,
                periodic_advertising_parameters=periodic,
                periodic_advertising_data=self.periodic_data if periodic else b"",
            )
        except (hci.HCI_Error, ValueError) as exc:
            raise BleError(str(exc)) from None

    async def stop_advertising(self) -> None:
        device = self.require()
        self.advertising = False
        self.periodic_advertising = False
        adv_set, self._adv_set = self._adv_set, None
        try:
            if adv_set is not None:
                if adv_set.enabled:
                    await adv_set.stop()
                await adv_set.remove()
            elif device.legacy_advertiser is not None:
                await device.stop_advertising()
        except hci.HCI_Error:
            log.debug("stop advertising", exc_info=True)

    async def refresh_advertising_data(self) -> None:
        """New data while advertising takes effect at once."""
        device = self.require()
        if not self.advertising:
            return
        if self._adv_set is not None:
            if self.adv.adv_type != 7:
                await self._adv_set.set_advertising_data(self.adv_data)
            if self.adv.adv_type in (0, 2, 7):
                await self._adv_set.set_scan_response_data(self.scan_rsp)
        else:
            await device.send_sync_command(hci.HCI_LE_Set_Advertising_Data_Command(advertising_data=self.adv_data))
            await device.send_sync_command(hci.HCI_LE_Set_Scan_Response_Data_Command(scan_response_data=self.scan_rsp))

    async def start_periodic(self) -> None:
        device = self.require()
        adv_set = self._adv_set
        if adv_set is None or not self.advertising or self.adv.adv_type != 5:
            raise BleError("extended non-connectable advertising must run")
        try:
            await adv_set.set_periodic_advertising_parameters(
                PeriodicAdvertisingParameters(
                    periodic_advertising_interval_min=100.0, periodic_advertising_interval_max=100.0
                )
            )
            await adv_set.set_periodic_advertising_data(self.periodic_data)
            await adv_set.start_periodic()
        except hci.HCI_Error as exc:
            raise BleError(str(exc)) from None
        del device
        self.periodic_advertising = True

    async def stop_periodic(self) -> None:
        self.require()
        adv_set = self._adv_set
        if adv_set is not None and self.periodic_advertising:
            await adv_set.stop_periodic()
        self.periodic_advertising = False

    async def set_periodic_data(self, data: bytes) -> None:
        self.periodic_data = data
        if self._adv_set is not None and self.periodic_advertising:
            await self._adv_set.set_periodic_advertising_data(data)

    # ---------------------------------------------------------------- scanning
    async def start_scan(self, duration: int, flt: ScanFilter) -> None:
        device = self.require()
        if self.scanning:
            await self.stop_scan()
        own = hci.OwnAddressType.RANDOM if self.scan_params.own_addr_type in (1, 3) else hci.OwnAddressType.PUBLIC
        if own == hci.OwnAddressType.RANDOM and self.random_address is None:
            own = hci.OwnAddressType.PUBLIC
        self._scan_filter = flt
        self._scan_seen = set()
        sp = self.scan_params
        try:
            if device.supports_le_extended_advertising:
                await device.send_sync_command(
                    hci.HCI_LE_Set_Extended_Scan_Parameters_Command(
                        own_address_type=own,
                        scanning_filter_policy=sp.filter_policy,
                        scanning_phys=1,
                        scan_types=[sp.scan_type],
                        scan_intervals=[sp.interval],
                        scan_windows=[sp.window],
                    )
                )
                await device.send_sync_command(
                    hci.HCI_LE_Set_Extended_Scan_Enable_Command(enable=1, filter_duplicates=0, duration=0, period=0)
                )
            else:
                await device.send_sync_command(
                    hci.HCI_LE_Set_Scan_Parameters_Command(
                        le_scan_type=sp.scan_type,
                        le_scan_interval=sp.interval,
                        le_scan_window=sp.window,
                        own_address_type=own,
                        scanning_filter_policy=sp.filter_policy,
                    )
                )
                await device.send_sync_command(
                    hci.HCI_LE_Set_Scan_Enable_Command(le_scan_enable=1, filter_duplicates=0)
                )
        except hci.HCI_Error as exc:
            raise BleError(str(exc)) from None
        device.scanning = True
        self.scanning = True
        self._stop_scan_timer()
        if duration > 0:
            loop = asyncio.get_running_loop()
            self._scan_timer = loop.call_later(self.module.clock.real_seconds(duration), self._scan_expired)

    def _stop_scan_timer(self) -> None:
        if self._scan_timer is not None:
            self._scan_timer.cancel()
            self._scan_timer = None

    def _scan_expired(self) -> None:
        self._scan_timer = None
        self.module.scope.spawn(self._finish_scan(), name=f"{self.module.name}-blescan-done")

    async def _finish_scan(self) -> None:
        if not self.scanning:
            return
        await self.stop_scan()
        self.listener.scan_done()

    async def stop_scan(self) -> None:
        device = self.require()
        self._stop_scan_timer()
        if not self.scanning:
            return
        self.scanning = False
        if self.sync is not None:
            await self.sync.stop()
        try:
            if device.supports_le_extended_advertising:
                await device.send_sync_command(
                    hci.HCI_LE_Set_Extended_Scan_Enable_Command(enable=0, filter_duplicates=0, duration=0, period=0)
                )
            else:
                await device.send_sync_command(
                    hci.HCI_LE_Set_Scan_Enable_Command(le_scan_enable=0, filter_duplicates=0)
                )
        except hci.HCI_Error:
            log.debug("stop scan", exc_info=True)
        device.scanning = False

    def _on_raw_report(self, report: Any) -> None:
        if not self.scanning:
            return
        if isinstance(report, hci.HCI_LE_Advertising_Report_Event.Report):
            event_type = int(report.event_type)
        else:
            bits = int(report.event_type)
            if bits & 0x08:
                event_type = 4
            elif bits & 0x04:
                event_type = 1
            elif bits & 0x01:
                event_type = 0
            elif bits & 0x02:
                event_type = 2
            else:
                event_type = 3
        address = addr_text(report.address)
        addr_type = 0 if report.address.is_public else 1
        data = bytes(report.data)
        sid = getattr(report, "advertising_sid", 0xFF)
        if sid != 0xFF:
            self._sids[address] = (sid, report.address)
        r = ScanReport(
            address=address,
            addr_type=addr_type,
            rssi=int(report.rssi),
            adv_data=b"" if event_type == 4 else data,
            scan_rsp=data if event_type == 4 else b"",
            event_type=event_type,
        )
        if not self._passes(r):
            return
        self.listener.scan_report(r)

    def _passes(self, r: ScanReport) -> bool:
        f = self._scan_filter
        if f.kind == 1:
            if not r.address.startswith(str(f.value).lower()):
                return False
        elif f.kind == 2:
            names = [v for t, v in _ad_structures(r.adv_data + r.scan_rsp) if t in (0x08, 0x09)]
            if not any(n == f.value for n in names):
                return False
        elif f.kind == 3:
            wanted: bytes = f.value
            uuids = []
            for t, v in _ad_structures(r.adv_data + r.scan_rsp):
                size = {0x02: 2, 0x03: 2, 0x04: 4, 0x05: 4, 0x06: 16, 0x07: 16}.get(t)
                if size:
                    uuids += [bytes(reversed(v[i : i + size])) for i in range(0, len(v) - size + 1, size)]
            if wanted not in uuids:
                return False
        elif f.kind == 4 and r.rssi < int(f.value):
            return False
        if f.duplicates and f.kind:
            key = (r.address, r.event_type)
            if key in self._scan_seen:
                return False
            self._scan_seen.add(key)
        return True

    # ---------------------------------------------------------- periodic sync
    async def start_sync(self, address: str) -> None:
        device = self.require()
        if not self.scanning:
            raise BleError("scan first")
        if self.sync is not None:
            await self.sync.stop()
        sid, hci_address = self._sids.get(address, (0, hci.Address(address, hci.Address.PUBLIC_DEVICE_ADDRESS)))
        try:
            sync = await device.create_periodic_advertising_sync(hci_address, sid)
        except Exception as exc:
            raise BleError(str(exc)) from None
        self.sync = _Sync(self, sync, address)

    async def stop_sync(self) -> None:
        self.require()
        if self.sync is not None:
            await self.sync.stop()

    # -------------------------------------------------------------- links
    def free_index(self) -> int | None:
        for i in range(self.max_links):
            if i not in self.links:
                return i
        return None

    def link(self, index: int) -> BleLink:
        link = self.links.get(index)
        if link is None:
            raise BleError(f"no connection {index}")
        return link

    def link_of(self, connection: Any) -> BleLink | None:
        for link in self.links.values():
            if link.connection is connection:
                return link
        return None

    def index_of(self, connection: Any) -> int:
        link = self.link_of(connection)
        return -1 if link is None else link.index

    async def connect(self, index: int, address: str, addr_type: int, timeout: float) -> BleLink:
        device = self.require()
        if index in self.links or self._pending_central is not None:
            raise BleError("index in use")
        if any(link.address == address.lower() for link in self.links.values()):
            raise BleError("already connected")
        if self.links_and_advs() >= self.max_links:
            raise BleError("connection table full")
        peer = hci.Address(
            address, hci.Address.RANDOM_DEVICE_ADDRESS if addr_type else hci.Address.PUBLIC_DEVICE_ADDRESS
        )
        own = hci.OwnAddressType.RANDOM if self.random_address is not None else hci.OwnAddressType.PUBLIC
        self._pending_central = (index, address.lower())
        try:
            connection = await device.connect_le(
                peer,
                connection_parameters_preferences={hci.HCI_LE_1M_PHY: CONNECT_PREFS},
                own_address_type=own,
                timeout=self.module.clock.real_seconds(timeout),
            )
        except (BumbleConnectionError, hci.HCI_Error, TimeoutError) as exc:
            raise BleError(f"connect failed: {exc}") from None
        except Exception as exc:  # Bumble raises its own TimeoutError/CommandTimeoutError
            raise BleError(f"connect failed: {exc}") from None
        finally:
            self._pending_central = None
        link = self.link_of(connection)
        if link is None:
            raise BleError("connection lost")
        return link

    def _on_connection(self, connection: Connection) -> None:
        if connection.transport != PhysicalTransport.LE:
            return
        central = connection.role == hci.Role.CENTRAL
        expected = False
        if central and self._pending_central is not None:
            index: int | None = self._pending_central[0]
            expected = True
        else:
            index = self.free_index()
        if index is None:
            self.module.scope.spawn(self._reject(connection))
            return
        try:
            heap = self.module.heap.alloc_kind("ble_conn")
        except Exception:
            self.module.scope.spawn(self._reject(connection))
            return
        peer = connection.peer_address
        link = BleLink(
            index=index,
            connection=connection,
            address=addr_text(peer),
            addr_type=0 if peer.is_public else 1,
            central=central,
            heap=heap,
        )
        stale = self.module.vars.get("ble_last_mtu", {})
        if "ble_mtu_stale" in self.module.quirks and index in stale:
            link.mtu = stale[index]  # the quirk: the previous connection's MTU is still reported
        self.module.vars.get("ble_mtu_reset", set()).discard(index)
        self.links[index] = link
        if not central:
            # a connection ends advertising (the firmware does not restart it)
            self.advertising = False
            self._adv_set = None
            if self.device is not None:
                self.device.legacy_advertiser = None
        connection.on("disconnection", lambda reason, link=link: self._on_disconnection(link, reason))
        connection.on("connection_parameters_update", lambda link=link: self._on_params(link))
        connection.on("connection_parameters_update_failure", lambda error, link=link: self._on_params_failed(link))
        connection.on("connection_att_mtu_update", lambda link=link: self._on_mtu(link))
        if self.security is not None:
            self.security.attach(link)
        if not expected:
            self.listener.connected(index, link.address)

    async def _reject(self, connection: Connection) -> None:
        try:
            await connection.disconnect(hci.HCI_ErrorCode.CONNECTION_REJECTED_DUE_TO_LIMITED_RESOURCES_ERROR)
        except Exception:
            log.debug("reject", exc_info=True)

    def _on_disconnection(self, link: BleLink, reason: int) -> None:
        if self.links.get(link.index) is not link:
            return
        self.module.vars.setdefault("ble_last_mtu", {})[link.index] = link.mtu
        if "ble_mtu_reset_others" in self.module.quirks and not link.central:
            # the quirk: the server side falls back to the default MTU on its other links
            reset: set[int] = self.module.vars.setdefault("ble_mtu_reset", set())
            reset.update(i for i, other in self.links.items() if other is not link and not other.central)
        self._drop_link(link)
        self.listener.disconnected(link.index, link.address, reason)

    def _drop_link(self, link: BleLink) -> None:
        self.links.pop(link.index, None)
        if link.heap is not None:
            link.heap.free()
            link.heap = None
        if self.spp is not None:
            self.spp.link_lost(link)

    async def disconnect(self, index: int) -> None:
        link = self.link(index)
        self.module.scope.spawn(self._disconnect(link), name=f"{self.module.name}-blediscon")

    async def _disconnect(self, link: BleLink) -> None:
        try:
            await link.connection.disconnect()
        except Exception:
            log.debug("disconnect", exc_info=True)

    # ------------------------------------------------------ link parameters
    def conn_params(self, link: BleLink) -> ConnParams:
        p = link.connection.parameters
        return ConnParams(
            min_interval=link.req_min,
            max_interval=link.req_max,
            interval=round(p.connection_interval / 1.25),
            latency=p.peripheral_latency,
            timeout=round(p.supervision_timeout / 10),
        )

    async def update_conn_params(self, index: int, min_i: int, max_i: int, latency: int, timeout: int) -> None:
        link = self.link(index)
        link.req_min, link.req_max = min_i, max_i
        self.module.scope.spawn(self._update_params(link, min_i, max_i, latency, timeout))

    async def _update_params(self, link: BleLink, min_i: int, max_i: int, latency: int, timeout: int) -> None:
        try:
            await link.connection.update_parameters(
                min_i * 1.25, max_i * 1.25, latency, timeout * 10.0, use_l2cap=not link.central
            )
        except Exception:
            log.debug("connection update", exc_info=True)
            if self.links.get(link.index) is link:
                self.listener.conn_params(link.index, None)

    def _on_params(self, link: BleLink) -> None:
        if self.links.get(link.index) is link:
            self.listener.conn_params(link.index, self.conn_params(link))

    def _on_params_failed(self, link: BleLink) -> None:
        if self.links.get(link.index) is link:
            self.listener.conn_params(link.index, None)

    async def exchange_mtu(self, index: int, mtu: int) -> None:
        link = self.link(index)
        self.module.scope.spawn(self._exchange_mtu(link, mtu))

    async def _exchange_mtu(self, link: BleLink, mtu: int) -> None:
        try:
            await link.connection.gatt_client.request_mtu(mtu)
        except Exception:
            log.debug("mtu exchange", exc_info=True)
            if self.links.get(link.index) is link:
                self.listener.mtu(link.index, -1)

    def _on_mtu(self, link: BleLink) -> None:
        if self.links.get(link.index) is not link:
            return
        link.mtu = link.connection.att_mtu
        self.module.vars.get("ble_mtu_reset", set()).discard(link.index)
        self.listener.mtu(link.index, link.mtu)

    async def set_data_length(self, index: int, octets: int) -> None:
        link = self.link(index)
        device = self.require()
        try:
            await device.set_data_length(link.connection, octets, min(0x4290, max(0x148, (octets + 14) * 8)))
        except Exception as exc:
            raise BleError(str(exc)) from None

    async def read_phy(self, index: int) -> tuple[int, int]:
        link = self.link(index)
        phy = await link.connection.get_phy()
        return int(phy.tx_phy), int(phy.rx_phy)

    async def set_phy(self, index: int, phy: int) -> tuple[int, int]:
        link = self.link(index)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def updated(*_a: Any) -> None:
            if not done.done():
                done.set_result(None)

        link.connection.once("connection_phy_update", updated)
        link.connection.once("connection_phy_update_failure", lambda *_a: updated())
        await link.connection.set_phy(tx_phys=[hci.Phy(phy)], rx_phys=[hci.Phy(phy)])
        await asyncio.wait_for(done, 5.0)
        return await self.read_phy(index)

    async def read_rssi(self, index: int) -> int:
        link = self.link(index)
        return int(await link.connection.get_rssi())  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------- whitelist
    async def whitelist(self, add: bool, addr_type: int | None, address: str | None) -> None:
        device = self.require()
        if address is None:
            await device.send_sync_command(hci.HCI_LE_Clear_Filter_Accept_List_Command())
            return
        kind = hci.Address.RANDOM_DEVICE_ADDRESS if addr_type else hci.Address.PUBLIC_DEVICE_ADDRESS
        addr = hci.Address(address, kind)
        command: Any
        if add:
            command = hci.HCI_LE_Add_Device_To_Filter_Accept_List_Command(address_type=kind, address=addr)
        else:
            command = hci.HCI_LE_Remove_Device_From_Filter_Accept_List_Command(address_type=kind, address=addr)
        try:
            await device.send_sync_command(command)
        except hci.HCI_Error as exc:
            raise BleError(str(exc)) from None

    # ---------------------------------------------------------- GATT server
    def create_services(self) -> None:
        device = self.require()
        assert self.gatts is not None
        if self.gatts.created:
            raise BleError("services already created")
        services = gatt_table.load(self.module.nvs.mfg)
        allocs = [self.module.heap.alloc_kind("ble_service", 40 * len(s.characteristics)) for s in services]
        self._gatts_heap.extend(allocs)
        self.gatts.create(services)
        del device

    # GattEvents
    def on_read(self, connection: Any) -> None:
        link = self.link_of(connection)
        if link is not None:
            self.listener.read(link.index, link.address)

    def on_write(self, connection: Any, srv: int, char: int, desc: int | None, value: bytes) -> None:
        link = self.link_of(connection)
        if link is None:
            return
        if self.spp is not None and self.spp.on_server_write(link, srv, char, desc, value):
            return
        self.listener.write(link.index, srv, char, desc, value)

    def notification_sink(self, link: BleLink) -> Any:
        """Where this connection's notifications and indications go."""

        def sink(srv: int, char: int, value: bytes, indication: bool) -> None:
            if self.links.get(link.index) is not link:
                return
            if self.spp is not None and self.spp.on_client_notification(link, srv, char, value):
                return
            self.listener.notification(link.index, srv, char, value, indication)

        return sink

    def mitm(self, connection: Any) -> bool:
        link = self.link_of(connection)
        return link is not None and link.mitm


class _Sync:
    """A periodic advertising sync of AT+BLESYNCSTART; it ends with the scan."""

    def __init__(self, stack: BleStack, sync: Any, address: str) -> None:
        self.stack = stack
        self.sync = sync
        self.address = address
        sync.on("periodic_advertisement", self._on_report)

    def _on_report(self, adv: Any) -> None:
        if self.stack.sync is self:
            self.stack.listener.sync_report(self.address, int(adv.rssi), bytes(adv.data_bytes))

    async def stop(self) -> None:
        if self.stack.sync is self:
            self.stack.sync = None
        try:
            await self.sync.terminate()
        except Exception:
            log.debug("sync terminate", exc_info=True)
        device = self.stack.device
        if device is not None and self.sync in device.periodic_advertising_syncs:
            device.periodic_advertising_syncs.remove(self.sync)


class _AtLegacyAdvertiser(LegacyAdvertiser):
    """Bumble's legacy advertiser with the channel map and filter policy of AT+BLEADVPARAM."""

    def __init__(self, *, channel_map: int, filter_policy: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channel_map = channel_map
        self.filter_policy = filter_policy

    async def start(self) -> None:
        d = self.device
        if self.advertising_type.has_data:
            await d.send_sync_command(hci.HCI_LE_Set_Advertising_Data_Command(advertising_data=d.advertising_data))
        if self.advertising_type.is_scannable:
            await d.send_sync_command(
                hci.HCI_LE_Set_Scan_Response_Data_Command(scan_response_data=d.scan_response_data)
            )
        await d.send_sync_command(
            hci.HCI_LE_Set_Advertising_Parameters_Command(
                advertising_interval_min=int(d.advertising_interval_min / 0.625),
                advertising_interval_max=int(d.advertising_interval_max / 0.625),
                advertising_type=int(self.advertising_type),
                own_address_type=self.own_address_type,
                peer_address_type=self.peer_address.address_type,
                peer_address=self.peer_address,
                advertising_channel_map=self.channel_map,
                advertising_filter_policy=self.filter_policy,
            )
        )
        await d.send_sync_command(hci.HCI_LE_Set_Advertising_Enable_Command(advertising_enable=1))


def _ad_structures(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    i = 0
    while i < len(data):
        length = data[i]
        if length == 0 or i + 1 + length > len(data):
            break
        out.append((data[i + 1], data[i + 2 : i + 1 + length]))
        i += 1 + length
    return out
