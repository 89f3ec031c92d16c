"""Faults on the wire between host and module, and spontaneous resets.

Theory of operation
-------------------
A :class:`UartLine` sits between a module and whatever transport serves it:
it filters the module's input (the ``line_in`` hook of ``Module.receive``)
and what it writes to its UART (``output.write_now``), so it works the same for a pty, TCP, RFC 2217
or the in-memory UART of a test. It is installed on a module the first time a
line fault is injected and is idle (two attribute checks per chunk) otherwise.

Faults, all registered in :data:`esp_at_sim.world.faults.FAULTS`:

* ``uart_drop`` / ``uart_corrupt`` - the next ``count`` bytes in a direction
  are lost / have one bit flipped, or, with ``probability`` and ``duration``,
  random bytes are for a while (line noise). Randomness is seeded from the
  world seed and the module name, so a scenario replays the same way.
* ``uart_stuck`` - the firmware hangs inside a command for ``duration``
  seconds: everything the host sends is answered ``busy p...``; afterwards it
  recovers silently or the watchdog reboots the chip (``then="watchdog"``).
* ``module_reset`` - a spontaneous reset (``reason``: ``poweron`` for the EN
  pin, ``brownout``, ``panic``, ``watchdog``, ``rtc_watchdog``). The chip prints
  what it prints before such a reset on its log port, then boots again, its ROM
  naming the cause (device/boot.py), and says ``ready``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from esp_at_sim.at.events import Final, Result
from esp_at_sim.at.state import EngineState, Trigger, next_state
from esp_at_sim.errors import ConfigError
from esp_at_sim.world.faults import fault
from esp_at_sim.world.world import World

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

DIRECTIONS = ("in", "out", "both")


class _Impairment:
    """What happens to bytes in one direction."""

    def __init__(self) -> None:
        self.drop_next = 0
        self.corrupt_next = 0
        self.drop_p = 0.0
        self.corrupt_p = 0.0
        self.noise_until = 0.0

    @property
    def active(self) -> bool:
        return bool(self.drop_next or self.corrupt_next or self.noise_until)

    def apply(self, data: bytes, rng: random.Random, now: float) -> bytes:
        if self.noise_until and now >= self.noise_until:
            self.noise_until = 0.0
            self.drop_p = self.corrupt_p = 0.0
        out = bytearray()
        for b in data:
            if self.drop_next:
                self.drop_next -= 1
                continue
            if self.corrupt_next:
                self.corrupt_next -= 1
                out.append(b ^ (1 << rng.randrange(8)))
                continue
            if self.noise_until:
                if self.drop_p and rng.random() < self.drop_p:
                    continue
                if self.corrupt_p and rng.random() < self.corrupt_p:
                    out.append(b ^ (1 << rng.randrange(8)))
                    continue
            out.append(b)
        return bytes(out)


class UartLine:
    """The faults on one module's UART (``UartLine.of(module)``)."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.rng = random.Random(f"{module.world.seed}/{module.name}/uart")
        self.dirs = {"in": _Impairment(), "out": _Impairment()}
        self._write_now: Callable[..., None] = module.output.write_now
        module.line_in = self._faulty_input
        module.output.write_now = self._faulty_write_now  # type: ignore[method-assign]

    @classmethod
    def of(cls, module: Module) -> UartLine:
        line = module.__dict__.get("_uart_line")
        if line is None:
            line = cls(module)
            module.__dict__["_uart_line"] = line
        assert isinstance(line, UartLine)
        return line

    def _faulty_input(self, data: bytes) -> bytes:
        imp = self.dirs["in"]
        if imp.active:
            data = imp.apply(data, self.rng, self.module.clock.now())
        return data

    def _faulty_write_now(self, data: bytes, *, filtered: bool = True) -> None:
        imp = self.dirs["out"]
        if imp.active:
            data = imp.apply(data, self.rng, self.module.clock.now())
        if data:
            self._write_now(data, filtered=filtered)

    def impairments(self, direction: str) -> list[_Impairment]:
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}")
        return list(self.dirs.values()) if direction == "both" else [self.dirs[direction]]


def module_of(world: World, name: str) -> Module:
    module = world.modules.get(name)
    if module is None:
        known = ", ".join(sorted(world.modules)) or "none"
        raise ConfigError(f"unknown module {name!r} (modules: {known})")
    return module


def _check_noise(count: int, probability: float, duration: float) -> None:
    if count < 0:
        raise ConfigError("count must not be negative")
    if not 0.0 <= probability <= 1.0:
        raise ConfigError("probability must be between 0 and 1")
    if duration < 0:
        raise ConfigError("duration must not be negative")
    if probability and not duration:
        raise ConfigError("a probability needs a duration (seconds of line noise)")


