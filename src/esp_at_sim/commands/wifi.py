"""Wi-Fi AT commands (Wi-Fi_AT_Commands.rst): mode, station, scanning, status.

The SoftAP and address commands are in ``wifi_ap.py``, provisioning
(SmartConfig, WPS, Enterprise) in ``wifi_provisioning.py``, the 1.x
``_CUR``/``_DEF`` names in ``wifi_legacy.py``. All of them drive
:class:`~esp_at_sim.services.wifi.WifiService`; this module also turns its
events into the firmware's status messages (``WIFI CONNECTED``...).
"""

from __future__ import annotations

from esp_at_sim.at.events import Final, Result
from esp_at_sim.at.params import Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module, on_boot
from esp_at_sim.errors import AtError, ExecFail, ParamCount, ParamInvalid, ParamParseFail
from esp_at_sim.services.wifi import (
    MODE_STA,
    Connected,
    Disconnected,
    GotIp,
    GotIpv6,
    StaState,
    StationJoined,
    StationLeased,
    StationLeft,
    WifiEvent,
    WifiService,
)
from esp_at_sim.services.wifi_config import NS, StationConfig, chip_wifi
from esp_at_sim.world.wifi import MAX_SSID, REASON_ASSOC_LEAVE, ScanEntry, mac_text, parse_mac
from esp_at_sim.world.wifi_radio import ACTIVE_DWELL, CHANNELS_5, PASSIVE_DWELL, seeded_random

DOC = "Wi-Fi_AT_Commands.rst"

# ------------------------------------------------------------------ helpers


def wifi_of(ctx: CommandContext | Module) -> WifiService:
    module = ctx.module if isinstance(ctx, CommandContext) else ctx
    return module.service(WifiService)


def legacy(ctx: CommandContext) -> bool:
    """ESP8266 NONOS AT 1.x formats (generation 1)."""
    return ctx.module.generation <= 1


def need_init(ctx: CommandContext) -> WifiService:
    wifi = wifi_of(ctx)
    if not wifi.inited:
        raise ExecFail()
    return wifi


def need_sta(ctx: CommandContext) -> WifiService:
    wifi = need_init(ctx)
    if not wifi.mode & MODE_STA:
        raise ExecFail()
    return wifi


def info_name(ctx: CommandContext) -> str:
    """The name a reply line carries: ``+CWMODE`` or ``+CWMODE_CUR`` for an alias."""
    return ctx.command.name


def persist(ctx: CommandContext) -> bool:
    return ctx.persist


def sysmsg(module: Module) -> int:
    return int(module.settings.get("base", "sysmsg", 0))


def status(module: Module, text: str) -> None:
    """A Wi-Fi status message; in passthrough only with AT+SYSMSG bit 2."""
    if module.in_passthrough and not sysmsg(module) & 4:
        return
    module.urc(text, kind="wifi")


def _printer(module: Module) -> object:
    def on_event(ev: WifiEvent) -> None:
        if isinstance(ev, Connected):
            status(module, "WIFI CONNECTED")
        elif isinstance(ev, GotIp):
            status(module, "WIFI GOT IP")
        elif isinstance(ev, GotIpv6):
            status(module, f"WIFI GOT IPv6 {ev.scope.upper()}")
        elif isinstance(ev, Disconnected):
            if ev.was_connected:
                status(module, "WIFI DISCONNECT")
        elif isinstance(ev, StationJoined):
            status(module, f'+STA_CONNECTED:"{mac_text(ev.mac)}"')
        elif isinstance(ev, StationLeased):
            status(module, f'+DIST_STA_IP:"{mac_text(ev.mac)}","{ev.ip}"')
        elif isinstance(ev, StationLeft):
            status(module, f'+STA_DISCONNECTED:"{mac_text(ev.mac)}"')

    return on_event


@on_boot
def _wifi_boot(module: Module) -> None:
    if not module.has_group("wifi"):
        return
    wifi = module.service(WifiService)
    wifi.listen(_printer(module))  # type: ignore[arg-type]
    wifi.boot()


