"""Driver AT commands (Driver_AT_Commands.rst): ADC, PWM (LEDC), I2C master, SPI master.

The parts on the other side of the pins come from the scenario
(``world/peripherals.py``). Chip rules: ADC1 has channels 0-7 on ESP32 and
ESP32-S2 and 0-4 on the C-series, each attenuation with the full-scale
voltage the spec lists; LEDC duty resolution is bounded by the chip's timer
width and by ``freq * 2**res <= 80 MHz`` (the firmware logs
``duty_res:%d max:%d``); ESP32 and ESP32-S2 have two I2C ports, the others one.
Read data is printed as lowercase hex (``+DRVI2CRD:1900``).
"""

from __future__ import annotations

from dataclasses import dataclass

from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.device.snapshot import snapshot_section
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.world.peripherals import Board, I2cDevice, Peripherals, PwmChannel, SpiFlash


@dataclass(frozen=True)
class DriverRules:
    adc_channels: int
    adc_full_scale: tuple[int, int, int, int]  # mV per attenuation 0..3
    ledc_max_res: int
    i2c_ports: int
    gpios: int


_ESP32_ADC = (950, 1250, 1750, 2450)
_C_ADC = (750, 1050, 1300, 2500)
RULES: dict[str, DriverRules] = {
    "esp32": DriverRules(8, _ESP32_ADC, 20, 2, 40),
    "esp32s2": DriverRules(8, _ESP32_ADC, 14, 2, 47),
    "esp32c2": DriverRules(5, _C_ADC, 14, 1, 21),
    "esp32c3": DriverRules(5, _C_ADC, 14, 1, 22),
    "esp32c5": DriverRules(5, _C_ADC, 20, 1, 29),
    "esp32c6": DriverRules(5, _C_ADC, 20, 1, 31),
    "esp32c61": DriverRules(5, _C_ADC, 20, 1, 25),
}
LEDC_CLOCK = 80_000_000
NO_DMA_MAX = 64


def _rules(module: Module) -> DriverRules:
    return RULES.get(module.chip, RULES["esp32c3"])


def _board(module: Module) -> Board:
    return module.world.extension(Peripherals).board(module.name)


def _record(module: Module, bus: str, **detail: object) -> None:
    module.world.extension(Peripherals).record(module.name, bus, **detail)


@snapshot_section("peripherals")
def _peripherals_section(module: Module) -> dict[str, object] | None:
    """The control API shows what the host made the module drive (PWM, I2C, SPI)."""
    return module.world.extension(Peripherals).view(module.name)


