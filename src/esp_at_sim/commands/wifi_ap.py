"""Wi-Fi AT commands for the SoftAP and the interface addresses (Wi-Fi_AT_Commands.rst):
AT+CWSAP, AT+CWLIF, AT+CWQIF, AT+CWDHCP, AT+CWDHCPS, AT+CIPSTAMAC, AT+CIPAPMAC,
AT+CIPSTA, AT+CIPAP."""

from __future__ import annotations

import ipaddress

from esp_at_sim.at.params import Int, Str
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.commands.wifi import DOC, info_name, legacy, mac_param, need_init, need_sta, persist, wifi_of
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.netif import IpConfig, NetIf
from esp_at_sim.services.softap import POOL_SIZE
from esp_at_sim.services.wifi import MODE_AP, MODE_STA, WifiService
from esp_at_sim.services.wifi_config import NS, SoftApConfig, chip_wifi, interface_mac
from esp_at_sim.world.wifi import MAX_SSID, REASON_AUTH_LEAVE, mac_text
from esp_at_sim.world.wifi_radio import CHANNELS_5


def need_ap(ctx: CommandContext) -> WifiService:
    wifi = need_init(ctx)
    if not wifi.mode & MODE_AP:
        raise ExecFail()
    return wifi


def ipv4(value: bytes, index: int) -> str:
    try:
        text = value.decode("ascii")
        ipaddress.IPv4Address(text)
    except (UnicodeDecodeError, ValueError):
        raise ParamInvalid(index) from None
    return text


# ----------------------------------------------------------------- AT+CWSAP

cwsap = command("+CWSAP", group="wifi", doc=f"{DOC}#cmd-SAP")


@cwsap.query
async def _cwsap_q(ctx: CommandContext) -> None:
    cfg = need_ap(ctx).softap.config()
    ctx.info(info_name(ctx), cfg.ssid, cfg.password, cfg.channel, cfg.ecn, cfg.max_conn, cfg.hidden)


@cwsap.set(
    Str("ssid", max_len=MAX_SSID, min_len=1),
    Str("pwd", max_len=64),
    Int("channel", lo=1, hi=165),
    Int("ecn", lo=0, hi=4),
    Int("max_conn", None, lo=1, hi=15),
    Int("ssid_hidden", 0, lo=0, hi=1),
)
async def _cwsap_s(
    ctx: CommandContext, ssid: bytes, pwd: bytes, channel: int, ecn: int, max_conn: int | None, hidden: int
) -> None:
    wifi = need_ap(ctx)
    chip = chip_wifi(ctx.module)
    if ecn == 1:
        raise ParamInvalid(3)  # WEP is not supported by the SoftAP
    if ecn and not 8 <= len(pwd) <= 64:
        raise ParamInvalid(1)
    allowed = [c for c in wifi.sta.allowed_channels() if c <= 14 or c in CHANNELS_5]
    if channel not in allowed:
        raise ParamInvalid(2)
    if max_conn is not None and max_conn > chip.max_conn:
        raise ParamInvalid(4)
    old = wifi.softap.config()
    cfg = SoftApConfig(
        ssid=ssid,
        password=pwd if ecn else b"",
        channel=channel,
        ecn=ecn,
        max_conn=max_conn if max_conn is not None else old.max_conn,
        hidden=hidden,
    )
    ctx.module.settings.set(NS, "ap", cfg.to_json(), persist=persist(ctx))
    wifi.softap.restart()


# ----------------------------------------------------------------- AT+CWLIF

cwlif = command("+CWLIF", group="wifi", doc=f"{DOC}#cmd-LIF")


@cwlif.execute
async def _cwlif(ctx: CommandContext) -> None:
    wifi = need_ap(ctx)
    for mac, ip in wifi.softap.stations():
        if legacy(ctx):
            ctx.line(f"{ip or '0.0.0.0'},{mac_text(mac)}")
        else:
            ctx.info("+CWLIF", Unquoted(ip or "0.0.0.0"), Unquoted(mac_text(mac)))


# ----------------------------------------------------------------- AT+CWQIF

cwqif = command("+CWQIF", group="wifi", doc=f"{DOC}#cmd-QIF", generations=(2, 99))


@cwqif.execute
async def _cwqif_e(ctx: CommandContext) -> None:
    wifi = need_ap(ctx)
    ap = wifi.softap.ap
    if ap is not None:
        # the deauthentication goes out after OK; "+STA_DISCONNECTED" follows
        ctx.after(lambda: ap.deauth(None, REASON_AUTH_LEAVE))


