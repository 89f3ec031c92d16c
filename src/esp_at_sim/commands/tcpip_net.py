"""TCP/IP AT commands: network services (TCP-IP_AT_Commands.rst).

SNTP (AT+CIPSNTPCFG/CIPSNTPTIME/CIPSNTPINTV), AT+PING, AT+CIPDNS, AT+MDNS,
socket options (AT+CIPTCPOPT), AT+CIPRECONNINTV and OTA (AT+CIPFWVER,
AT+CIUPDATE).
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from esp_at_sim.at.events import Final, Result
from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.commands.tcpip import links_of
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.module import Module, on_boot
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid, ParamLength
from esp_at_sim.services import dns, net_faults, ota
from esp_at_sim.services.firmware import FirmwareSlots, app_version
from esp_at_sim.services.mdns import MdnsService, registry
from esp_at_sim.services.netif import NetIf
from esp_at_sim.services.ping import ping
from esp_at_sim.services.sntp import DEFAULT_SERVERS, SntpClient
from esp_at_sim.services.systime import SystemTime

DOC = "TCP-IP_AT_Commands.rst"
NS = "tcpip"
FAULTS = net_faults  # imported for its @fault registrations


# ---------------------------------------------------------------- SNTP
def _tz_offset(tz: int) -> int:
    """Seconds east of UTC for an AT+CIPSNTPCFG timezone ([-12,14] hours, or [+|-]hhmm)."""
    if -12 <= tz <= 14:
        return tz * 3600
    sign = -1 if tz < 0 else 1
    hh, mm = divmod(abs(tz), 100)
    return sign * (hh * 3600 + mm * 60)


def _tz_shown(tz: int) -> int:
    # the query shows whole hours: 015 (UTC+00:15) reads back as 0 (spec note)
    return tz if -12 <= tz <= 14 else int(_tz_offset(tz) / 3600)


def _valid_tz(tz: int) -> bool:
    if -12 <= tz <= 14:
        return True
    hh, mm = divmod(abs(tz), 100)
    return mm < 60 and (hh <= 12 if tz < 0 else hh <= 14)


def _sntp_config(module: Module) -> list[Any]:
    """``[enable, timezone, servers]`` as AT+CIPSNTPCFG last stored it (off, UTC+0, no servers until then)."""
    return module.settings.get(NS, "sntp", None) or [0, 0, []]


cipsntpcfg = command("+CIPSNTPCFG", group="tcpip", doc=f"{DOC}#cmd-SNTPCFG")


@cipsntpcfg.query
async def _cipsntpcfg_q(ctx: CommandContext) -> None:
    cfg = _sntp_config(ctx.module)
    enable, tz, servers = cfg
    if enable:
        ctx.info("+CIPSNTPCFG", 1, _tz_shown(tz), *(servers or DEFAULT_SERVERS))
    else:
        ctx.info("+CIPSNTPCFG", 0, _tz_shown(tz))


@cipsntpcfg.set()
async def _cipsntpcfg_s(ctx: CommandContext, args: Args) -> None:
    args.expect_count(1, 5)
    enable = args.int(0, 0, 1)
    tz = args.int(1, -1259, 1459, default=0)
    if not _valid_tz(tz):
        raise ParamInvalid(1)
    servers = [args.str(i, max_len=64, text=True) for i in range(2, len(args)) if args.present(i)]
    if enable == 0 and servers:
        raise ParamCount(2, len(args))
    ctx.module.settings.set(NS, "sntp", [enable, tz, servers], persist=ctx.persist)
    sntp = ctx.module.service(SntpClient)
    if enable:
        sntp.restart(servers or list(DEFAULT_SERVERS))
    else:
        sntp.stop()


@on_boot
def _sntp_at_boot(module: Module) -> None:
    if not module.has_group("tcpip"):
        return
    cfg = module.settings.get(NS, "sntp", None)
    if cfg and cfg[0]:
        module.service(SntpClient).restart(list(cfg[2]) or list(DEFAULT_SERVERS))


cipsntptime = command("+CIPSNTPTIME", group="tcpip", doc=f"{DOC}#cmd-SNTPT")


@cipsntptime.query
async def _cipsntptime_q(ctx: CommandContext) -> None:
    cfg = _sntp_config(ctx.module)
    local = ctx.module.service(SystemTime).now() + _tz_offset(int(cfg[1]))
    ctx.line("+CIPSNTPTIME:" + time.asctime(time.gmtime(max(0, int(local)))))


def _int_setting(name: str, key: str, default: int, param: Int, doc: str) -> None:
    """A command that only reads and stores one integer of the chapter's settings."""
    cmd = command(name, group="tcpip", doc=f"{DOC}#{doc}")

    @cmd.query
    async def _q(ctx: CommandContext) -> None:
        ctx.info(name, int(ctx.module.settings.get(NS, key, default) or default))

    @cmd.set(param)
    async def _s(ctx: CommandContext, value: int) -> None:
        ctx.module.settings.set(NS, key, value, persist=ctx.persist)


