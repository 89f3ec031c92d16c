"""The module's file system: the ``fs_storage`` partition behind AT+FS.

Theory of operation
-------------------
Each module has one flat volume (only the root directory exists, as in the
firmware) whose capacity is the size of the chip profile's ``fs_storage``
partition. :class:`FileVolume` holds the files: in memory, or, when the module
has a state directory, as plain files under ``<state_dir>/<name>.fs/`` so they
survive restarts of the process the way flash survives a power cycle.

Space is counted the way LittleFS counts it: whole 4 KiB blocks per file plus
blocks the file system keeps for itself, so the free space a host reads with
``AT+FS=1,6`` moves in block steps and a write that does not fit fails as on
the chip.

:class:`FsMount` is the per-boot part: mounted or not (AT+FSMOUNT, or any
AT+FS, mounts), and the RAM the mounted file system holds on the heap.
"""

from __future__ import annotations

import hashlib
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from esp_at_sim.device.heap import Allocation

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

BLOCK = 4096
RESERVED_BLOCKS = 2  # superblock pair
NAME_MAX = 63  # LittleFS object names (64 with the terminator)
FATFS = 0
LITTLEFS = 1
# RAM a mounted volume holds (caches, wear-levelling for FATFS).
MOUNT_RAM = {FATFS: 9_200, LITTLEFS: 2_600}


class FsError(Exception):
    """An operation the file system refuses (no such file, no space...)."""


def valid_name(name: str) -> bool:
    if not name or len(name.encode()) > NAME_MAX:
        return False
    return not any(c in name for c in "/\\\0") and name not in (".", "..")


class FileVolume:
    """The files of one module's ``fs_storage`` partition."""

    def __init__(self, capacity: int, directory: Path | None) -> None:
        self.capacity = capacity
        self.directory = directory
        self._files: dict[str, bytearray] = {}
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for p in sorted(directory.iterdir()):
                if p.is_file():
                    self._files[p.name] = bytearray(p.read_bytes())

    # ------------------------------------------------------------- space
    @staticmethod
    def _blocks(size: int) -> int:
        return max(1, -(-size // BLOCK))

    @property
    def total(self) -> int:
        return self.capacity

    @property
    def used(self) -> int:
        if self.capacity == 0:
            return 0
        return (RESERVED_BLOCKS + sum(self._blocks(len(d)) for d in self._files.values())) * BLOCK

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.used)

    # -------------------------------------------------------------- files
    def names(self) -> list[str]:
        return list(self._files)

    def exists(self, name: str) -> bool:
        return name in self._files

    def size(self, name: str) -> int:
        try:
            return len(self._files[name])
        except KeyError:
            raise FsError(f"stat {name} failed") from None

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            data = self._files[name]
        except KeyError:
            raise FsError(f"fopen {name} failed") from None
        end = len(data) if length is None else offset + length
        return bytes(data[offset:end])

    def write(self, name: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset``; a gap past the end is filled with zeros."""
        if not valid_name(name):
            raise FsError(f"fopen {name} failed")
        old = self._files.get(name, bytearray())
        new_size = max(len(old), offset + len(data))
        grow = self._blocks(new_size) - (self._blocks(len(old)) if name in self._files else 0)
        if grow * BLOCK > self.free:
            raise FsError(f"no enough space, data_len:{len(data)} > free_size:{self.free}")
        buf = bytearray(old)
        if len(buf) < offset:
            buf += bytes(offset - len(buf))
        buf[offset : offset + len(data)] = data
        self._files[name] = buf
        self._store(name)

    def put(self, name: str, data: bytes) -> None:
        """Replace a whole file (control API, scenario preload)."""
        self.delete(name, missing_ok=True)
        self.write(name, 0, data)

    def delete(self, name: str, *, missing_ok: bool = False) -> None:
        if self._files.pop(name, None) is None:
            if missing_ok:
                return
            raise FsError(f"remove {name} failed")
        if self.directory is not None:
            (self.directory / name).unlink(missing_ok=True)

    def md5(self, name: str) -> str:
        return hashlib.md5(self.read(name)).hexdigest()

    def _store(self, name: str) -> None:
        if self.directory is None:
            return
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(bytes(self._files[name]))
        tmp.replace(self.directory / name)


_VOLUMES: weakref.WeakKeyDictionary[Module, FileVolume] = weakref.WeakKeyDictionary()


def fs_partition_size(module: Module) -> int:
    for part in module.profile.partitions:
        if part.name == "fs_storage":
            return part.size
    return 0


def volume(module: Module) -> FileVolume:
    """The module's volume (kept across reboots, like flash)."""
    vol = _VOLUMES.get(module)
    if vol is None:
        state = module.config.state_dir
        directory = None if state is None else Path(state) / f"{module.name}.fs"
        vol = FileVolume(fs_partition_size(module), directory)
        _VOLUMES[module] = vol
    return vol


def fs_type(module: Module) -> int:
    """The file system the firmware was built with: LittleFS since AT 4.x, FATFS before."""
    return LITTLEFS if module.generation >= 4 else FATFS


class FsMount:
    """Per-boot mount state: ``module.service(FsMount)``."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self._ram: Allocation | None = None

    @property
    def mounted(self) -> bool:
        return self._ram is not None

    def mount(self) -> FileVolume:
        if fs_partition_size(self.module) == 0:
            raise FsError("no fs_storage partition")
        if self._ram is None:
            self._ram = self.module.heap.alloc(MOUNT_RAM[fs_type(self.module)], "fs_mount")
        return volume(self.module)

    def unmount(self) -> None:
        if self._ram is not None:
            self._ram.free()
            self._ram = None
