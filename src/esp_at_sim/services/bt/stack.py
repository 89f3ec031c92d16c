"""Classic Bluetooth GAP and security of a module (``AT+BT...``).

:class:`BtStack` (per boot) switches Classic on over the module's radio,
sets its name, class of device and scan mode (inquiry scan / page scan),
runs inquiries and pairs with Secure Simple Pairing, turning the host's
questions into the firmware's messages:

======================  ===================================  ==================
SSP asks                the module prints                     the host answers
======================  ===================================  ==================
compare numbers         ``+BTCFMREQ:"<addr>",<number>``       ``AT+BTSECCFM``
display a passkey       ``+BTKEYNTF:0,<passkey>``             (nothing)
enter a passkey         ``+BTKEYREQ:"<addr>"``                ``AT+BTKEYREPLY``
legacy PIN (variable)   ``+BTPINREQ:"<addr>"``                ``AT+BTPINREPLY``
======================  ===================================  ==================

Link keys are kept in the module's NVS with the LE bonds (``AT+BTENCDEV?``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bumble import hci
from bumble.core import PhysicalTransport
from bumble.pairing import PairingConfig, PairingDelegate

from esp_at_sim.services.ble.radio import BtRadio
from esp_at_sim.services.ble.security import NvsKeyStore, bond_address

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)
DEFAULT_NAME = "ESP32_AT"
ANSWER_TIMEOUT = 30.0
IOCAP = {
    0: PairingDelegate.IoCapability.DISPLAY_OUTPUT_ONLY,
    1: PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
    2: PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY,
    3: PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT,
}


class BtError(Exception):
    """A Classic Bluetooth operation failed (the command answers ERROR)."""


def peer_of(connection: Any) -> str:
    """The peer's address as the firmware prints it: lower case, no type suffix."""
    return str(connection.peer_address.to_string(False).lower())


@dataclass(frozen=True)
class InquiryResult:
    address: str
    name: str
    class_of_device: int
    rssi: int


@dataclass
class BtSecParams:
    io_cap: int = 1
    pin_type: int = 0
    pin_code: str = ""


class BtListener:
    def confirm_request(self, address: str, number: int) -> None: ...

    def passkey_notify(self, passkey: int) -> None: ...

    def passkey_request(self, address: str) -> None: ...

    def pin_request(self, address: str) -> None: ...


class _Delegate(PairingDelegate):
    def __init__(self, stack: BtStack, address: str) -> None:
        params = stack.sec_params
        super().__init__(io_capability=IOCAP.get(params.io_cap, PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT))
        self.stack = stack
        self.address = address

    async def compare_numbers(self, number: int, digits: int) -> bool:
        if self.io_capability == PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT:
            return True
        self.stack.listener.confirm_request(self.address, number)
        return bool(await self.stack.ask("confirm"))

    async def confirm(self, auto: bool = False) -> bool:
        return True

    async def get_number(self) -> int | None:
        self.stack.listener.passkey_request(self.address)
        value = await self.stack.ask("passkey")
        return None if value is None else int(value)

    async def display_number(self, number: int, digits: int) -> None:
        self.stack.listener.passkey_notify(number)

    async def get_string(self, max_length: int) -> str | None:
        params = self.stack.sec_params
        if params.pin_type == 1:
            return params.pin_code[:max_length]
        self.stack.listener.pin_request(self.address)
        value = await self.stack.ask("pin")
        return None if value is None else str(value)[:max_length]


