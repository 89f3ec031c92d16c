"""Power and radio: AT+GSLP, AT+SLEEP, AT+SLEEPWKCFG, AT+RFPOWER, AT+RFCAL.

* AT+GSLP prints the time, ``OK``, goes silent and boots again (``ready``)
  when the time is over; 0 restarts at once (ESP32-C6: at least 5 ms).
* AT+SLEEP keeps the sleep mode of this boot; the Wi-Fi mode it depends on is
  read from the Wi-Fi chapter's setting ``"wifi"/"mode"``. Light sleep does not
  make the emulated module deaf: the UART keeps answering (see the report).
* AT+RFPOWER follows the per-chip tables of the spec: the query reports the
  "get value" column (ESP32 and ESP8266 quantize to PHY levels, the others
  report the set value). After boot the Wi-Fi power is ``factory_param/
  max_tx_power`` from ``mfg_nvs``; nothing is saved.
"""

from __future__ import annotations

from esp_at_sim.at.params import Args, Int
from esp_at_sim.commands.basic import gslp, rfcal, rfpower, sleep, sleepwkcfg
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module
from esp_at_sim.device.profiles import ChipProfile
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid

# ------------------------------------------------------------------------ AT+GSLP


@gslp.set(Int("time", lo=0, hi=0x7FFFFFFF))
async def _gslp(ctx: CommandContext, ms: int) -> None:
    module = ctx.module
    if ms < module.profile.gslp_min_ms:
        raise ParamInvalid(0)
    ctx.line(str(ms))

    def go_to_sleep() -> None:
        if ms == 0:
            module.reboot("deepsleep")
        else:
            module.deep_sleep(ms / 1000.0)

    ctx.after(go_to_sleep)


# ----------------------------------------------------------------------- AT+SLEEP
SLEEP_KEY = "base.sleep"
WIFI_NULL, WIFI_STA, WIFI_AP, WIFI_APSTA = range(4)


def wifi_mode(module: Module) -> int:
    mode = module.settings.get("wifi", "mode", WIFI_STA)
    return mode if isinstance(mode, int) else WIFI_STA


def sleep_mode(module: Module) -> int:
    """The AT+SLEEP mode of this boot. Until set, a station uses modem sleep
    (the Wi-Fi driver's default), a SoftAP none."""
    mode = module.vars.get(SLEEP_KEY)
    if isinstance(mode, int):
        return mode
    return 1 if wifi_mode(module) in (WIFI_NULL, WIFI_STA) else 0


@sleep.query
async def _sleep_q(ctx: CommandContext) -> None:
    ctx.info("+SLEEP", sleep_mode(ctx.module))


@sleep.set(Int("sleep mode", lo=0, hi=3))
async def _sleep_s(ctx: CommandContext, mode: int) -> None:
    module = ctx.module
    wifi = wifi_mode(module)
    if mode != 0 and wifi in (WIFI_AP, WIFI_APSTA):
        module.chip_log("E (at_slp) shouldn't enable sleep when softap is enabled")
        raise ExecFail()
    module.vars[SLEEP_KEY] = mode
    module.notify("sleep_mode", mode=mode)
    from esp_at_sim.commands.user import at_sleep_changed  # AT+USERWKMCUCFG linkage

    at_sleep_changed(module, mode)


# ------------------------------------------------------------------ AT+SLEEPWKCFG
WAKEUP_KEY = "base.wakeup"
_WAKEUP_GPIO = 2


@sleepwkcfg.set()
async def _sleepwkcfg(ctx: CommandContext, args: Args) -> None:
    source = args.int(0, 0, 2)
    if source != _WAKEUP_GPIO:
        # 0 (timer) and 1 (UART) are reserved in this firmware
        raise ParamInvalid(0)
    if len(args) != 3:
        raise ParamCount(3, len(args))
    gpio = args.int(1)
    if gpio not in ctx.module.profile.gpios:
        raise ParamInvalid(1)
    level = args.int(2, 0, 1)
    ctx.module.vars[WAKEUP_KEY] = {"source": source, "gpio": gpio, "level": level}


# ----------------------------------------------------------------------- AT+RFPOWER
RFPOWER_KEY = "base.rfpower"


def wifi_power_reported(profile: ChipProfile, value: int) -> int:
    """The "get value" of the spec's tables for a set value."""
    levels = [lv for lv in profile.rfpower_levels if lv <= value]
    if profile.rfpower_levels:
        return max(levels) if levels else min(profile.rfpower_levels)
    return value


def rf_power(module: Module) -> list[int]:
    """[wifi set value, ble adv, ble scan, ble conn] of this boot."""
    power = module.vars.get(RFPOWER_KEY)
    if not isinstance(power, list):
        profile = module.profile
        lo, hi = profile.rfpower_range
        stored = module.nvs.mfg.get("factory_param", "max_tx_power", module.factory.max_tx_power)
        wifi = stored if isinstance(stored, int) else module.factory.max_tx_power
        wifi = min(max(wifi, lo), hi)
        ble = profile.ble_power_default
        power = [wifi, ble, ble, ble]
        module.vars[RFPOWER_KEY] = power
    return power


@rfpower.query
async def _rfpower_q(ctx: CommandContext) -> None:
    profile = ctx.module.profile
    wifi, adv, scan, conn = rf_power(ctx.module)
    if profile.rfpower_ble:
        ctx.info("+RFPOWER", wifi_power_reported(profile, wifi), adv, scan, conn)
    else:
        ctx.info("+RFPOWER", wifi_power_reported(profile, wifi))


@rfpower.set()
async def _rfpower_s(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    profile = module.profile
    top = 4 if profile.rfpower_ble else 1
    args.expect_count(1, top)
    lo, hi = profile.rfpower_range
    wifi = args.int(0, lo, hi)
    power = list(rf_power(module))
    power[0] = wifi
    if len(args) > 1:
        blo, bhi = profile.ble_power_range
        values = [args.int(i, blo, bhi, default=None) for i in range(1, 4)]
        if values[0] is not None:
            power[1] = values[0]
        if profile.ble_stack == "bluedroid" and profile.bt_classic:
            # ESP32's controller keeps one level per activity
            for i in (1, 2):
                if values[i] is not None:
                    power[i + 1] = values[i]
        else:
            # one level for all: scan and connection follow advertising
            power[2] = power[3] = power[1]
    module.vars[RFPOWER_KEY] = power


# ------------------------------------------------------------------------ AT+RFCAL
RFCAL_SECONDS = 0.12  # a full calibration on the chip takes on the order of 100 ms


@rfcal.execute
async def _rfcal(ctx: CommandContext) -> None:
    ctx.module.chip_log("I (phy_init) phy_version: full calibration")
    await ctx.module.clock.sleep(RFCAL_SECONDS)
