"""TCP/IP AT commands: links and servers (TCP-IP_AT_Commands.rst).

Sending, receiving, TLS and the network services are in the other
``tcpip_*`` modules. The single-connection (AT+CIPMUX=0) and the
multi-connection formats differ everywhere: a link id first in the
parameters, ``0,CONNECT`` instead of ``CONNECT``, ``+IPD,0,4:`` instead of
``+IPD,4:``.
"""

from __future__ import annotations

import ipaddress
import socket

from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import AtError, ExecFail, ParamCount, ParamInvalid, ParamLength
from esp_at_sim.services import tls
from esp_at_sim.services.connections import ConnectFailed, arm_timeout, open_client, start_server
from esp_at_sim.services.links import DGRAM_KINDS, KINDS, Link, LinkTable
from esp_at_sim.services.netif import AP, ETH, STA, NetIf, NoNetwork
from esp_at_sim.world.net import ip_text

DOC = "TCP-IP_AT_Commands.rst"


def links_of(ctx: CommandContext) -> LinkTable:
    return ctx.module.service(LinkTable)


def ipv6_enabled(ctx: CommandContext) -> bool:
    return bool(ctx.module.settings.get("tcpip", "ipv6", 0))


def ssl_config(ctx: CommandContext, link_id: int) -> tls.SslClientConfig:
    """The AT+CIPSSLC* configuration of a link id (AT+CIPSSLCCONF is kept in NVS)."""
    configs: dict[int, tls.SslClientConfig] = ctx.module.vars.setdefault("ssl_client", {})
    cfg = configs.get(link_id)
    if cfg is None:
        cfg = tls.SslClientConfig()
        saved = ctx.module.settings.get("tcpip", "sslcconf", {}) or {}
        if str(link_id) in saved:
            cfg.auth_mode, cfg.pki_number, cfg.ca_number = saved[str(link_id)]
        configs[link_id] = cfg
    return cfg


def fail(ctx: CommandContext, message: str | None = None) -> ExecFail:
    return ExecFail(message=message)


def dns_fail(ctx: CommandContext) -> ExecFail:
    """A name that does not resolve: ESP8266 AT 1.x says ``DNS Fail`` before ERROR;
    the 2.x and later cores have no such message (their libraries carry no such
    string) and answer ERROR alone."""
    if ctx.module.generation == 1:
        return ExecFail(message="DNS Fail")
    return ExecFail()


def errno_fail(ctx: CommandContext, errno: int) -> ExecFail:
    """With AT+SYSLOG=1 a failed connection says why: ``+ERRNO:0x..`` before ERROR."""
    if ctx.module.engine.syslog and errno:
        return ExecFail(message=f"+ERRNO:0x{errno:x}")
    return ExecFail()


# ------------------------------------------------------------------ AT+CIPMUX
cipmux = command("+CIPMUX", group="tcpip", doc=f"{DOC}#cmd-MUX")


@cipmux.query
async def _cipmux_q(ctx: CommandContext) -> None:
    ctx.info("+CIPMUX", links_of(ctx).mux)


@cipmux.set(Int("mode", lo=0, hi=1))
async def _cipmux_s(ctx: CommandContext, mode: int) -> None:
    t = links_of(ctx)
    if mode == t.mux:
        return
    if t.links:
        ctx.module.chip_log("at-net: connection exists")
        raise ExecFail()
    if mode == 1 and t.ipmode == 1:
        ctx.module.chip_log("at-net: IPMODE != 0")
        raise ExecFail()
    if mode == 0 and t.server is not None:
        ctx.module.chip_log("at-net: CIPSERVER != 0")
        raise ExecFail()
    t.mux = mode


