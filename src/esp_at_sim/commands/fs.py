"""FileSystem AT commands (FS_AT_Commands.rst): AT+FS, AT+FSMOUNT.

Reply layouts follow the firmware: a read is ``+FS:<len>,<data>\\r\\n``, a size
``+FS:<size>``, a listing ``+FS:`` followed by each name and a space, the MD5
``+FS:<32 hex digits>``, the space query ``+FS:<free>,<total>``. A write
prints the ``>`` prompt, takes exactly ``<length>`` bytes and answers ``OK``.
"""

from __future__ import annotations

from esp_at_sim.at.params import Args, Int
from esp_at_sim.at.registry import command
from esp_at_sim.at.render import Unquoted
from esp_at_sim.device.context import CommandContext
from esp_at_sim.errors import ExecFail, ParamCount, ParamInvalid
from esp_at_sim.services.fs import FileVolume, FsError, FsMount, fs_type, valid_name

DELETE, WRITE, READ, SIZE, LIST, MD5, INFO = range(7)
# parameters each operation takes: type, operation, filename, offset, length
_COUNTS = {DELETE: 3, WRITE: 5, READ: 5, SIZE: 3, LIST: 3, MD5: 3, INFO: 2}

fs = command("+FS", group="fs", doc="FS_AT_Commands.rst#cmd-FS")


def _mount(ctx: CommandContext) -> FileVolume:
    try:
        return ctx.module.service(FsMount).mount()
    except FsError as exc:
        ctx.module.chip_log(f"E at-fs: {exc}")
        raise ExecFail() from None


@fs.set()
async def _fs(ctx: CommandContext, args: Args) -> None:
    typ = args.int(0, 0, 1)
    op = args.int(1, 0, 6)
    want = _COUNTS[op]
    if len(args) != want:
        raise ParamCount(want, len(args))
    if typ != fs_type(ctx.module):
        ctx.module.chip_log(f"E at-fs: invalid fs type (expected:{fs_type(ctx.module)}, saw:{typ})")
        raise ParamInvalid(0)
    name = args.str(2, max_len=255, text=True) if want >= 3 else ""
    vol = _mount(ctx)
    try:
        if op == INFO:
            ctx.info("+FS", vol.free, vol.total)
        elif op == LIST:
            if name not in (".", "/", "./"):
                raise FsError(f"opendir {name} failed")
            ctx.raw(b"+FS:" + b"".join(n.encode("utf-8", "surrogateescape") + b" " for n in vol.names()) + b"\r\n")
        elif op == DELETE:
            vol.delete(name)
        elif op == SIZE:
            ctx.info("+FS", vol.size(name))
        elif op == MD5:
            ctx.info("+FS", Unquoted(vol.md5(name)))
        elif op == READ:
            offset = args.int(3, 0, 0x7FFFFFFF)
            length = args.int(4, 1, 0x7FFFFFFF)
            size = vol.size(name)
            if offset >= size:
                raise FsError(f"fread failed, len: {length}")
            data = vol.read(name, offset, length)
            ctx.raw(f"+FS:{len(data)},".encode() + data + b"\r\n")
        else:
            await _write(ctx, vol, name, args)
    except FsError as exc:
        ctx.module.chip_log(f"E at-fs: {exc}")
        raise ExecFail() from None


async def _write(ctx: CommandContext, vol: FileVolume, name: str, args: Args) -> None:
    offset = args.int(3, 0, 0x7FFFFFFF)
    length = args.int(4, 1, 0x7FFFFFFF)
    if not valid_name(name):
        raise FsError(f"fopen {name} failed")
    if length > vol.free + (-vol.size(name) % 4096 if vol.exists(name) else 0):
        raise FsError(f"no enough space, data_len:{length} > free_size:{vol.free}")
    got = await ctx.prompt(length)
    if got.cancelled or not got.complete:
        raise FsError(f"fwrite failed, len: {len(got.data)}")
    vol.write(name, offset, got.data)


fsmount = command("+FSMOUNT", group="fs", doc="FS_AT_Commands.rst#cmd-FSMOUNT")


@fsmount.set(Int("mount", lo=0, hi=1))
async def _fsmount(ctx: CommandContext, mount: int) -> None:
    svc = ctx.module.service(FsMount)
    if mount:
        _mount(ctx)
    else:
        svc.unmount()
