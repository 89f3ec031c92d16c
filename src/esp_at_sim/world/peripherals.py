"""Peripherals wired to a module's pins: what the driver commands talk to.

Theory of operation
-------------------
A scenario declares parts with ``[[peripheral]]`` tables; each is attached to
one module (``module = "esp0"``) or, without ``module``, to every module::

    [[peripheral]]
    kind = "adc"              # a voltage on an ADC1 channel
    channel = 0
    millivolts = 500          # or raw = 2048, or a waveform:
    # waveform = "sine", min_mv = 0, max_mv = 900, period = 2.0

    [[peripheral]]
    kind = "i2c"              # a register-pointer I2C device
    address = 0x48
    model = "tmp102"          # temperature register 0 computed from...
    temperature = 24.5
    registers = { "0x01" = [0x60, 0xA0] }

    [[peripheral]]
    kind = "spi_flash"        # a NOR flash: JEDEC id, read, program, erase
    jedec_id = "EF4016"
    size = 4194304

Everything a module drives is recorded on its :class:`Board`: PWM channels
(with fades computed on the world clock), I2C writes and SPI transactions, as
:class:`BusWrite` entries and through ``Peripherals.listen``, so tests and the
control API see what the host made the module do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esp_at_sim.errors import ConfigError
from esp_at_sim.world.scenario import section
from esp_at_sim.world.world import World

ADC_MAX = 4095
WAVEFORMS = ("sine", "triangle", "square", "sawtooth")


@dataclass
class AdcInput:
    """What an ADC1 channel sees: a fixed voltage/raw value or a waveform."""

    channel: int
    millivolts: float | None = None
    raw: int | None = None
    waveform: str | None = None
    min_mv: float = 0.0
    max_mv: float = 1000.0
    period: float = 1.0

    def voltage(self, now: float) -> float:
        if self.waveform is None:
            return self.millivolts or 0.0
        phase = (now % self.period) / self.period
        if self.waveform == "sine":
            x = 0.5 - 0.5 * math.cos(2 * math.pi * phase)
        elif self.waveform == "triangle":
            x = 2 * phase if phase < 0.5 else 2 - 2 * phase
        elif self.waveform == "square":
            x = 1.0 if phase < 0.5 else 0.0
        else:
            x = phase
        return self.min_mv + (self.max_mv - self.min_mv) * x

    def read(self, now: float, full_scale_mv: float) -> int:
        if self.raw is not None and self.waveform is None:
            return self.raw
        v = self.voltage(now)
        return max(0, min(ADC_MAX, round(v / full_scale_mv * ADC_MAX)))


class I2cDevice:
    """A register-pointer device: a write sets the pointer then fills registers;
    a read returns registers from the pointer on, auto-incrementing."""

    def __init__(self, address: int, registers: dict[int, int] | None = None, *, width: int = 256) -> None:
        self.address = address
        self.registers: dict[int, int] = dict(registers or {})
        self.pointer = 0
        self.width = width

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0] % self.width
        for b in data[1:]:
            self.on_register_write(self.pointer, b)
            self.pointer = (self.pointer + 1) % self.width

    def on_register_write(self, reg: int, value: int) -> None:
        self.registers[reg] = value

    def register(self, reg: int, now: float) -> int:
        return self.registers.get(reg, 0xFF)

    def read(self, length: int, now: float) -> bytes:
        out = bytearray()
        for _ in range(length):
            out.append(self.register(self.pointer, now) & 0xFF)
            self.pointer = (self.pointer + 1) % self.width
        return bytes(out)


class Tmp102(I2cDevice):
    """A TMP102/LM75-style temperature sensor with 16-bit registers: 0 holds
    the temperature (12-bit two's complement, 0.0625 °C a step, left-aligned),
    1 the configuration, 2 and 3 the low/high limits. ``registers`` in the
    scenario overrides register bytes (big-endian pairs)."""

    def __init__(self, address: int, registers: dict[int, int] | None = None, *, temperature: float = 25.0) -> None:
        super().__init__(address, {}, width=4)
        self.words = {1: 0x60A0, 2: 0x4B00, 3: 0x5000}
        for reg, value in (registers or {}).items():
            # registers given byte by byte: even offsets are high bytes of reg//2
            word = self.words.get(reg // 2, 0)
            self.words[reg // 2] = (value << 8 | word & 0xFF) if reg % 2 == 0 else (word & 0xFF00 | value)
        self.temperature = temperature

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0] & 0x03
        if len(data) >= 3 and self.pointer:
            self.words[self.pointer] = data[1] << 8 | data[2]

    def read(self, length: int, now: float) -> bytes:
        temp = (round(self.temperature / 0.0625) & 0xFFF) << 4
        word = temp if self.pointer == 0 else self.words.get(self.pointer, 0)
        pair = word.to_bytes(2, "big")
        return bytes(pair[i % 2] for i in range(length))


class SpiFlash:
    """A NOR flash on the SPI bus, speaking the common 25-series command set."""

    PAGE = 256

    def __init__(self, jedec_id: bytes = b"\xef\x40\x16", size: int = 4 * 1024 * 1024, cs: int | None = None) -> None:
        self.jedec_id = jedec_id
        self.size = size
        self.cs = cs
        self.memory = bytearray(b"\xff" * size)
        self.wel = False

    def transaction(self, out: bytes, read_len: int) -> bytes:
        """One chip-select cycle: ``out`` clocked in, then ``read_len`` bytes clocked out."""
        if not out:
            return b"\xff" * read_len
        op, rest = out[0], out[1:]
        if op == 0x9F:
            return (self.jedec_id + b"\xff" * read_len)[len(rest) : len(rest) + read_len] if read_len else b""
        if op == 0x05:
            return bytes([0x02 if self.wel else 0x00]) * read_len
        if op in (0x90, 0xAB):
            dev = bytes([self.jedec_id[0], self.jedec_id[2] - 1]) if op == 0x90 else bytes([self.jedec_id[2] - 1])
            return bytes(dev[i % len(dev)] for i in range(read_len))
        if op == 0x06:
            self.wel = True
            return b"\xff" * read_len
        if op == 0x04:
            self.wel = False
            return b"\xff" * read_len
        if op in (0x03, 0x0B) and len(rest) >= 3:
            addr = int.from_bytes(rest[:3], "big")
            skip = 1 if op == 0x0B else 0
            return self._read(addr + skip, read_len) if read_len else b""
        if op == 0x02 and len(rest) >= 3:
            self._program(int.from_bytes(rest[:3], "big"), rest[3:])
        elif op in (0x20, 0x52, 0xD8) and len(rest) >= 3:
            span = {0x20: 4096, 0x52: 32768, 0xD8: 65536}[op]
            self._erase(int.from_bytes(rest[:3], "big") // span * span, span)
        elif op in (0xC7, 0x60):
            self._erase(0, self.size)
        return b"\xff" * read_len

    def _read(self, addr: int, n: int) -> bytes:
        return bytes(self.memory[(addr + i) % self.size] for i in range(n))

    def _program(self, addr: int, data: bytes) -> None:
        if not self.wel:
            return
        page = addr - addr % self.PAGE
        for i, b in enumerate(data):
            a = (page + (addr - page + i) % self.PAGE) % self.size
            self.memory[a] &= b  # programming only clears bits
        self.wel = False

    def _erase(self, start: int, span: int) -> None:
        if not self.wel:
            return
        start %= self.size
        self.memory[start : start + span] = b"\xff" * min(span, self.size - start)
        self.wel = False


@dataclass(frozen=True)
class BusWrite:
    """Something a module drove onto its pins (for observers)."""

    module: str
    bus: str  # "pwm" | "i2c" | "spi"
    detail: dict[str, Any]


@dataclass
class PwmChannel:
    gpio: int
    duty: int = 0
    fade_from: int = 0
    fade_start: float = 0.0
    fade_time: float = 0.0

    def duty_at(self, now: float) -> int:
        if self.fade_time <= 0 or now >= self.fade_start + self.fade_time:
            return self.duty
        x = (now - self.fade_start) / self.fade_time
        return round(self.fade_from + (self.duty - self.fade_from) * x)


@dataclass
class Board:
    """The parts wired to one module, and what the module drives."""

    adc: dict[int, AdcInput] = field(default_factory=dict)
    i2c: dict[int, I2cDevice] = field(default_factory=dict)
    spi: list[SpiFlash] = field(default_factory=list)
    pwm: dict[int, PwmChannel] = field(default_factory=dict)  # LEDC channel -> state
    pwm_freq: int = 0
    pwm_resolution: int = 0


Listener = Callable[[BusWrite], None]


class Peripherals:
    """World extension: ``world.extension(Peripherals)``."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.shared: list[dict[str, Any]] = []
        self.per_module: dict[str, list[dict[str, Any]]] = {}
        self.boards: dict[str, Board] = {}
        self.writes: list[BusWrite] = []
        self._listeners: list[Listener] = []

    def declare(self, entry: dict[str, Any]) -> None:
        _build(entry)  # validate now: a bad scenario fails at load time
        module = entry.get("module")
        if module is None:
            self.shared.append(entry)
        else:
            self.per_module.setdefault(str(module), []).append(entry)
        self.boards.clear()

    def board(self, module: str) -> Board:
        b = self.boards.get(module)
        if b is None:
            b = Board()
            for entry in self.shared + self.per_module.get(module, []):
                part = _build(entry)
                if isinstance(part, AdcInput):
                    b.adc[part.channel] = part
                elif isinstance(part, I2cDevice):
                    b.i2c[part.address] = part
                else:
                    b.spi.append(part)
            self.boards[module] = b
        return b

    # ------------------------------------------------------------ observers
    def listen(self, fn: Listener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def record(self, module: str, bus: str, **detail: Any) -> None:
        ev = BusWrite(module, bus, detail)
        self.writes.append(ev)
        if len(self.writes) > 10_000:
            del self.writes[:5_000]
        for fn in list(self._listeners):
            fn(ev)

    def view(self, module: str, recent: int = 20) -> dict[str, Any] | None:
        """What is wired to ``module`` and what it drove lately, as plain data
        (the control API's ``peripherals`` section); ``None`` with nothing to show."""
        board = self.board(module)
        writes: list[dict[str, Any]] = []
        for w in reversed(self.writes):
            if len(writes) >= recent:
                break
            if w.module == module:
                writes.append({"bus": w.bus, **{k: _plain(v) for k, v in w.detail.items()}})
        if not (board.adc or board.i2c or board.spi or board.pwm or writes):
            return None
        now = self.world.clock.now()
        return {
            "adc": {str(ch): {"millivolts": round(a.voltage(now), 3), "raw": a.raw} for ch, a in board.adc.items()},
            "pwm": {
                "freq": board.pwm_freq,
                "resolution": board.pwm_resolution,
                "channels": {str(ch): {"gpio": p.gpio, "duty": p.duty_at(now)} for ch, p in board.pwm.items()},
            },
            "i2c": {f"0x{addr:02x}": _i2c_view(dev) for addr, dev in board.i2c.items()},
            "spi_flash": [{"jedec_id": f.jedec_id.hex().upper(), "size": f.size, "cs": f.cs} for f in board.spi],
            "writes": writes[::-1],
        }

    def pwm_duties(self, module: str) -> dict[int, int]:
        """Current duty of each initialised PWM channel (fades included)."""
        now = self.world.clock.now()
        return {ch: p.duty_at(now) for ch, p in self.board(module).pwm.items()}


def _plain(value: Any) -> Any:
    """Bus data as JSON: bytes in hex, tuples as lists."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _i2c_view(dev: I2cDevice) -> dict[str, Any]:
    if isinstance(dev, Tmp102):
        regs = {f"0x{r:02x}": f"{w:04x}" for r, w in sorted(dev.words.items())}
        return {"model": "tmp102", "temperature": dev.temperature, "pointer": dev.pointer, "registers": regs}
    regs = {f"0x{r:02x}": f"{v:02x}" for r, v in sorted(dev.registers.items())}
    return {"pointer": dev.pointer, "registers": regs}


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool):
        raise ConfigError(f"[[peripheral]] {what} must be a number")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v, 0)
        except ValueError:
            pass
    raise ConfigError(f"[[peripheral]] {what} must be a number, not {v!r}")


def _registers(raw: Any) -> dict[int, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("[[peripheral]] registers must be a table")
    regs: dict[int, int] = {}
    for k, v in raw.items():
        base = _int(k, "register")
        values = v if isinstance(v, list) else [v]
        for i, b in enumerate(values):
            regs[base + i] = _int(b, "register value") & 0xFF
    return regs


def _build(entry: dict[str, Any]) -> AdcInput | I2cDevice | SpiFlash:
    kind = entry.get("kind")
    known = {"module", "kind"}
    if kind == "adc":
        known |= {"channel", "millivolts", "raw", "waveform", "min_mv", "max_mv", "period"}
        wave = entry.get("waveform")
        if wave is not None and wave not in WAVEFORMS:
            raise ConfigError(f"[[peripheral]] waveform must be one of {', '.join(WAVEFORMS)}")
        part: AdcInput | I2cDevice | SpiFlash = AdcInput(
            _int(entry.get("channel", 0), "channel"),
            millivolts=float(entry["millivolts"]) if "millivolts" in entry else None,
            raw=_int(entry["raw"], "raw") if "raw" in entry else None,
            waveform=wave,
            min_mv=float(entry.get("min_mv", 0.0)),
            max_mv=float(entry.get("max_mv", 1000.0)),
            period=float(entry.get("period", 1.0)),
        )
        if float(entry.get("period", 1.0)) <= 0:
            raise ConfigError("[[peripheral]] period must be positive")
    elif kind == "i2c":
        known |= {"address", "model", "temperature", "registers"}
        addr = _int(entry.get("address"), "address")
        regs = _registers(entry.get("registers"))
        model = entry.get("model")
        if model in ("tmp102", "lm75"):
            part = Tmp102(addr, regs, temperature=float(entry.get("temperature", 25.0)))
        elif model is None:
            part = I2cDevice(addr, regs)
        else:
            raise ConfigError(f"[[peripheral]] unknown i2c model {model!r}")
    elif kind == "spi_flash":
        known |= {"jedec_id", "size", "cs"}
        jedec = bytes.fromhex(str(entry.get("jedec_id", "EF4016")))
        if len(jedec) != 3:
            raise ConfigError("[[peripheral]] jedec_id is three bytes of hex")
        cs = entry.get("cs")
        part = SpiFlash(jedec, _int(entry.get("size", 4 * 1024 * 1024), "size"), None if cs is None else _int(cs, "cs"))
    else:
        raise ConfigError(f"[[peripheral]] kind must be adc, i2c or spi_flash, not {kind!r}")
    unknown = set(entry) - known
    if unknown:
        raise ConfigError(f"[[peripheral]] unknown keys {', '.join(sorted(unknown))}")
    return part


@section("peripheral")
def _load_peripherals(world: World, entries: Any) -> None:
    if not isinstance(entries, list):
        raise ConfigError("[[peripheral]] must be an array of tables")
    parts = world.extension(Peripherals)
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConfigError("[[peripheral]] entries must be tables")
        parts.declare(entry)
