"""A plain Bluetooth device on a world's air: a phone, a PC, a test host.

:class:`BlePeer` is a Bumble ``Device`` with its own :class:`AirController`,
placed in a world next to the modules. Tests use it as the other side of a
module (an HID host, a BluFi app, a GATT client), benchmarks as the bare
Bumble reference, and scripts as a scriptable phone::

    async with BlePeer.start(world, "phone") as phone:
        connection = await phone.connect("24:0a:c4:00:00:01")
        ...

``phone.device`` is the Bumble device; everything Bumble offers applies.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from bumble import hci
from bumble.device import Connection, Device, DeviceConfiguration
from bumble.host import Host
from bumble.keys import MemoryKeyStore
from bumble.pairing import PairingConfig, PairingDelegate

from esp_at_sim.services.ble.controller import AirController
from esp_at_sim.world.radio import BleAir
from esp_at_sim.world.world import World


def peer_address(name: str, seed: str = "") -> str:
    h = hashlib.sha256(f"peer:{seed}:{name}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (b"\x00\x1b\xdc" + h[:3]))


class BlePeer:
    def __init__(self, world: World, name: str, *, address: str | None = None, classic: bool = False) -> None:
        self.world = world
        self.name = name
        self.address = (address or peer_address(name, world.seed)).lower()
        self.classic = classic
        self.controller: AirController | None = None
        self.device: Any = None

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, world: World, name: str, **kwargs: Any) -> AsyncIterator[BlePeer]:
        peer = cls(world, name, **kwargs)
        await peer.open()
        try:
            yield peer
        finally:
            peer.close()

    async def open(self) -> None:
        air = self.world.extension(BleAir)
        public = hci.Address(self.address, hci.Address.PUBLIC_DEVICE_ADDRESS)
        self.controller = AirController(self.name, air, public_address=public, bt5=True, classic=self.classic)
        config = DeviceConfiguration(
            name=self.name,
            classic_enabled=self.classic,
            address=hci.Address.ANY_RANDOM,
            connectable=self.classic,
            discoverable=self.classic,
        )
        device = Device(config=config, host=Host(self.controller, self.controller))
        device.keystore = MemoryKeyStore()
        device.address_resolution_offload = True
        await device.power_on()
        self.device = device

    def close(self) -> None:
        if self.controller is not None:
            self.controller.close()
            self.controller = None
        if self.device is not None:
            self.device.host.on_transport_lost()
            self.device = None

    def pairing(self, io: PairingDelegate.IoCapability, *, bonding: bool = True, mitm: bool = False) -> None:
        """Pair as a plain device with this I/O capability (Just Works for NO_OUTPUT_NO_INPUT)."""
        self.device.pairing_config_factory = lambda _c: PairingConfig(
            sc=True, mitm=mitm, bonding=bonding, delegate=PairingDelegate(io_capability=io)
        )

    async def connect(self, address: str, *, random: bool = False, timeout: float = 10.0) -> Connection:
        kind = hci.Address.RANDOM_DEVICE_ADDRESS if random else hci.Address.PUBLIC_DEVICE_ADDRESS
        connection: Connection = await self.device.connect(
            hci.Address(address, kind), own_address_type=hci.OwnAddressType.PUBLIC, timeout=timeout
        )
        return connection
