"""AT+SYSMSGFILTER and AT+SYSMSGFILTERCFG (Basic_AT_Commands.rst).

``AT+SYSMSGFILTERCFG=1,<head_len>,<tail_len>[,<cflags>]`` (add) and ``=2,...``
(delete) print ``OK`` and ``>``, take exactly ``head_len + tail_len`` bytes (the
head pattern, then the tail pattern), compile them and answer ``OK`` or
``ERROR``. The query lists ``+SYSMSGFILTERCFG:<index>,"<head>","<tail>",<cflags>``
with the patterns as raw bytes: the firmware prints the compilation flags after
the patterns (its format string is ``%d,"%s","%s",%d``), the spec's listing
omits them. Filtering itself is in ``services/msgfilter.py``.
"""

from __future__ import annotations

from esp_at_sim.at.events import Raw
from esp_at_sim.at.params import Args, Int
from esp_at_sim.commands.basic import sysmsgfilter, sysmsgfiltercfg
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.msgfilter import FilterPatternError, MessageFilter, MessageFilters

CLEAR, ADD, DELETE = 0, 1, 2
PATTERN_MAX = 64


@sysmsgfilter.query
async def _sysmsgfilter_q(ctx: CommandContext) -> None:
    ctx.info("+SYSMSGFILTER", int(ctx.module.service(MessageFilters).enabled))


@sysmsgfilter.set(Int("enable", lo=0, hi=1))
async def _sysmsgfilter_s(ctx: CommandContext, enable: int) -> None:
    filters = ctx.module.service(MessageFilters)
    # the OK of this command is already filtered when it switches filtering on
    filters.enable(bool(enable))


@sysmsgfiltercfg.query
async def _sysmsgfiltercfg_q(ctx: CommandContext) -> None:
    for i, f in enumerate(ctx.module.service(MessageFilters).filters):
        ctx.info("+SYSMSGFILTERCFG", i, Raw(b'"' + f.head + b'"'), Raw(b'"' + f.tail + b'"'), f.cflags)


@sysmsgfiltercfg.set()
async def _sysmsgfiltercfg_s(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    filters = module.service(MessageFilters)
    op = args.int(0, CLEAR, DELETE)
    if op == CLEAR:
        if len(args) != 1:
            raise ParamCount(1, len(args))
        filters.clear()
        return
    args.expect_count(3, 4)
    head_len = args.int(1, 0, PATTERN_MAX)
    tail_len = args.int(2, 0, PATTERN_MAX)
    if head_len == 0 and tail_len == 0:
        raise ParamInvalid(2)
    cflags = args.int(3, 0, 7, default=0)
    got = await ctx.prompt(head_len + tail_len)
    if not got.complete:
        raise ExecFail()
    module.chip_log(f"I at-base: recv {len(got.data)} bytes")
    head, tail = got.data[:head_len], got.data[head_len:]
    try:
        flt = MessageFilter.compile(head, tail, cflags)
    except FilterPatternError as exc:
        module.chip_log(f"E at-base: {exc}")
        raise ExecFail() from None
    if op == ADD:
        filters.add(flt)
    elif not filters.remove(flt):
        raise ExecFail()
