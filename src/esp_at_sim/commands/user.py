"""User AT commands (user_at_commands.rst): AT+USERRAM, AT+USEROTA,
AT+USERWKMCUCFG, AT+USERMCUSLEEP, AT+USERDOCS.

Behaviour follows the firmware's open-source ``at_user_cmd.c``:

* AT+USERRAM keeps one buffer taken from the module heap (so AT+SYSRAM sees
  it); the query reports the allocated size; a write prints ``>``, takes the
  bytes and answers ``WRITE OK``; a read prints ``+USERRAM:<n>,<data>`` per
  1024-byte chunk, without line ends, then ``OK``.
* AT+USEROTA takes the URL after ``>``, prints ``Recv <n> bytes`` and starts
  the upgrade. Downloading needs the TCP/IP side: a downloader registered in
  :data:`esp_at_sim.services.firmware.DOWNLOADERS` fetches the image; until one
  is registered (or when it fails) the command answers ``ERROR`` as the
  firmware does when the download fails. A good image is written to the
  other OTA slot, ``OK`` is printed and the module reboots into it.
* AT+USERWKMCUCFG / AT+USERMCUSLEEP keep the wake-up configuration and the
  MCU's sleep state of this boot (RAM only, as in the firmware).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from esp_at_sim.at.events import Final, Result
from esp_at_sim.at.params import Args
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.heap import Allocation
from esp_at_sim.device.module import Module
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.firmware import DOWNLOADERS, FirmwareSlots, app_version

_DOC = "user_at_commands.rst#"

userram = command("+USERRAM", group="user", doc=_DOC + "cmd-USERRAM")
userota = command("+USEROTA", group="user", doc=_DOC + "cmd-USEROTA")
userdocs = command("+USERDOCS", group="user", doc=_DOC + "cmd-USERDOCS", generations=(3, 99))
userwkmcucfg = command("+USERWKMCUCFG", group="user", doc=_DOC + "cmd-USERWKMCUCFG", generations=(3, 99))
usermcusleep = command("+USERMCUSLEEP", group="user", doc=_DOC + "cmd-USERMCUSLEEP", generations=(3, 99))

# ---------------------------------------------------------------------- AT+USERRAM
FREE, MALLOC, WRITE, READ, CLEAR = range(5)
READ_CHUNK = 1024
_RAM = "user.ram"


class UserRam:
    """The buffer of AT+USERRAM and its share of the heap."""

    def __init__(self, allocation: Allocation) -> None:
        self.allocation = allocation
        self.data = bytearray(allocation.size)

    @property
    def size(self) -> int:
        return len(self.data)


def _user_ram(module: Module) -> UserRam | None:
    ram = module.vars.get(_RAM)
    return ram if isinstance(ram, UserRam) else None


@userram.query
async def _userram_q(ctx: CommandContext) -> None:
    ram = _user_ram(ctx.module)
    ctx.info("+USERRAM", 0 if ram is None else ram.size)


@userram.set()
async def _userram_s(ctx: CommandContext, args: Args) -> Final | None:
    module = ctx.module
    op = args.int(0, 0, 4)
    if op in (FREE, CLEAR):
        if len(args) != 1:
            raise ParamCount(1, len(args))
    elif op == MALLOC:
        if len(args) != 2:
            raise ParamCount(2, len(args))
    else:
        args.expect_count(2, 3)
    length = args.int(1, 1, 0x7FFFFFFF) if op in (MALLOC, WRITE, READ) else 0
    offset = args.int(2, 0, 0x7FFFFFFF, default=0) if op in (WRITE, READ) else 0
    ram = _user_ram(module)
    if op == MALLOC:
        if ram is not None:
            raise ExecFail()
        module.vars[_RAM] = UserRam(module.heap.alloc(length, "userram"))
        return None
    if ram is None:
        raise ExecFail()
    if op == FREE:
        ram.allocation.free()
        del module.vars[_RAM]
    elif op == CLEAR:
        ram.data[:] = bytes(ram.size)
    elif offset + length > ram.size:
        raise ExecFail()
    elif op == WRITE:
        got = await ctx.prompt(length)
        if not got.complete:
            raise ExecFail()
        module.chip_log(f"I (at-user) recv {len(got.data)} bytes")
        ram.data[offset : offset + length] = got.data
        return Final(Result.WRITE_OK)
    else:
        for start in range(offset, offset + length, READ_CHUNK):
            chunk = bytes(ram.data[start : min(start + READ_CHUNK, offset + length)])
            ctx.raw(b"+USERRAM:%d," % len(chunk) + chunk)
    return None


# ---------------------------------------------------------------------- AT+USEROTA
URL_MAX = 8 * 1024


@userota.set()
async def _userota(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    length = args.int(0, 1, URL_MAX)
    if len(args) != 1:
        raise ParamCount(1, len(args))
    got = await ctx.prompt(length)
    if not got.complete:
        raise ExecFail()
    ctx.raw(b"\r\nRecv %d bytes\r\n" % length)
    url = got.data.decode("utf-8", "replace")
    module.chip_log(f"I (at-user) url: {url}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        module.chip_log("E (esp_https_ota) Failed to initialise HTTP connection")
        raise ExecFail()
    if not DOWNLOADERS:
        module.chip_log("E (esp_https_ota) Failed to open HTTP connection: ESP_ERR_HTTP_CONNECT")
        raise ExecFail()
    try:
        image = await DOWNLOADERS[0](module, url)
    except Exception as exc:
        module.chip_log(f"E (esp_https_ota) download failed: {exc}")
        raise ExecFail() from None
    version = app_version(image)
    if version is None:
        module.chip_log("E (esp_https_ota) Mismatch chip id or invalid image")
        raise ExecFail()
    module.service(FirmwareSlots).install(version)
    ctx.after(lambda: module.reboot("software"))


# ---------------------------------------------------------------------- AT+USERDOCS


@userdocs.query
async def _userdocs(ctx: CommandContext) -> None:
    target = ctx.module.profile.key
    for lang in ("en", "zh_CN"):
        ctx.info("+USERDOCS", f"https://docs.espressif.com/projects/esp-at/{lang}/latest/{target}/index.html")


# ---------------------------------------------------- AT+USERWKMCUCFG, AT+USERMCUSLEEP
WAKE_GPIO, WAKE_UART = 1, 2
CHECK_MCU_SLEEP, CHECK_AT_SLEEP, CHECK_TIMEOUT = 1 << 0, 1 << 1, 1 << 2
DELAY_MAX_MS = 60_000
_WKMCU = "user.wkmcu"
_MCU_SLEEP = "user.mcu_sleep"


def wake_config(module: Module) -> dict[str, int] | None:
    """The AT+USERWKMCUCFG configuration of this boot (None: disabled)."""
    cfg = module.vars.get(_WKMCU)
    return cfg if isinstance(cfg, dict) else None


def mcu_asleep(module: Module) -> bool:
    return bool(module.vars.get(_MCU_SLEEP, False))


def at_sleep_changed(module: Module, mode: int) -> None:
    """AT+SLEEP tells the MCU's state when bit 1 of the check method is set."""
    cfg = wake_config(module)
    if cfg is not None and cfg["check"] & CHECK_AT_SLEEP:
        module.vars[_MCU_SLEEP] = mode != 0


