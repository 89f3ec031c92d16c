"""TCP/IP AT commands: passive receive (TCP-IP_AT_Commands.rst, AT+CIPRECVTYPE).

In passive mode received data stays in the module (counted against its heap);
the host hears ``+IPD,<id>,<len>`` once, reads with AT+CIPRECVDATA and hears
the next notice only after a read. A TCP link whose buffer is full stops
reading its socket: the peer's window closes, nothing is lost. A UDP link keeps
datagrams apart: one AT+CIPRECVDATA returns at most one datagram, and what a
shorter read leaves of it is gone, as on the chip.

Formats differ between firmware generations (see the field reports):
``+CIPRECVDATA,<len>:<data>`` on 1.x, ``+CIPRECVDATA:<len>,<data>`` (with
``"<ip>",<port>,`` after AT+CIPDINFO=1) since 2.x; AT+CIPRECVLEN? shows -1 for
an unused link on 2.x/3.x and 0 on 1.x and 4.x.
"""

from __future__ import annotations

from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.commands.tcpip import links_of
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ExecFail, HeapExhausted
from esp_at_sim.services.links import RECV_WINDOW, Link, LinkTable

DOC = "TCP-IP_AT_Commands.rst"


def _set_mode(t: LinkTable, ids: list[int], mode: int, report: int | None) -> None:
    for i in ids:
        old = t.recv_mode(i)
        t.recv_modes[i] = mode
        if report is not None:
            t.len_report[i] = report
        link = t.links.get(i)
        if link is None or old == mode:
            continue
        if mode == 1 and link.buffered:
            link.notice_pending = True
            link.notified = False
        elif mode == 0:
            link.notified = False
            link.notice_pending = False
            if link.rx_alloc is not None:
                link.rx_alloc.free()
                link.rx_alloc = None
        if link.buffered or link.peer_closed:
            t.schedule(link)


# ------------------------------------------------------------- AT+CIPRECVTYPE
ciprecvtype = command("+CIPRECVTYPE", group="tcpip", doc=f"{DOC}#cmd-CIPRECVTYPE", generations=(3, 99))


@ciprecvtype.query
async def _ciprecvtype_q(ctx: CommandContext) -> None:
    t = links_of(ctx)
    for i in range(t.max_links) if t.mux else [0]:
        ctx.info("+CIPRECVTYPE", i, t.recv_mode(i))


@ciprecvtype.set()
async def _ciprecvtype_s(ctx: CommandContext, args: Args) -> None:
    t = links_of(ctx)
    if t.mux:
        args.expect_count(2, 3)
        link_id = args.int(0, 0, t.max_links)
        mode = args.int(1, 0, 1)
        report = args.int(2, 0, 1, default=None)
    else:
        args.expect_count(1, 2)
        link_id = 0
        mode = args.int(0, 0, 1)
        report = args.int(1, 0, 1, default=None)
    if t.ipmode == 1 and mode == 1:
        raise ExecFail()
    ids = list(range(t.max_links)) if link_id == t.max_links else [link_id]
    if link_id == t.max_links:
        t.recv_modes[-1] = mode
    _set_mode(t, ids, mode, report)


# -------------------------------------------------------------- AT+CIPRECVMODE
ciprecvmode = command("+CIPRECVMODE", group="tcpip", doc=f"{DOC}#cmd-CIPRECVTYPE")


@ciprecvmode.query
async def _ciprecvmode_q(ctx: CommandContext) -> None:
    ctx.info("+CIPRECVMODE", links_of(ctx).recv_mode(-1))


@ciprecvmode.set(Int("mode", lo=0, hi=1))
async def _ciprecvmode_s(ctx: CommandContext, mode: int) -> None:
    """The older, global form: every link, now and later."""
    t = links_of(ctx)
    if t.ipmode == 1 and mode == 1:
        raise ExecFail()
    _set_mode(t, [lk.id for lk in t.links.values()], mode, None)
    t.recv_modes.clear()
    t.recv_modes[-1] = mode


# -------------------------------------------------------------- AT+CIPRECVDATA
ciprecvdata = command("+CIPRECVDATA", group="tcpip", doc=f"{DOC}#cmd-CIPRECVDATA")


def _take(link: Link, n: int, keep_integrity: int) -> tuple[bytes, tuple[str, int]]:
    if link.is_udp:
        data, addr = link.datagrams[0]
        if len(data) > n and keep_integrity:
            link.table.module.chip_log(f"at-net: skip next read to preserve datagram integrity, next_len:{len(data)}")
            raise ExecFail()
        link.datagrams.popleft()
        link.dgram_bytes -= len(data)
        return data[:n], addr  # the rest of a datagram read short is lost
    out = bytes(link.rx[:n])
    del link.rx[:n]
    return out, link.remote


@ciprecvdata.set()
async def _ciprecvdata(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    t = links_of(ctx)
    if t.mux:
        args.expect_count(2, 3)
        link_id = args.int(0, 0, t.max_links - 1)
        n = args.int(1, 0, 0x7FFFFFFF)
        keep = args.int(2, 0, 1, default=0)
    else:
        args.expect_count(1, 2)
        link_id = 0
        n = args.int(0, 0, 0x7FFFFFFF)
        keep = args.int(1, 0, 1, default=0)
    link = t.links.get(link_id)
    if link is None or t.recv_mode(link_id) != 1 or n == 0:
        raise ExecFail()
    if not link.buffered:
        module.chip_log("at-net: no data")
        raise ExecFail()
    try:
        scratch = module.heap.alloc(min(n, link.buffered) + 128, "recvdata")
    except HeapExhausted as exc:
        module.chip_log(str(exc))
        raise ExecFail() from None
    try:
        data, addr = _take(link, n, keep)
    finally:
        scratch.free()
    if module.generation == 1:
        head = f"+CIPRECVDATA,{len(data)}:"
    elif t.dinfo:
        head = f'+CIPRECVDATA:{len(data)},"{addr[0]}",{addr[1]},'
    else:
        head = f"+CIPRECVDATA:{len(data)},"
    ctx.raw(head.encode() + data)
    link.notified = False
    link._account_rx()
    if link.buffered:
        link.notice_pending = True
    if link.buffered < RECV_WINDOW:
        link._maybe_resume(RECV_WINDOW)
    if link.buffered or link.peer_closed:
        t.schedule(link)


# -------------------------------------------------------------- AT+CIPRECVLEN
ciprecvlen = command("+CIPRECVLEN", group="tcpip", doc=f"{DOC}#cmd-CIPRECVLEN")


@ciprecvlen.query
async def _ciprecvlen_q(ctx: CommandContext) -> None:
    t = links_of(ctx)
    idle = -1 if ctx.module.generation in (2, 3) else 0
    values = []
    for i in range(t.max_links) if t.mux else [0]:
        link = t.links.get(i)
        values.append(idle if link is None else t.reported_len(link))
    ctx.info("+CIPRECVLEN", *values)
