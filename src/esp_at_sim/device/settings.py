"""Command configuration with the firmware's SYSSTORE semantics.

Queries always read RAM. A set command writes RAM and, when ``AT+SYSSTORE=1``
(or for a ``_DEF`` command, or a command the spec always saves), the user NVS
too. RAM starts from NVS at boot and is dropped by a reboot.
"""

from __future__ import annotations

from typing import Any

from esp_at_sim.device.nvs import NvsPartition

_UNSET = object()


class Settings:
    NAMESPACE_PREFIX = "at."

    def __init__(self, nvs: NvsPartition, sysstore: bool) -> None:
        self._nvs = nvs
        self._ram: dict[tuple[str, str], Any] = {}
        self.sysstore = sysstore

    def get(self, ns: str, key: str, default: Any = None) -> Any:
        k = (ns, key)
        if k in self._ram:
            return self._ram[k]
        value = self._nvs.get(self.NAMESPACE_PREFIX + ns, key, _UNSET)
        if value is _UNSET:
            return default
        self._ram[k] = value
        return value

    def stored(self, ns: str, key: str, default: Any = None) -> Any:
        """The value in flash, ignoring RAM."""
        value = self._nvs.get(self.NAMESPACE_PREFIX + ns, key, _UNSET)
        return default if value is _UNSET else value

    def set(self, ns: str, key: str, value: Any, persist: bool | None = None) -> None:
        self._ram[(ns, key)] = value
        if self.sysstore if persist is None else persist:
            self._nvs.set(self.NAMESPACE_PREFIX + ns, key, value)

    def forget(self, ns: str, key: str, persist: bool | None = None) -> None:
        self._ram.pop((ns, key), None)
        self._ram[(ns, key)] = None
        if self.sysstore if persist is None else persist:
            self._nvs.erase(self.NAMESPACE_PREFIX + ns, key)
