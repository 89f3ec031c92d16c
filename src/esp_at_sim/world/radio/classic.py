"""Classic Bluetooth (BR/EDR) on the air: inquiry, inquiry scan and paging.

An inquiry runs for its duration; every inquiry train (1.28 s, the HCI
inquiry length unit) each discoverable node in range answers once with its
address, class of device and RSSI, and with its name as an extended inquiry
response. A limited inquiry only gets answers from nodes whose class of
device has the Limited Discoverable bit (bit 13). Paging reaches a node
with page scan enabled that both ends can hear and makes a baseband
:class:`AirLink` (interval one slot pair, supervision timeout 20 s).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from esp_at_sim.world.radio.air import AirAddress, BleAir, RadioNode
from esp_at_sim.world.radio.link import AirLink, LinkParams

INQUIRY_TRAIN = 1.28
FIRST_ANSWER = 0.3
LIMITED_DISCOVERABLE = 1 << 13
PAGE_TIME = 0.04  # a page that finds its target answers within a few trains
CLASSIC_PARAMS = LinkParams(interval=0.00125, latency=0, timeout=20.0)


@dataclass(frozen=True, slots=True)
class InquiryResult:
    address: AirAddress
    class_of_device: int
    rssi: int
    name: bytes = b""


@dataclass(eq=False)
class Inquiry:
    node: RadioNode
    duration: float
    max_responses: int = 0  # 0: unlimited
    limited: bool = False
    count: int = 0
    closed: bool = False
    _tick: asyncio.TimerHandle | None = None
    _end: asyncio.TimerHandle | None = None


def start_inquiry(air: BleAir, inquiry: Inquiry) -> None:
    inquiry._tick = air.call_later(FIRST_ANSWER, _train, air, inquiry)
    inquiry._end = air.call_later(inquiry.duration, _complete, air, inquiry)


def cancel_inquiry(air: BleAir, inquiry: Inquiry) -> None:
    """Stop without an Inquiry Complete (HCI Inquiry Cancel)."""
    _close(inquiry)


def _close(inquiry: Inquiry) -> None:
    inquiry.closed = True
    for h in (inquiry._tick, inquiry._end):
        if h is not None:
            h.cancel()
    inquiry._tick = inquiry._end = None


def _complete(air: BleAir, inquiry: Inquiry) -> None:
    if inquiry.closed:
        return
    _close(inquiry)
    inquiry.node.on_inquiry_complete()


def _train(air: BleAir, inquiry: Inquiry) -> None:
    inquiry._tick = None
    if inquiry.closed:
        return
    node = inquiry.node
    for other in list(air.nodes.values()):
        if other is node or not other.inquiry_scan or other.classic_address is None:
            continue
        if inquiry.limited and not other.class_of_device & LIMITED_DISCOVERABLE:
            continue
        if not (air.hears(other, node) and air.hears(node, other)) or air.lost(other, node):
            continue
        node.on_inquiry_result(
            InquiryResult(
                other.classic_address, other.class_of_device, air.reported_rssi(other, node), other.local_name
            )
        )
        inquiry.count += 1
        if inquiry.closed:
            return
        if inquiry.max_responses and inquiry.count >= inquiry.max_responses:
            _complete(air, inquiry)
            return
    inquiry._tick = air.call_later(INQUIRY_TRAIN, _train, air, inquiry)


def find_pageable(air: BleAir, node: RadioNode, address: AirAddress) -> RadioNode | None:
    for other in air.nodes.values():
        if other is node or other.classic_address is None or other.classic_address.value != address.value:
            continue
        if other.page_scan and air.hears(other, node) and air.hears(node, other):
            return other
    return None


def page(air: BleAir, node: RadioNode, own: AirAddress, target: RadioNode) -> AirLink:
    """Make the baseband link to a node found by :func:`find_pageable`."""
    assert target.classic_address is not None
    link = AirLink(
        air,
        central=node,
        peripheral=target,
        central_address=own,
        peripheral_address=target.classic_address,
        params=CLASSIC_PARAMS,
        classic=True,
    )
    target.on_page(link)
    return link
