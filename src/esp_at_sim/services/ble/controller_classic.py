"""Classic (BR/EDR) half of the air controller: inquiry, paging, LMP, ACL.

Bumble's controller already speaks LMP for connection setup, Secure Simple
Pairing and names; this half gives it the air: inquiry and inquiry scan
(``world/radio/classic.py``), paging a node that can hear us and has page
scan on (a page nobody answers ends in *Page Timeout* after 5.12 s), a
baseband :class:`AirLink` per connection that carries LMP and ACL in order,
encryption, and a *Link Key Request* before pairing so bonded devices
authenticate without pairing again. Links that stop hearing each other end
with a supervision timeout (reason 0x08).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bumble import hci, lmp
from bumble.controller import Connection
from bumble.core import PhysicalTransport

from esp_at_sim.world.radio import classic
from esp_at_sim.world.radio.air import AirAddress

E = hci.HCI_ErrorCode
PAGE_TIMEOUT = 5.12
LIMITED_LAP = 0x9E8B00


def _air(address: hci.Address) -> AirAddress:
    return AirAddress(bytes(reversed(address.address_bytes)), False)


def _hci(address: AirAddress) -> hci.Address:
    return hci.Address(bytes(reversed(address.value)), hci.Address.PUBLIC_DEVICE_ADDRESS)


class ClassicMixin:
    # attributes of the AirController this mixes into
    node: Any
    air: Any
    classic: bool
    classic_connections: dict[hci.Address, Connection]
    classic_pending_commands: dict[hci.Address, dict[Any, asyncio.Future[int]]]
    local_name: str

    def _init_classic(self) -> None:
        self._inquiry: classic.Inquiry | None = None
        self._inquiry_mode = 0
        self._class_of_device = 0
        self._classic_links: dict[bytes, Any] = {}

    def _close_classic(self) -> None:
        if self._inquiry is not None:
            classic.cancel_inquiry(self.air, self._inquiry)
            self._inquiry = None

    # ------------------------------------------------------------ settings
    def on_hci_write_secure_connections_host_support_command(self, _c: Any) -> Any:
        return hci.HCI_StatusReturnParameters(E.SUCCESS)

    def on_hci_write_inquiry_mode_command(self, c: Any) -> Any:
        self._inquiry_mode = c.inquiry_mode
        return hci.HCI_StatusReturnParameters(E.SUCCESS)

    def on_hci_write_scan_enable_command(self, c: Any) -> Any:
        self.classic_scan_enable = c.scan_enable
        self.node.inquiry_scan = bool(c.scan_enable & 0x01)
        self.node.page_scan = bool(c.scan_enable & 0x02)
        return hci.HCI_StatusReturnParameters(E.SUCCESS)

    def on_hci_write_class_of_device_command(self, c: Any) -> Any:
        self._class_of_device = c.class_of_device
        self.node.class_of_device = c.class_of_device
        return hci.HCI_StatusReturnParameters(E.SUCCESS)

    def on_hci_read_class_of_device_command(self, _c: Any) -> Any:
        return hci.HCI_Read_Class_Of_Device_ReturnParameters(status=E.SUCCESS, class_of_device=self._class_of_device)

    def on_hci_write_local_name_command(self, c: Any) -> Any:
        result = super().on_hci_write_local_name_command(c)  # type: ignore[misc]
        self.node.local_name = self.local_name.encode()
        return result

    def on_hci_write_extended_inquiry_response_command(self, _c: Any) -> Any:
        return hci.HCI_StatusReturnParameters(E.SUCCESS)

    # ------------------------------------------------------------- inquiry
    def on_hci_inquiry_command(self, c: Any) -> None:
        if self._inquiry is not None:
            self._send_hci_command_status(E.COMMAND_DISALLOWED_ERROR, c.op_code)  # type: ignore[attr-defined]
            return
        if not 1 <= c.inquiry_length <= 0x30:
            self._send_hci_command_status(E.INVALID_COMMAND_PARAMETERS_ERROR, c.op_code)  # type: ignore[attr-defined]
            return
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)  # type: ignore[attr-defined]
        self._inquiry = classic.Inquiry(
            node=self.node,
            duration=c.inquiry_length * 1.28,
            max_responses=c.num_responses,
            limited=c.lap == LIMITED_LAP,
        )
        classic.start_inquiry(self.air, self._inquiry)

    def on_hci_inquiry_cancel_command(self, _c: Any) -> Any:
        if self._inquiry is None:
            return hci.HCI_StatusReturnParameters(E.COMMAND_DISALLOWED_ERROR)
        classic.cancel_inquiry(self.air, self._inquiry)
        self._inquiry = None
        return hci.HCI_StatusReturnParameters(E.SUCCESS)

    def _on_inquiry_result(self, result: Any) -> None:
        if self._inquiry is None:
            return
        address = _hci(result.address)
        if self._inquiry_mode == 2:
            eir = b""
            if result.name:
                name = result.name[:238]
                eir = bytes([len(name) + 1, 0x09]) + name
            self.send_hci_packet(  # type: ignore[attr-defined]
                hci.HCI_Extended_Inquiry_Result_Event(
                    num_responses=1,
                    bd_addr=address,
                    page_scan_repetition_mode=1,
                    reserved=0,
                    class_of_device=result.class_of_device,
                    clock_offset=0,
                    rssi=result.rssi,
                    extended_inquiry_response=eir.ljust(240, b"\x00"),
                )
            )
        else:
            self.send_hci_packet(  # type: ignore[attr-defined]
                hci.HCI_Inquiry_Result_With_RSSI_Event(
                    bd_addr=[address],
                    page_scan_repetition_mode=[1],
                    reserved=[0],
                    class_of_device=[result.class_of_device],
                    clock_offset=[0],
                    rssi=[result.rssi],
                )
            )

    def _on_inquiry_complete(self) -> None:
        self._inquiry = None
        self.send_hci_packet(hci.HCI_Inquiry_Complete_Event(status=E.SUCCESS))  # type: ignore[attr-defined]

    # --------------------------------------------------------------- paging
    def _send_lmp(self, receiver_address: hci.Address, packet: Any) -> None:
        key = bytes(reversed(receiver_address.address_bytes))
        link = self._classic_links.get(key)
        if link is not None and link.alive:
            link.send(self.node, ("lmp", packet), 17)
            return
        target = classic.find_pageable(self.air, self.node, _air(receiver_address))
        if isinstance(packet, lmp.LmpHostConnectionReq):
            if target is None:
                self.air.call_later(PAGE_TIMEOUT, self._page_failed, receiver_address)
                return
            own = _air(self.public_address)  # type: ignore[attr-defined]
            link = classic.page(self.air, self.node, own, target)
            self._classic_links[key] = link
            link.send(self.node, ("lmp", packet), 17)
            return
        if target is not None:
            # an LMP exchange without a connection (remote name): a short page
            sender = self.public_address  # type: ignore[attr-defined]
            controller = getattr(target, "controller", None)
            if controller is not None:
                self.air.call_later(classic.PAGE_TIME, controller.on_lmp_packet, sender, packet)

    def _page_failed(self, address: hci.Address) -> None:
        pending = self.classic_pending_commands.get(address, {})
        future = pending.pop(lmp.Opcode.LMP_HOST_CONNECTION_REQ, None)
        if future is not None and not future.done():
            future.set_result(E.PAGE_TIMEOUT_ERROR)

    def _on_page(self, link: Any) -> None:
        peer = link.peer(self.node)
        self._classic_links[link.address_of(peer).value] = link

    def on_classic_connection_complete(self, peer_address: hci.Address, status: int) -> None:
        super().on_classic_connection_complete(peer_address, status)  # type: ignore[misc]
        key = bytes(reversed(peer_address.address_bytes))
        link = self._classic_links.get(key)
        connection = self.classic_connections.get(peer_address)
        if status != E.SUCCESS:
            self.classic_connections.pop(peer_address, None)
            if link is not None:
                link.close(self.node, E.CONNECTION_TERMINATED_BY_LOCAL_HOST_ERROR)
                self._classic_links.pop(key, None)
            return
        if connection is not None and link is not None:
            connection.air_link = link  # type: ignore[attr-defined]
            link.context[id(self.node)] = connection

    def on_classic_connection_request(self, peer_address: hci.Address, link_type: int) -> None:
        super().on_classic_connection_request(peer_address, link_type)  # type: ignore[misc]
        connection = self.classic_connections.get(peer_address)
        link = self._classic_links.get(bytes(reversed(peer_address.address_bytes)))
        if connection is not None and link is not None:
            connection.air_link = link  # type: ignore[attr-defined]

    def on_hci_reject_connection_request_command(self, c: Any) -> None:
        self._send_hci_command_status(E.SUCCESS, c.op_code)  # type: ignore[attr-defined]
        self.send_lmp_packet(c.bd_addr, lmp.LmpNotAccepted(lmp.Opcode.LMP_HOST_CONNECTION_REQ, c.reason))  # type: ignore[attr-defined]
        self.classic_connections.pop(c.bd_addr, None)

    # ------------------------------------------------------------ frames
    def _classic_frame(self, link: Any, kind: str, payload: Any) -> None:
        peer = link.peer(self.node)
        sender = _hci(link.address_of(peer))
        if kind == "lmp":
            self.on_lmp_packet(sender, payload)  # type: ignore[attr-defined]
        elif kind == "acl":
            connection = self.classic_connections.get(sender)
            if connection is not None:
                self.send_hci_packet(hci.HCI_AclDataPacket(connection.handle, 2, 0, len(payload), payload))  # type: ignore[attr-defined]
        elif kind == "enc":
            connection = self.classic_connections.get(sender)
            if connection is not None:
                link.encrypted = bool(payload)
                self.send_hci_packet(  # type: ignore[attr-defined]
                    hci.HCI_Encryption_Change_Event(
                        status=E.SUCCESS, connection_handle=connection.handle, encryption_enabled=int(bool(payload))
                    )
                )

    def _classic_link_down(self, link: Any, reason: int) -> None:
        peer = link.peer(self.node)
        address = _hci(link.address_of(peer))
        self._classic_links.pop(link.address_of(peer).value, None)
        if address in self.classic_connections:
            self.on_classic_disconnected(address, reason)  # type: ignore[attr-defined]

    def _classic_disconnect(self, c: Any) -> None:
        connection = self.find_classic_connection_by_handle(c.connection_handle)  # type: ignore[attr-defined]
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)  # type: ignore[attr-defined]
        if connection is None:
            return
        self.send_lmp_packet(connection.peer_address, lmp.LmpDetach(c.reason))  # type: ignore[attr-defined]
        key = bytes(reversed(connection.peer_address.address_bytes))
        link = self._classic_links.pop(key, None)
        if link is not None:
            link.close(self.node, c.reason)
        self.on_classic_disconnected(connection.peer_address, E.CONNECTION_TERMINATED_BY_LOCAL_HOST_ERROR)  # type: ignore[attr-defined]

    # ------------------------------------------------------------ security
    def on_hci_authentication_requested_command(self, c: Any) -> None:
        connection = self.find_classic_connection_by_handle(c.connection_handle)  # type: ignore[attr-defined]
        if connection is None:
            self._send_hci_command_status(E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, c.op_code)  # type: ignore[attr-defined]
            return
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)  # type: ignore[attr-defined]
        # a bonded host answers with its key and skips pairing
        self.send_hci_packet(hci.HCI_Link_Key_Request_Event(bd_addr=connection.peer_address))  # type: ignore[attr-defined]

    def on_hci_set_connection_encryption_command(self, c: Any) -> None:
        connection = self.find_classic_connection_by_handle(c.connection_handle)  # type: ignore[attr-defined]
        if connection is None:
            self._send_hci_command_status(E.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, c.op_code)  # type: ignore[attr-defined]
            return
        if c.encryption_enable and connection.ssp_state.link_key is None:
            self._send_hci_command_status(E.PIN_OR_KEY_MISSING_ERROR, c.op_code)  # type: ignore[attr-defined]
            return
        self._send_hci_command_status(hci.HCI_COMMAND_STATUS_PENDING, c.op_code)  # type: ignore[attr-defined]
        link = getattr(connection, "air_link", None)
        on = bool(c.encryption_enable)
        if link is not None:
            link.encrypted = on
            link.send(self.node, ("enc", on), 4)
        self._later(  # type: ignore[attr-defined]
            hci.HCI_Encryption_Change_Event(
                status=E.SUCCESS, connection_handle=connection.handle, encryption_enabled=int(on)
            )
        )

    def _classic_transport(self) -> Any:
        return PhysicalTransport.BR_EDR