_int_setting("+CIPSNTPINTV", "sntpintv", 3600, Int("interval", lo=15, hi=4294967), "cmd-SNTPINTV")


# ---------------------------------------------------------------- AT+PING
ping_cmd = command("+PING", group="ping", doc=f"{DOC}#cmd-CIPPING")


@ping_cmd.set()
async def _ping(ctx: CommandContext, args: Args) -> None:
    args.expect_count(1, 1)
    host = args.str(0, max_len=128, text=True)
    if not host:
        raise ParamLength(0)
    if not ctx.module.service(NetIf).online:
        ctx.line("+PING:TIMEOUT")
        raise ExecFail()
    rtt = await ping(ctx.module, host)
    if rtt is None:
        ctx.line("+PING:TIMEOUT")
        raise ExecFail()
    ctx.info("+PING", int(rtt * 1000))


# ---------------------------------------------------------------- AT+CIPDNS
DEFAULT_DNS = dns.DEFAULT_SERVERS
cipdns = command("+CIPDNS", group="tcpip", doc=f"{DOC}#cmd-DNS")


@cipdns.query
async def _cipdns_q(ctx: CommandContext) -> None:
    cfg = ctx.module.settings.get(NS, "dns", None) or [0, []]
    enable = cfg[0]
    # a server given with a port in the scenario ("127.0.0.1:5353") shows its address
    ctx.info("+CIPDNS", enable, *(dns.server_address(s) for s in dns.servers_of(ctx.module)))


@cipdns.set()
async def _cipdns_s(ctx: CommandContext, args: Args) -> None:
    args.expect_count(1, 4)
    enable = args.int(0, 0, 1)
    servers = [args.str(i, max_len=64, text=True) for i in range(1, len(args)) if args.present(i)]
    if enable == 0 and servers:
        raise ParamCount(1, len(args))
    for i, s in enumerate(servers, start=1):
        try:
            ipaddress.ip_address(s)
        except ValueError:
            raise ParamInvalid(i) from None
    if len(set(servers)) != len(servers):
        raise ExecFail()
    ctx.module.settings.set(NS, "dns", [enable, servers or (list(DEFAULT_DNS) if enable else [])], persist=ctx.persist)


# -------------------------------------------------------------- AT+CIPTCPOPT
ciptcpopt = command("+CIPTCPOPT", group="tcpip", doc=f"{DOC}#cmd-TCPOPT")


@ciptcpopt.query
async def _ciptcpopt_q(ctx: CommandContext) -> None:
    t = links_of(ctx)
    for i in range(t.max_links):
        o = t.tcp_options(i)
        ctx.info("+CIPTCPOPT", i, o.so_linger, o.tcp_nodelay, o.so_sndtimeo, o.keep_alive)


