"""The user partitions of a module's flash, byte for byte (AT+SYSFLASH).

Theory of operation
-------------------
Flash is NOR flash: erasing sets whole 4 KiB sectors to 0xFF, programming can
only clear bits, so a write over data that was not erased leaves the AND of
old and new bytes (no error, exactly what the chip does). Partitions come from
the chip profile; their bytes are kept per module, in memory or, with a state
directory, in ``<state_dir>/<name>.flash/<partition>.bin`` so they survive
restarts like flash survives a power cycle.

Two partitions have a second, structured view that must agree with the raw
bytes:

* ``mfg_nvs`` holds the manufacturing NVS that AT+SYSMFG edits. Its raw bytes
  are an NVS image of those key-value items (``nvs_image.py``, the layout the
  IDF generator produces). Raw writes and erases are parsed back into the
  items; an AT+SYSMFG change makes the next raw read show a rebuilt image.
* ``fs_storage`` holds the file system of AT+FS. Its files are kept as files,
  so its raw bytes are not a LittleFS image; erasing the whole partition
  deletes the files, as reformatting would.
"""

from __future__ import annotations

import hashlib
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from esp_at_sim.device.nvs_image import ImageFull, Item, build_image, parse_image
from esp_at_sim.device.profiles import Partition

if TYPE_CHECKING:
    from esp_at_sim.device.module import Module

SECTOR = 4096
MFG_NVS = "mfg_nvs"
FS_STORAGE = "fs_storage"


class FlashError(Exception):
    """An operation the flash driver refuses (bounds, alignment)."""


def _mfg_items(module: Module) -> list[Item]:
    mfg = module.nvs.mfg
    items = []
    for ns in mfg.namespaces():
        for key, typ in mfg.keys(ns):
            got = mfg.get_typed(ns, key)
            if got is not None and 1 <= int(typ) <= 8:
                items.append(Item(ns, key, got[0], got[1]))
    return items


def _fingerprint(items: list[Item]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(repr((it.namespace, it.key, int(it.type), it.value)).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


class Flash:
    """The user partitions of one module."""

    def __init__(self, module: Module) -> None:
        self.module = module
        state = module.config.state_dir
        self.directory = None if state is None else Path(state) / f"{module.name}.flash"
        self._images: dict[str, bytearray] = {}
        self._mfg_print: str | None = None

    # ----------------------------------------------------------- partitions
    @property
    def partitions(self) -> tuple[Partition, ...]:
        return self.module.profile.partitions

    def partition(self, name: str) -> Partition | None:
        for p in self.partitions:
            if p.name == name:
                return p
        return None

    def _path(self, name: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{name}.bin"

    def _image(self, part: Partition) -> bytearray:
        img = self._images.get(part.name)
        if img is None:
            path = self._path(part.name)
            if path is not None and path.exists():
                raw = path.read_bytes()
                img = bytearray(raw[: part.size].ljust(part.size, b"\xff"))
                marker = path.with_suffix(".nvs")
                if part.name == MFG_NVS and marker.exists():
                    self._mfg_print = marker.read_text().strip()
            else:
                img = bytearray(b"\xff" * part.size)
            self._images[part.name] = img
        if part.name == MFG_NVS:
            self._sync_mfg(part, img)
        return img

    def _store(self, part: Partition) -> None:
        path = self._path(part.name)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(self._images[part.name]))
        tmp.replace(path)
        if part.name == MFG_NVS and self._mfg_print is not None:
            path.with_suffix(".nvs").write_text(self._mfg_print)

    # ------------------------------------------------------------ mfg_nvs
    def _sync_mfg(self, part: Partition, img: bytearray) -> None:
        """Rebuild the raw image when AT+SYSMFG changed the items since."""
        items = _mfg_items(self.module)
        fp = _fingerprint(items)
        if fp == self._mfg_print:
            return
        try:
            img[:] = build_image(items, part.size)
        except ImageFull:
            self.module.chip_log("E nvs: mfg_nvs items do not fit the partition")
            return
        self._mfg_print = fp
        self._store(part)

    def _reload_mfg(self, img: bytearray) -> None:
        """Raw bytes changed: what NVS finds in them is what AT+SYSMFG sees now."""
        items = parse_image(bytes(img))
        mfg = self.module.nvs.mfg
        with self.module.nvs.transaction():
            mfg.erase()
            for it in items:
                mfg.set(it.namespace, it.key, it.value, it.type)
        self._mfg_print = _fingerprint(_mfg_items(self.module))

    # ---------------------------------------------------------- operations
    def _check(self, part: Partition, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > part.size:
            raise FlashError(f"{part.name}: offset 0x{offset:x} + length 0x{length:x} out of range 0x{part.size:x}")

    def read(self, name: str, offset: int, length: int) -> bytes:
        part = self._need(name)
        self._check(part, offset, length)
        return bytes(self._image(part)[offset : offset + length])

    def erase(self, name: str, offset: int = 0, length: int | None = None) -> None:
        part = self._need(name)
        length = part.size - offset if length is None else length
        self._check(part, offset, length)
        if offset % SECTOR or length % SECTOR:
            raise FlashError(f"{part.name}: erase range must be aligned to 0x{SECTOR:x}")
        img = self._image(part)
        img[offset : offset + length] = b"\xff" * length
        if part.name == MFG_NVS:
            self._reload_mfg(img)
        elif part.name == FS_STORAGE and offset == 0 and length == part.size:
            from esp_at_sim.services.fs import volume

            vol = volume(self.module)
            for f in vol.names():
                vol.delete(f, missing_ok=True)
        self._store(part)

    def write(self, name: str, offset: int, data: bytes) -> None:
        part = self._need(name)
        self._check(part, offset, len(data))
        img = self._image(part)
        n = len(data)
        # programming only clears bits: the result is the AND of old and new
        old = int.from_bytes(img[offset : offset + n], "little")
        img[offset : offset + n] = (old & int.from_bytes(data, "little")).to_bytes(n, "little")
        if part.name == MFG_NVS:
            self._reload_mfg(img)
        self._store(part)

    def _need(self, name: str) -> Partition:
        part = self.partition(name)
        if part is None:
            raise FlashError(f"no {name} partition")
        return part


_FLASH: weakref.WeakKeyDictionary[Module, Flash] = weakref.WeakKeyDictionary()


def flash(module: Module) -> Flash:
    """The module's flash (kept across reboots)."""
    f = _FLASH.get(module)
    if f is None:
        f = Flash(module)
        _FLASH[module] = f
    return f
