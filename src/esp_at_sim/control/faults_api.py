"""The fault registry as the control API shows and drives it.

Parameters arrive as JSON values (control API, scenario events) or as strings
(``esp-at-sim ctl inject ap_down ssid=lab``); they are checked against the
handler's signature and converted to its annotated types here, so every area
gets the values it declared and bad input is refused with a clear message
before any handler runs.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import FAULTS, Fault, inject, load_faults
from esp_at_sim.world.world import World


def _param_types(f: Fault) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(f.handler)
    except Exception:
        hints = {}
    return hints


def _type_name(tp: Any) -> str:
    for cand, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if tp is cand:
            return name
    args = typing.get_args(tp)
    for a in args:
        if a is not type(None):
            return _type_name(a)
    return "any"


def describe(f: Fault) -> dict[str, Any]:
    sig = inspect.signature(f.handler)
    types = _param_types(f)
    params: dict[str, Any] = {}
    for i, (pname, p) in enumerate(sig.parameters.items()):
        if i == 0 or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue  # the world
        entry: dict[str, Any] = {
            "type": _type_name(types.get(pname)),
            "required": p.default is inspect.Parameter.empty,
            "description": f.params.get(pname, ""),
        }
        if p.default is not inspect.Parameter.empty:
            entry["default"] = p.default
        params[pname] = entry
    return {"name": f.name, "description": f.description, "params": params}


_described: dict[str, dict[str, Any]] = {}


def _description(f: Fault) -> dict[str, Any]:
    d = _described.get(f.name)
    if d is None:  # type hints are slow to resolve; a fault's signature never changes
        d = _described[f.name] = describe(f)
    return d


def list_faults() -> list[dict[str, Any]]:
    load_faults()
    return [_description(f) for f in sorted(FAULTS.values(), key=lambda f: f.name)]


def _coerce(fault: str, name: str, value: Any, kind: str) -> Any:
    bad = ConfigError(
        f"fault {fault}: parameter {name} must be {'an' if kind == 'integer' else 'a'} {kind}, got {value!r}"
    )
    if kind == "any" or value is None:
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise bad
    if kind == "integer":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value, 0)
            except ValueError:
                raise bad from None
        raise bad
    if kind == "number":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad from None
        raise bad
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise bad
    return value


def prepare(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check and convert ``params`` for fault ``name``; raises ConfigError (or KeyError for unknown faults)."""
    load_faults()
    f = FAULTS.get(name)
    if f is None:
        raise KeyError(name)
    spec = _description(f)["params"]
    unknown = set(params) - set(spec)
    if unknown:
        raise ConfigError(
            f"fault {name}: unknown parameters {', '.join(sorted(unknown))}; takes {', '.join(spec) or 'none'}"
        )
    missing = [p for p, s in spec.items() if s["required"] and p not in params]
    if missing:
        raise ConfigError(f"fault {name}: missing parameters {', '.join(missing)}")
    values = {k: _coerce(name, k, v, spec[k]["type"]) for k, v in params.items()}
    _check_physics(name, values)
    return values


def _check_physics(fault: str, values: dict[str, Any]) -> None:
    """Values no radio can have, whatever the area's handler would do with them."""
    from esp_at_sim.control.sections import check_rssi

    for key, value in values.items():
        if value is None:
            continue
        if key == "rssi":
            try:
                check_rssi(value)
            except ConfigError as exc:
                raise ConfigError(f"fault {fault}: {exc}") from None
        elif key == "channel" and isinstance(value, int) and not 1 <= value <= 177:
            raise ConfigError(f"fault {fault}: channel {value} does not exist (1..177)")


async def inject_checked(world: World, name: str, params: dict[str, Any]) -> None:
    """Inject with converted parameters; handler ValueErrors become ConfigError (a 400)."""
    values = prepare(name, params)
    try:
        await inject(world, name, **values)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"fault {name}: {exc}") from None