@ciptcpopt.set()
async def _ciptcpopt_s(ctx: CommandContext, args: Args) -> None:
    t = links_of(ctx)
    i = 1 if t.mux else 0
    if len(args) < i + 1:
        raise ParamCount(i + 1, len(args))
    args.expect_count(i + 1, i + 4)
    link_id = args.int(0, 0, t.max_links) if t.mux else 0
    linger = args.int(i, -1, 7200, default=None)
    nodelay = args.int(i + 1, 0, 1, default=None)
    sndtimeo = args.int(i + 2, 0, 0x7FFFFFFF, default=None)
    keep_alive = args.int(i + 3, 0, 7200, default=None)
    ids = list(range(t.max_links)) if link_id == t.max_links else [link_id]
    saved = dict(ctx.module.settings.get(NS, "tcpopt", {}) or {})
    for lid in ids:
        o = t.tcp_options(lid)
        if linger is not None:
            o.so_linger = linger
        if nodelay is not None:
            o.tcp_nodelay = nodelay
        if sndtimeo is not None:
            o.so_sndtimeo = sndtimeo
        if keep_alive is not None:
            o.keep_alive = keep_alive
        link = t.links.get(lid)
        if link is not None and link.transport is not None and not link.is_udp:
            o.apply(link.transport)
        saved[str(lid)] = [o.so_linger, o.tcp_nodelay, o.so_sndtimeo, o.keep_alive]
    ctx.module.settings.set(NS, "tcpopt", saved, persist=ctx.persist)


# ---------------------------------------------------------- AT+CIPRECONNINTV
_int_setting("+CIPRECONNINTV", "reconnintv", 1, Int("interval", lo=1, hi=36000), "cmd-AUTOCONNINT")


# ------------------------------------------------------------------ AT+MDNS
mdns = command("+MDNS", group="mdns", doc=f"{DOC}#cmd-MDNS")


