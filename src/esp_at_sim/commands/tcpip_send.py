"""TCP/IP AT commands: sending (TCP-IP_AT_Commands.rst).

AT+CIPSEND with a length takes exactly that many bytes after ``>`` and answers
``Recv <n> bytes`` then ``SEND OK``; AT+CIPSENDEX ends early at ``\\0``;
AT+CIPSENDL streams any length with ``+CIPSENDL:`` progress; AT+CIPSEND with
no parameter enters passthrough (AT+CIPMODE=1), where the bytes are packed as
the firmware packs them: full 2920-byte packets at once, the rest after
AT+TRANSINTVL milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from esp_at_sim.at.events import DataReceived, Final, Prompt, Result
from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.commands.basic_trans import transmit_interval
from esp_at_sim.commands.tcpip import links_of
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ExecFail, ParamInvalid
from esp_at_sim.services.links import Link, LinkTable, SendFailed
from esp_at_sim.services.netif import NetIf
from esp_at_sim.services.passthrough import PassthroughSender

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module
    from esp_at_sim.world.net import Address

DOC = "TCP-IP_AT_Commands.rst"
SEND_MAX = 8192
RX_PAUSE = 64 * 1024  # unsent CIPSENDL bytes that make the module stop taking UART input


def _recv_line(n: int) -> bytes:
    return f"\r\nRecv {n} bytes\r\n".encode()


async def _target(ctx: CommandContext, args: Args, t: LinkTable, max_len: int) -> tuple[Link, int, Address | None]:
    """Parse ``[<link ID>,]<length>[,<"remote host">,<remote port>]``."""
    i = 1 if t.mux else 0
    args.expect_count(i + 1, i + 3)
    link_id = args.int(0, 0, t.max_links - 1) if t.mux else 0
    length = args.int(i, 0, max_len)
    dst: Address | None = None
    if args.present(i + 1) or args.present(i + 2):
        host = args.str(i + 1, text=True)
        port = args.int(i + 2, 0, 65535)
        dst = (host, port)
    if t.ipmode == 1:
        ctx.module.chip_log(f"at-net: IPMODE={t.ipmode}")
        raise ExecFail()
    link = t.links.get(link_id)
    if link is None or link.peer_closed:
        if ctx.module.generation == 1:
            raise ExecFail(message="link is not valid")
        raise ExecFail()
    if dst is not None:
        if not link.is_udp:
            raise ParamInvalid(i + 1)
        try:
            dst = (await ctx.module.service(NetIf).resolve(dst[0]), dst[1])
        except LookupError:
            raise ExecFail() from None
    if length <= 0:
        raise ParamInvalid(i)
    return link, length, dst


async def _send_counted(ctx: CommandContext, args: Args, zero_terminates: bool) -> Final:
    t = links_of(ctx)
    link, length, dst = await _target(ctx, args, t, SEND_MAX)
    data = await ctx.prompt(length, zero_terminates=zero_terminates)
    if data.cancelled:
        return Final(Result.SEND_CANCELED)
    ctx.raw(_recv_line(len(data.data)))
    try:
        await link.send(data.data, dst)
    except SendFailed as exc:
        ctx.module.chip_log(f"at-net: send failed, len:{len(data.data)} ({exc})")
        return Final(Result.SEND_FAIL)
    return Final(Result.SEND_OK)


# ----------------------------------------------------------------- AT+CIPSEND
cipsend = command("+CIPSEND", group="tcpip", doc=f"{DOC}#cmd-SEND")


@cipsend.set()
async def _cipsend_s(ctx: CommandContext, args: Args) -> Final:
    return await _send_counted(ctx, args, zero_terminates=False)


@cipsend.execute
async def _cipsend_x(ctx: CommandContext) -> Final:
    t = links_of(ctx)
    if t.ipmode != 1:
        ctx.module.chip_log("at-net: IPMODE=0")
        raise ExecFail()
    link = t.transparent_link()
    if link is None or link.peer_closed:
        raise ExecFail()
    if link.is_udp and link.udp_mode != 0:
        raise ExecFail()
    sender = PassthroughSender(ctx.module, t, link)
    return ctx.passthrough(sender)


cipsendex = command("+CIPSENDEX", group="tcpip", doc=f"{DOC}#cmd-SENDEX")


@cipsendex.set()
async def _cipsendex(ctx: CommandContext, args: Args) -> Final:
    return await _send_counted(ctx, args, zero_terminates=True)


# ---------------------------------------------------------------- AT+CIPSENDL
cipsendlcfg = command("+CIPSENDLCFG", group="tcpip", doc=f"{DOC}#cmd-SENDLCFG")


def _sendl_cfg(ctx: CommandContext) -> tuple[int, int]:
    cfg = ctx.module.vars.get("sendlcfg", (1024, 2920))
    return int(cfg[0]), int(cfg[1])


@cipsendlcfg.query
async def _cipsendlcfg_q(ctx: CommandContext) -> None:
    ctx.info("+CIPSENDLCFG", *_sendl_cfg(ctx))


@cipsendlcfg.set(Int("report_size", lo=100, hi=1 << 20), Int("transmit_size", None, lo=100, hi=2920))
async def _cipsendlcfg_s(ctx: CommandContext, report: int, transmit: int | None) -> None:
    ctx.module.vars["sendlcfg"] = (report, transmit if transmit is not None else _sendl_cfg(ctx)[1])


cipsendl = command("+CIPSENDL", group="tcpip", doc=f"{DOC}#cmd-SENDL")


@cipsendl.set()
async def _cipsendl(ctx: CommandContext, args: Args) -> Final:
    module = ctx.module
    t = links_of(ctx)
    link, length, dst = await _target(ctx, args, t, 0x7FFFFFFF)
    report_size, transmit_size = _sendl_cfg(ctx)
    interval = trans_interval(module)
    pending = bytearray()
    received = 0
    sent = 0
    next_report = report_size
    failed = False
    loop = asyncio.get_running_loop()
    flush_due: float | None = None

    async def push(data: bytes) -> None:
        nonlocal sent, next_report, failed
        if failed:
            return
        try:
            await link.send(data, dst)
        except SendFailed:
            failed = True
            return
        sent += len(data)
        while sent >= next_report:
            ctx.info("+CIPSENDL", next_report, received)
            next_report += report_size

    cancelled = False
    module.reply(Prompt(length, stream=True))
    getter: asyncio.Task[DataReceived] | None = None
    try:
        while True:
            if getter is None:
                getter = loop.create_task(module.next_data())
            timeout = None if flush_due is None else max(0.0, flush_due - loop.time())
            done, _ = await asyncio.wait({getter}, timeout=timeout)
            if not done:
                # no more bytes within AT+TRANSINTVL: what is there goes out
                flush_due = None
                chunk = bytes(pending)
                pending.clear()
                module.rx_ready.set()
                await push(chunk)
                continue
            ev = getter.result()
            getter = None
            if ev.data:
                received += len(ev.data)
                pending += ev.data
                while len(pending) >= transmit_size:
                    chunk = bytes(pending[:transmit_size])
                    del pending[:transmit_size]
                    await push(chunk)
                if len(pending) > RX_PAUSE:
                    module.rx_ready.clear()
                else:
                    module.rx_ready.set()
                if pending and flush_due is None:
                    flush_due = loop.time() + module.clock.real_seconds(interval / 1000)
            if ev.cancelled:
                cancelled = True
                break
            if ev.complete:
                break
    finally:
        if getter is not None:
            getter.cancel()
    module.rx_ready.set()
    if pending:
        await push(bytes(pending))
        pending.clear()
    if sent and sent != next_report - report_size:
        ctx.info("+CIPSENDL", sent, received)
    if cancelled:
        return Final(Result.SEND_CANCELLED)
    return Final(Result.SEND_FAIL if failed or sent < received else Result.SEND_OK)


def trans_interval(module: Module) -> int:
    """AT+TRANSINTVL in milliseconds (kept by the Basic chapter)."""
    return transmit_interval(module)


# ----------------------------------------------------------------- AT+CIPMODE
cipmode = command("+CIPMODE", group="tcpip", doc=f"{DOC}#cmd-IPMODE")


@cipmode.query
async def _cipmode_q(ctx: CommandContext) -> None:
    ctx.info("+CIPMODE", links_of(ctx).ipmode)


@cipmode.set(Int("mode", lo=0, hi=1))
async def _cipmode_s(ctx: CommandContext, mode: int) -> None:
    t = links_of(ctx)
    if mode == 1 and t.ipmode == 0:
        clients = [lk for lk in t.links.values() if not lk.server]
        if t.server is not None and clients:
            ctx.module.chip_log("at-net: shouldn't set cipmode with existed client and server")
            raise ExecFail()
        if len(clients) > 1:
            ctx.module.chip_log("at-net: shouldn't set cipmode with existed multiple clients")
            raise ExecFail()
        if t.server is not None and t.server_maxconn > 1:
            ctx.module.chip_log(f"at-net: shouldn't set cipmode with server maxconn: {t.server_maxconn}")
            raise ExecFail()
    t.ipmode = mode
    if mode == 0:
        # data that waited for passthrough now goes out as +IPD
        for link in t.links.values():
            if link.buffered:
                t.schedule(link)
