"""Real Bluetooth hosts in the world: a controller served over a Bumble transport.

A host outside the process - BlueZ through the user's vhci bridge, an
Android emulator, a Bumble app - gets a controller of its own on the
world's air, next to a module, through any Bumble transport (``tcp-server:
127.0.0.1:9001`` for HCI over TCP, ``pty:/tmp/hci0`` for H4 on a pty,
``ws-server:...``). With it the host scans, sees the module's advertising,
connects, pairs and uses its GATT server exactly as a phone next to the
board would (and Classic too, next to an ESP32).

Scenario::

    [[module]]
    name = "esp0"
    ble_hci = "tcp-server:127.0.0.1:9001"

or from Python: ``await HciExport.open(world, "esp0", "tcp-server:127.0.0.1:9001")``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import TYPE_CHECKING, Any

from bumble import hci
from bumble.transport import open_transport

from esp_at_sim.services.ble.controller import AirController
from esp_at_sim.world.radio import BleAir

if TYPE_CHECKING:
    from esp_at_sim.world.world import World

log = logging.getLogger(__name__)


class HciExport:
    """One outside host's controller; ``close()`` takes it off the air."""

    def __init__(self, world: World, near: str, spec: str) -> None:
        self.world = world
        self.near = near
        self.spec = spec
        self.name = f"{near}.hci"
        self.controller: AirController | None = None
        self.transport: Any = None

    @classmethod
    async def open(cls, world: World, near: str, spec: str) -> HciExport:
        export = cls(world, near, spec)
        await export._open()
        return export

    async def _open(self) -> None:
        air = self.world.extension(BleAir)
        x, y, z = air.position(self.near)
        air.positions.setdefault(self.name, (x + 1.0, y, z))
        digest = hashlib.sha256(f"hci:{self.world.seed}:{self.name}".encode()).digest()
        address = ":".join(f"{b:02x}" for b in b"\x00\x1b\xdc" + digest[:3])
        self.transport = await open_transport(self.spec)
        self.controller = AirController(
            self.name,
            air,
            public_address=hci.Address(address, hci.Address.PUBLIC_DEVICE_ADDRESS),
            bt5=True,
            classic=True,
        )
        self.controller.set_packet_sink(self.transport.sink)
        self.transport.source.set_packet_sink(self.controller)
        air.started_exports[self.near] = self

    @property
    def address(self) -> str:
        assert self.controller is not None
        return self.controller.public_address.to_string(False).lower()

    async def close(self) -> None:
        air = self.world.extension(BleAir)
        if air.started_exports.get(self.near) is self:
            del air.started_exports[self.near]
        if self.controller is not None:
            self.controller.close()
            self.controller = None
        transport, self.transport = self.transport, None
        if transport is None:
            return
        # Bumble's server transports keep the listening socket and the
        # accepted connection open after close(); shut both explicitly.
        client = getattr(transport.sink, "transport", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        server = getattr(transport, "server", None)
        if server is not None:
            with contextlib.suppress(Exception):
                server.close()
                await server.wait_closed()
        with contextlib.suppress(Exception):
            await transport.close()


async def ensure_export(world: World, module: str) -> HciExport | None:
    """Start the export a scenario asked for (once per world)."""
    air = world.extension(BleAir)
    spec = air.hci_exports.get(module)
    if not spec or module in air.started_exports:
        return None
    try:
        return await HciExport.open(world, module, spec)
    except Exception as exc:  # a port in use must not stop the module
        log.error("cannot serve HCI for %s on %s: %s", module, spec, exc)
        return None
