"""The Bluetooth controller and host of one module (one boot).

An ESP32 has one Bluetooth controller for LE and Classic, with one public
address (the base MAC + 2, as ESP-IDF derives it). :class:`BtRadio` owns
that controller (an :class:`AirController` on the world's air) and the
Bumble host :class:`EspDevice` on top of it; the LE stack (``AT+BLEINIT``),
the Classic stack (``AT+BTINIT``) and BluFi acquire it and release it, and
when the last one lets go the controller is switched off (its links time
out at the peers, as when the firmware deinitializes Bluetooth).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bumble import hci
from bumble.device import Device, DeviceConfiguration
from bumble.host import Host

from esp_at_sim.services.ble.controller import AirController
from esp_at_sim.services.ble.gatt_server import AtGattServer
from esp_at_sim.services.ble.security import NvsKeyStore
from esp_at_sim.world.radio import BleAir, coex

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)

# heap the firmware spends for the controller and host stacks
STACK_HEAP = {"bluedroid": 46_000, "nimble": 32_000}
CLASSIC_HEAP = 34_000
TX_POWER_DBM = {"esp32": 3.0, "esp32c3": 0.0, "esp32c2": 0.0, "esp32c5": 0.0, "esp32c6": 0.0, "esp32c61": 0.0}


def bt_address(module: Module) -> str:
    """The module's Bluetooth public address, lower case ("24:0a:c4:..")."""
    if module.config.mac:
        base = bytes(int(p, 16) for p in module.config.mac.split(":"))
    else:
        base = module.profile.base_mac(f"{module.config.seed}:{module.name}")
    value = (int.from_bytes(base, "big") + 2) & 0xFFFF_FFFF_FFFF
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


class EspDevice(Device):
    """Bumble's device with the ESP-AT GATT server and raw scan reports."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gatt_server = AtGattServer(self)
        self.raw_report_listener: Callable[[Any], None] | None = None

    def on_advertising_report(self, report: Any) -> None:
        if self.raw_report_listener is not None:
            self.raw_report_listener(report)

    async def get_long_term_key(self, connection_handle: int, rand: bytes, ediv: int) -> bytes | None:
        """The LTK a peer asks for when it encrypts the link.

        A legacy-pairing bond keeps two LTKs; the peer (central) uses the one
        this device distributed, which its EDIV/Rand identify - Bumble's own
        lookup hands the other one to a peripheral.
        """
        connection = self.lookup_connection(connection_handle)
        if connection is None:
            return None
        ltk = self.smp_manager.get_long_term_key(connection, rand, ediv)
        if ltk is not None:
            return ltk
        keys = await self.keystore.get(str(connection.peer_address)) if self.keystore is not None else None
        if keys is None:
            return None
        if keys.ltk is not None:
            return keys.ltk.value
        for key in (keys.ltk_central, keys.ltk_peripheral):
            if key is not None and (key.ediv or 0) == ediv and (key.rand or bytes(8)) == rand:
                return key.value
        mine = keys.ltk_central if connection.role == hci.Role.PERIPHERAL else keys.ltk_peripheral
        return None if mine is None else mine.value


class BtRadio:
    """Per-boot service: ``module.service(BtRadio)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.controller: AirController | None = None
        self.device: EspDevice | None = None
        self.users: set[str] = set()
        self._lock = asyncio.Lock()
        self._heap: Any = None
        module.scope.on_close(self._power_off)

    @property
    def address(self) -> str:
        return bt_address(self.module)

    @property
    def bt5(self) -> bool:
        return self.module.chip != "esp32"

    @property
    def dual_mode(self) -> bool:
        return self.module.profile.bt_classic

    async def acquire(self, user: str) -> EspDevice:
        async with self._lock:
            if self.device is None:
                await self._power_on()
            self.users.add(user)
            assert self.device is not None
            return self.device

    async def release(self, user: str) -> None:
        async with self._lock:
            self.users.discard(user)
            if not self.users:
                self._power_off()

    async def _power_on(self) -> None:
        module = self.module
        air = module.world.extension(BleAir)
        stack = module.profile.ble_stack or "bluedroid"
        self._heap = module.heap.alloc(STACK_HEAP.get(stack, 40_000), "bt_stack")
        public = hci.Address(self.address, hci.Address.PUBLIC_DEVICE_ADDRESS)
        self.controller = AirController(
            module.name,
            air,
            public_address=public,
            owner=module,
            bt5=self.bt5,
            classic=self.dual_mode,
            tx_power=TX_POWER_DBM.get(module.chip, 0.0),
        )
        config = DeviceConfiguration(
            name="ESP-AT",
            gap_service_enabled=False,
            gatt_service_enabled=False,
            classic_enabled=self.dual_mode,
            connectable=False,
            discoverable=False,
            advertising_data=b"",
            scan_response_data=b"",
            address=hci.Address.ANY_RANDOM,
        )
        host = Host(self.controller, self.controller)
        device = EspDevice(config=config, host=host)
        device.keystore = NvsKeyStore(module)
        device.static_address = hci.Address.ANY_RANDOM
        device.random_address = hci.Address.ANY_RANDOM
        try:
            await device.power_on()
        except Exception:
            self.controller.close()
            self._heap.free()
            self.controller = None
            raise
        # the controller filters and resolves nothing by itself; connecting by
        # identity address must not turn into a search for a private address
        device.address_resolution_offload = True
        self.device = device
        coex.set_bt_active(module, True)

    def _power_off(self) -> None:
        if self.controller is not None:
            self.controller.close()
            self.controller = None
        if self.device is not None:
            host = self.device.host
            self.device = None
            try:
                host.on_transport_lost()  # type: ignore[no-untyped-call]
            except Exception:  # pragma: no cover - best effort teardown of Bumble's host
                log.debug("host teardown", exc_info=True)
        if self._heap is not None:
            self._heap.free()
            self._heap = None
        coex.set_bt_active(self.module, False)
        self.users.clear()
