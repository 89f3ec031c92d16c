"""Faults that can be injected into a world on purpose.

Each area registers its faults here (Wi-Fi: ``ap_down``, ``rssi``, ``deauth``...;
TCP/IP: ``link_drop``, ``packet_loss``...; Bluetooth: ``ble_out_of_range``...;
UART: ``uart_drop``, ``spontaneous_reset``...). The Python control API, the
control server and timed scenario events all go through :func:`inject`, so the
vocabulary is the same everywhere::

    @fault("ap_down", "the access point stops beaconing", ssid="SSID of the AP")
    def _ap_down(world: World, ssid: str) -> None: ...

    await inject(world, "ap_down", ssid="lab")
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.world import World

FaultHandler = Callable[..., Awaitable[None] | None]


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    handler: FaultHandler
    params: dict[str, str] = field(default_factory=dict)  # name -> description


FAULTS: dict[str, Fault] = {}


def fault(name: str, description: str, **params: str) -> Callable[[FaultHandler], FaultHandler]:
    def deco(fn: FaultHandler) -> FaultHandler:
        if name in FAULTS:
            raise ValueError(f"fault {name} registered twice")
        FAULTS[name] = Fault(name, description, fn, dict(params))
        return fn

    return deco


def load_faults() -> dict[str, Fault]:
    """Make sure every area has registered its faults; returns the registry."""
    from esp_at_sim.device.module import load_commands

    load_commands()
    import esp_at_sim.world.uart_faults  # noqa: F401 - registers the UART faults

    return FAULTS


async def inject(world: World, name: str, **params: Any) -> None:
    """Apply a fault; raises ConfigError for unknown faults or parameters."""
    load_faults()
    f = FAULTS.get(name)
    if f is None:
        raise ConfigError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
    sig = inspect.signature(f.handler)
    try:
        sig.bind(world, **params)
    except TypeError as exc:
        raise ConfigError(f"fault {name}: {exc}") from None
    result = f.handler(world, **params)
    if inspect.isawaitable(result):
        await result