@cwqif.set(Str("mac"))
async def _cwqif_s(ctx: CommandContext, mac: bytes) -> None:
    wifi = need_ap(ctx)
    station = mac_param(mac, 0)
    ap = wifi.softap.ap
    if ap is None or station not in ap.stations:
        raise ExecFail()
    ctx.after(lambda: ap.deauth(station, REASON_AUTH_LEAVE))


# ---------------------------------------------------------------- AT+CWDHCP

cwdhcp = command("+CWDHCP", group="wifi", doc=f"{DOC}#cmd-DHCP")


def legacy_dhcp_bits(bits: int) -> int:
    """NONOS AT numbers the bits the other way round: bit 0 SoftAP, bit 1 station."""
    return (bits & 1) << 1 | (bits >> 1 & 1)


@cwdhcp.query
async def _cwdhcp_q(ctx: CommandContext) -> None:
    bits = need_init(ctx).dhcp_bits()
    ctx.info(info_name(ctx), legacy_dhcp_bits(bits) if legacy(ctx) else bits)


@cwdhcp.set(Int("operate", lo=0, hi=2), Int("mode", lo=0, hi=7))
async def _cwdhcp_s(ctx: CommandContext, first: int, second: int) -> None:
    wifi = need_init(ctx)
    if legacy(ctx):
        # AT+CWDHCP_CUR=<mode>,<en>: mode 0 SoftAP, 1 station, 2 both
        if second > 1:
            raise ParamInvalid(1)
        operate, mask = second, {0: 2, 1: 1, 2: 3}[first]
    else:
        if first > 1:
            raise ParamInvalid(0)
        operate, mask = first, second
        if mask == 0 or (mask & 4 and not ctx.module.has_group("eth")):
            raise ParamInvalid(1)
    bits = wifi.dhcp_bits()
    bits = bits | mask if operate else bits & ~mask
    ctx.module.settings.set(NS, "dhcp", bits, persist=persist(ctx))
    if operate and mask & 1:
        ctx.module.settings.set(NS, "sta_ip", None, persist=persist(ctx))
    wifi.softap.update_dhcp()


# --------------------------------------------------------------- AT+CWDHCPS

cwdhcps = command("+CWDHCPS", group="wifi", doc=f"{DOC}#cmd-DHCPS")


@cwdhcps.query
async def _cwdhcps_q(ctx: CommandContext) -> None:
    wifi = need_ap(ctx)
    lease, first, last = wifi.softap.pool()
    ctx.info(info_name(ctx), lease, Unquoted(first), Unquoted(last))


@cwdhcps.set(Int("enable", lo=0, hi=1), Int("lease_time", None, lo=1, hi=2880), Str("start", None), Str("end", None))
async def _cwdhcps_s(
    ctx: CommandContext, enable: int, lease: int | None, start: bytes | None, end: bytes | None
) -> None:
    wifi = need_ap(ctx)
    if not wifi.dhcp_bits() & 2:
        raise ExecFail()
    if not enable:
        if lease is not None or start is not None or end is not None:
            raise ParamCount(1, 4)
        ctx.module.settings.set(NS, "dhcps", None, persist=persist(ctx))
        wifi.softap.update_dhcp()
        return
    if lease is None or start is None or end is None:
        raise ParamCount(4, 1 + sum(v is not None for v in (lease, start, end)))
    first = ipaddress.IPv4Address(ipv4(start, 2))
    last = ipaddress.IPv4Address(ipv4(end, 3))
    addr = wifi.softap.address()
    net = ipaddress.IPv4Network(f"{addr.ip}/{addr.netmask}", strict=False)
    own = ipaddress.IPv4Address(addr.ip)
    if first not in net or first in (net.network_address, net.broadcast_address):
        raise ParamInvalid(2)
    if last not in net or last < first or last == net.broadcast_address:
        raise ParamInvalid(3)
    if first <= own <= last or int(last) - int(first) + 1 > POOL_SIZE:
        raise ExecFail()
    ctx.module.settings.set(NS, "dhcps", [lease, str(first), str(last)], persist=persist(ctx))
    wifi.softap.update_dhcp()


# ---------------------------------------------------------- AT+CIPSTAMAC/APMAC


