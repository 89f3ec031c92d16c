"""A module's state as plain data, for the control API, the dashboard and tests.

Theory of operation
-------------------
Each area contributes one section of the snapshot through a registry, so the
control server never imports an area's internals::

    @snapshot_section("wifi")
    def _wifi(module: Module) -> dict[str, Any] | None:
        st = module.service(WifiStation)
        return {"state": st.state.value, "ssid": st.ssid}

A section returns JSON-able data, or ``None`` to be left out (the area is not
in use on this chip or this boot). A section that raises is reported as
``{"error": "..."}`` instead of breaking the whole snapshot. Sections should
only read state: a snapshot is taken many times a second by the dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

log = logging.getLogger(__name__)

SnapshotSection = Callable[["Module"], Any]

#: section name -> function of the module
SNAPSHOT_SECTIONS: dict[str, SnapshotSection] = {}


def snapshot_section(name: str) -> Callable[[SnapshotSection], SnapshotSection]:
    def deco(fn: SnapshotSection) -> SnapshotSection:
        SNAPSHOT_SECTIONS[name] = fn
        return fn

    return deco


def snapshot(module: Module, sections: list[str] | None = None) -> dict[str, Any]:
    """The state of ``module``: ``{"name": ..., "<section>": {...}, ...}``."""
    out: dict[str, Any] = {"name": module.name}
    for name, fn in SNAPSHOT_SECTIONS.items():
        if sections is not None and name not in sections:
            continue
        try:
            value = fn(module)
        except Exception as exc:
            log.debug("snapshot section %s failed", name, exc_info=True)
            value = {"error": f"{type(exc).__name__}: {exc}"}
        if value is not None:
            out[name] = value
    return out


def lookup(state: dict[str, Any], path: str) -> Any:
    """``lookup(snap, "wifi.ip")``; raises KeyError naming the missing part."""
    cur: Any = state
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise KeyError(path)
    return cur


# ------------------------------------------------------------ built-in sections


@snapshot_section("module")
def _module(module: Module) -> dict[str, Any]:
    return {
        "chip": module.chip,
        "chip_name": module.profile.name,
        "module_name": module.factory.module_name,
        "generation": module.generation,
        "at_version": module.firmware.at_version,
        "powered": module.powered,
        "boot_count": module.boot_count,
        "boot_reason": module.boot_reason,
        "uptime": round(module.uptime, 3),
        "at_state": module.engine.state.value,
        "busy": module.busy,
        "echo": module.engine.echo,
        "uart_baud": module.uart_baud,
        "uart_pending": module.output.pending(),
    }


@snapshot_section("heap")
def _heap(module: Module) -> dict[str, Any]:
    heap = module.heap
    return {"total": heap.total, "free": heap.free, "min_free": heap.min_free, "largest_block": heap.largest_block}


@snapshot_section("nvs")
def _nvs(module: Module) -> dict[str, Any]:
    user = module.nvs.user
    return {ns: sorted(key for key, _typ in user.keys(ns)) for ns in user.namespaces()}


@snapshot_section("netif")
def _netif(module: Module) -> dict[str, Any] | None:
    from esp_at_sim.services.netif import NetIf

    if not module.has_service(NetIf):
        return None
    netif = module.service(NetIf)
    return {
        iface: {"ip": cfg.ip, "gateway": cfg.gateway, "netmask": cfg.netmask} for iface, cfg in netif.interfaces.items()
    }
