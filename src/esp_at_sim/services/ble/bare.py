"""Bare Bumble references for the benchmarks: the same operations the modules do
over AT, between two stock Bumble devices on Bumble's own ``LocalLink``.

Nothing of the simulator is involved (no air, no AT, no world), so the ratio
"module / bare" measures what the simulator adds on top of Bumble.
Each function returns the real CPU seconds (``time.process_time``) of the
operation alone.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bumble import core, gatt, hci, rfcomm
from bumble.controller import Controller
from bumble.core import PhysicalTransport
from bumble.device import Device, DeviceConfiguration, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

NOTIFY_UUID = "C305"


def _pair(classic: bool = False) -> tuple[Device, Device]:
    link = LocalLink()  # type: ignore[no-untyped-call]
    out = []
    for i in range(2):
        address = ":".join([f"F{i}"] * 6)
        controller = Controller(f"bare{i}", link=link, public_address=address)
        config = DeviceConfiguration(
            name=f"bare{i}",
            address=hci.Address(address),
            classic_enabled=classic,
            connectable=True,
            discoverable=classic,
        )
        out.append(Device(config=config, host=Host(controller, AsyncPipeSink(controller))))
    return out[0], out[1]


async def _connect(central: Device, peripheral: Device) -> Any:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    peripheral.once("connection", done.set_result)
    # random addresses: LocalLink loses LE data addressed to public ones
    await peripheral.start_advertising(advertising_interval_min=20.0)
    connection = await central.connect(peripheral.random_address)
    await done
    return connection


async def connect_cpu(times: int) -> float:
    """CPU of one LE connection + disconnection, averaged over ``times``."""
    central, peripheral = _pair()
    await central.power_on()
    await peripheral.power_on()
    t0 = time.process_time()
    for _ in range(times):
        connection = await _connect(central, peripheral)
        await connection.disconnect()
    return (time.process_time() - t0) / times


async def notify_cpu(total: int, size: int) -> float:
    """CPU of streaming ``total`` bytes of notifications of ``size`` bytes (MTU 517)."""
    central, server = _pair()
    characteristic = gatt.Characteristic(
        NOTIFY_UUID, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, bytes(1)
    )
    server.add_service(gatt.Service("A002", [characteristic]))
    await central.power_on()
    await server.power_on()
    connection = await _connect(central, server)
    peer = Peer(connection)
    await peer.request_mtu(517)
    await peer.discover_services()
    await peer.discover_characteristics()
    [remote] = peer.get_characteristics_by_uuid(core.UUID(NOTIFY_UUID))
    got = 0
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_value(value: bytes) -> None:
        nonlocal got
        got += len(value)
        if got >= total and not finished.done():
            finished.set_result(None)

    await peer.subscribe(remote, on_value)
    server_conn = next(iter(server.connections.values()))
    value = bytes(size)
    t0 = time.process_time()
    for _ in range(0, total, size):
        await server.notify_subscriber(server_conn, characteristic, value)
    await finished
    return time.process_time() - t0


async def rfcomm_cpu(total: int) -> float:
    """CPU of streaming ``total`` bytes over an RFCOMM channel (Classic SPP)."""
    central, server = _pair(classic=True)
    received = 0
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_dlc(dlc: rfcomm.DLC) -> None:
        def sink(data: bytes) -> None:
            nonlocal received
            received += len(data)
            if received >= total and not finished.done():
                finished.set_result(None)

        dlc.sink = sink

    channel = rfcomm.Server(server).listen(on_dlc)
    await central.power_on()
    await server.power_on()
    await server.set_discoverable(True)
    await server.set_connectable(True)
    connection = await central.connect(server.public_address, transport=PhysicalTransport.BR_EDR)
    mux = await rfcomm.Client(connection).start()
    dlc = await mux.open_dlc(channel)
    chunk = bytes(8192)
    t0 = time.process_time()
    for _ in range(0, total, len(chunk)):
        dlc.write(chunk)
        await dlc.drain()
    await finished
    return time.process_time() - t0
