"""AT+SYSFLASH (Basic_AT_Commands.rst): the user partitions, raw.

* query: ``+SYSFLASH:"<partition>",<type>,<subtype>,0x<addr>,0x<size>`` per
  partition of the chip profile;
* ``=0,"<partition>"[,<offset>[,<length>]]`` erases (whole 4 KiB sectors;
  without offset and length the whole partition);
* ``=1,"<partition>",<offset>,<length>`` prints ``>``, takes the bytes and
  programs them (NOR flash: bits only go from 1 to 0, so write erased space);
* ``=2,"<partition>",<offset>,<length>`` prints ``+SYSFLASH:<length>,<data>``.

The buffer for a write or a read comes from the heap, so very large
single operations fail the way the spec warns about. See ``device/flash.py``
for how ``mfg_nvs`` stays in step with AT+SYSMFG.
"""

from __future__ import annotations

from esp_at_sim.at.events import Raw
from esp_at_sim.at.params import Args, Str
from esp_at_sim.at.render import Unquoted
from esp_at_sim.commands.basic import sysflash
from esp_at_sim.device.context import CommandContext
from esp_at_sim.device.flash import FlashError, flash
from esp_at_sim.device.profiles import Partition
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid

ERASE, WRITE, READ = 0, 1, 2


@sysflash.query
async def _sysflash_q(ctx: CommandContext) -> None:
    for p in ctx.module.profile.partitions:
        ctx.info("+SYSFLASH", p.name, p.type, p.subtype, Unquoted(f"0x{p.addr:x}"), Unquoted(f"0x{p.size:x}"))


def _partition(ctx: CommandContext, args: Args) -> Partition:
    name: str = args.get(1, Str("partition", max_len=16, text=True))
    part = flash(ctx.module).partition(name)
    if part is None:
        ctx.module.chip_log(f"E at-partition: no {name} partition")
        raise ExecFail()
    return part


def _range(args: Args, part: Partition, *, required: bool) -> tuple[int, int]:
    if required:
        offset = args.int(2, 0, 0x7FFFFFFF)
        length = args.int(3, 1, 0x7FFFFFFF)
    else:
        offset = args.int(2, 0, 0x7FFFFFFF, default=0)
        length = args.int(3, 1, 0x7FFFFFFF, default=None)
        if length is None:
            length = part.size - offset
    if offset >= part.size:
        raise ParamInvalid(2)
    if offset + length > part.size:
        raise ParamInvalid(3)
    return offset, length


@sysflash.set()
async def _sysflash_s(ctx: CommandContext, args: Args) -> None:
    module = ctx.module
    op = args.int(0, ERASE, READ)
    if op == ERASE:
        args.expect_count(2, 4)
    elif len(args) != 4:
        raise ParamCount(4, len(args))
    part = _partition(ctx, args)
    offset, length = _range(args, part, required=op != ERASE)
    store = flash(module)
    try:
        if op == ERASE:
            store.erase(part.name, offset, length)
        elif op == READ:
            with module.heap.alloc(length, "sysflash"):
                data = store.read(part.name, offset, length)
                ctx.info("+SYSFLASH", length, Raw(data))
        else:
            with module.heap.alloc(length, "sysflash"):
                got = await ctx.prompt(length)
                if not got.complete:
                    raise ExecFail()
                module.chip_log(f"I at-partition: recv {len(got.data)} bytes")
                store.write(part.name, offset, got.data)
    except FlashError as exc:
        module.chip_log(f"E at-partition: {exc}")
        raise ExecFail() from None