# ---------------------------------------------------------------- AT+CIPSTART
def _parse_start(ctx: CommandContext, args: Args, t: LinkTable, auto_id: bool) -> dict[str, object]:
    i = 0
    if t.mux and not auto_id:
        link_id = args.int(0, 0, t.max_links - 1)
        i = 1
    else:
        link_id = -1 if auto_id else 0
    if len(args) < i + 3:
        raise ParamCount(i + 3, len(args))
    kind = args.str(i, text=True)
    if kind not in KINDS:
        raise ParamInvalid(i)
    host = args.str(i + 1, text=True)
    if not host or len(host.encode()) > 64:
        raise ParamLength(i + 1)
    port = args.int(i + 2, 0, 65535)
    out: dict[str, object] = {"id": link_id, "kind": kind, "host": host, "port": port}
    if kind in DGRAM_KINDS:
        args.expect_count(i + 3, i + 7)
        out["local_port"] = args.int(i + 3, 0, 65535, default=0)
        out["mode"] = args.int(i + 4, 0, 2, default=0)
        out["local_ip"] = _local_ip(args, i + 5)
        out["timeout"] = args.int(i + 6, 0, 60000, default=0)
        if args.present(i + 4) and not args.present(i + 3):
            raise ParamInvalid(i + 4)
    else:
        args.expect_count(i + 3, i + 6)
        out["keep_alive"] = args.int(i + 3, 0, 7200, default=None)
        out["local_ip"] = _local_ip(args, i + 4)
        out["timeout"] = args.int(i + 5, 0, 60000, default=0)
    return out


def _local_ip(args: Args, idx: int) -> str | None:
    """<"local IP">: empty or omitted is "any"; anything else must be an address."""
    text = args.str(idx, default="", text=True)
    if not text:
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ParamInvalid(idx) from None
    return ip_text(text)


async def _start(ctx: CommandContext, args: Args, auto_id: bool) -> None:
    module = ctx.module
    t = links_of(ctx)
    p = _parse_start(ctx, args, t, auto_id)
    link_id = int(p["id"])  # type: ignore[call-overload]
    if link_id < 0:
        free = t.free_id() if t.mux else (None if 0 in t.links else 0)
        if free is None:
            raise fail(ctx)
        link_id = free
    if link_id in t.links:
        raise ExecFail(message="ALREADY CONNECTED")
    if t.ipmode == 1 and t.links:
        module.chip_log("at-net: shouldn't create client with existed client and cipmode=1")
        raise ExecFail()
    if t.ipmode == 1 and t.server is not None:
        module.chip_log("at-net: shouldn't create client with existed server and cipmode=1")
        raise ExecFail()
    kind = str(p["kind"])
    if kind.endswith("v6") and not ipv6_enabled(ctx):
        raise ExecFail()
    netif = module.service(NetIf)
    if not netif.online:
        raise ExecFail(message="no ip")
    try:
        await open_client(
            t,
            link_id,
            kind,
            str(p["host"]),
            int(p["port"]),  # type: ignore[call-overload]
            keep_alive=p.get("keep_alive"),  # type: ignore[arg-type]
            timeout_ms=int(p["timeout"]),  # type: ignore[call-overload]
            local_port=int(p.get("local_port", 0)),  # type: ignore[call-overload]
            udp_mode=int(p.get("mode", 0)),  # type: ignore[call-overload]
            ssl_config=ssl_config(ctx, link_id) if kind.startswith("SSL") else None,
            local_ip=p.get("local_ip"),  # type: ignore[arg-type]
        )
    except NoNetwork:
        raise ExecFail(message="no ip") from None
    except LookupError:
        module.chip_log(f"at-net: unknown host: {p['host']}")
        _closed_after_failure(ctx)
        raise dns_fail(ctx) from None
    except ConnectFailed as exc:
        module.chip_log(f"at-net: failed to create connection, idx:{link_id}, errno:0x{exc.errno:x}")
        _closed_after_failure(ctx)
        raise errno_fail(ctx, exc.errno) from None
    except tls.TlsError as exc:
        module.chip_log(f"at-net: failed to create ssl connection: {exc}")
        _closed_after_failure(ctx)
        raise errno_fail(ctx, exc.code) from None
    link = t.links[link_id]
    if kind in DGRAM_KINDS:
        module.chip_log(f"at-net: local port: {link.local_port}")
        module.chip_log(f"at-net: change type: {link.udp_mode}")
    ctx.raw(t.fmt_connect(link))


def _closed_after_failure(ctx: CommandContext) -> None:
    # ESP8266 1.x firmware follows a failed CIPSTART with CLOSED
    if ctx.module.generation == 1:
        ctx.after(lambda: ctx.module.urc("CLOSED"))


