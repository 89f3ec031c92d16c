"""Wi-Fi provisioning and Enterprise AT commands (Wi-Fi_AT_Commands.rst):
AT+CWSTARTSMART, AT+CWSTOPSMART, AT+WPS, AT+CWJEAP.

SmartConfig waits for a phone's broadcast, which the world delivers with
``WifiAir.smartconfig(module, ssid, password)`` (the ``smartconfig`` fault).
WPS (push-button) enrols with the AP in push-button mode (``wps = true``);
two of them in range is a session overlap, and nothing found in two minutes
ends it. AT+CWJEAP joins a WPA2/WPA3-Enterprise AP with credentials from the
command and certificates from the manufacturing NVS (``wpa_ent_ca``,
``wpa_ent_cert``, ``wpa_ent_key``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from esp_at_sim.at.params import Args, Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.commands.wifi import DOC, need_init, persist, status
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module, on_mfg_init
from esp_at_sim.device.nvs import NvsType
from esp_at_sim.errors import ExecFail, ParamInvalid
from esp_at_sim.services.wifi import MODE_STA, WifiService
from esp_at_sim.services.wifi_config import NS, StationConfig
from esp_at_sim.world.eap import METHOD_TLS, EapCredentials, ca_certificate, issue_client, pem
from esp_at_sim.world.wifi import MAX_SSID, WifiAir, parse_mac
from esp_at_sim.world.wifi_radio import AUTH_RANK, best_rank

# ------------------------------------------------------------ SmartConfig

cwstartsmart = command("+CWSTARTSMART", group="smartconfig", doc=f"{DOC}#cmd-STARTS")
cwstopsmart = command("+CWSTOPSMART", group="smartconfig", doc=f"{DOC}#cmd-STOPS")

SMART_TYPES = {1: "ESPTOUCH", 2: "AIRKISS", 3: "ESPTOUCH", 4: "ESPTOUCH_V2"}
SMART = "wifi.smartconfig"


def _start_smart(ctx: CommandContext, kind: int, floor: int, key: bytes | None) -> None:
    wifi = need_init(ctx)
    if wifi.mode != MODE_STA or ctx.module.vars.get(SMART) is not None:
        raise ExecFail()
    module = ctx.module
    air = wifi.air
    wifi.sta.quit()  # the radio listens in sniffer mode
    state: dict[str, Any] = {"type": kind, "floor": floor, "task": None}
    module.vars[SMART] = state

    def delivered(ssid: bytes, password: bytes, bssid: bytes | None) -> None:
        if state.get("task") is not None or module.vars.get(SMART) is not state:
            return
        state["task"] = module.scope.spawn(_smart_connect(module, state, ssid, password, bssid), name="smartconfig")

    air.smartconfig_listeners[module.name] = delivered
    module.scope.on_close(lambda: _forget_smart(module, air))
    module.chip_log("at-smartconfig: sc scan done")


def _forget_smart(module: Module, air: WifiAir) -> None:
    air.smartconfig_listeners.pop(module.name, None)
    module.vars.pop(SMART, None)


async def _smart_connect(
    module: Module, state: dict[str, Any], ssid: bytes, password: bytes, bssid: bytes | None
) -> None:
    wifi = module.service(WifiService)
    clock = module.clock
    module.chip_log("at-smartconfig: sc found channel")
    status(module, f"smartconfig type:{SMART_TYPES[state['type']]}")
    await clock.sleep(1.2)  # the phone repeats the packets until the module has them all
    status(module, "Smart get wifi info")
    status(module, "ssid:" + ssid.decode("utf-8", "surrogateescape"))
    status(module, "password:" + password.decode("utf-8", "surrogateescape"))
    cfg = StationConfig(ssid=ssid, password=password, bssid=bssid, authmode=state["floor"])
    module.settings.set(NS, "sta", cfg.to_json())
    code = await wifi.sta.connect(cfg, 15.0)
    if code == 0:
        status(module, "smartconfig connected wifi")


@cwstartsmart.execute
async def _cwstartsmart_e(ctx: CommandContext) -> None:
    _start_smart(ctx, 3, 0, None)


@cwstartsmart.set(Int("type", lo=1, hi=4), Int("auth_floor", 0, lo=0, hi=15), Str("key", None))
async def _cwstartsmart_s(ctx: CommandContext, kind: int, floor: int, key: bytes | None) -> None:
    if key is not None and (kind != 4 or len(key) != 16):
        raise ParamInvalid(2)
    _start_smart(ctx, kind, floor, key)


@cwstopsmart.execute
async def _cwstopsmart(ctx: CommandContext) -> None:
    wifi = need_init(ctx)
    state = ctx.module.vars.get(SMART)
    _forget_smart(ctx.module, wifi.air)
    if state is not None and state.get("task") is not None and not state["task"].done():
        state["task"].cancel()


# -------------------------------------------------------------------- WPS

wps = command("+WPS", group="wps", doc=f"{DOC}#cmd-WPS")
WPS = "wifi.wps"
WPS_TIMEOUT = 120.0


@wps.set(Int("enable", lo=0, hi=1), Int("auth_floor", 0, lo=0, hi=15))
async def _wps(ctx: CommandContext, enable: int, floor: int) -> None:
    wifi = need_init(ctx)
    module = ctx.module
    task: asyncio.Task[Any] | None = module.vars.get(WPS)
    if not enable:
        if task is not None:
            task.cancel()
            module.vars.pop(WPS, None)
            module.chip_log("at-wps: wps stopped")
        return
    if wifi.mode != MODE_STA or (task is not None and not task.done()):
        raise ExecFail()
    module.vars[WPS] = module.scope.spawn(_wps_enrol(module, floor), name="wps")
    module.chip_log("at-wps: wps started")


async def _wps_enrol(module: Module, floor: int) -> None:
    wifi = module.service(WifiService)
    sta = wifi.sta
    deadline = module.clock.now() + WPS_TIMEOUT
    try:
        while module.clock.now() < deadline:
            entries = await sta.scan()
            pbc = [
                e
                for e in entries
                if e.ap.wps_active
                and (e.security.personal or e.security.value == "open")
                and best_rank(e.security, pmf_ok=True) >= AUTH_RANK.get(floor, 0)
            ]
            bssids = {e.bssid for e in pbc}
            if len(bssids) > 1:
                module.chip_log("at-wps: wps session overlap")
                return
            if pbc:
                ap = pbc[0].ap
                await module.clock.sleep(1.5)  # the M1..M8 registration exchange
                module.chip_log("at-wps: success, connecting to ap...")
                cfg = StationConfig(ssid=ap.ssid, password=ap.password)
                module.settings.set(NS, "sta", cfg.to_json())
                await sta.connect(cfg, 15.0)
                return
            await module.clock.sleep(1.0)
        module.chip_log("at-wps: wps timeout")
    finally:
        if module.vars.get(WPS) is asyncio.current_task():
            module.vars.pop(WPS, None)


# ------------------------------------------------------------- Enterprise

cwjeap = command("+CWJEAP", group="wifi_enterprise", doc=f"{DOC}#cmd-JEAP")

EAP_NS = ("wpa_ent_ca", "wpa_ent_cert", "wpa_ent_key")


@on_mfg_init
def _enterprise_pki(module: Module) -> None:
    """The Enterprise certificates the firmware ships in mfg_nvs (one set)."""
    mfg = module.nvs.mfg
    if mfg.has_namespace("wpa_ent_cert"):
        return
    cert, key = issue_client(f"{module.name}.esp-at-sim")
    for ns, data in zip(EAP_NS, (pem(ca_certificate()), cert, key), strict=True):
        mfg.set(ns, ns, data, NvsType.BLOB)


class EapError(ExecFail):
    """An AT+CWJEAP error (AT_EAP_*), printed as ERR CODE with its 0x80xx value."""


def _eap_item(module: Module, ns: str) -> bytes | None:
    value = module.nvs.mfg.get(ns, ns) or module.nvs.mfg.get(ns, f"{ns}.0")
    if not value:
        return None
    return value if isinstance(value, bytes) else str(value).encode()


@cwjeap.query
async def _cwjeap_q(ctx: CommandContext) -> None:
    wifi = need_init(ctx)
    cfg = wifi.sta.config()
    if cfg.eap is None or wifi.sta.ap is None:
        raise ExecFail()
    e = cfg.eap
    ctx.info(
        "+CWJEAP",
        cfg.ssid,
        e["method"],
        bytes.fromhex(e["identity"]),
        bytes.fromhex(e["username"]),
        bytes.fromhex(e["password"]),
        e["security"],
    )


def _eap_str(args: Args, index: int, lo: int, hi: int, missing: int, bad: int) -> bytes | None:
    if not args.present(index):
        return None
    try:
        value: bytes = args.get(index, Str(""))
    except Exception:
        raise EapError(missing) from None
    if not lo <= len(value) <= hi:
        raise EapError(bad)
    return value


def _eap_int(args: Args, index: int, lo: int, hi: int, default: int | None, err: int) -> int | None:
    if not args.present(index):
        return default
    try:
        value: int = args.get(index, Int(""))
    except Exception:
        raise EapError(err) from None
    if not lo <= value <= hi:
        raise EapError(err)
    return value


@cwjeap.set()
async def _cwjeap_s(ctx: CommandContext, args: Args) -> None:
    wifi = need_init(ctx)
    module = ctx.module
    if not 6 <= len(args) <= 12:
        raise EapError(0x8020)
    if not wifi.mode & MODE_STA:
        raise EapError(0x8022)
    ssid = _eap_str(args, 0, 1, MAX_SSID, 0x8012, 0x8014)
    if ssid is None:
        raise EapError(0x8013)
    method = _eap_int(args, 1, 0, 2, None, 0x8024)
    if method is None:
        raise EapError(0x8015)
    identity = _eap_str(args, 2, 1, 32, 0x8017, 0x8018)
    if identity is None:
        raise EapError(0x8018)
    username = _eap_str(args, 3, 1, 32, 0x8019, 0x801A)
    password = _eap_str(args, 4, 1, 32, 0x801B, 0x801C)
    security = _eap_int(args, 5, 0, 3, None, 0x801E)
    if security is None:
        raise EapError(0x801D)
    if method == METHOD_TLS:
        if not security & 1:
            raise EapError(0x801F)
    else:
        if username is None:
            raise EapError(0x801A)
        if password is None:
            raise EapError(0x801C)
    timeout = _eap_int(args, 6, 3, 600, 15, 0x8026)
    rssi = _eap_int(args, 7, -128, 127, -127, 0x8028)
    bssid: bytes | None = None
    if args.present(8):
        raw = _eap_str(args, 8, 17, 17, 0x8029, 0x802A)
        try:
            bssid = parse_mac((raw or b"").decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise EapError(0x802A) from None
    channel = _eap_int(args, 9, 0, 165, 0, 0x802C)
    scan_mode = _eap_int(args, 10, 0, 1, 0, 0x802E)
    top = 2 if module.profile.key in ("esp32c3", "esp32c5", "esp32c6", "esp32c61") else 1
    auth_mode = _eap_int(args, 11, 0, top, 0, 0x8030)
    if wifi.sta.connected:
        raise EapError(0x8011)
    cert = key = ca = None
    if security & 1:
        cert = _eap_item(module, "wpa_ent_cert")
        if cert is None:
            raise EapError(0x800C)
        key = _eap_item(module, "wpa_ent_key")
        if key is None:
            raise EapError(0x800E)
    if security & 2:
        ca = _eap_item(module, "wpa_ent_ca")
        if ca is None:
            raise EapError(0x8009)
    from esp_at_sim.services.systime import SystemTime

    now = module.service(SystemTime).now()
    creds = EapCredentials(method, identity, username or b"", password or b"", cert, key, ca, now)
    threshold = {0: 5, 1: 14, 2: 10}[auth_mode or 0]
    cfg = StationConfig(
        ssid=ssid,
        bssid=bssid,
        authmode=threshold,
        scan_mode=scan_mode or 0,
        jap_timeout=timeout or 15,
        eap={
            "method": method,
            "identity": identity.hex(),
            "username": (username or b"").hex(),
            "password": (password or b"").hex(),
            "security": security,
            "rssi": rssi,
            "channel": channel,
        },
    )
    module.settings.set(NS, "sta", cfg.to_json(), persist=persist(ctx))
    deadline = module.clock.now() + (timeout or 15)
    while True:
        remaining = deadline - module.clock.now()
        if remaining <= 0:
            break
        code = await wifi.sta.connect(cfg, remaining, eap=creds)
        if code == 0:
            return
        if code == 1:
            break
        await module.clock.sleep(min(1.0, max(0.0, deadline - module.clock.now())))
    ctx.info("+CWJEAP", Unquoted("Timeout"))
    raise EapError(0x8016)
