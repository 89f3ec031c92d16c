"""State sections and world operations the control API offers for Wi-Fi, links, BLE and MQTT.

Everything here goes through the public face of those areas (``WifiAir``'s
methods and the services' documented attributes, the scenario section
loaders), read-only for the snapshot sections, so the areas stay free to
change their internals. A section whose area is not in use returns ``None``
and is left out of the snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esp_at_sim.device.snapshot import snapshot_section
from esp_at_sim.errors import ConfigError
from esp_at_sim.world.view import world_section
from esp_at_sim.world.world import World

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

MIN_RSSI, MAX_RSSI = -120.0, 0.0  # dBm a receiver can report; +40 dBm is no radio


def _mac(b: bytes | None) -> str | None:
    return None if b is None else ":".join(f"{x:02x}" for x in b)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


# ------------------------------------------------------------- snapshot sections


@snapshot_section("wifi")
def _wifi(module: Module) -> dict[str, Any] | None:
    from esp_at_sim.services.wifi import StaState, WifiService

    if not module.has_service(WifiService):
        return None
    svc = module.service(WifiService)
    sta = svc.sta
    out: dict[str, Any] = {
        "mode": svc.mode,
        "state": StaState(sta.state).name.lower(),
        "connected": sta.connected,
        "ssid": _text(sta.ap.ssid) if sta.ap is not None else (_text(sta.target_ssid) or None),
        "bssid": _mac(sta.ap.bssid) if sta.ap is not None else None,
        "channel": sta.ap.channel if sta.ap is not None else None,
        "rssi": sta.rssi() if sta.ap is not None else None,
        "ip": sta.ip.ip if sta.ip is not None else None,
        "last_reason": sta.last_reason,
    }
    return out


@snapshot_section("links")
def _links(module: Module) -> list[dict[str, Any]] | None:
    from esp_at_sim.services.links import LinkTable

    if not module.has_service(LinkTable):
        return None
    table = module.service(LinkTable)
    return [
        {
            "id": link.id,
            "type": link.kind,
            "remote_ip": link.remote_ip,
            "remote_port": link.remote_port,
            "local_port": link.local_port,
            "server": link.server,
        }
        for link in table.links.values()
    ]


@snapshot_section("ble")
def _ble(module: Module) -> dict[str, Any] | None:
    from esp_at_sim.services.ble.blufi import Blufi
    from esp_at_sim.services.ble.stack import BleStack

    stack = module.service(BleStack) if module.has_service(BleStack) else None
    blufi = module.service(Blufi) if module.has_service(Blufi) else None
    if stack is None and blufi is None:
        return None
    out: dict[str, Any] = {"role": 0, "advertising": False, "scanning": False, "links": []}
    if stack is not None:
        out.update(
            role=stack.role,
            name=stack.name,
            address=stack.query_address(),
            advertising=stack.advertising,
            scanning=stack.scanning,
            spp=bool(stack.spp is not None and stack.spp.active),
            links=[
                {
                    "index": link.index,
                    "address": link.address,
                    "central": link.central,
                    "mtu": link.mtu,
                    "encrypted": bool(getattr(link.connection, "is_encrypted", False)),
                }
                for link in sorted(stack.links.values(), key=lambda link: link.index)
            ],
        )
    if blufi is not None:
        out["blufi"] = {
            "active": blufi.active,
            "name": blufi.name,
            "connected": blufi.connection is not None,
            "ssid": _text(blufi.ssid) if blufi.ssid else None,
        }
    return out


@snapshot_section("mqtt")
def _mqtt(module: Module) -> dict[str, Any] | None:
    from esp_at_sim.commands.mqtt import MqttLink

    if not module.has_service(MqttLink):
        return None
    link = module.service(MqttLink)
    if link.state == 0:
        return None
    session = link.session
    return {
        # AT+MQTTCONN?'s <state>: 1 user config set, 2 connection config set, 3 disconnected,
        # 4 connected, 5 connected without subscriptions, 6 connected and subscribed
        "state": link.state,
        "scheme": link.scheme,
        "client_id": link.client_id,
        "username": link.username,
        "host": link.host or None,
        "port": link.port or None,
        "path": link.shown_path or None,
        "keepalive": link.keepalive,
        "clean_session": link.clean_session,
        "reconnect": bool(link.reconnect),
        "connected": bool(session is not None and session.connected),
        "topics": dict(link.topics),
    }


# ---------------------------------------------------------------- world view


@world_section("access_points")
def _access_points(world: World) -> list[dict[str, Any]] | None:
    from esp_at_sim.world.wifi import WifiAir

    if WifiAir not in world.extensions:
        return None
    air = world.extension(WifiAir)
    return [
        {
            "ssid": _text(ap.ssid),
            "bssid": _mac(ap.bssid),
            "channel": ap.channel,
            "security": ap.security.value,
            "on_air": ap.on_air,
            "owner": ap.owner,
            "rssi": ap.rssi_override,
            "x": ap.spec.position[0] if ap.spec.position else None,
            "y": ap.spec.position[1] if ap.spec.position else None,
            "stations": len(ap.stations),
        }
        for ap in air.aps
    ]


@world_section("positions")
def _positions(world: World) -> dict[str, list[float]] | None:
    from esp_at_sim.world.wifi import WifiAir

    if WifiAir not in world.extensions:
        return None
    return {name: list(pos) for name, pos in world.extension(WifiAir).positions.items()}


# ----------------------------------------------------------------- operations


def check_rssi(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError("rssi must be a number of dBm (or null for the distance model)")
    if not MIN_RSSI <= value <= MAX_RSSI:
        raise ConfigError(f"rssi {value:+g} dBm is impossible (between {MIN_RSSI:g} and {MAX_RSSI:g} dBm)")
    return float(value)


def check_position(value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ConfigError("position must be [x, y] in metres")
    x, y = float(value[0]), float(value[1])
    if max(abs(x), abs(y)) > 100_000:
        raise ConfigError("position must be within 100 km")
    return x, y


def add_access_point(world: World, table: dict[str, Any]) -> dict[str, Any]:
    from esp_at_sim.world.wifi import WifiAir, spec_from_table

    air = world.extension(WifiAir)
    if "rssi" in table:
        check_rssi(table["rssi"])
    try:
        spec = spec_from_table(dict(table), len(air.aps))
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"access point: {exc}") from None
    ap = air.add(spec)
    return {"ssid": _text(ap.ssid), "bssid": _mac(ap.bssid), "channel": ap.channel}


def _find_aps(world: World, ssid: str, bssid: str | None) -> list[Any]:
    from esp_at_sim.world.wifi import WifiAir

    return world.extension(WifiAir).find(ssid, bssid)


def remove_access_point(world: World, ssid: str, bssid: str | None = None) -> int:
    from esp_at_sim.world.wifi import WifiAir

    aps = _find_aps(world, ssid, bssid)
    for ap in aps:
        world.extension(WifiAir).remove(ap)
    return len(aps)


def change_access_point(world: World, ssid: str, bssid: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH an AP: ``rssi`` (dBm or null), ``position`` ([x, y]), ``up`` (bool)."""
    from esp_at_sim.world.wifi import WifiAir

    unknown = set(body) - {"rssi", "position", "up"}
    if unknown:
        raise ConfigError(f"unknown fields {', '.join(sorted(unknown))}; an access point takes rssi, position, up")
    aps = _find_aps(world, ssid, bssid)
    air = world.extension(WifiAir)
    if "rssi" in body:
        air.set_rssi(check_rssi(body["rssi"]), ssid, bssid)
    if "position" in body:
        pos = check_position(body["position"])
        for ap in aps:
            air.place(ap, pos)
    if "up" in body:
        if not isinstance(body["up"], bool):
            raise ConfigError("up must be true or false")
        (air.ap_up if body["up"] else air.ap_down)(ssid, bssid)
    return {"changed": len(aps)}


def move_module(world: World, module: str, position: Any) -> None:
    x, y = check_position(position)
    if module not in world.modules:
        raise KeyError(module)
    from esp_at_sim.world.wifi import WifiAir

    world.extension(WifiAir).move(module, x, y)
    try:
        from esp_at_sim.world.radio.air import BleAir
    except ImportError:  # pragma: no cover - a build without Bluetooth
        return
    if BleAir in world.extensions:
        world.extension(BleAir).move(module, x, y)


def add_ble_peer(world: World, table: dict[str, Any]) -> None:
    """A ``[[ble_peer]]`` table, loaded by the Bluetooth area's own scenario loader."""
    from esp_at_sim.world.scenario import SECTION_LOADERS

    loader = SECTION_LOADERS.get("ble_peer")
    if loader is None:
        raise ConfigError("this build has no BLE peers")
    try:
        loader(world, [table])
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"ble peer: {exc}") from None