class BtStack:
    """Per-boot service: ``module.service(BtStack)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.radio = module.service(BtRadio)
        self.initialized = False
        self.device: Any = None
        self.listener = BtListener()
        self.scan_mode = 0
        self.power = (module.settings.get("bt", "power", [5, 5]) or [5, 5])[:2]
        self._questions: dict[str, asyncio.Future[Any]] = {}
        self._heap: Any = None
        self._connection_watchers: list[Callable[[Any], None]] = []

    # ---------------------------------------------------------- settings
    @property
    def name(self) -> str:
        return str(self.module.settings.get("bt", "name", DEFAULT_NAME))

    @property
    def sec_params(self) -> BtSecParams:
        raw = self.module.settings.get("bt", "secparam")
        return BtSecParams(**raw) if raw else BtSecParams()

    def set_sec_params(self, params: BtSecParams, persist: bool | None) -> None:
        self.module.settings.set("bt", "secparam", params.__dict__, persist=persist)

    # --------------------------------------------------------- lifecycle
    async def init(self) -> None:
        if self.initialized:
            return
        device = await self.radio.acquire("bt")
        self._heap = self.module.heap.alloc(34_000, "bt_classic")
        self.device = device
        device.classic_enabled = True
        device.pairing_config_factory = self._pairing_config
        self.initialized = True
        await self.set_name(self.name, persist=None)
        cod = self.module.settings.get("bt", "cod")
        if cod is not None:
            await self.set_class_of_device(int(cod), persist=None)
        await self.set_scan_mode(0)

    async def deinit(self) -> None:
        if not self.initialized:
            return
        self.initialized = False
        for c in [c for c in self.device.connections.values() if c.transport == PhysicalTransport.BR_EDR]:
            try:
                await c.disconnect()
            except Exception:
                log.debug("classic disconnect", exc_info=True)
        if self._heap is not None:
            self._heap.free()
            self._heap = None
        self.device = None
        await self.radio.release("bt")

    def require(self) -> Any:
        if not self.initialized or self.device is None:
            raise BtError("bt not initialized")
        return self.device

    async def page(self, address: str) -> Any:
        """Open an ACL link to a Classic peer for a profile (SPP, A2DP) to run over."""
        device = self.require()
        try:
            return await device.connect(
                hci.Address(address, hci.Address.PUBLIC_DEVICE_ADDRESS),
                transport=PhysicalTransport.BR_EDR,
                timeout=self.module.clock.real_seconds(30.0),
            )
        except Exception as exc:
            raise BtError(f"page failed: {exc}") from None

    # --------------------------------------------------------------- GAP
    async def set_name(self, name: str, persist: bool | None) -> None:
        device = self.require()
        if persist is not None:
            self.module.settings.set("bt", "name", name, persist=persist)
        device.name = name
        await device.send_sync_command(hci.HCI_Write_Local_Name_Command(local_name=name.encode()))

    async def set_scan_mode(self, mode: int) -> None:
        device = self.require()
        self.scan_mode = mode
        device.discoverable = mode in (2, 3)
        device.connectable = mode in (1, 2)
        scan = (0x01 if device.discoverable else 0) | (0x02 if device.connectable else 0)
        await device.send_sync_command(hci.HCI_Write_Scan_Enable_Command(scan_enable=scan))

    async def set_class_of_device(self, cod: int, persist: bool | None) -> None:
        device = self.require()
        if persist is not None:
            self.module.settings.set("bt", "cod", cod, persist=persist)
        device.class_of_device = cod
        await device.send_sync_command(hci.HCI_Write_Class_Of_Device_Command(class_of_device=cod))

    async def discover(self, limited: bool, length: int, responses: int) -> AsyncIterator[InquiryResult]:
        device = self.require()
        queue: asyncio.Queue[InquiryResult | None] = asyncio.Queue()

        def on_result(address: Any, cod: int, data: Any, rssi: int) -> None:
            name = b""
            try:
                name = data.get(0x09) or data.get(0x08) or b""
            except Exception:
                name = b""
            if isinstance(name, str):
                name = name.encode()
            queue.put_nowait(
                InquiryResult(address.to_string(False).lower(), bytes(name).decode("utf-8", "replace"), cod, rssi)
            )

        def on_complete() -> None:
            queue.put_nowait(None)

        device.on("inquiry_result", on_result)
        device.on("inquiry_complete", on_complete)
        device.auto_restart_inquiry = False
        try:
            await device.send_sync_command(hci.HCI_Write_Inquiry_Mode_Command(inquiry_mode=2))
            await device.send_async_command(
                hci.HCI_Inquiry_Command(
                    lap=0x9E8B00 if limited else hci.HCI_GENERAL_INQUIRY_LAP,
                    inquiry_length=length,
                    num_responses=responses,
                )
            )
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item
        finally:
            device.remove_listener("inquiry_result", on_result)
            device.remove_listener("inquiry_complete", on_complete)

    # ---------------------------------------------------------- security
    def _pairing_config(self, connection: Any) -> PairingConfig:
        address = peer_of(connection)
        return PairingConfig(sc=True, mitm=self.sec_params.io_cap != 3, bonding=True, delegate=_Delegate(self, address))

    async def ask(self, what: str) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._questions[what] = future
        try:
            return await asyncio.wait_for(future, self.module.clock.real_seconds(ANSWER_TIMEOUT))
        except TimeoutError:
            return None
        finally:
            if self._questions.get(what) is future:
                del self._questions[what]

    def answer(self, what: str, value: Any) -> bool:
        future = self._questions.pop(what, None)
        if future is None or future.done():
            return False
        future.set_result(value)
        return True

    def _keystore(self) -> NvsKeyStore:
        ks = self.require().keystore
        assert isinstance(ks, NvsKeyStore)
        return ks

    def bonds(self) -> list[str]:
        return [bond_address(n) for n in self._keystore().classic_bonds()]

    async def clear_bonds(self, index: int | None) -> bool:
        names = self._keystore().classic_bonds()
        if index is None:
            for n in names:
                await self._keystore().delete(n)
            return True
        if index >= len(names):
            return False
        await self._keystore().delete(names[index])
        return True