def _declare_mac(name: str, iface: str, anchor: str) -> None:
    cmd = command(name, group="wifi", doc=f"{DOC}#{anchor}")

    @cmd.query
    async def _query(ctx: CommandContext) -> None:
        need_init(ctx)
        ctx.info(info_name(ctx), mac_text(interface_mac(ctx.module, iface)))

    @cmd.set(Str("mac"))
    async def _set(ctx: CommandContext, mac: bytes) -> None:
        wifi = need_init(ctx)
        if not wifi.mode & (MODE_STA if iface == "sta" else MODE_AP):
            raise ExecFail()
        value = mac_param(mac, 0)
        if value[0] & 1 or value in (b"\xff" * 6, bytes(6)):
            raise ParamInvalid(0)
        other = interface_mac(ctx.module, "ap" if iface == "sta" else "sta")
        if value == other:
            raise ExecFail()
        ctx.module.settings.set(NS, f"{iface}_mac", value.hex(), persist=persist(ctx))
        wifi.publish_macs()
        if iface == "ap":
            wifi.softap.restart()


_declare_mac("+CIPSTAMAC", "sta", "cmd-STAMAC")
_declare_mac("+CIPAPMAC", "ap", "cmd-APMAC")


# --------------------------------------------------------------- AT+CIPSTA/AP


def _address_lines(ctx: CommandContext, cfg: IpConfig | None, iface: str) -> None:
    ip, gw, mask = (cfg.ip, cfg.gateway, cfg.netmask) if cfg else ("0.0.0.0", "0.0.0.0", "0.0.0.0")
    name = info_name(ctx)
    ctx.line(f'{name}:ip:"{ip}"')
    ctx.line(f'{name}:gateway:"{gw}"')
    ctx.line(f'{name}:netmask:"{mask}"')
    if wifi_of(ctx).ipv6_enabled():
        for addr in ctx.module.service(NetIf).ipv6.get(iface, []):
            ctx.line(f'{name}:{"ip6ll" if addr.startswith("fe80:") else "ip6gl"}:"{addr}"')


def _address_args(ctx: CommandContext, ip: bytes, gateway: bytes | None, netmask: bytes | None) -> IpConfig:
    if (gateway is None) != (netmask is None):
        raise ParamCount(3, 2)
    addr = ipv4(ip, 0)
    if gateway is None or netmask is None:
        host = ipaddress.IPv4Address(addr)
        return IpConfig(addr, str(ipaddress.IPv4Address(int(host) & 0xFFFFFF00 | 1)), "255.255.255.0")
    gw = ipv4(gateway, 1)
    mask = ipv4(netmask, 2)
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{mask}")
    except ValueError:
        raise ParamInvalid(2) from None
    return IpConfig(addr, gw, mask)


cipsta = command("+CIPSTA", group="wifi", doc=f"{DOC}#cmd-IPSTA")


@cipsta.query
async def _cipsta_q(ctx: CommandContext) -> None:
    wifi = need_sta(ctx)
    current = ctx.module.service(NetIf).interfaces.get("sta") or wifi.static_ip()
    _address_lines(ctx, current, "sta")


@cipsta.set(Str("ip"), Str("gateway", None), Str("netmask", None))
async def _cipsta_s(ctx: CommandContext, ip: bytes, gateway: bytes | None, netmask: bytes | None) -> None:
    wifi = need_sta(ctx)
    cfg = _address_args(ctx, ip, gateway, netmask)
    settings = ctx.module.settings
    settings.set(NS, "sta_ip", [cfg.ip, cfg.gateway, cfg.netmask], persist=persist(ctx))
    settings.set(NS, "dhcp", wifi.dhcp_bits() & ~1, persist=persist(ctx))
    wifi.sta.apply_static_ip()


cipap = command("+CIPAP", group="wifi", doc=f"{DOC}#cmd-IPAP")


@cipap.query
async def _cipap_q(ctx: CommandContext) -> None:
    wifi = need_ap(ctx)
    _address_lines(ctx, wifi.softap.address(), "ap")


@cipap.set(Str("ip"), Str("gateway", None), Str("netmask", None))
async def _cipap_s(ctx: CommandContext, ip: bytes, gateway: bytes | None, netmask: bytes | None) -> None:
    wifi = need_ap(ctx)
    cfg = _address_args(ctx, ip, gateway, netmask)
    settings = ctx.module.settings
    settings.set(NS, "ap_ip", [cfg.ip, cfg.gateway, cfg.netmask], persist=persist(ctx))
    # the DHCP server follows the new network with its default pool
    settings.set(NS, "dhcps", None, persist=persist(ctx))
    wifi.softap.restart()