def mac_param(value: bytes, index: int) -> bytes:
    try:
        return parse_mac(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ParamInvalid(index) from None


# --------------------------------------------------------------- AT+CWINIT

cwinit = command("+CWINIT", group="wifi", doc=f"{DOC}#cmd-INIT", generations=(3, 99))


@cwinit.query
async def _cwinit_q(ctx: CommandContext) -> None:
    ctx.info("+CWINIT", int(wifi_of(ctx).inited))


@cwinit.set(Int("init", lo=0, hi=1))
async def _cwinit_s(ctx: CommandContext, init: int) -> None:
    wifi = wifi_of(ctx)
    if init:
        wifi.init()
    else:
        wifi.deinit()


# --------------------------------------------------------------- AT+CWMODE

cwmode = command("+CWMODE", group="wifi", doc=f"{DOC}#cmd-MODE")


@cwmode.test
async def _cwmode_t(ctx: CommandContext) -> None:
    ctx.info(info_name(ctx), Unquoted("(1-3)" if legacy(ctx) else "(0-3)"))


@cwmode.query
async def _cwmode_q(ctx: CommandContext) -> None:
    ctx.info(info_name(ctx), need_init(ctx).mode)


@cwmode.set(Int("mode", lo=0, hi=3), Int("auto_connect", 1, lo=0, hi=1))
async def _cwmode_s(ctx: CommandContext, mode: int, auto_connect: int) -> None:
    wifi = need_init(ctx)
    if legacy(ctx) and mode == 0:
        raise ParamInvalid(0)  # NONOS AT has no null mode
    old = wifi.mode
    ctx.module.settings.set(NS, "mode", mode, persist=persist(ctx))
    # the interfaces start and stop after OK; "WIFI DISCONNECT" follows it
    ctx.after(lambda: wifi.apply_mode(old, mode, auto_connect=bool(auto_connect)))


# ---------------------------------------------------------- AT+CWBANDWIDTH

cwbandwidth = command("+CWBANDWIDTH", group="wifi", doc=f"{DOC}#cmd-CWBANDWIDTH", generations=(4, 99))


def _bandwidths(ctx: CommandContext) -> dict[str, list[int]]:
    chip = chip_wifi(ctx.module)
    five = "5" in ctx.module.profile.bands
    default = {"0": [chip.bw_sta, 1 if five else 0], "1": [chip.bw_ap, 2 if five else 0]}
    stored = ctx.module.settings.get(NS, "bandwidth") or {}
    return {k: list(stored.get(k, v)) for k, v in default.items()}


@cwbandwidth.query
async def _cwbandwidth_q(ctx: CommandContext) -> None:
    wifi = need_init(ctx)
    bws = _bandwidths(ctx)
    for netif, enabled in (("0", wifi.mode & 1), ("1", wifi.mode & 2)):
        if enabled:
            ctx.info("+CWBANDWIDTH", int(netif), *bws[netif])


@cwbandwidth.set(Int("netif", lo=0, hi=1), Int("bandwidth_2ghz", lo=0, hi=2), Int("bandwidth_5ghz", 0, lo=0, hi=2))
async def _cwbandwidth_s(ctx: CommandContext, netif: int, bw2: int, bw5: int) -> None:
    wifi = need_init(ctx)
    if not wifi.mode & (1 << netif):
        raise ExecFail()
    if bw2 == 2 and not chip_wifi(ctx.module).ht40:
        raise ParamInvalid(1)
    if bw5 and "5" not in ctx.module.profile.bands:
        raise ParamInvalid(2)
    bws = _bandwidths(ctx)
    current = bws[str(netif)]
    bws[str(netif)] = [bw2 or current[0], bw5 or current[1]]
    ctx.module.settings.set(NS, "bandwidth", bws, persist=persist(ctx))


# --------------------------------------------------------------- AT+CWSTATE

cwstate = command("+CWSTATE", group="wifi", doc=f"{DOC}#cmd-WSTATE", generations=(2, 99))


@cwstate.query
async def _cwstate_q(ctx: CommandContext) -> None:
    wifi = need_init(ctx)
    sta = wifi.sta
    state = sta.state if wifi.mode & MODE_STA else StaState.IDLE
    ssid = sta.target_ssid if state is not StaState.IDLE else b""
    ctx.info("+CWSTATE", int(state), ssid)


# -------------------------------------------------------------- AT+CWCONFIG

cwconfig = command("+CWCONFIG", group="wifi", doc=f"{DOC}#cmd-CWCONFIG", generations=(4, 99))


@cwconfig.query
async def _cwconfig_q(ctx: CommandContext) -> None:
    ctx.info("+CWCONFIG", *need_init(ctx).inactive_times())


@cwconfig.set(
    Int("ap_inactive_time", None, lo=10, hi=3600),
    Int("sta_inactive_time", None, lo=3, hi=600),
    Int("listen_interval", None, lo=1, hi=100),
)
async def _cwconfig_s(ctx: CommandContext, ap: int | None, sta: int | None, listen: int | None) -> None:
    wifi = need_init(ctx)
    if ap is None and sta is None and listen is None:
        raise ParamCount(3, 0)
    cur = list(wifi.inactive_times())
    for i, v in enumerate((ap, sta, listen)):
        if v is not None:
            cur[i] = v
    ctx.module.settings.set(NS, "config", cur, persist=persist(ctx))


# ----------------------------------------------------------------- AT+CWJAP

cwjap = command("+CWJAP", group="wifi", doc=f"{DOC}#cmd-JAP")


@cwjap.query
async def _cwjap_q(ctx: CommandContext) -> None:
    wifi = need_sta(ctx)
    sta = wifi.sta
    ap = sta.ap
    if ap is None:
        ctx.line("No AP")
        return
    if legacy(ctx):
        ctx.info(info_name(ctx), ap.ssid, mac_text(ap.bssid), ap.channel, sta.rssi())
        return
    cfg = sta.config()
    interval, _ = wifi.reconnect_config()
    fifth = cfg.pci_en if ctx.module.generation <= 3 else cfg.authmode
    ctx.info(
        "+CWJAP",
        ap.ssid,
        mac_text(ap.bssid),
        ap.channel,
        sta.rssi(),
        fifth,
        interval,
        cfg.listen_interval,
        cfg.scan_mode,
        cfg.pmf,
    )


def _jap_schema() -> tuple[Str | Int, ...]:
    return (
        Str("ssid", None, max_len=MAX_SSID),
        Str("pwd", None, max_len=64),
        Str("bssid", None),
        Int("authmode", None, lo=0, hi=16),
        Int("reconn_interval", 1, lo=0, hi=7200),
        Int("listen_interval", 3, lo=1, hi=100),
        Int("scan_mode", 0, lo=0, hi=1),
        Int("jap_timeout", 15, lo=3, hi=600),
        Int("pmf", 1, lo=0, hi=3),
    )


def check_password(pwd: bytes, index: int) -> None:
    """A passphrase shorter than 8 is refused (ESP_ERR_WIFI_PASSWORD) unless it
    has a WEP key's length."""
    if 0 < len(pwd) < 8 and len(pwd) not in (5,):
        raise ParamInvalid(index)


@cwjap.set(*_jap_schema())
async def _cwjap_s(
    ctx: CommandContext,
    ssid: bytes | None,
    pwd: bytes | None,
    bssid: bytes | None,
    authmode: int | None,
    reconn: int,
    listen: int,
    scan_mode: int,
    jap_timeout: int,
    pmf: int,
) -> Final | None:
    wifi = need_sta(ctx)
    last = wifi.sta.config()
    cfg = StationConfig(
        ssid=last.ssid if ssid is None else ssid,
        password=last.password if pwd is None else pwd,
        bssid=mac_param(bssid, 2) if bssid else None,
        listen_interval=listen,
        scan_mode=scan_mode,
        jap_timeout=jap_timeout,
        pmf=pmf,
    )
    if not cfg.ssid:
        raise ParamInvalid(0)
    check_password(cfg.password, 1)
    if authmode is not None:
        if ctx.module.generation <= 3:
            if authmode > 1:
                raise ParamInvalid(3)
            cfg.pci_en = authmode
        else:
            cfg.authmode = authmode
    ctx.module.settings.set(NS, "sta", cfg.to_json(), persist=persist(ctx))
    _, count = wifi.reconnect_config()
    ctx.module.settings.set(NS, "reconn", [reconn, count], persist=persist(ctx))
    return await join(ctx, cfg)


@cwjap.execute
async def _cwjap_e(ctx: CommandContext) -> Final | None:
    wifi = need_sta(ctx)
    cfg = wifi.sta.config()
    if not cfg.ssid:
        raise ExecFail()
    return await join(ctx, cfg)


async def join(ctx: CommandContext, cfg: StationConfig) -> Final | None:
    """Run the join and print ``+CWJAP:<code>`` on failure (``FAIL`` on 1.x)."""
    code = await wifi_of(ctx).sta.connect(cfg, cfg.jap_timeout)
    if code == 0:
        return None
    ctx.info("+CWJAP", code)
    if legacy(ctx):
        return Final(Result.FAIL)
    raise AtError()


# ----------------------------------------------------------- AT+CWRECONNCFG

cwreconncfg = command("+CWRECONNCFG", group="wifi", doc=f"{DOC}#cmd-RECONNCFG", generations=(2, 99))


@cwreconncfg.query
async def _cwreconncfg_q(ctx: CommandContext) -> None:
    ctx.info("+CWRECONNCFG", *need_init(ctx).reconnect_config())


@cwreconncfg.set(
    Int("interval_second", lo=0, hi=7200), Int("repeat_count", lo=0, hi=1000), Int("reconnect_now", 0, lo=0, hi=1)
)
async def _cwreconncfg_s(ctx: CommandContext, interval: int, count: int, now: int) -> None:
    wifi = need_init(ctx)
    ctx.module.settings.set(NS, "reconn", [interval, count], persist=persist(ctx))
    sta = wifi.sta
    if now and wifi.sta_enabled and sta.state is not StaState.GOT_IP and not sta.connected:
        sta.start_reconnect(immediately=True)


# ---------------------------------------------------------------- AT+CWQAP

cwqap = command("+CWQAP", group="wifi", doc=f"{DOC}#cmd-QAP")


@cwqap.execute
async def _cwqap(ctx: CommandContext) -> None:
    wifi = need_sta(ctx)
    # the firmware answers OK first; "WIFI DISCONNECT" follows from the event
    ctx.after(wifi.sta.quit)


# ------------------------------------------------------------ AT+CWLAPOPT

cwlapopt = command("+CWLAPOPT", group="wifi", doc=f"{DOC}#cmd-LAPOPT")
LAPOPT = "wifi.lapopt"


def _lapopt(module: Module) -> list[int]:
    default_mask = 0x7F if module.generation <= 1 else 0x7FF
    return list(module.vars.get(LAPOPT, [0, default_mask, -100, 0xFFFF]))


@cwlapopt.set(
    Int("reserved", 0, lo=0, hi=1),
    Int("print_mask", lo=0, hi=0x7FF),
    Int("rssi_filter", -100, lo=-100, hi=40),
    Int("authmode_mask", 0xFFFF, lo=0, hi=0xFFFF),
)
async def _cwlapopt_s(ctx: CommandContext, sort: int, mask: int, rssi: int, authmask: int) -> None:
    if legacy(ctx) and mask > 0x7F:
        raise ParamInvalid(1)
    ctx.module.vars[LAPOPT] = [sort, mask, rssi, authmask]


# ----------------------------------------------------------------- AT+CWLAP

cwlap = command("+CWLAP", group="wifi", doc=f"{DOC}#cmd-LAP")


def lap_fields(ctx: CommandContext, entry: ScanEntry, mask: int) -> str:
    ap = entry.ap
    gen = ctx.module.generation
    if gen >= 3:
        freq_offset, freqcal = -1, -1
    else:
        rng = seeded_random(ctx.module.world.seed, "freq", ap.bssid, ctx.module.name)
        freq_offset, freqcal = rng.randint(-40, 40), 0
    pairwise, group = ap.security.ciphers
    if ap.security.value == "wep" and len(ap.password) in (13, 26):
        pairwise = group = 2
    ssid = ap.ssid.decode("utf-8", "surrogateescape")
    values: list[str] = [
        str(ap.security.ecn),
        f'"{ssid}"',
        str(entry.rssi),
        f'"{mac_text(ap.bssid)}"',
        str(entry.channel),
        str(freq_offset),
        str(freqcal),
        str(pairwise),
        str(group),
        str(ap.protocol),
        str(int(ap.spec.wps)),
    ]
    if gen <= 1:
        values = values[:7]
    return ",".join(v for i, v in enumerate(values) if mask >> i & 1)


async def _scan_and_print(
    ctx: CommandContext,
    *,
    ssid: bytes | None = None,
    bssid: bytes | None = None,
    channels: list[int] | None = None,
    dwell: float = ACTIVE_DWELL,
) -> None:
    wifi = need_sta(ctx)
    if wifi.sta.joining:
        # ESP-IDF refuses a scan while the station is connecting (ESP_ERR_WIFI_STATE)
        raise ExecFail()
    entries = await wifi.sta.scan(ssid=ssid, bssid=bssid, channels=channels, dwell=dwell)
    sort, mask, rssi_floor, authmask = _lapopt(ctx.module)
    shown = [e for e in entries if e.rssi >= rssi_floor and authmask >> e.ap.security.ecn & 1]
    if sort:
        shown.sort(key=lambda e: -e.rssi)
    for entry in shown:
        ctx.line("+CWLAP:(" + lap_fields(ctx, entry, mask) + ")")


@cwlap.execute
async def _cwlap_e(ctx: CommandContext) -> None:
    await _scan_and_print(ctx)


@cwlap.set(
    Str("ssid", None, max_len=MAX_SSID),
    Str("mac", None),
    Int("channel", 0, lo=0, hi=165),
    Int("scan_type", 0, lo=0, hi=1),
    Int("scan_time_min", 0, lo=0, hi=1500),
    Int("scan_time_max", 0, lo=0, hi=1500),
    Int("channel_bitmap_2g", None, lo=0, hi=0x7FFF),
    Int("channel_bitmap_5g", None, lo=0, hi=0x3FFFFFFF),
)
async def _cwlap_s(
    ctx: CommandContext,
    ssid: bytes | None,
    mac: bytes | None,
    channel: int,
    scan_type: int,
    tmin: int,
    tmax: int,
    bitmap2: int | None,
    bitmap5: int | None,
) -> None:
    wifi = need_init(ctx)
    if bitmap5 is not None and "5" not in ctx.module.profile.bands:
        raise ParamCount(7, 8)
    allowed = wifi.sta.allowed_channels()
    if channel:
        if channel not in allowed:
            raise ParamInvalid(2)
        channels = [channel]
    elif bitmap2 is not None or bitmap5 is not None:
        channels = [c for c in allowed if c <= 14 and (bitmap2 or 0) >> c & 1]
        channels += [c for i, c in enumerate(CHANNELS_5) if c in allowed and (bitmap5 or 0) >> i & 1]
    else:
        channels = allowed
    if scan_type == 1:
        dwell = (tmax or int(PASSIVE_DWELL * 1000)) / 1000
    else:
        dwell = max(tmin, tmax or int(ACTIVE_DWELL * 1000)) / 1000
    await _scan_and_print(
        ctx, ssid=ssid or None, bssid=mac_param(mac, 1) if mac else None, channels=channels, dwell=dwell
    )


# -------------------------------------------------------------- AT+CWAUTOCONN

cwautoconn = command("+CWAUTOCONN", group="wifi", doc=f"{DOC}#cmd-AUTOC")


@cwautoconn.query
async def _cwautoconn_q(ctx: CommandContext) -> None:
    ctx.info("+CWAUTOCONN", int(need_init(ctx).autoconnect()))


@cwautoconn.set(Int("enable", lo=0, hi=1))
async def _cwautoconn_s(ctx: CommandContext, enable: int) -> None:
    need_init(ctx)
    ctx.module.settings.set(NS, "autoconn", enable, persist=True)


# ------------------------------------------------------------- AT+CWHOSTNAME

cwhostname = command("+CWHOSTNAME", group="wifi", doc=f"{DOC}#cmd-HOSTNAME")


@cwhostname.query
async def _cwhostname_q(ctx: CommandContext) -> None:
    wifi = need_sta(ctx)
    ctx.info("+CWHOSTNAME", Unquoted(wifi.sta.hostname))


@cwhostname.set(Str("hostname", max_len=32, min_len=1, text=True))
async def _cwhostname_s(ctx: CommandContext, hostname: str) -> None:
    wifi = need_sta(ctx)
    wifi.sta.hostname = hostname


# -------------------------------------------------------------- AT+CWCOUNTRY

cwcountry = command("+CWCOUNTRY", group="wifi", doc=f"{DOC}#cmd-COUNTRY", generations=(2, 99))


@cwcountry.query
async def _cwcountry_q(ctx: CommandContext) -> None:
    c = need_init(ctx).country()
    fields: list[object] = [c["policy"], c["code"], c["start"], c["count"]]
    if "5" in ctx.module.profile.bands:
        fields.append(c.get("bitmap5", (1 << len(CHANNELS_5)) - 1))
    ctx.info("+CWCOUNTRY", *fields)


@cwcountry.set(
    Int("country_policy", lo=0, hi=1),
    Str("country_code", max_len=3, min_len=1, text=True),
    Int("start_channel", lo=1, hi=14),
    Int("total_channel_count", lo=1, hi=14),
    Int("channel_bitmap_5g", None, lo=0, hi=(1 << len(CHANNELS_5)) - 1),
)
async def _cwcountry_s(
    ctx: CommandContext, policy: int, code: str, start: int, count: int, bitmap5: int | None
) -> None:
    wifi = need_init(ctx)
    if bitmap5 is not None and "5" not in ctx.module.profile.bands:
        raise ParamCount(4, 5)
    if not code.isalnum() or not code.isascii():
        raise ParamInvalid(1)
    if start + count - 1 > 14:
        raise ParamInvalid(3)
    country = dict(wifi.country())
    country.update(policy=policy, code=code.upper(), start=start, count=count)
    if bitmap5 is not None:
        country["bitmap5"] = bitmap5
    ctx.module.vars["wifi.country"] = country
    sta = wifi.sta
    if sta.ap is not None and sta.ap.channel not in sta.allowed_channels():
        sta.drop(REASON_ASSOC_LEAVE)


# ------------------------------------------------------------ AT+CWBANDMODE

cwbandmode = command("+CWBANDMODE", group="wifi", doc=f"{DOC}#cmd-CWBANDMODE", chips=("esp32c5",))


@cwbandmode.query
async def _cwbandmode_q(ctx: CommandContext) -> None:
    ctx.info("+CWBANDMODE", need_init(ctx).band_mode())


@cwbandmode.set(Int("bandmode", lo=1, hi=3), Int("auto_connect", 1, lo=0, hi=1))
async def _cwbandmode_s(ctx: CommandContext, bandmode: int, auto_connect: int) -> None:
    wifi = need_init(ctx)
    old = wifi.band_mode()
    ctx.module.settings.set(NS, "bandmode", bandmode, persist=persist(ctx))
    sta = wifi.sta

    def switch() -> None:
        lost = sta.ap is not None and sta.ap.channel not in sta.allowed_channels()
        if lost:
            sta.drop(REASON_ASSOC_LEAVE)
        offline = not sta.connected and wifi.sta_enabled and wifi.stored_station_config()
        if auto_connect and (lost or (old != bandmode and offline)):
            sta.start_reconnect(immediately=True)

    ctx.after(switch)


# ---------------------------------------------------- AT+CWSTAPROTO/CWAPPROTO


def _proto_bits(ctx: CommandContext) -> int:
    chip = chip_wifi(ctx.module)
    return 0x07 | (0x08 if chip.lr else 0) | (0x10 if chip.ax else 0)


def _protocols(ctx: CommandContext, iface: str) -> list[int]:
    chip = chip_wifi(ctx.module)
    five = "5" in ctx.module.profile.bands
    # C5 defaults: station 802.11a/n/ac/ax, SoftAP 802.11a/n on 5 GHz
    default = [chip.proto_sta, 0x74 if five else 0] if iface == "sta" else [chip.proto_ap, 0x24 if five else 0]
    stored = (ctx.module.settings.get(NS, "proto") or {}).get(iface)
    return list(stored) if stored else default


def _declare_proto(name: str, iface: str, anchor: str) -> None:
    cmd = command(name, group="wifi", doc=f"{DOC}#{anchor}", generations=(2, 99))

    @cmd.query
    async def _query(ctx: CommandContext) -> None:
        need_init(ctx)
        values = _protocols(ctx, iface)
        ctx.info(name, *(values if "5" in ctx.module.profile.bands else values[:1]))

    @cmd.set(Int("protocol_2g", None, lo=0, hi=0x7F), Int("protocol_5g", None, lo=0, hi=0x7F))
    async def _set(ctx: CommandContext, p2: int | None, p5: int | None) -> None:
        wifi = need_init(ctx)
        five = "5" in ctx.module.profile.bands
        if p5 is not None and not five:
            raise ParamCount(1, 2)
        if p2 is None and p5 is None:
            raise ParamParseFail(0)
        if not wifi.mode & (MODE_STA if iface == "sta" else 2):
            raise ExecFail()
        values = _protocols(ctx, iface)
        if p2 is not None:
            if p2 == 0 or p2 & ~_proto_bits(ctx):
                raise ParamInvalid(0)
            values[0] = p2
        if p5 is not None:
            if p5 == 0 or p5 & ~0x74:
                raise ParamInvalid(1)
            values[1] = p5
        protos = dict(ctx.module.settings.get(NS, "proto") or {})
        protos[iface] = values
        ctx.module.settings.set(NS, "proto", protos, persist=persist(ctx))


_declare_proto("+CWSTAPROTO", "sta", "cmd-STAPROTO")
_declare_proto("+CWAPPROTO", "ap", "cmd-APPROTO")