cipstart = command("+CIPSTART", group="tcpip", doc=f"{DOC}#cmd-START")


@cipstart.set()
async def _cipstart(ctx: CommandContext, args: Args) -> None:
    await _start(ctx, args, auto_id=False)


cipstartex = command("+CIPSTARTEX", group="tcpip", doc=f"{DOC}#cmd-STARTEX")


@cipstartex.set()
async def _cipstartex(ctx: CommandContext, args: Args) -> None:
    await _start(ctx, args, auto_id=True)


# ---------------------------------------------------------------- AT+CIPCLOSE
cipclose = command("+CIPCLOSE", group="tcpip", doc=f"{DOC}#cmd-CLOSE")


def _close_line(t: LinkTable, link: Link) -> str:
    return f"{link.id},CLOSED" if t.mux else "CLOSED"


@cipclose.execute
async def _cipclose_x(ctx: CommandContext) -> None:
    t = links_of(ctx)
    if t.mux:
        ctx.module.chip_log("at-net: MUX=1")
        raise ExecFail()
    link = t.links.get(0)
    if link is None:
        raise ExecFail()
    link.close()
    ctx.line("CLOSED")


@cipclose.set(Int("link_id", lo=0))
async def _cipclose_s(ctx: CommandContext, link_id: int) -> None:
    t = links_of(ctx)
    if link_id > t.max_links:
        ctx.module.chip_log(f"at-net: link_id:{link_id}, max:{t.max_links}")
        raise ParamInvalid(0)
    if link_id == t.max_links:
        for each in sorted(t.links.values(), key=lambda lk: lk.id):
            each.close()
            ctx.line(_close_line(t, each))
        return
    link = t.links.get(link_id)
    if link is None:
        if ctx.module.generation == 1:
            raise ExecFail(message="link is not valid")
        raise ExecFail()
    link.close()
    ctx.line(_close_line(t, link))


# --------------------------------------------------------------- AT+CIPSERVER
cipserver = command("+CIPSERVER", group="tcpip", doc=f"{DOC}#cmd-SERVER")


@cipserver.query
async def _cipserver_q(ctx: CommandContext) -> None:
    s = links_of(ctx).server
    if s is None:
        ctx.info("+CIPSERVER", 0)
    else:
        ctx.info("+CIPSERVER", 1, s.port, s.kind, s.ca_enable, s.netif)


