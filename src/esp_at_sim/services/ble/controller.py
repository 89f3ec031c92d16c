"""A Bluetooth controller on the world's air, behind a real HCI.

Theory of operation
-------------------
:class:`AirController` is Bumble's in-process ``Controller`` (which parses
and answers every HCI command a host sends) with everything that touches
the radio replaced: advertising, scanning, initiating, the filter accept
list, connections, ACL flow control, LL control procedures, PHY, data
length and RSSI go through a :class:`RadioNode` on the world's
:class:`BleAir` instead of Bumble's ``LocalLink``. So Bumble's ``Host`` (or
any host outside the process, through ``hci_export.py``) drives it with
standard HCI, and what it hears depends on the world.

* ACL data from the host is reassembled into L2CAP PDUs, each crosses the
  air link as one frame, and the *Number Of Completed Packets* event comes
  back only once the frame has left - so the host is paced by the modelled
  air time, as by a real controller's buffers.
* LL control PDUs (Bumble's ``ll`` objects: encryption, feature exchange,
  connection update) ride the same ordered link; termination becomes a
  link close, which the peer learns after the frames in flight.
* Classic support (inquiry, page, LMP) lives in ``controller_classic.py``.

Only this package imports Bumble; the air knows nothing of HCI.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from bumble import hci, ll
from bumble.controller import Connection, Controller
from bumble.core import PhysicalTransport

from esp_at_sim.services.ble.controller_classic import ClassicMixin
from esp_at_sim.world.radio import scanning
from esp_at_sim.world.radio.air import AirAddress, BleAir, RadioNode
from esp_at_sim.world.radio.link import AirLink, LinkParams
from esp_at_sim.world.radio.scanning import AdvertisingSet, AdvKind, AdvReport, Initiation, PeriodicSync, ScanSession

log = logging.getLogger(__name__)

E = hci.HCI_ErrorCode
OK = E.SUCCESS
LOCAL_HOST_TERMINATED = 0x16
ACL_PACKET_LENGTH = 251
ACL_PACKETS = 12

_BT5_COMMANDS = {
    hci.HCI_LE_SET_ADVERTISING_SET_RANDOM_ADDRESS_COMMAND,
    hci.HCI_LE_SET_EXTENDED_ADVERTISING_PARAMETERS_COMMAND,
    hci.HCI_LE_SET_EXTENDED_ADVERTISING_DATA_COMMAND,
    hci.HCI_LE_SET_EXTENDED_SCAN_RESPONSE_DATA_COMMAND,
    hci.HCI_LE_SET_EXTENDED_ADVERTISING_ENABLE_COMMAND,
    hci.HCI_LE_READ_MAXIMUM_ADVERTISING_DATA_LENGTH_COMMAND,
    hci.HCI_LE_READ_NUMBER_OF_SUPPORTED_ADVERTISING_SETS_COMMAND,
    hci.HCI_LE_REMOVE_ADVERTISING_SET_COMMAND,
    hci.HCI_LE_CLEAR_ADVERTISING_SETS_COMMAND,
    hci.HCI_LE_SET_PERIODIC_ADVERTISING_PARAMETERS_COMMAND,
    hci.HCI_LE_SET_PERIODIC_ADVERTISING_DATA_COMMAND,
    hci.HCI_LE_SET_PERIODIC_ADVERTISING_ENABLE_COMMAND,
    hci.HCI_LE_SET_EXTENDED_SCAN_PARAMETERS_COMMAND,
    hci.HCI_LE_SET_EXTENDED_SCAN_ENABLE_COMMAND,
    hci.HCI_LE_EXTENDED_CREATE_CONNECTION_COMMAND,
    hci.HCI_LE_PERIODIC_ADVERTISING_CREATE_SYNC_COMMAND,
    hci.HCI_LE_PERIODIC_ADVERTISING_CREATE_SYNC_CANCEL_COMMAND,
    hci.HCI_LE_PERIODIC_ADVERTISING_TERMINATE_SYNC_COMMAND,
}
_BT5_FEATURES = (
    hci.LeFeatureMask.LE_EXTENDED_ADVERTISING
    | hci.LeFeatureMask.LE_PERIODIC_ADVERTISING
    | hci.LeFeatureMask.LE_2M_PHY
    | hci.LeFeatureMask.LE_CODED_PHY
    | hci.LeFeatureMask.CHANNEL_SELECTION_ALGORITHM_2
)


def to_air(address: hci.Address) -> AirAddress:
    return AirAddress(bytes(reversed(address.address_bytes)), address.is_random)


def to_hci(address: AirAddress) -> hci.Address:
    kind = hci.Address.RANDOM_DEVICE_ADDRESS if address.random else hci.Address.PUBLIC_DEVICE_ADDRESS
    return hci.Address(bytes(reversed(address.value)), kind)


def _no_connection(status: int, role: int) -> hci.HCI_LE_Connection_Complete_Event:
    """The Connection Complete event of a connection that did not come about."""
    return hci.HCI_LE_Connection_Complete_Event(
        status=status,
        connection_handle=0,
        role=role,
        peer_address_type=0,
        peer_address=hci.Address.ANY,
        connection_interval=0,
        peripheral_latency=0,
        supervision_timeout=0,
        central_clock_accuracy=0,
    )


class _Node(RadioNode):
    """The controller's antenna: forwards what the air delivers."""

    def __init__(self, controller: AirController, name: str, owner: Any, tx_power: float) -> None:
        super().__init__(name, tx_power=tx_power, owner=owner)
        self.controller = controller

    def on_advertising_report(self, session: ScanSession, report: AdvReport) -> None:
        self.controller._on_report(session, report)

    def on_periodic_report(self, sync: PeriodicSync, data: bytes, rssi: int) -> None:
        self.controller._on_periodic_report(sync, data, rssi)

    def on_sync_established(self, sync: PeriodicSync) -> None:
        self.controller._on_sync_established(sync)

    def on_sync_lost(self, sync: PeriodicSync) -> None:
        self.controller._on_sync_lost(sync)

    def on_link_up(self, link: AirLink, initiation: Initiation | None, adv: AdvertisingSet | None) -> None:
        self.controller._on_link_up(link, initiation, adv)

    def on_initiation_cancelled(self, initiation: Initiation) -> None:
        self.controller._on_initiation_cancelled(initiation)

    def on_link_frame(self, link: AirLink, frame: object) -> None:
        self.controller._on_link_frame(link, frame)

    def on_link_down(self, link: AirLink, reason: int) -> None:
        self.controller._on_link_down(link, reason)

    def on_advertising_ended(self, adv: AdvertisingSet, reason: int) -> None:
        self.controller._on_advertising_ended(adv, reason)

    def on_inquiry_result(self, result: Any) -> None:
        self.controller._on_inquiry_result(result)

    def on_inquiry_complete(self) -> None:
        self.controller._on_inquiry_complete()

    def on_page(self, link: AirLink) -> None:
        self.controller._on_page(link)


