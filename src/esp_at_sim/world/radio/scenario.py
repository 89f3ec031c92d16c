"""Scenario tables of the Bluetooth air, beacons, and its faults.

::

    [bluetooth]
    path_loss_exponent = 2.5        # log-distance model (2 = free space)
    sensitivity = -97               # dBm, weakest signal a radio decodes
    rssi_jitter = 0                 # +- dB of noise on reported RSSI
    interference = 0.0              # packet loss everywhere (0..1)
    positions = { esp0 = [0, 0], esp1 = [4, 3] }   # metres
    rssi = [ { a = "esp0", b = "esp1", rssi = -70 } ]

    [[ble_peer]]                    # a beacon: advertises, never connects
    name = "tag1"
    address = "c0:11:22:33:44:55"
    random = true
    adv_type = 3                    # AT+BLEADVPARAM numbering
    adv_data = "0201060909546167"
    scan_rsp = ""
    interval_ms = 100
    position = [2, 0]

    [[module]]
    name = "esp0"
    ble_hci = "tcp-server:127.0.0.1:9001"   # its controller for real hosts

Faults (``inject(world, name, ...)``, the control server, scenario events):
``ble_move``, ``ble_out_of_range``, ``ble_in_range``, ``ble_leave``,
``ble_return``, ``ble_interference``, ``ble_rssi``.
"""

from __future__ import annotations

from typing import Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import fault
from esp_at_sim.world.radio import scanning
from esp_at_sim.world.radio.air import AirAddress, BleAir, RadioNode
from esp_at_sim.world.scenario import module_key, section
from esp_at_sim.world.world import World


class Beacon(RadioNode):
    """A device that only advertises (a tag, a phone in the next room)."""

    def __init__(self, name: str, adv: dict[str, Any], tx_power: float) -> None:
        super().__init__(name, tx_power=tx_power)
        self.spec = adv


def _pos(value: Any, where: str) -> tuple[float, float, float]:
    if not isinstance(value, list | tuple) or not 2 <= len(value) <= 3:
        raise ConfigError(f"{where}: a position is [x, y] or [x, y, z] in metres")
    try:
        x, y, *rest = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: a position is made of numbers") from None
    return (x, y, rest[0] if rest else 0.0)


@section("bluetooth")
def _load_bluetooth(world: World, table: Any) -> None:
    if not isinstance(table, dict):
        raise ConfigError("[bluetooth] must be a table")
    air = world.extension(BleAir)
    known = {"path_loss_exponent", "sensitivity", "rssi_jitter", "interference", "positions", "rssi"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"[bluetooth]: unknown keys {', '.join(sorted(unknown))}")
    try:
        air.exponent = float(table.get("path_loss_exponent", air.exponent))
        air.sensitivity = float(table.get("sensitivity", air.sensitivity))
        air.rssi_jitter = float(table.get("rssi_jitter", 0.0))
        air.loss = min(1.0, max(0.0, float(table.get("interference", 0.0))))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[bluetooth]: {exc}") from None
    for name, pos in dict(table.get("positions", {})).items():
        air.positions[str(name)] = _pos(pos, f"[bluetooth] position of {name}")
    for entry in table.get("rssi", []):
        try:
            air.rssi_overrides[frozenset((str(entry["a"]), str(entry["b"])))] = float(entry["rssi"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("[bluetooth] rssi entries are { a = ..., b = ..., rssi = ... }") from None


@section("ble_peer")
def _load_ble_peers(world: World, peers: Any) -> None:
    if not isinstance(peers, list):
        raise ConfigError("[[ble_peer]] must be an array of tables")
    air = world.extension(BleAir)
    for i, raw in enumerate(peers):
        if not isinstance(raw, dict):
            raise ConfigError(f"[[ble_peer]] #{i} must be a table")
        name = str(raw.get("name", f"ble_peer{i}"))
        try:
            address = AirAddress.parse(str(raw["address"]), bool(raw.get("random", False)))
            kind = scanning.AdvKind(int(raw.get("adv_type", 3)))
            data = bytes.fromhex(str(raw.get("adv_data", "")))
            rsp = bytes.fromhex(str(raw.get("scan_rsp", "")))
            interval = float(raw.get("interval_ms", 100)) / 1000.0
            tx_power = float(raw.get("tx_power", 0.0))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"[[ble_peer]] {name}: {exc}") from None
        beacon = Beacon(name, raw, tx_power)
        beacon.le_addresses = {address}
        if "position" in raw:
            air.positions[name] = _pos(raw["position"], f"[[ble_peer]] {name}")
        air.attach(beacon)
        adv = scanning.AdvertisingSet(
            node=beacon, address=address, kind=kind, data=data, scan_response=rsp, interval=max(interval, 0.02)
        )
        scanning.advertise(air, adv)


@module_key("ble_hci")
def _load_ble_hci(world: World, module: str, value: Any) -> None:
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"[[module]] {module}: ble_hci is a transport such as 'tcp-server:127.0.0.1:9001'")
    world.extension(BleAir).hci_exports[module] = value


# ------------------------------------------------------------------ faults
def _air(world: World) -> BleAir:
    return world.extension(BleAir)


@fault("ble_move", "move a module (or beacon) to a position in metres", module="name", x="metres", y="metres")
def _ble_move(world: World, module: str, x: float, y: float, z: float = 0.0) -> None:
    _air(world).move(module, x, y, z)


@fault(
    "ble_out_of_range",
    "a module can no longer hear a peer (or anyone); links time out with reason 0x08",
    module="name",
    peer="other name (optional)",
)
def _ble_out_of_range(world: World, module: str, peer: str | None = None) -> None:
    _air(world).block(module, peer)


@fault("ble_in_range", "undo ble_out_of_range", module="name", peer="other name (optional)")
def _ble_in_range(world: World, module: str, peer: str | None = None) -> None:
    _air(world).unblock(module, peer)


@fault("ble_leave", "a module or beacon leaves the world (nobody hears it)", module="name")
def _ble_leave(world: World, module: str) -> None:
    _air(world).leave(module)


@fault("ble_return", "a module or beacon that left comes back", module="name")
def _ble_return(world: World, module: str) -> None:
    _air(world).come_back(module)


@fault(
    "ble_interference",
    "packet loss on the Bluetooth air (everywhere, or around one module)",
    loss="probability 0..1",
    module="name (optional)",
)
def _ble_interference(world: World, loss: float, module: str | None = None) -> None:
    _air(world).set_interference(loss, module)


@fault("ble_rssi", "fix the RSSI between two radios (None: back to the geometry)", a="name", b="name", rssi="dBm")
def _ble_rssi(world: World, a: str, b: str, rssi: float | None) -> None:
    _air(world).set_rssi(a, b, rssi)