@fault(
    "uart_drop",
    "bytes on the UART are lost: the next `count`, or each with `probability` for `duration` seconds",
    module="module name",
    direction="in (host to module), out (module to host) or both",
    count="number of bytes to lose next",
    probability="chance that each byte is lost (0..1), with duration",
    duration="seconds of random loss",
)
def uart_drop(
    world: World, module: str, direction: str = "out", count: int = 1, probability: float = 0.0, duration: float = 0.0
) -> None:
    _check_noise(count, probability, duration)
    line = UartLine.of(module_of(world, module))
    for imp in line.impairments(direction):
        if probability:
            imp.drop_p = probability
            imp.noise_until = world.clock.now() + duration
        else:
            imp.drop_next += count


@fault(
    "uart_corrupt",
    "bytes on the UART get a flipped bit: the next `count`, or each with `probability` for `duration` seconds",
    module="module name",
    direction="in (host to module), out (module to host) or both",
    count="number of bytes to corrupt next",
    probability="chance that each byte is corrupted (0..1), with duration",
    duration="seconds of random corruption",
)
def uart_corrupt(
    world: World, module: str, direction: str = "out", count: int = 1, probability: float = 0.0, duration: float = 0.0
) -> None:
    _check_noise(count, probability, duration)
    line = UartLine.of(module_of(world, module))
    for imp in line.impairments(direction):
        if probability:
            imp.corrupt_p = probability
            imp.noise_until = world.clock.now() + duration
        else:
            imp.corrupt_next += count


# ------------------------------------------------------------------ resets

#: what the chip prints on its log port before a spontaneous reset, by reason;
#: the reset line of the boot that follows says the same (device/boot.py)
_LAST_WORDS: dict[str, tuple[str, ...]] = {
    "poweron": (),  # the EN pin, or the supply coming back
    "brownout": ("", "Brownout detector was triggered", ""),
    "panic": (
        "Guru Meditation Error: Core  0 panic'ed (Load access fault). Exception was unhandled.",
        "",
        "Backtrace: 0x4200a1c2:0x3fc9b830 0x42009f6e:0x3fc9b850",
        "",
        "ELF file SHA256: 32ff6e1a8c5d7b90",
        "",
        "Rebooting...",
    ),
    # the task watchdog reports the hung AT task, then the interrupt watchdog
    # fires with interrupts held off: its panic handler never gets to restart the
    # chip and the watchdog's second stage resets the system
    "watchdog": (
        "E (0) task_wdt: Task watchdog got triggered. The following tasks/users did not reset the watchdog in time:",
        "E (0) task_wdt:  - IDLE (CPU 0)",
        "E (0) task_wdt: Tasks currently running:",
        "E (0) task_wdt: CPU 0: at_process_task",
        "Guru Meditation Error: Core  0 panic'ed (Interrupt wdt timeout on CPU0).",
    ),
    "rtc_watchdog": (),  # hung so hard (flash, cache) that nothing more is printed
}
RESET_REASONS = tuple(_LAST_WORDS)


def spontaneous_reset(module: Module, reason: str) -> None:
    if reason not in _LAST_WORDS:
        raise ConfigError(f"reason must be one of {', '.join(RESET_REASONS)}")
    stamp = int(module.uptime * 1000)
    for line in _LAST_WORDS[reason]:
        module.chip_log(line.replace("E (0)", f"E ({stamp})"))
    module.notify("reset", reason=reason)
    module.reboot(reason)


@fault(
    "module_reset",
    "the module resets by itself (EN pin, brownout, panic, watchdog) and boots again with that reset cause",
    module="module name",
    reason="poweron, brownout, panic, watchdog or rtc_watchdog",
)
def module_reset(world: World, module: str, reason: str = "poweron") -> None:
    spontaneous_reset(module_of(world, module), reason)


@fault(
    "uart_stuck",
    "the firmware hangs inside a command: all input gets `busy p...` for `duration` seconds",
    module="module name",
    duration="seconds the firmware stays stuck",
    then="recover (carry on silently) or watchdog (the watchdog reboots the chip)",
)
async def uart_stuck(world: World, module: str, duration: float = 5.0, then: str = "recover") -> None:
    m = module_of(world, module)
    if duration <= 0:
        raise ConfigError("duration must be positive")
    if then not in ("recover", "watchdog"):
        raise ConfigError("then must be recover or watchdog")
    if not m.powered:
        raise ConfigError(f"module {module} is not running")
    m.scope.spawn(_stuck(m, duration, then), name=f"{m.name}-stuck")


async def _stuck(m: Module, duration: float, then: str) -> None:
    # The hang starts once the running command (if any) has answered.
    while m.engine.state is not EngineState.COMMAND:
        await m.clock.sleep(0.01)
    m.engine.state = next_state(m.engine.state, Trigger.LINE)
    m.output.hold(True)
    m.notify("stuck", duration=duration)
    await m.clock.sleep(duration)
    if then == "watchdog":
        spontaneous_reset(m, "watchdog")
        return
    # Result.NONE: the hung command ends without printing anything.
    m.reply(Final(Result.NONE))