class _LinkEnd:
    """What Bumble's per-connection code calls ``connection.link``."""

    def __init__(self, controller: AirController, link: AirLink) -> None:
        self.controller = controller
        self.link = link

    def send_ll_control_pdu(self, sender_address: hci.Address, receiver_address: hci.Address, packet: Any) -> None:
        node = self.controller.node
        if isinstance(packet, ll.TerminateInd):
            self.link.close(node, packet.error_code)
        else:
            self.link.send(node, ("ll", packet), 8)

    def send_acl_data(self, *_args: Any) -> None:  # ACL goes through AirController directly
        raise RuntimeError("ACL data is sent by the controller")


class _Shim:
    """Stands in for Bumble's ``LocalLink`` on the controller itself."""

    def __init__(self, controller: AirController) -> None:
        self.controller = controller

    def add_controller(self, controller: Any) -> None:
        pass

    def remove_controller(self, controller: Any) -> None:
        pass

    def on_address_changed(self, controller: Any) -> None:
        self.controller._addresses_changed()

    def send_advertising_pdu(self, sender: Any, packet: Any) -> None:
        pass  # advertising is published on the air as sets, not as PDUs

    def send_lmp_packet(self, sender: Any, receiver_address: hci.Address, packet: Any) -> None:
        self.controller._send_lmp(receiver_address, packet)


@dataclass
class _AclIn:
    assembler: Any = None
    fragments: int = 0


@dataclass
class _LegacyAdv:
    interval_min: int = 0x0800
    interval_max: int = 0x0800
    adv_type: int = 0
    own_address_type: int = 0
    peer_address: hci.Address = field(default_factory=lambda: hci.Address.ANY)
    channel_map: int = 7
    filter_policy: int = 0
    data: bytes = b""
    scan_response: bytes = b""
    air: AdvertisingSet | None = None


