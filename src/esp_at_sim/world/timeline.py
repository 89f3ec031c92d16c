"""Timed scenario events: ``[[event]]`` tables, played on the world clock.

::

    [[event]]
    at = "5s"              # world time after start: "250ms", "5s", "2m", or seconds
    fault = "ap_down"      # any registered fault; the other keys are its parameters
    ssid = "lab"

    [[event]]
    at = "1s"
    every = "10s"          # repeat ...
    times = 3              # ... this many times in all (default: forever with `every`)
    send = "AT+CWJAP?\\r\\n" # bytes for a module's UART, as if the host sent them
    module = "esp0"

    [[event]]
    at = "60s"
    action = "stop"        # end the run (scripted runs with --virtual-time)

The vocabulary is the fault registry's (:mod:`esp_at_sim.world.faults`), the
same the control API and ``esp-at-sim ctl inject`` use. Events are checked when
the scenario is loaded, so a typo fails at start-up rather than minutes later.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import inject, load_faults
from esp_at_sim.world.world import World

log = logging.getLogger(__name__)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m|h)?\s*$")


def parse_duration(value: Any, what: str = "duration") -> float:
    """``"250ms"``, ``"5s"``, ``"2m"``, ``"1h"``, or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(f"{what}: bad duration {value!r} (use e.g. 250ms, 5s, 2m)")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds < 0:
        raise ConfigError(f"{what}: must not be negative")
    return seconds


@dataclass(frozen=True)
class TimedEvent:
    at: float
    kind: str  # "fault" | "send" | "stop"
    name: str = ""  # fault name
    params: dict[str, Any] = field(default_factory=dict)
    module: str | None = None
    data: bytes = b""
    every: float | None = None
    times: int | None = None

    def describe(self) -> str:
        if self.kind == "fault":
            args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            return f"fault {self.name}({args})"
        if self.kind == "send":
            return f"send {self.data!r} to {self.module}"
        return self.kind


def parse_events(raw: Any, module_names: list[str] | None = None) -> list[TimedEvent]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("[[event]] must be an array of tables")
    faults = load_faults()
    events: list[TimedEvent] = []
    for i, item in enumerate(raw):
        where = f"[[event]] #{i + 1}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table")
        rest = dict(item)
        if "at" not in rest:
            raise ConfigError(f"{where}: missing 'at' (e.g. at = \"5s\")")
        at = parse_duration(rest.pop("at"), f"{where} at")
        every = parse_duration(rest.pop("every"), f"{where} every") if "every" in rest else None
        if every is not None and every <= 0:
            raise ConfigError(f"{where}: every must be positive")
        times = rest.pop("times", None)
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ConfigError(f"{where}: times must be a positive integer")
        kinds = [k for k in ("fault", "send", "action") if k in rest]
        if len(kinds) != 1:
            raise ConfigError(f"{where}: give exactly one of fault = ..., send = ..., action = ...")
        if "fault" in rest:
            name = str(rest.pop("fault"))
            f = faults.get(name)
            if f is None:
                raise ConfigError(f"{where}: unknown fault {name!r}; known: {', '.join(sorted(faults))}")
            try:
                inspect.signature(f.handler).bind(None, **rest)
            except TypeError as exc:
                raise ConfigError(f"{where}: fault {name}: {exc}") from None
            mod = rest.get("module")
            if module_names is not None and mod is not None and mod not in module_names:
                raise ConfigError(f"{where}: unknown module {mod!r}")
            events.append(TimedEvent(at, "fault", name, rest, None, b"", every, times))
        elif "send" in rest:
            text = rest.pop("send")
            module = rest.pop("module", None)
            if module is None:
                if not module_names or len(module_names) != 1:
                    raise ConfigError(f"{where}: send needs module = ...")
                module = module_names[0]
            if module_names is not None and module not in module_names:
                raise ConfigError(f"{where}: unknown module {module!r}")
            if rest:
                raise ConfigError(f"{where}: unknown keys {', '.join(sorted(rest))}")
            data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
            events.append(TimedEvent(at, "send", module=str(module), data=data, every=every, times=times))
        else:
            action = rest.pop("action")
            if action != "stop":
                raise ConfigError(f"{where}: unknown action {action!r} (known: stop)")
            if rest:
                raise ConfigError(f"{where}: unknown keys {', '.join(sorted(rest))}")
            events.append(TimedEvent(at, "stop"))
    return sorted(events, key=lambda e: e.at)


async def play(
    world: World,
    events: list[TimedEvent],
    *,
    send: Callable[[str, bytes], None],
    stop: Callable[[], None],
    report: Callable[[str], None] | None = None,
) -> None:
    """Play ``events`` on the world clock, measured from now. A failing event is
    reported and the timeline goes on."""
    if not events:
        return
    start = world.clock.now()

    async def one(ev: TimedEvent) -> None:
        due = ev.at
        n = 0
        while True:
            await world.clock.sleep(due - (world.clock.now() - start))
            try:
                if ev.kind == "fault":
                    await inject(world, ev.name, **ev.params)
                elif ev.kind == "send":
                    assert ev.module is not None
                    send(ev.module, ev.data)
                else:
                    stop()
                if report is not None:
                    report(f"t={world.clock.now() - start:.3f}s {ev.describe()}")
            except Exception as exc:
                log.warning("scenario event %s failed: %s", ev.describe(), exc)
                if report is not None:
                    report(f"t={world.clock.now() - start:.3f}s {ev.describe()} failed: {exc}")
            n += 1
            if ev.every is None or (ev.times is not None and n >= ev.times):
                return
            due += ev.every

    await asyncio.gather(*(one(ev) for ev in events))
