"""ESP-IDF NVS partition images: build one from key-value items and read one back.

Theory of operation
-------------------
Reading the ``mfg_nvs`` partition with AT+SYSFLASH must give what a chip
holds: an NVS image in ESP-IDF's format (version 2), the same bytes
``nvs_partition_gen.py`` produces for the items. Writing an image with
AT+SYSFLASH must change what AT+SYSMFG reads. This module converts between
the two.

Layout: 4096-byte pages. A page starts with a 32-byte header (state, sequence
number, version 0xFE, CRC32 of bytes 4-27 at 28), then a 32-byte bitmap of
two bits per entry (11 empty, 10 written, 00 erased), then 126 entries of 32
bytes: namespace index, type, span, chunk index, CRC32 (of bytes 0-3 and
8-31), a 16-byte key and 8 data bytes. Namespaces are entries of namespace 0
whose value is their index. Strings and blob chunks put size and data CRC in
the data field and the bytes in the following ``span - 1`` entries; blobs are
written as data chunks plus an index entry. CRCs are ``zlib.crc32(x, 0xFFFFFFFF)``
as in the IDF tools.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from esp_at_sim.device.nvs import NvsType

PAGE = 4096
ENTRIES = 126
ENTRY = 32
VERSION2 = 0xFE
STATE_EMPTY = 0xFFFFFFFF
STATE_ACTIVE = 0xFFFFFFFE
STATE_FULL = 0xFFFFFFFC
STATE_FREEING = 0xFFFFFFF8
CHUNK_ANY = 0xFF

T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_U64, T_I64 = 0x01, 0x11, 0x02, 0x12, 0x04, 0x14, 0x08, 0x18
T_STR, T_BLOB_V1, T_BLOB_DATA, T_BLOB_IDX = 0x21, 0x41, 0x42, 0x48

_INT_TYPES: dict[NvsType, tuple[int, str]] = {
    NvsType.U8: (T_U8, "<B"),
    NvsType.I8: (T_I8, "<b"),
    NvsType.U16: (T_U16, "<H"),
    NvsType.I16: (T_I16, "<h"),
    NvsType.U32: (T_U32, "<I"),
    NvsType.I32: (T_I32, "<i"),
}
_BY_CODE = {code: (typ, fmt) for typ, (code, fmt) in _INT_TYPES.items()}


def crc32(data: bytes) -> int:
    return zlib.crc32(data, 0xFFFFFFFF) & 0xFFFFFFFF


@dataclass(frozen=True)
class Item:
    namespace: str
    key: str
    type: NvsType
    value: Any


class ImageFull(Exception):
    """The items do not fit into the partition."""


# ------------------------------------------------------------------- building
class _Writer:
    def __init__(self, size: int) -> None:
        self.pages = max(1, size // PAGE)
        self.image = bytearray(b"\xff" * (self.pages * PAGE))
        self.page = 0
        self.slot = 0

    def _next_page(self) -> None:
        self._close_page(STATE_FULL)
        self.page += 1
        self.slot = 0
        if self.page >= self.pages:
            raise ImageFull("the items do not fit into the partition")

    def _close_page(self, state: int) -> None:
        base = self.page * PAGE
        header = bytearray(b"\xff" * 32)
        struct.pack_into("<II", header, 0, state, self.page)
        header[8] = VERSION2
        struct.pack_into("<I", header, 28, crc32(bytes(header[4:28])))
        self.image[base : base + 32] = header

    def _mark(self, slot: int) -> None:
        index = self.page * PAGE + 32 + slot // 4
        self.image[index] &= ~(0b01 << ((slot % 4) * 2)) & 0xFF  # 11 -> 10: written

    def free_slots(self) -> int:
        return ENTRIES - self.slot

    def entry(self, ns: int, code: int, span: int, chunk: int, key: str, data: bytes, payload: bytes = b"") -> None:
        if span > self.free_slots():
            self._next_page()
        e = bytearray(b"\xff" * ENTRY)
        e[0], e[1], e[2], e[3] = ns, code, span, chunk
        raw_key = key.encode("utf-8")[:15]
        e[8:24] = raw_key + b"\0" * (16 - len(raw_key))
        e[24 : 24 + len(data)] = data
        struct.pack_into("<I", e, 4, crc32(bytes(e[0:4] + e[8:32])))
        base = self.page * PAGE + 64 + self.slot * ENTRY
        self.image[base : base + ENTRY] = e
        if payload:
            padded = payload + b"\xff" * (-len(payload) % ENTRY)
            self.image[base + ENTRY : base + ENTRY + len(padded)] = padded
        for k in range(span):
            self._mark(self.slot + k)
        self.slot += span

    def finish(self) -> bytes:
        self._close_page(STATE_ACTIVE)
        return bytes(self.image)


def _var_data(payload: bytes) -> bytes:
    return struct.pack("<HHI", len(payload), 0xFFFF, crc32(payload))


def build_image(items: Iterable[Item], size: int) -> bytes:
    """An NVS image of ``size`` bytes holding ``items`` in order."""
    w = _Writer(size)
    namespaces: dict[str, int] = {}
    for item in items:
        ns = namespaces.get(item.namespace)
        if ns is None:
            ns = len(namespaces) + 1
            namespaces[item.namespace] = ns
            w.entry(0, T_U8, 1, CHUNK_ANY, item.namespace, bytes([ns]))
        if item.type.is_int:
            code, fmt = _INT_TYPES[item.type]
            w.entry(ns, code, 1, CHUNK_ANY, item.key, struct.pack(fmt, int(item.value)))
        elif item.type is NvsType.STR:
            value = item.value.encode("utf-8", "surrogateescape") if isinstance(item.value, str) else item.value
            payload = bytes(value) + b"\0"
            w.entry(ns, T_STR, 1 + -(-len(payload) // ENTRY), CHUNK_ANY, item.key, _var_data(payload), payload)
        elif item.type is NvsType.BLOB:
            data = bytes(item.value)
            chunks = 0
            offset = 0
            while True:
                if w.free_slots() < 2:
                    w._next_page()
                room = (w.free_slots() - 1) * ENTRY
                part = data[offset : offset + room]
                w.entry(ns, T_BLOB_DATA, 1 + -(-len(part) // ENTRY), chunks, item.key, _var_data(part), part)
                chunks += 1
                offset += len(part)
                if offset >= len(data):
                    break
            w.entry(ns, T_BLOB_IDX, 1, CHUNK_ANY, item.key, struct.pack("<IBBH", len(data), chunks, 0, 0xFFFF))
    return w.finish()


# -------------------------------------------------------------------- reading
def _state(bitmap: bytes, slot: int) -> int:
    return (bitmap[slot // 4] >> ((slot % 4) * 2)) & 0b11


def parse_image(image: bytes) -> list[Item]:
    """The items of an NVS image, in the order they were written; entries
    with a bad CRC, erased entries and pages that are not in use are skipped."""
    pages: list[tuple[int, int]] = []
    for p in range(len(image) // PAGE):
        base = p * PAGE
        state, seq = struct.unpack_from("<II", image, base)
        if state not in (STATE_ACTIVE, STATE_FULL, STATE_FREEING):
            continue
        (hcrc,) = struct.unpack_from("<I", image, base + 28)
        if hcrc != crc32(image[base + 4 : base + 28]):
            continue
        pages.append((seq, base))
    namespaces: dict[int, str] = {}
    found: dict[tuple[str, str], Item] = {}
    chunks: dict[tuple[int, str], dict[int, bytes]] = {}
    for _, base in sorted(pages):
        bitmap = image[base + 32 : base + 64]
        slot = 0
        while slot < ENTRIES:
            if _state(bitmap, slot) != 0b10:
                slot += 1
                continue
            off = base + 64 + slot * ENTRY
            e = image[off : off + ENTRY]
            ns, code, span, chunk = e[0], e[1], e[2], e[3]
            span = max(1, min(span, ENTRIES - slot))
            (ecrc,) = struct.unpack_from("<I", e, 4)
            slot += span
            if ecrc != crc32(e[0:4] + e[8:32]):
                continue
            key = e[8:24].split(b"\0", 1)[0].decode("utf-8", "replace")
            data = e[24:32]
            if ns == 0:
                if code == T_U8:
                    namespaces[data[0]] = key
                continue
            name = namespaces.get(ns)
            if name is None:
                continue
            if code in _BY_CODE:
                typ, fmt = _BY_CODE[code]
                (value,) = struct.unpack_from(fmt, data)
                found.pop((name, key), None)
                found[(name, key)] = Item(name, key, typ, value)
            elif code in (T_STR, T_BLOB_V1, T_BLOB_DATA):
                length, _, dcrc = struct.unpack_from("<HHI", data)
                payload = image[off + ENTRY : off + ENTRY + length]
                if len(payload) != length or crc32(payload) != dcrc:
                    continue
                if code == T_BLOB_DATA:
                    chunks.setdefault((ns, key), {})[chunk] = payload
                    continue
                found.pop((name, key), None)
                if code == T_STR:
                    text = payload[:-1] if payload.endswith(b"\0") else payload
                    found[(name, key)] = Item(name, key, NvsType.STR, text.decode("utf-8", "surrogateescape"))
                else:
                    found[(name, key)] = Item(name, key, NvsType.BLOB, payload)
            elif code == T_BLOB_IDX:
                total, count, start = struct.unpack_from("<IBB", data)
                parts = chunks.get((ns, key), {})
                if all(start + k in parts for k in range(count)):
                    blob = b"".join(parts[start + k] for k in range(count))
                    if len(blob) == total:
                        found.pop((name, key), None)
                        found[(name, key)] = Item(name, key, NvsType.BLOB, blob)
    return list(found.values())