class DriverState:
    """Per-boot driver configuration: ``module.service(DriverState)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.pwm_channels = 0
        self.i2c: dict[int, tuple[int, int, int]] = {}  # port -> scl, sda, clock
        self.spi_pins: tuple[int, int, int, int] | None = None  # mosi, miso, sclk, cs
        self.spi: tuple[int, int, int, int, int, int] | None = None  # clock, mode, cmd_bit, addr_bit, dma, msb
        board = _board(module)
        # outputs stop with the chip: a reboot leaves no PWM running
        module.scope.on_close(board.pwm.clear)


def _state(ctx: CommandContext) -> DriverState:
    return ctx.module.service(DriverState)


def _gpio(ctx: CommandContext, value: int, index: int, *, optional: bool = False) -> int:
    if optional and value == -1:
        return value
    if not 0 <= value < _rules(ctx.module).gpios:
        raise ParamInvalid(index)
    return value


# ------------------------------------------------------------------ AT+DRVADC

drvadc = command("+DRVADC", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVADC")


@drvadc.set(Int("channel", lo=0, hi=15), Int("atten", lo=0, hi=3))
async def _drvadc(ctx: CommandContext, channel: int, atten: int) -> None:
    rules = _rules(ctx.module)
    if channel >= rules.adc_channels:
        raise ParamInvalid(0)
    source = _board(ctx.module).adc.get(channel)
    raw = 0 if source is None else source.read(ctx.module.clock.now(), rules.adc_full_scale[atten])
    ctx.info("+DRVADC", raw)


# ------------------------------------------------------------------ PWM (LEDC)

drvpwminit = command("+DRVPWMINIT", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVPWMINIT")


@drvpwminit.set()
async def _drvpwminit(ctx: CommandContext, args: Args) -> None:
    args.expect_count(3, 6)
    freq = args.int(0, 1, 8_000_000)
    res = args.int(1, 0, 20)
    gpios = [_gpio(ctx, args.int(i, -1, 255), i) for i in range(2, len(args))]
    max_res = min(_rules(ctx.module).ledc_max_res, (LEDC_CLOCK // freq).bit_length() - 1)
    if res > max_res or res == 0:
        ctx.module.chip_log(f"E at-driver: duty_res:{res} max:{max_res}")
        raise ExecFail()
    board = _board(ctx.module)
    board.pwm.clear()
    board.pwm_freq, board.pwm_resolution = freq, res
    for ch, gpio in enumerate(gpios):
        board.pwm[ch] = PwmChannel(gpio)
    _state(ctx).pwm_channels = len(gpios)
    _record(ctx.module, "pwm", op="init", freq=freq, resolution=res, gpios=gpios)


def _pwm_ready(ctx: CommandContext, given: int, per_channel: int) -> Board:
    channels = _state(ctx).pwm_channels
    if channels == 0:
        ctx.module.chip_log("E at-driver: pwm is not initialized")
        raise ExecFail()
    if given > channels * per_channel:
        raise ParamCount(channels * per_channel, given)
    return _board(ctx.module)


drvpwmduty = command("+DRVPWMDUTY", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVPWMDUTY")


@drvpwmduty.set()
async def _drvpwmduty(ctx: CommandContext, args: Args) -> None:
    args.expect_count(1, 4)
    board = _pwm_ready(ctx, len(args), 1)
    top = 1 << board.pwm_resolution
    duties = {ch: args.int(ch, 0, top) for ch in range(len(args)) if args.present(ch)}
    now = ctx.module.clock.now()
    for ch, duty in duties.items():
        p = board.pwm[ch]
        p.duty, p.fade_time, p.fade_start = duty, 0.0, now
        _record(ctx.module, "pwm", op="duty", channel=ch, gpio=p.gpio, duty=duty)


drvpwmfade = command("+DRVPWMFADE", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVPWMFADE")


@drvpwmfade.set()
async def _drvpwmfade(ctx: CommandContext, args: Args) -> None:
    args.expect_count(2, 8)
    board = _pwm_ready(ctx, len(args), 2)
    top = (1 << board.pwm_resolution) - 1
    now = ctx.module.clock.now()
    fades: dict[int, tuple[int, int]] = {}
    for ch in range((len(args) + 1) // 2):
        duty_given, time_given = args.present(2 * ch), args.present(2 * ch + 1)
        if not duty_given and not time_given:
            continue
        if duty_given != time_given:
            raise ParamInvalid(2 * ch + (0 if not duty_given else 1))
        fades[ch] = (args.int(2 * ch, 0, top), args.int(2 * ch + 1, 0, 0x7FFFFFFF))
    for ch, (duty, ms) in fades.items():
        p = board.pwm[ch]
        p.fade_from, p.duty, p.fade_start, p.fade_time = p.duty_at(now), duty, now, ms / 1000.0
        _record(ctx.module, "pwm", op="fade", channel=ch, gpio=p.gpio, duty=duty, ms=ms)


# ---------------------------------------------------------------- I2C master


def _i2c_address(value: int, index: int) -> int:
    if 0 <= value <= 0x7F:
        return value
    if 0x7800 <= value <= 0x7BFF:  # 1111 0XX + low byte: a 10-bit address
        return ((value >> 8) & 0x3) << 8 | (value & 0xFF)
    raise ParamInvalid(index)


def _i2c_port(ctx: CommandContext, args: Args) -> int:
    port: int = args.int(0, 0, 1)
    if port >= _rules(ctx.module).i2c_ports:
        raise ParamInvalid(0)
    return port


def _i2c_device(ctx: CommandContext, port: int, address: int) -> I2cDevice:
    if port not in _state(ctx).i2c:
        ctx.module.chip_log("E at-driver: i2c is not initialized")
        raise ExecFail()
    dev = _board(ctx.module).i2c.get(address)
    if dev is None:  # nobody acknowledges the address
        ctx.module.chip_log("E at-driver: i2c read ret: -1")
        raise ExecFail()
    return dev


drvi2cinit = command("+DRVI2CINIT", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVI2CINIT")


@drvi2cinit.set()
async def _drvi2cinit(ctx: CommandContext, args: Args) -> None:
    port = _i2c_port(ctx, args)
    state = _state(ctx)
    if len(args) == 1:
        if state.i2c.pop(port, None) is None:
            ctx.module.chip_log(f"E at-driver: del i2c:{port} failed")
            raise ExecFail()
        return
    args.expect_count(4)
    scl = _gpio(ctx, args.int(1, 0, 255), 1)
    sda = _gpio(ctx, args.int(2, 0, 255), 2)
    clock = args.int(3, 1, 1_000_000)
    if scl == sda:
        raise ParamInvalid(2)
    state.i2c[port] = (scl, sda, clock)


drvi2crd = command("+DRVI2CRD", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVI2CRD")


@drvi2crd.set()
async def _drvi2crd(ctx: CommandContext, args: Args) -> None:
    args.expect_count(3)
    port = _i2c_port(ctx, args)
    address = _i2c_address(args.int(1, 0, 0xFFFF), 1)
    length = args.int(2, 1, 2048)
    data = _i2c_device(ctx, port, address).read(length, ctx.module.clock.now())
    ctx.info("+DRVI2CRD", Unquoted(data.hex()))


def _i2c_write(ctx: CommandContext, port: int, address: int, data: bytes) -> None:
    _i2c_device(ctx, port, address).write(data)
    _record(ctx.module, "i2c", port=port, address=address, data=data)


drvi2cwrdata = command("+DRVI2CWRDATA", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVI2CWRDATA")


@drvi2cwrdata.set()
async def _drvi2cwrdata(ctx: CommandContext, args: Args) -> None:
    args.expect_count(3)
    port = _i2c_port(ctx, args)
    address = _i2c_address(args.int(1, 0, 0xFFFF), 1)
    length = args.int(2, 1, 2048)
    if port not in _state(ctx).i2c:
        ctx.module.chip_log("E at-driver: i2c is not initialized")
        raise ExecFail()
    got = await ctx.prompt(length)
    if not got.complete:
        raise ExecFail()
    _i2c_write(ctx, port, address, got.data)


drvi2cwrbytes = command("+DRVI2CWRBYTES", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVI2CWRBYTES")


@drvi2cwrbytes.set()
async def _drvi2cwrbytes(ctx: CommandContext, args: Args) -> None:
    args.expect_count(4)
    port = _i2c_port(ctx, args)
    address = _i2c_address(args.int(1, 0, 0xFFFF), 1)
    length = args.int(2, 1, 4)
    value = args.int(3, 0, 0xFFFFFFFF)
    if value >= 1 << (8 * length):
        raise ParamInvalid(3)
    _i2c_write(ctx, port, address, value.to_bytes(length, "big"))


# ---------------------------------------------------------------- SPI master

drvspiconfgpio = command("+DRVSPICONFGPIO", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVSPICONFGPIO")


@drvspiconfgpio.set()
async def _drvspiconfgpio(ctx: CommandContext, args: Args) -> None:
    args.expect_count(4)
    mosi = _gpio(ctx, args.int(0, -1, 255), 0)
    miso = _gpio(ctx, args.int(1, -1, 255), 1, optional=True)
    sclk = _gpio(ctx, args.int(2, -1, 255), 2)
    cs = _gpio(ctx, args.int(3, -1, 255), 3, optional=True)
    _state(ctx).spi_pins = (mosi, miso, sclk, cs)


drvspiinit = command("+DRVSPIINIT", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVSPIINIT")


@drvspiinit.set()
async def _drvspiinit(ctx: CommandContext, args: Args) -> None:
    state = _state(ctx)
    clock = args.int(0, 0, 40_000_000)
    if len(args) == 1 and clock == 0:
        if state.spi is None:
            raise ExecFail()
        state.spi = None  # "del spi driver"
        return
    args.expect_count(5, 6)
    if clock == 0:
        raise ParamInvalid(0)
    mode = args.int(1, 0, 3)
    cmd_bit = args.int(2, 0, 16)
    addr_bit = args.int(3, 0, 64)
    dma = args.int(4, 0, 2)
    msb = args.int(5, 0, 3, default=0)
    if state.spi_pins is None:
        ctx.module.chip_log("E at-driver: spi bus init ret: 258")
        raise ExecFail()
    if state.spi is not None:
        ctx.module.chip_log("E at-driver: spi bus init ret: 259")
        raise ExecFail()
    state.spi = (clock, mode, cmd_bit, addr_bit, dma, msb)


def _reverse_bits(data: bytes) -> bytes:
    return bytes(int(f"{b:08b}"[::-1], 2) for b in data)


def _spi_phases(ctx: CommandContext, args: Args, max_len: int, lo: int) -> tuple[int, bytes]:
    """Parse ``<data_len>[,<cmd>,<cmd_len>][,<addr>,<addr_len>]``: data length and the
    command+address bytes clocked out first."""
    state = _state(ctx)
    if state.spi is None:
        ctx.module.chip_log("E at-driver: spi trans error")
        raise ExecFail()
    if len(args) not in (1, 3, 5):
        raise ParamCount(5, len(args))
    _, _, cmd_bit, addr_bit, dma, _ = state.spi
    length = args.int(0, lo, max_len)
    if dma == 0 and length > NO_DMA_MAX:
        ctx.module.chip_log(f"E at-driver: dlen:{length} > max:{NO_DMA_MAX}")
        raise ParamInvalid(0)
    cmd_len, addr_len = cmd_bit // 8, addr_bit // 8
    cmd = addr = 0
    if len(args) >= 3:
        cmd = args.int(1, 0, 0xFFFF)
        cmd_len = args.int(2, 0, 2)
    if len(args) == 5:
        addr = args.int(3, 0, 0xFFFFFFFF)
        addr_len = args.int(4, 0, 4)
    if cmd >= 1 << (8 * cmd_len) and cmd_len < 8:
        raise ParamInvalid(1)
    head = cmd.to_bytes(cmd_len, "big") + (addr & ((1 << (8 * addr_len)) - 1)).to_bytes(addr_len, "big")
    return length, head


def _spi_device(ctx: CommandContext) -> SpiFlash | None:
    pins = _state(ctx).spi_pins
    cs = pins[3] if pins else -1
    for dev in _board(ctx.module).spi:
        if dev.cs is None or dev.cs == cs:
            return dev
    return None


def _spi_transfer(ctx: CommandContext, out: bytes, read_len: int) -> bytes:
    state = _state(ctx)
    assert state.spi is not None
    lsb = state.spi[5]
    wire_out = _reverse_bits(out) if lsb & 1 else out
    dev = _spi_device(ctx)
    wire_in = dev.transaction(wire_out, read_len) if dev is not None else b"\xff" * read_len
    _record(ctx.module, "spi", out=out, read=read_len)
    return _reverse_bits(wire_in) if lsb & 2 else wire_in


drvspird = command("+DRVSPIRD", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVSPIRD")


@drvspird.set()
async def _drvspird(ctx: CommandContext, args: Args) -> None:
    length, head = _spi_phases(ctx, args, 4092, 1)
    data = _spi_transfer(ctx, head, length)
    ctx.info("+DRVSPIRD", Unquoted(data.hex()))


drvspiwr = command("+DRVSPIWR", group="driver", doc="Driver_AT_Commands.rst#cmd-DRVSPIWR")


@drvspiwr.set()
async def _drvspiwr(ctx: CommandContext, args: Args) -> None:
    length, head = _spi_phases(ctx, args, 4092, 0)
    payload = b""
    if length:
        got = await ctx.prompt(length)
        if not got.complete:
            raise ExecFail()
        payload = got.data
    _spi_transfer(ctx, head + payload, 0)
