"""AT+SAVETRANSLINK=2 at power-up: BLE SPP passthrough (BLE_AT_Commands.rst, Basic_AT_Commands.rst).

The boot hook lives apart from ``ble_spp`` because that chapter, and the
Bluetooth stack under it, is imported on first use: the hook reads the saved
link and imports them only when the module is to enter BLE SPP at boot.
"""

from __future__ import annotations

from typing import Any

from esp_at_sim.commands.basic_trans import saved_link
from esp_at_sim.device.module import Module, on_boot


@on_boot
def _savetranslink_ble(module: Module) -> Any:
    """Mode 2 of AT+SAVETRANSLINK: enter BLE SPP passthrough after power-up."""
    if not module.has_group("ble"):
        return None
    cfg = saved_link(module)
    if cfg.get("mode") != 2:
        return None
    from esp_at_sim.commands.ble_spp import boot_passthrough

    return boot_passthrough(module, cfg)