class AirController(ClassicMixin, Controller):
    """A controller whose radio is a node on the world's air."""

    def __init__(
        self,
        name: str,
        air: BleAir,
        *,
        public_address: hci.Address,
        owner: Any = None,
        bt5: bool = True,
        classic: bool = False,
        tx_power: float = 0.0,
    ) -> None:
        self._shim = _Shim(self)
        super().__init__(name, link=self._shim, public_address=public_address)  # type: ignore[arg-type]
        self.air = air
        self.node = _Node(self, name, owner, tx_power)
        self.bt5 = bt5
        self.classic = classic
        self.supported_commands = set(Controller.supported_commands)
        self.le_features = Controller.le_features
        if bt5:
            self.supported_commands |= _BT5_COMMANDS
            self.supported_commands |= {hci.HCI_LE_SET_PHY_COMMAND}
        else:
            self.le_features = hci.LeFeatureMask(self.le_features & ~_BT5_FEATURES)
            self.hci_version = self.lmp_version = hci.HCI_VERSION_BLUETOOTH_CORE_4_2
        self.supported_commands.add(hci.HCI_READ_RSSI_COMMAND)
        self.le_acl_data_packet_length = ACL_PACKET_LENGTH
        self.total_num_le_acl_data_packets = ACL_PACKETS
        self.supported_max_tx_octets = self.supported_max_rx_octets = 251
        self.supported_max_tx_time = self.supported_max_rx_time = 2120
        self._legacy = _LegacyAdv()
        self._ext_air: dict[int, AdvertisingSet] = {}
        self._periodic: dict[int, tuple[int, bool]] = {}  # handle -> (interval units, enabled)
        self._scan: ScanSession | None = None
        self._scan_extended = False
        self._scan_seen: set[tuple[bytes, bool, bool]] | None = None
        self._ext_scan_params: tuple[int, int, int] = (0, 0x10, 0x10)  # type, interval, window
        self._initiation: Initiation | None = None
        self._initiation_command: Any = None
        self._syncs: dict[int, PeriodicSync] = {}
        self._pending_sync: PeriodicSync | None = None
        self._acl_in: dict[int, _AclIn] = {}
        self.closed = False
        self._init_classic()
        self._addresses_changed()
        air.attach(self.node)

    # ------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Switch the radio off: links time out at the peers, sets vanish."""
        if self.closed:
            return
        self.closed = True
        self._close_classic()
        self.air.detach(self.node)
        self.hci_sink = None

    def _addresses_changed(self) -> None:
        node = getattr(self, "node", None)
        if node is None:
            return
        addresses = {to_air(self.public_address)}
        if self.random_address != hci.Address.ANY_RANDOM:
            addresses.add(to_air(self.random_address))
        for s in self.advertising_sets.values():
            if s.random_address is not None:
                addresses.add(to_air(s.random_address))
        node.le_addresses = addresses
        if self.classic:
            node.classic_address = to_air(self.public_address)

    def _own(self, own_address_type: int, random: hci.Address | None = None) -> AirAddress:
        if own_address_type in (0, 2):
            return to_air(self.public_address)
        return to_air(random if random is not None else self.random_address)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.hci_sink is not None:
            asyncio.get_running_loop().call_soon(self.hci_sink.on_packet, bytes(packet))

    def _later(self, packet: hci.HCI_Packet) -> None:
        """Send an event after the command complete/status of the current command."""
        asyncio.get_running_loop().call_soon(self.send_hci_packet, packet)

    @staticmethod
    def _status(code: int) -> hci.HCI_StatusReturnParameters:
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode(code))

    # ----------------------------------------------------- legacy advertising
    def on_hci_le_set_advertising_parameters_command(self, c: Any) -> Any:
        if self._legacy.air is not None:
            return self._status(E.COMMAND_DISALLOWED_ERROR)
        directed_high = c.advertising_type == 1
        if not directed_high and not (0x20 <= c.advertising_interval_min <= c.advertising_interval_max <= 0x4000):
            return self._status(E.INVALID_COMMAND_PARAMETERS_ERROR)
        if c.advertising_type > 4 or not (1 <= c.advertising_channel_map <= 7) or c.advertising_filter_policy > 3:
            return self._status(E.INVALID_COMMAND_PARAMETERS_ERROR)
        lg = self._legacy
        lg.interval_min, lg.interval_max = c.advertising_interval_min, c.advertising_interval_max
        lg.adv_type, lg.own_address_type = c.advertising_type, c.own_address_type
        lg.peer_address = c.peer_address
        lg.channel_map, lg.filter_policy = c.advertising_channel_map, c.advertising_filter_policy
        return self._status(OK)

    def on_hci_le_set_advertising_data_command(self, c: Any) -> Any:
        self._legacy.data = bytes(c.advertising_data)
        if self._legacy.air is not None:
            self._legacy.air.data = self._legacy.data
        return self._status(OK)

    def on_hci_le_set_scan_response_data_command(self, c: Any) -> Any:
        self._legacy.scan_response = bytes(c.scan_response_data)
        if self._legacy.air is not None:
            self._legacy.air.scan_response = self._legacy.scan_response
        return self._status(OK)

    def on_hci_le_set_advertising_enable_command(self, c: Any) -> Any:
        lg = self._legacy
        if not c.advertising_enable:
            if lg.air is not None:
                scanning.stop_advertising(self.air, lg.air)
                lg.air = None
            return self._status(OK)
        if lg.air is not None:
            return self._status(OK)
        if lg.own_address_type in (1, 3) and self.random_address == hci.Address.ANY_RANDOM:
            return self._status(E.INVALID_COMMAND_PARAMETERS_ERROR)
        kind = AdvKind(lg.adv_type)
        if kind.connectable and len(self.le_connections) >= 3:
            return self._status(E.CONNECTION_LIMIT_EXCEEDED_ERROR)
        lg.air = AdvertisingSet(
            node=self.node,
            address=self._own(lg.own_address_type),
            kind=kind,
            data=lg.data,
            scan_response=lg.scan_response,
            interval=(lg.interval_min + lg.interval_max) / 2 * 0.000625,
            channel_map=lg.channel_map,
            filter_policy=lg.filter_policy,
            target=to_air(lg.peer_address) if kind.directed else None,
            handle=-1,
        )
        scanning.advertise(self.air, lg.air)
        return self._status(OK)

    def on_hci_le_read_advertising_physical_channel_tx_power_command(self, c: Any) -> Any:
        return hci.HCI_LE_Read_Advertising_Physical_Channel_Tx_Power_ReturnParameters(
            status=OK, tx_power_level=round(self.node.tx_power)
        )

    # --------------------------------------------------- extended advertising
    def _ext_kind(self, props: int) -> AdvKind:
        legacy = bool(props & 0x10)
        connectable, scannable, directed, high = bool(props & 1), bool(props & 2), bool(props & 4), bool(props & 8)
        if legacy:
            if directed:
                return AdvKind.DIRECT_IND_HIGH if high else AdvKind.DIRECT_IND_LOW
            if connectable:
                return AdvKind.IND
            return AdvKind.SCAN_IND if scannable else AdvKind.NONCONN_IND
        if connectable:
            return AdvKind.EXT_CONNECTABLE
        return AdvKind.EXT_SCANNABLE if scannable else AdvKind.EXT_NONCONN_NONSCAN

    def on_hci_le_set_extended_advertising_parameters_command(self, c: Any) -> Any:
        if c.advertising_handle in self._ext_air:
            return hci.HCI_LE_Set_Extended_Advertising_Parameters_ReturnParameters(
                status=E.COMMAND_DISALLOWED_ERROR, selected_tx_power=0
            )
        result = super().on_hci_le_set_extended_advertising_parameters_command(c)
        return hci.HCI_LE_Set_Extended_Advertising_Parameters_ReturnParameters(
            status=result.status, selected_tx_power=round(self.node.tx_power)
        )

    def on_hci_le_set_advertising_set_random_address_command(self, c: Any) -> Any:
        result = super().on_hci_le_set_advertising_set_random_address_command(c)
        self._addresses_changed()
        return result

    def on_hci_le_set_extended_advertising_data_command(self, c: Any) -> Any:
        result = super().on_hci_le_set_extended_advertising_data_command(c)
        self._refresh_ext(c.advertising_handle)
        return result

    def on_hci_le_set_extended_scan_response_data_command(self, c: Any) -> Any:
        result = super().on_hci_le_set_extended_scan_response_data_command(c)
        self._refresh_ext(c.advertising_handle)
        return result

    def _refresh_ext(self, handle: int) -> None:
        s = self.advertising_sets.get(handle)
        a = self._ext_air.get(handle)
        if s is not None and a is not None:
            a.data = bytes(s.data)
            a.scan_response = bytes(s.scan_response_data)
            a.periodic_data = bytes(s.periodic_advertising_data)

    def on_hci_le_set_extended_advertising_enable_command(self, c: Any) -> Any:
        handles = list(c.advertising_handles) or (list(self.advertising_sets) if not c.enable else [])
        for h in handles:
            if h not in self.advertising_sets or (c.enable and self.advertising_sets[h].parameters is None):
                return self._status(E.UNKNOWN_ADVERTISING_IDENTIFIER_ERROR)
        for h in handles:
            if c.enable:
                self._start_ext(h)
            else:
                self._stop_ext(h)
        return self._status(OK)

    def _start_ext(self, handle: int) -> None:
        s = self.advertising_sets[handle]
        p = s.parameters
        assert p is not None
        self._stop_ext(handle)
        kind = self._ext_kind(int(p.advertising_event_properties))
        periodic = self._periodic.get(handle, (0x50, False))
        adv = AdvertisingSet(
            node=self.node,
            address=self._own(p.own_address_type, s.random_address),
            kind=kind,
            data=bytes(s.data),
            scan_response=bytes(s.scan_response_data),
            interval=(p.primary_advertising_interval_min + p.primary_advertising_interval_max) / 2 * 0.000625,
            channel_map=int(p.primary_advertising_channel_map),
            filter_policy=p.advertising_filter_policy,
            target=to_air(p.peer_address) if kind.directed else None,
            handle=handle,
            sid=p.advertising_sid,
            primary_phy=int(p.primary_advertising_phy),
            secondary_phy=int(p.secondary_advertising_phy),
            tx_power=round(self.node.tx_power),
            periodic_data=bytes(s.periodic_advertising_data),
            periodic_interval=periodic[0] * 0.00125,
            periodic_enabled=periodic[1],
        )
        self._ext_air[handle] = adv
        s.enabled = True
        scanning.advertise(self.air, adv)

    def _stop_ext(self, handle: int) -> None:
        adv = self._ext_air.pop(handle, None)
        if adv is not None:
            scanning.stop_advertising(self.air, adv)
        s = self.advertising_sets.get(handle)
        if s is not None:
            s.enabled = False

    def on_hci_le_remove_advertising_set_command(self, c: Any) -> Any:
        self._stop_ext(c.advertising_handle)
        self.advertising_sets.pop(c.advertising_handle, None)
        self._periodic.pop(c.advertising_handle, None)
        return self._status(OK)

    def on_hci_le_clear_advertising_sets_command(self, c: Any) -> Any:
        for h in list(self._ext_air):
            self._stop_ext(h)
        self.advertising_sets.clear()
        self._periodic.clear()
        return self._status(OK)

    def on_hci_le_set_periodic_advertising_parameters_command(self, c: Any) -> Any:
        if c.advertising_handle not in self.advertising_sets:
            return self._status(E.UNKNOWN_ADVERTISING_IDENTIFIER_ERROR)
        _, enabled = self._periodic.get(c.advertising_handle, (0, False))
        self._periodic[c.advertising_handle] = (c.periodic_advertising_interval_max, enabled)
        return self._status(OK)

    def on_hci_le_set_periodic_advertising_data_command(self, c: Any) -> Any:
        result = super().on_hci_le_set_periodic_advertising_data_command(c)
        self._refresh_ext(c.advertising_handle)
        return result

    def on_hci_le_set_periodic_advertising_enable_command(self, c: Any) -> Any:
        h = c.advertising_handle
        if h not in self.advertising_sets:
            return self._status(E.UNKNOWN_ADVERTISING_IDENTIFIER_ERROR)
        interval, _ = self._periodic.get(h, (0x50, False))
        self._periodic[h] = (interval, bool(c.enable & 1))
        adv = self._ext_air.get(h)
        if adv is not None:
            adv.periodic_enabled = bool(c.enable & 1)
            adv.periodic_interval = interval * 0.00125
            adv.periodic_data = bytes(self.advertising_sets[h].periodic_advertising_data)
        return self._status(OK)

    def _on_advertising_ended(self, adv: AdvertisingSet, reason: int) -> None:
        if adv is self._legacy.air:
            self._legacy.air = None
            # high duty cycle directed advertising times out as a failed connection
            self.send_hci_packet(_no_connection(reason, hci.Role.PERIPHERAL))
        elif self._ext_air.get(adv.handle) is adv:
            self._stop_ext(adv.handle)
            self.send_hci_packet(
                hci.HCI_LE_Advertising_Set_Terminated_Event(
                    status=reason,
                    advertising_handle=adv.handle,
                    connection_handle=0,
                    num_completed_extended_advertising_events=0,
                )
            )

    # ---------------------------------------------------------------- scanning
    def on_hci_le_set_scan_parameters_command(self, c: Any) -> Any:
        if self._scan is not None:
            return self._status(E.COMMAND_DISALLOWED_ERROR)
        if not (4 <= c.le_scan_window <= c.le_scan_interval <= 0x4000) or c.le_scan_type > 1:
            return self._status(E.INVALID_COMMAND_PARAMETERS_ERROR)
        return super().on_hci_le_set_scan_parameters_command(c)

    def on_hci_le_set_scan_enable_command(self, c: Any) -> Any:
        return self._scan_enable(
            bool(c.le_scan_enable),
            bool(c.filter_duplicates),
            extended=False,
            params=(self.le_scan_type, self.le_scan_interval, self.le_scan_window),
        )

    def on_hci_le_set_extended_scan_parameters_command(self, c: Any) -> Any:
        if self._scan is not None:
            return self._status(E.COMMAND_DISALLOWED_ERROR)
        if not c.scan_types:
            return self._status(E.INVALID_COMMAND_PARAMETERS_ERROR)
        self.le_scan_own_address_type = hci.AddressType(c.own_address_type)
        self.le_scanning_filter_policy = c.scanning_filter_policy
        self._ext_scan_params = (c.scan_types[0], c.scan_intervals[0], c.scan_windows[0])
        return self._status(OK)

    def on_hci_le_set_extended_scan_enable_command(self, c: Any) -> Any:
        return self._scan_enable(bool(c.enable), bool(c.filter_duplicates), extended=True, params=self._ext_scan_params)

    def _scan_enable(self, enable: bool, duplicates: bool, *, extended: bool, params: tuple[int, int, int]) -> Any:
        if self._scan is not None:
            scanning.stop_scan(self.air, self._scan)
            self._scan = None
        self.le_scan_enable = enable
        if not enable:
            return self._status(OK)
        scan_type, interval, window = params
        self._scan_extended = extended
        self._scan_seen = set() if duplicates else None
        own = int(self.le_scan_own_address_type)
        if own in (1, 3) and self.random_address == hci.Address.ANY_RANDOM:
            own = 0
        self._scan = ScanSession(
            node=self.node,
            own_address=self._own(own),
            active=scan_type == 1,
            interval=max(interval, 4) * 0.000625,
            window=max(window, 4) * 0.000625,
            filter_policy=self.le_scanning_filter_policy,
        )
        scanning.start_scan(self.air, self._scan)
        return self._status(OK)

    def _on_report(self, session: ScanSession, report: AdvReport) -> None:
        if session is not self._scan or not self.le_scan_enable:
            return
        if self._scan_seen is not None:
            key = (report.address.value, report.address.random, report.scan_response)
            if key in self._scan_seen:
                return
            self._scan_seen.add(key)
        address = to_hci(report.address)
        if not self._scan_extended:
            if report.kind.extended:
                return  # a legacy scanner cannot follow auxiliary packets
            if report.scan_response:
                event_type = 4
            else:
                event_type = {AdvKind.IND: 0, AdvKind.SCAN_IND: 2, AdvKind.NONCONN_IND: 3}.get(report.kind, 1)
            self.send_hci_packet(
                hci.HCI_LE_Advertising_Report_Event(
                    [
                        hci.HCI_LE_Advertising_Report_Event.Report(
                            event_type=event_type,
                            address_type=address.address_type,
                            address=address,
                            data=report.data[:31],
                            rssi=report.rssi,
                        )
                    ]
                )
            )
            return
        kind = report.kind
        if kind.extended:
            bits = {AdvKind.EXT_CONNECTABLE: 0b0001, AdvKind.EXT_SCANNABLE: 0b0010}.get(kind, 0)
            if report.scan_response:
                bits |= 0b1010
        else:
            bits = (
                0x10
                | {
                    AdvKind.IND: 0b0011,
                    AdvKind.SCAN_IND: 0b0010,
                    AdvKind.NONCONN_IND: 0b0000,
                    AdvKind.DIRECT_IND_HIGH: 0b0101,
                    AdvKind.DIRECT_IND_LOW: 0b0101,
                }[kind]
            )
            if report.scan_response:
                bits = 0x10 | (0b1011 if kind is AdvKind.IND else 0b1010)
        direct = to_hci(report.target) if report.target is not None else hci.Address.ANY
        self.send_hci_packet(
            hci.HCI_LE_Extended_Advertising_Report_Event(
                [
                    hci.HCI_LE_Extended_Advertising_Report_Event.Report(
                        event_type=bits,
                        address_type=address.address_type,
                        address=address,
                        primary_phy=report.primary_phy,
                        secondary_phy=report.secondary_phy if kind.extended else 0,
                        advertising_sid=report.sid if kind.extended else 0xFF,
                        tx_power=report.tx_power,
                        rssi=report.rssi,
                        periodic_advertising_interval=round(report.periodic_interval / 0.00125),
                        direct_address_type=direct.address_type if report.target is not None else 0,
                        direct_address=direct,
                        data=report.data[:229],
                    )
                ]
            )
        )

    # ---------------------------------------------------------- accept list
    def on_hci_le_clear_filter_accept_list_command(self, c: Any) -> Any:
        self.node.accept_list.clear()
        return self._status(OK)

    def on_hci_le_add_device_to_filter_accept_list_command(self, c: Any) -> Any:
        if len(self.node.accept_list) >= self.filter_accept_list_size:
            return self._status(E.MEMORY_CAPACITY_EXCEEDED_ERROR)
        address = hci.Address(c.address.address_bytes, c.address_type)
        self.node.accept_list.add(to_air(address))
        return self._status(OK)

    def on_hci_le_remove_device_from_filter_accept_list_command(self, c: Any) -> Any:
        address = to_air(hci.Address(c.address.address_bytes, c.address_type))
        self.node.accept_list = {a for a in self.node.accept_list if not a.same_device(address)}
        return self._status(OK)

    # ------------------------------------------------------------- initiating
    def on_hci_le_create_connection_command(self, c: Any) -> None:
        params = (c.connection_interval_min, c.connection_interval_max, c.max_latency, c.supervision_timeout)
        self._create_connection(c, c.le_scan_interval, c.le_scan_window, params, phy=1)

    def on_hci_le_extended_create_connection_command(self, c: Any) -> None:
        params = (
            c.connection_interval_mins[0],
            c.connection_interval_maxs[0],
            c.max_latencies[0],
            c.supervision_timeouts[0],
        )
        phy = 2 if c.initiating_phys & 0b010 and not c.initiating_phys & 0b001 else 1
        self._create_connection(c, c.scan_intervals[0], c.scan_windows[0], params, phy=phy)

    def _create_connection(
        self, c: Any, scan_interval: int, scan_window: int, params: tuple[int, int, int, int], phy: int
    ) -> None:
        interval_min, interval_max, latency, timeout = params
        if self._initiation is not None:
            self._send_hci_command_status(E.COMMAND_DISALLOWED_ERROR, c.op_code)
            return
        valid = 6 <= interval_min <= interval_max <= 0xC80 and latency <= 0x1F3 and 0x0A <= timeout <= 0xC80
        if not valid or timeout * 10 <= (1 + latency) * interval_max * 1.25 * 2:
            self._send_hci_command_status(E.INVALID_COMMAND_PARAMETERS_ERROR, c.op_code)
            return
        if len(self.le_connections) >= 3:
            self._send_hci_command_status(E.CONNECTION_LIMIT_EXCEEDED_ERROR, c.op_code)
            return
        own = c.own_address_type
        if own in (1, 3) and self.random_address == hci.Address.ANY_RANDOM:
            self._send_hci_command_status(E.INVALID_COMMAND_PARAMETERS_ERROR, c.op_code)
            return
        peer = None
        if c.initiator_filter_policy == 0:
            peer = to_air(hci.Address(c.peer_address.address_bytes, c.peer_address_type))
        self._initiation_command = c
        self._initiation = Initiation(
            node=self.node,
            own_address=self._own(own),
            active=False,
            interval=max(scan_interval, 4) * 0.000625,
            window=max(scan_window, 4) * 0.000625,
            peer=peer,
            params=LinkParams(interval=interval_min * 0.00125, latency=latency, timeout=timeout * 0.01),
            phy=phy,
        )
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)
        scanning.start_initiation(self.air, self._initiation)

    def on_hci_le_create_connection_cancel_command(self, c: Any) -> Any:
        init = self._initiation
        if init is None:
            return self._status(E.COMMAND_DISALLOWED_ERROR)
        scanning.cancel_initiation(self.air, init)
        return self._status(OK)

    def _on_initiation_cancelled(self, initiation: Initiation) -> None:
        if initiation is not self._initiation:
            return
        self._initiation = None
        self._initiation_command = None
        self._later(_no_connection(E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, hci.Role.CENTRAL))

    # ------------------------------------------------------------ connections
    def _on_link_up(self, link: AirLink, initiation: Initiation | None, adv: AdvertisingSet | None) -> None:
        central = initiation is not None
        if central:
            if initiation is not self._initiation:
                link.close(self.node, LOCAL_HOST_TERMINATED)
                return
            self._initiation = None
            self._initiation_command = None
        peer_air = link.address_of(link.peer(self.node))
        self_air = link.address_of(self.node)
        peer = to_hci(peer_air)
        connection = Connection(
            controller=self,
            handle=self.allocate_connection_handle(),
            role=hci.Role.CENTRAL if central else hci.Role.PERIPHERAL,
            self_address=to_hci(self_air),
            peer_address=peer,
            link=_LinkEnd(self, link),  # type: ignore[arg-type]
            transport=PhysicalTransport.LE,
            link_type=hci.HCI_Connection_Complete_Event.LinkType.ACL,
        )
        connection.air_link = link  # type: ignore[attr-defined]
        link.context[id(self.node)] = connection
        self.le_connections[peer] = connection
        if adv is not None:
            if adv is self._legacy.air:
                self._legacy.air = None
            elif self._ext_air.get(adv.handle) is adv:
                self._ext_air.pop(adv.handle, None)
                s = self.advertising_sets.get(adv.handle)
                if s is not None:
                    s.enabled = False
        p = link.params
        self.send_hci_packet(
            hci.HCI_LE_Connection_Complete_Event(
                status=OK,
                connection_handle=connection.handle,
                role=connection.role,
                peer_address_type=peer.address_type,
                peer_address=peer,
                connection_interval=round(p.interval / 0.00125),
                peripheral_latency=p.latency,
                supervision_timeout=round(p.timeout / 0.01),
                central_clock_accuracy=0,
            )
        )
        if adv is not None and adv.handle >= 0:
            self.send_hci_packet(
                hci.HCI_LE_Advertising_Set_Terminated_Event(
                    status=OK,
                    advertising_handle=adv.handle,
                    connection_handle=connection.handle,
                    num_completed_extended_advertising_events=0,
                )
            )

    def _connection_of(self, link: AirLink) -> Connection | None:
        c = link.context.get(id(self.node))
        return c if isinstance(c, Connection) else None

    def _on_link_down(self, link: AirLink, reason: int) -> None:
        if link.classic:
            self._classic_link_down(link, reason)
            return
        connection = self._connection_of(link)
        if connection is None or self.le_connections.get(connection.peer_address) is not connection:
            return
        self._acl_in.pop(connection.handle, None)
        self.on_le_disconnected(connection, reason)

    def on_le_disconnected(self, connection: Connection, reason: int) -> None:
        self._acl_in.pop(connection.handle, None)
        if self.le_connections.get(connection.peer_address) is connection:
            super().on_le_disconnected(connection, reason)

    def on_hci_disconnect_command(self, c: Any) -> None:
        connection = self.find_le_connection_by_handle(c.connection_handle)
        if connection is None:
            if self.find_classic_connection_by_handle(c.connection_handle) is not None:
                self._classic_disconnect(c)
                return
            self._send_hci_command_status(E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, c.op_code)
            return
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)
        link: AirLink = connection.air_link  # type: ignore[attr-defined]
        link.close(self.node, c.reason)
        self.on_le_disconnected(connection, LOCAL_HOST_TERMINATED)

    # ------------------------------------------------------------------- data
    def on_hci_acl_data_packet(self, packet: hci.HCI_AclDataPacket) -> None:
        connection = self.find_connection_by_handle(packet.connection_handle)
        if connection is None:
            return
        state = self._acl_in.get(connection.handle)
        if state is None:
            state = self._acl_in[connection.handle] = _AclIn()
            handle = connection.handle

            def complete(pdu: bytes, state: _AclIn = state, connection: Connection = connection) -> None:
                fragments, state.fragments = state.fragments, 0
                self._send_pdu(connection, pdu, fragments)

            state.assembler = hci.HCI_AclDataPacketAssembler(complete)
            del handle
        state.fragments += 1
        state.assembler.feed_packet(packet)

    def _send_pdu(self, connection: Connection, pdu: bytes, fragments: int) -> None:
        link: AirLink = connection.air_link  # type: ignore[attr-defined]
        handle = connection.handle

        def sent() -> None:
            if self.find_connection_by_handle(handle) is connection:
                self.send_hci_packet(
                    hci.HCI_Number_Of_Completed_Packets_Event(
                        connection_handles=[handle], num_completed_packets=[fragments]
                    )
                )

        link.send(self.node, ("acl", pdu), len(pdu), sent)

    def _on_link_frame(self, link: AirLink, frame: object) -> None:
        if not isinstance(frame, tuple):
            return
        kind, payload = frame[0], frame[1]
        if link.classic:
            self._classic_frame(link, kind, payload)
            return
        connection = self._connection_of(link)
        if connection is None or self.le_connections.get(connection.peer_address) is not connection:
            return
        if kind == "acl":
            self.send_hci_packet(hci.HCI_AclDataPacket(connection.handle, 2, 0, len(payload), payload))
        elif kind == "ll":
            if isinstance(payload, ll.ConnectionUpdateInd):
                link.update_params(
                    LinkParams(
                        interval=payload.interval * 0.00125, latency=payload.latency, timeout=payload.timeout * 0.01
                    )
                )
            self.on_ll_control_pdu(connection.peer_address, payload)
        elif kind == "phy":
            tx, rx = payload
            self.send_hci_packet(
                hci.HCI_LE_PHY_Update_Complete_Event(
                    status=OK, connection_handle=connection.handle, tx_phy=rx, rx_phy=tx
                )
            )
        elif kind == "dle":
            self._data_length_event(connection, link)

    # ------------------------------------------------------- link procedures
    def on_hci_le_connection_update_command(self, c: Any) -> None:
        connection = self.find_le_connection_by_handle(c.connection_handle)
        if connection is None:
            self._send_hci_command_status(E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, c.op_code)
            return
        ok = 6 <= c.connection_interval_min <= c.connection_interval_max <= 0xC80
        ok = ok and c.max_latency <= 0x1F3 and 0x0A <= c.supervision_timeout <= 0xC80
        if not ok or c.supervision_timeout * 10 <= (1 + c.max_latency) * c.connection_interval_max * 1.25 * 2:
            self._send_hci_command_status(E.INVALID_COMMAND_PARAMETERS_ERROR, c.op_code)
            return
        link: AirLink = connection.air_link  # type: ignore[attr-defined]
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)
        interval = c.connection_interval_max
        link.update_params(
            LinkParams(interval=interval * 0.00125, latency=c.max_latency, timeout=c.supervision_timeout * 0.01)
        )
        self._later(
            hci.HCI_LE_Connection_Update_Complete_Event(
                status=OK,
                connection_handle=connection.handle,
                connection_interval=interval,
                peripheral_latency=c.max_latency,
                supervision_timeout=c.supervision_timeout,
            )
        )
        link.send(
            self.node,
            ("ll", ll.ConnectionUpdateInd(interval=interval, latency=c.max_latency, timeout=c.supervision_timeout)),
            12,
        )

    def on_hci_le_set_phy_command(self, c: Any) -> None:
        connection = self.find_le_connection_by_handle(c.connection_handle)
        if connection is None:
            self._send_hci_command_status(E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, c.op_code)
            return
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)
        link: AirLink = connection.air_link  # type: ignore[attr-defined]
        peer = link.peer(self.node)
        wanted = int(c.tx_phys) & int(c.rx_phys) if not int(c.all_phys) & 3 else 0b001
        supported = 0b111 if self.bt5 else 0b001
        if getattr(peer, "controller", None) is not None and not peer.controller.bt5:  # type: ignore[attr-defined]
            supported = 0b001
        choice = wanted & supported
        phy = 2 if choice & 0b010 else 3 if choice & 0b100 else 1
        link.set_phy(self.node, phy)
        link.set_phy(peer, phy)
        self._later(
            hci.HCI_LE_PHY_Update_Complete_Event(status=OK, connection_handle=connection.handle, tx_phy=phy, rx_phy=phy)
        )
        link.send(self.node, ("phy", (phy, phy)), 4)

    def on_hci_le_read_phy_command(self, c: Any) -> Any:
        connection = self.find_le_connection_by_handle(c.connection_handle)
        if connection is None:
            return hci.HCI_LE_Read_PHY_ReturnParameters(
                status=E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=c.connection_handle,
                tx_phy=hci.Phy.LE_1M,
                rx_phy=hci.Phy.LE_1M,
            )
        link: AirLink = connection.air_link  # type: ignore[attr-defined]
        return hci.HCI_LE_Read_PHY_ReturnParameters(
            status=OK,
            connection_handle=c.connection_handle,
            tx_phy=hci.Phy(link.tx_phy[id(self.node)]),
            rx_phy=hci.Phy(link.tx_phy[id(link.peer(self.node))]),
        )

    def on_hci_le_set_data_length_command(self, c: Any) -> Any:
        connection = self.find_le_connection_by_handle(c.connection_handle)
        if connection is None:
            return hci.HCI_StatusAndConnectionHandleReturnParameters(
                status=E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, connection_handle=c.connection_handle
            )
        if not (0x1B <= c.tx_octets <= 0xFB):
            return hci.HCI_StatusAndConnectionHandleReturnParameters(
                status=E.INVALID_COMMAND_PARAMETERS_ERROR, connection_handle=c.connection_handle
            )
        link: AirLink = connection.air_link  # type: ignore[attr-defined]
        link.set_max_tx_octets(self.node, c.tx_octets)
        asyncio.get_running_loop().call_soon(self._data_length_event, connection, link)
        link.send(self.node, ("dle", c.tx_octets), 8)
        return hci.HCI_StatusAndConnectionHandleReturnParameters(status=OK, connection_handle=c.connection_handle)

    def _data_length_event(self, connection: Connection, link: AirLink) -> None:
        tx = link.packet_octets(self.node)
        rx = link.packet_octets(link.peer(self.node))
        self.send_hci_packet(
            hci.HCI_LE_Data_Length_Change_Event(
                connection_handle=connection.handle,
                max_tx_octets=tx,
                max_tx_time=(tx + 14) * 8,
                max_rx_octets=rx,
                max_rx_time=(rx + 14) * 8,
            )
        )

    def on_hci_read_rssi_command(self, c: Any) -> Any:
        connection = self.find_connection_by_handle(c.handle)
        if connection is None:
            return hci.HCI_Read_RSSI_ReturnParameters(
                status=E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, handle=c.handle, rssi=0
            )
        link: AirLink = connection.air_link  # type: ignore[attr-defined]
        return hci.HCI_Read_RSSI_ReturnParameters(status=OK, handle=c.handle, rssi=link.rssi(self.node))

    # --------------------------------------------------------- periodic sync
    def on_hci_le_periodic_advertising_create_sync_command(self, c: Any) -> None:
        if self._pending_sync is not None:
            self._send_hci_command_status(E.COMMAND_DISALLOWED_ERROR, c.op_code)
            return
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)
        address = hci.Address(c.advertiser_address.address_bytes, c.advertiser_address_type)
        sync = PeriodicSync(
            node=self.node, address=to_air(address), sid=c.advertising_sid, timeout=c.sync_timeout * 0.01
        )
        self._pending_sync = sync
        scanning.start_sync(self.air, sync)

    def on_hci_le_periodic_advertising_create_sync_cancel_command(self, c: Any) -> Any:
        sync = self._pending_sync
        if sync is None:
            return self._status(E.COMMAND_DISALLOWED_ERROR)
        self._pending_sync = None
        scanning.stop_sync(self.air, sync)
        self._later(self._sync_established_event(sync, E.OPERATION_CANCELLED_BY_HOST_ERROR))
        return self._status(OK)

    def on_hci_le_periodic_advertising_terminate_sync_command(self, c: Any) -> Any:
        sync = self._syncs.pop(c.sync_handle, None)
        if sync is None:
            return self._status(E.UNKNOWN_ADVERTISING_IDENTIFIER_ERROR)
        scanning.stop_sync(self.air, sync)
        return self._status(OK)

    def _sync_established_event(self, sync: PeriodicSync, status: int) -> hci.HCI_Packet:
        address = to_hci(sync.address)
        return hci.HCI_LE_Periodic_Advertising_Sync_Established_Event(
            status=status,
            sync_handle=sync.sync_handle,
            advertising_sid=sync.sid,
            advertiser_address_type=address.address_type,
            advertiser_address=address,
            advertiser_phy=1,
            periodic_advertising_interval=0x50,
            advertiser_clock_accuracy=0,
        )

    def _on_sync_established(self, sync: PeriodicSync) -> None:
        if sync is not self._pending_sync:
            return
        self._pending_sync = None
        sync.sync_handle = next(h for h in range(1, 0xEFF) if h not in self._syncs)
        self._syncs[sync.sync_handle] = sync
        self.send_hci_packet(self._sync_established_event(sync, OK))

    def _on_periodic_report(self, sync: PeriodicSync, data: bytes, rssi: int) -> None:
        if self._syncs.get(sync.sync_handle) is not sync:
            return
        self.send_hci_packet(
            hci.HCI_LE_Periodic_Advertising_Report_Event(
                sync_handle=sync.sync_handle, tx_power=0x7F, rssi=rssi, cte_type=0xFF, data_status=0, data=data[:247]
            )
        )

    def _on_sync_lost(self, sync: PeriodicSync) -> None:
        if self._syncs.pop(sync.sync_handle, None) is sync:
            self.send_hci_packet(hci.HCI_LE_Periodic_Advertising_Sync_Lost_Event(sync_handle=sync.sync_handle))