@cipserver.set()
async def _cipserver_s(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    t = links_of(ctx)
    args.expect_count(1, 5)
    mode = args.int(0, 0, 1)
    if mode == 0:
        args.expect_count(1, 2)
        close_all = args.int(1, 0, 1, default=0)
        if t.server is None:
            return
        for link in t.stop_server(bool(close_all)):
            ctx.line(_close_line(t, link))
        return
    port = args.int(1, 1, 65535, default=333)
    kind = args.str(2, text=True, default="TCP")
    if kind not in ("TCP", "TCPv6", "SSL", "SSLv6"):
        raise ParamInvalid(2)
    ca_enable = args.int(3, 0, 1, default=0)
    netif_sel = args.int(4, 0, 3, default=0)
    if t.mux == 0:
        module.chip_log("at-net: MUX=0")
        raise ExecFail()
    if t.server is not None:
        if t.server.port == port and t.server.kind == kind:
            module.chip_log("at-net: no change")
            return
        module.chip_log("at-net: server has already been started")
        raise ExecFail()
    if t.ipmode == 1 and t.links:
        module.chip_log("at-net: shouldn't create server with existed client and cipmode=1")
        raise ExecFail()
    if t.ipmode == 1 and t.server_maxconn > 1:
        module.chip_log(f"at-net: shouldn't create server with maxconn:{t.server_maxconn} and cipmode=1")
        raise ExecFail()
    if kind.endswith("v6") and not ipv6_enabled(ctx):
        raise ExecFail()
    try:
        await start_server(t, port, kind, ca_enable, netif_sel)
    except OSError as exc:
        module.chip_log(f"at-net: failed to create server, errno:0x{exc.errno or 0:x}")
        raise errno_fail(ctx, exc.errno or 0) from None
    except tls.TlsError as exc:
        module.chip_log(f"at-net: create server session failed: {exc}")
        raise ExecFail() from None


cipservermaxconn = command("+CIPSERVERMAXCONN", group="tcpip", doc=f"{DOC}#cmd-SERVERMAX")


@cipservermaxconn.query
async def _cipservermaxconn_q(ctx: CommandContext) -> None:
    ctx.info("+CIPSERVERMAXCONN", links_of(ctx).server_maxconn)


@cipservermaxconn.set(Int("num", lo=1))
async def _cipservermaxconn_s(ctx: CommandContext, num: int) -> None:
    t = links_of(ctx)
    if num > t.max_links:
        raise ParamInvalid(0)
    t.server_maxconn = num


# ------------------------------------------------------------------ AT+CIPSTO
cipsto = command("+CIPSTO", group="tcpip", doc=f"{DOC}#cmd-STO")


@cipsto.query
async def _cipsto_q(ctx: CommandContext) -> None:
    ctx.info("+CIPSTO", links_of(ctx).server_timeout)


@cipsto.set(Int("time", lo=0, hi=7200))
async def _cipsto_s(ctx: CommandContext, seconds: int) -> None:
    t = links_of(ctx)
    t.server_timeout = seconds
    for link in t.links.values():
        if link.server:
            if link.sto_handle is not None:
                link.sto_handle.cancel()
                link.sto_handle = None
            arm_timeout(link)


# ---------------------------------------------------------------- AT+CIPSTATE
def _state_fields(link: Link) -> tuple[object, ...]:
    return (link.id, link.kind, link.remote_ip, link.remote_port, link.local_port, int(link.server))


def _live(t: LinkTable) -> list[Link]:
    return sorted((lk for lk in t.links.values() if not lk.peer_closed), key=lambda lk: lk.id)


cipstate = command("+CIPSTATE", group="tcpip", doc=f"{DOC}#cmd-IPSTATE")


@cipstate.query
async def _cipstate_q(ctx: CommandContext) -> None:
    for link in _live(links_of(ctx)):
        ctx.info("+CIPSTATE", *_state_fields(link))


cipstatus = command("+CIPSTATUS", group="tcpip", doc=f"{DOC}#cmd-STATUS")


@cipstatus.execute
async def _cipstatus(ctx: CommandContext) -> None:
    """Deprecated, but old drivers poll it: ``STATUS:<stat>`` then one line per link."""
    t = links_of(ctx)
    netif = ctx.module.service(NetIf)
    live = _live(t)
    if t.ever_linked and "cipstatus_stale" in ctx.module.quirks:
        # the quirk: once a link was made, status 3 stays, after the links close
        # and even after Wi-Fi is lost
        stat = 3
    elif STA not in netif.interfaces:
        stat = 5 if ctx.module.vars.get("wifi_sta_started", True) else 0
    elif live:
        stat = 3
    elif t.ever_linked:
        stat = 4
    else:
        stat = 2
    ctx.line(f"STATUS:{stat}")
    for link in live:
        ctx.info("+CIPSTATUS", *_state_fields(link))


# ------------------------------------------------------------------ AT+CIFSR
cifsr = command("+CIFSR", group="tcpip", doc=f"{DOC}#cmd-IFSR")


@cifsr.execute
async def _cifsr(ctx: CommandContext) -> None:
    module = ctx.module
    netif = module.service(NetIf)
    wifi_mode = int(module.settings.get("wifi", "mode", 1) or 0)
    v6 = ipv6_enabled(ctx)
    rows: list[tuple[str, str]] = []
    if wifi_mode & 2 or AP in netif.interfaces:
        rows.append(("APIP", netif.address(AP) or "0.0.0.0"))
        if v6:
            rows += [("APIP6LL", ip) for ip in netif.ipv6.get(AP, [])[:1]]
        rows.append(("APMAC", netif.mac(AP)))
    if wifi_mode & 1 or STA in netif.interfaces:
        rows.append(("STAIP", netif.address(STA) or "0.0.0.0"))
        if v6:
            v6s = netif.ipv6.get(STA, [])
            rows += [("STAIP6LL", ip) for ip in v6s if ip.lower().startswith("fe80")][:1]
            rows += [("STAIP6GL", ip) for ip in v6s if not ip.lower().startswith("fe80")][:1]
        rows.append(("STAMAC", netif.mac(STA)))
    if ETH in netif.interfaces:
        rows.append(("ETHIP", netif.address(ETH) or "0.0.0.0"))
        rows.append(("ETHMAC", netif.mac(ETH)))
    for name, value in rows:
        ctx.line(f'+CIFSR:{name},"{value}"')


# ---------------------------------------------------------------- AT+CIPDINFO
cipdinfo = command("+CIPDINFO", group="tcpip", doc=f"{DOC}#cmd-IPDINFO")


@cipdinfo.query
async def _cipdinfo_q(ctx: CommandContext) -> None:
    ctx.line(f"+CIPDINFO:{'true' if links_of(ctx).dinfo else 'false'}")


@cipdinfo.set(Int("mode", lo=0, hi=1))
async def _cipdinfo_s(ctx: CommandContext, mode: int) -> None:
    links_of(ctx).dinfo = mode


# ------------------------------------------------------------------- AT+CIPV6
cipv6 = command("+CIPV6", group="tcpip", doc=f"{DOC}#cmd-IPV6")


@cipv6.query
async def _cipv6_q(ctx: CommandContext) -> None:
    ctx.info("+CIPV6", int(ipv6_enabled(ctx)))


@cipv6.set(Int("enable", lo=0, hi=1))
async def _cipv6_s(ctx: CommandContext, enable: int) -> None:
    ctx.module.settings.set("tcpip", "ipv6", enable, persist=ctx.persist)


# ---------------------------------------------------------------- AT+CIPDOMAIN
cipdomain = command("+CIPDOMAIN", group="tcpip", doc=f"{DOC}#cmd-DOMAIN")


@cipdomain.set()
async def _cipdomain(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    args.expect_count(1, 4)
    name = args.str(0, text=True)
    if not name or len(name.encode()) > 64:
        raise ParamLength(0)
    network = args.int(1, 1, 3, default=1)
    timeout = args.int(2, 0, 60000, default=0)
    show_all = args.int(3, 0, 1, default=0)
    netif = module.service(NetIf)
    if not netif.online:
        raise ExecFail()
    family = socket.AF_INET6 if network == 3 else socket.AF_INET
    try:
        addr = await module.clock.wait_for(netif.resolve(name, family), (timeout / 1000) if timeout else 20.0)
    except (LookupError, TimeoutError):
        module.chip_log(f"at-net: unknown host: {name}")
        raise dns_fail(ctx) from None
    if network == 3 and ":" not in addr:
        raise ExecFail()
    del show_all  # one address per name in the world's table and loopback resolvers
    if module.generation >= 3:
        ctx.line(f'+CIPDOMAIN:"{addr}"')
    else:
        ctx.line(f"+CIPDOMAIN:{addr}")


# ----------------------------------------------------------- AT+CIPCONNPERSIST
cipconnpersist = command("+CIPCONNPERSIST", group="tcpip", doc=f"{DOC}#cmd-CONNPERSIST")


@cipconnpersist.query
async def _cipconnpersist_q(ctx: CommandContext) -> None:
    t = links_of(ctx)
    persist = ctx.module.settings.get("tcpip", "connpersist", {}) or {}
    ctx.info("+CIPCONNPERSIST", *(int(persist.get(str(i), 0)) for i in range(t.max_links)))


@cipconnpersist.set()
async def _cipconnpersist_s(ctx: CommandContext, args: Args) -> None:
    t = links_of(ctx)
    if t.mux:
        args.expect_count(2, 2)
        link_id = args.int(0, 0, t.max_links)
        value = args.int(1, 0, 1)
    else:
        args.expect_count(1, 1)
        link_id, value = 0, args.int(0, 0, 1)
    persist = dict(ctx.module.settings.get("tcpip", "connpersist", {}) or {})
    for i in range(t.max_links) if link_id == t.max_links else [link_id]:
        persist[str(i)] = value
    ctx.module.settings.set("tcpip", "connpersist", persist, persist=False)


__all__ = ["AtError", "errno_fail", "links_of", "ssl_config"]