@mdns.set()
async def _mdns(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    mode = args.int(0, 0, 2)
    reg = registry(module)
    if mode == 0:
        args.expect_count(1, 1)
        await reg.withdraw(module.name)
        return
    if mode == 1:
        if len(args) < 4:
            raise ParamCount(4, len(args))
        hostname = args.str(1, max_len=64, text=True)
        service = args.str(2, max_len=64, text=True)
        port = args.int(3, 0, 65535)
        instance = args.str(4, max_len=64, text=True, default="") or hostname
        proto = args.str(5, max_len=64, text=True, default="") or "_tcp"
        count = args.int(6, 1, 20, default=0)
        if len(args) != (7 + 2 * count if count else min(len(args), 6)):
            raise ParamCount(7 + 2 * count, len(args))
        txt = {args.str(7 + 2 * k, text=True): args.str(8 + 2 * k, text=True) for k in range(count)}
        if not hostname or not service:
            raise ParamInvalid(1)
        netif = module.service(NetIf)
        ip = netif.source_ip() if netif.online else ""
        if not module.vars.get("mdns_withdraw_at_close"):
            # the firmware keeps mDNS in RAM: the announcement ends with this boot
            module.vars["mdns_withdraw_at_close"] = True
            module.scope.on_close(lambda: reg.withdraw(module.name))
        host_port = netif.host_port(port)
        await reg.publish(MdnsService(module.name, hostname, service, proto, port, instance, txt, ip, host_port))
        return
    await _mdns_query(ctx, args)


async def _mdns_query(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    qtype = args.int(1, 0, 6)
    reg = registry(module)
    if qtype == 0:
        args.expect_count(4, 6)
        service, proto = args.str(2, text=True)[:64], args.str(3, text=True)[:64]
        timeout = args.int(4, 1000, 180000, default=5000)
        found = reg.find(service, proto)
    elif qtype in (1, 2, 3):
        args.expect_count(5, 7)
        instance, service, proto = (args.str(i, text=True)[:64] for i in (2, 3, 4))
        timeout = args.int(5, 1000, 180000, default=5000)
        found = reg.find_instance(instance, service, proto)
    else:
        args.expect_count(3, 5)
        hostname = args.str(2, text=True)[:64]
        timeout = args.int(3, 1000, 180000, default=5000)
        found = reg.find_host(hostname)
    found = [s for s in found if s.owner != module.name or qtype >= 4]
    if not found:
        await module.clock.sleep(timeout / 1000)
        module.chip_log("at-mdns: no results found")
        raise ExecFail()
    lines: list[str] = []
    for s in found:
        lines += ["IF=1", "IP=0"]
        if qtype == 0:
            lines.append(f"PTR={s.instance}")
        if qtype in (0, 2, 3):
            lines.append(f"SRV={s.hostname}.local:{s.port}")
        if qtype in (0, 1, 3):
            lines += [f"TXT={k}={v}" for k, v in s.txt.items()]
        if qtype in (0, 4, 6) and s.ip:
            lines.append(f"A={s.ip}")
    block = "\r\n" + "\r\n".join(lines)
    ctx.line(f"+MDNS:{len(block)},{block}")


# ------------------------------------------------------------------ OTA
cipfwver = command("+CIPFWVER", group="ota", doc=f"{DOC}#cmd-FWVER")


@cipfwver.query
async def _cipfwver_q(ctx: CommandContext) -> None:
    if not ctx.module.service(NetIf).online:
        raise ExecFail()
    try:
        listed = await ota.versions(ctx.module)
    except ota.DownloadError as exc:
        ctx.module.chip_log(f"at-ota: {exc}")
        raise ExecFail() from None
    for v in listed:
        ctx.info("+CIPFWVER", v)


ciupdate = command("+CIUPDATE", group="ota", doc=f"{DOC}#cmd-UPDATE")


@ciupdate.query
async def _ciupdate_q(ctx: CommandContext) -> None:
    ctx.info("+CIPUPDATE", int(ctx.module.vars.get("ota_state", 0)))


@ciupdate.execute
async def _ciupdate_x(ctx: CommandContext) -> Final | None:
    return await _update(ctx, 1, None, "ota", 0)


@ciupdate.set()
async def _ciupdate_s(ctx: CommandContext, args: Args) -> Final | None:
    args.expect_count(1, 4)
    mode = args.int(0, 0, 1)
    version = args.str(1, max_len=32, text=True, default="") or None
    firmware = args.str(2, max_len=32, text=True, default="") or "ota"
    nonblocking = args.int(3, 0, 1, default=0)
    return await _update(ctx, mode, version, firmware, nonblocking)


async def _update(ctx: CommandContext, mode: int, version: str | None, firmware: str, nonblocking: int) -> Final | None:
    module = ctx.module
    if not module.service(NetIf).online:
        raise ExecFail()
    if nonblocking:
        module.scope.spawn(_run_update(module, version, firmware, blocking=False), name="ota")
        return None
    ok = await _run_update(module, version, firmware, blocking=True, ctx=ctx)
    if not ok:
        raise ExecFail()
    if firmware == "ota":
        ctx.after(lambda: module.reboot("ota"))
    return Final(Result.OK)


async def _run_update(
    module: Module, version: str | None, firmware: str, *, blocking: bool, ctx: CommandContext | None = None
) -> bool:
    def state(n: int) -> None:
        module.vars["ota_state"] = n
        if ctx is not None:
            ctx.info("+CIPUPDATE", n)
        else:
            module.urc(f"+CIPUPDATE:{n}")

    def failed() -> bool:
        if not blocking:
            module.urc("+CIPUPDATE:-1")
        return False

    try:
        listed = await module.clock.wait_for(ota.versions(module), ota.TIMEOUT)
    except (ota.DownloadError, TimeoutError) as exc:
        module.chip_log(f"at-ota: {exc}")
        return failed()
    state(1)
    state(2)
    target = version or (listed[-1] if listed else None)
    if target is None or target not in listed:
        module.chip_log(f"at-ota: version {target} not on the server")
        return failed()
    state(3)
    try:
        image = await module.clock.wait_for(ota.http_get(module, ota.image_url(module, target, firmware)), ota.TIMEOUT)
    except (ota.DownloadError, TimeoutError) as exc:
        module.chip_log(f"at-ota: download failed: {exc}")
        return failed()
    if firmware == "ota":
        found = app_version(image)
        if found is None:
            module.chip_log("at-ota: image is not an ESP-IDF app image")
            return failed()
        module.service(FirmwareSlots).install(found)
    else:
        module.chip_log(f"at-ota: {firmware} partition updated ({len(image)} bytes)")
    state(4)
    return True
