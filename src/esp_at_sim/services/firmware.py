"""The two OTA app slots and which one boots (AT+SYSROLLBACK, AT+USEROTA, OTA).

Theory of operation
-------------------
Like the ``otadata`` partition, the state says which slot (``ota_0`` or
``ota_1``, at the chip profile's addresses) boots and what each slot holds. A
factory-fresh module runs ``ota_0`` with the profile's firmware version and has
nothing in ``ota_1``. An OTA (:meth:`FirmwareSlots.install`) writes the other
slot and makes it the boot slot; a rollback makes the other slot boot again.
The change takes effect at the next boot, so the slot a boot runs is fixed when
the boot first asks.

The state is kept in the module's NVS file but outside the user NVS partition,
so AT+RESTORE leaves it alone, as it leaves the app partitions alone.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

#: Fetch an OTA image: ``await downloader(module, url) -> bytes``, raising on
#: any failure. The first one registered is used (AT+USEROTA, AT+CIUPDATE...).
DOWNLOADERS: list[Callable[[Module, str], Awaitable[bytes]]] = []

_META = "otadata"
_RUNNING = "ota.running"
IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432


def app_version(image: bytes) -> str | None:
    """The version in an ESP-IDF app image's ``esp_app_desc_t``, or None when
    ``image`` is not an app image (wrong magic bytes, too short)."""
    if len(image) < 80 or image[0] != IMAGE_MAGIC:
        return None
    (magic,) = struct.unpack_from("<I", image, 32)
    if magic != APP_DESC_MAGIC:
        return None
    raw = image[48:80].split(b"\0", 1)[0]
    return raw.decode("ascii", "replace") or None


class FirmwareSlots:
    """``module.service(FirmwareSlots)``."""

    def __init__(self, module: Module) -> None:
        self.module = module

    # --------------------------------------------------------------- state
    def _state(self) -> dict[str, Any]:
        raw = self.module.nvs.meta(_META)
        if raw:
            try:
                state = json.loads(raw)
                if isinstance(state, dict) and isinstance(state.get("versions"), list):
                    return state
            except ValueError:
                pass
        return {"boot": 0, "versions": [self.module.firmware.bin_version, None]}

    def _save(self, state: dict[str, Any]) -> None:
        self.module.nvs.set_meta(_META, json.dumps(state))

    @property
    def running(self) -> int:
        """The slot this boot runs (0 or 1)."""
        slot = self.module.vars.get(_RUNNING)
        if not isinstance(slot, int):
            boot = self._state().get("boot", 0)
            slot = boot if boot in (0, 1) else 0
            self.module.vars[_RUNNING] = slot
        return slot

    @property
    def running_addr(self) -> int:
        return self.module.profile.ota_slots[self.running]

    @property
    def other_addr(self) -> int:
        return self.module.profile.ota_slots[1 - self.running]

    @property
    def running_version(self) -> str:
        version = self._state()["versions"][self.running]
        return version if isinstance(version, str) else self.module.firmware.bin_version

    @property
    def other_version(self) -> str | None:
        version = self._state()["versions"][1 - self.running]
        return version if isinstance(version, str) else None

    # ------------------------------------------------------------- changes
    def can_roll_back(self) -> bool:
        return self.other_version is not None

    def roll_back(self) -> None:
        """Boot the other slot from the next boot on."""
        if not self.can_roll_back():
            raise ValueError("no app in the other slot")
        state = self._state()
        state["boot"] = 1 - self.running
        self._save(state)

    def install(self, version: str) -> None:
        """An OTA wrote a verified app of ``version`` into the other slot: boot it next."""
        state = self._state()
        other = 1 - self.running
        state["versions"][other] = version
        state["boot"] = other
        self._save(state)