@userwkmcucfg.set()
async def _userwkmcucfg(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    if mcu_asleep(module):
        raise ExecFail()
    enable = args.int(0, 0, 1)
    if not enable:
        if wake_config(module) is None:
            return  # already disabled: the firmware answers OK at once
        if len(args) != 1:
            raise ParamCount(1, len(args))
        module.vars.pop(_WKMCU, None)
        return
    if wake_config(module) is not None:
        raise ExecFail()
    args.expect_count(5, 6)
    mode = args.int(1, WAKE_GPIO, WAKE_UART)
    number = args.int(2)
    if mode == WAKE_GPIO and number not in module.profile.gpios:
        raise ParamInvalid(2)
    if mode == WAKE_UART and number != (0 if module.chip == "esp8266" else 1):
        raise ParamInvalid(2)
    signal = args.int(3, 0, 1 if mode == WAKE_GPIO else 0xFF)
    delay = args.int(4, 0, DELAY_MAX_MS)
    check = args.int(5, 0, 7, default=CHECK_MCU_SLEEP)
    module.vars[_WKMCU] = {"mode": mode, "number": number, "signal": signal, "delay_ms": delay, "check": check}
    if mode == WAKE_GPIO:
        module.notify("gpio", pin=number, level=1 - signal)  # idle level until a wake-up


@usermcusleep.set()
async def _usermcusleep(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    cfg = wake_config(module)
    if cfg is None:
        raise ExecFail()
    state = args.int(0, 0, 1)
    if len(args) != 1:
        raise ParamCount(1, len(args))
    if cfg["check"] & CHECK_MCU_SLEEP:
        module.vars[_MCU_SLEEP] = bool(state)
