"""The world: everything outside the modules that they share.

A world holds the clock, the modules attached to it and the things they meet
(access points, BLE peers, the DNS table, the virtual IP fabric, faults). It
is an injected object, never a global; modules attach and detach the way
controllers join a shared link. Chapters extend it through the
``World.extensions`` mapping so each area keeps its own state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from esp_at_sim.world.clock import Clock

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

T = TypeVar("T")


class World:
    def __init__(self, clock: Clock | None = None, *, seed: str = "") -> None:
        self.clock = clock or Clock()
        self.seed = seed
        self.modules: dict[str, Module] = {}
        self.dns: dict[str, str] = {}
        self.extensions: dict[type[Any], Any] = {}

    def attach(self, module: Module) -> None:
        if module.name in self.modules and self.modules[module.name] is not module:
            raise ValueError(f"a module named {module.name!r} is already in this world")
        self.modules[module.name] = module

    def detach(self, module: Module) -> None:
        if self.modules.get(module.name) is module:
            del self.modules[module.name]

    def extension(self, cls: type[T]) -> T:
        """The world-wide state of one area (``WifiAir``, ``BleAir``...), made on first use."""
        ext = self.extensions.get(cls)
        if ext is None:
            make: Any = cls  # an area class takes the world as its only argument
            ext = make(self)
            self.extensions[cls] = ext
        return cast(T, ext)
