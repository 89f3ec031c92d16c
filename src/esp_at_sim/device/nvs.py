"""Non-volatile storage: one SQLite file per module, NVS-style partitions.

Theory of operation
-------------------
Like ESP-IDF's NVS, values live in partitions (``nvs`` for the user
configuration, ``mfg_nvs`` for manufacturing data), namespaces and keys, each
with a type (the eight types of AT+SYSMFG, plus a JSON type for the emulator's
own settings). Every write is one SQLite transaction, so a crash leaves either
the old or the new value, and the file survives restarts of the process.

:class:`NvsPartition` is the view commands use; :class:`Nvs` owns the file.
``Nvs(None)`` keeps everything in memory (tests, throwaway modules).
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Any


class NvsType(IntEnum):
    U8 = 1
    I8 = 2
    U16 = 3
    I16 = 4
    U32 = 5
    I32 = 6
    STR = 7
    BLOB = 8
    JSON = 100  # esp-at-sim's own settings

    @property
    def is_int(self) -> bool:
        return 1 <= self.value <= 6


INT_RANGES: dict[NvsType, tuple[int, int]] = {
    NvsType.U8: (0, 0xFF),
    NvsType.I8: (-0x80, 0x7F),
    NvsType.U16: (0, 0xFFFF),
    NvsType.I16: (-0x8000, 0x7FFF),
    NvsType.U32: (0, 0xFFFF_FFFF),
    NvsType.I32: (-0x8000_0000, 0x7FFF_FFFF),
}

USER = "nvs"
MFG = "mfg_nvs"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    partition TEXT NOT NULL,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    type INTEGER NOT NULL,
    value BLOB NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (partition, namespace, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _encode(typ: NvsType, value: Any) -> bytes:
    if typ.is_int:
        return struct.pack("<q", int(value))
    if typ is NvsType.STR:
        return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    if typ is NvsType.BLOB:
        return bytes(value)
    return json.dumps(value, separators=(",", ":")).encode()


def _decode(typ: NvsType, raw: bytes) -> Any:
    if typ.is_int:
        return struct.unpack("<q", raw)[0]
    if typ is NvsType.STR:
        return raw.decode("utf-8", "surrogateescape")
    if typ is NvsType.BLOB:
        return bytes(raw)
    return json.loads(raw)


class Nvs:
    """The storage file of one module."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM kv").fetchone()[0]
        self.user = NvsPartition(self, USER)
        self.mfg = NvsPartition(self, MFG)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    # low level, used by NvsPartition
    def _get(self, part: str, ns: str, key: str) -> tuple[NvsType, Any] | None:
        row = self._db.execute(
            "SELECT type, value FROM kv WHERE partition=? AND namespace=? AND key=?", (part, ns, key)
        ).fetchone()
        if row is None:
            return None
        typ = NvsType(row[0])
        return typ, _decode(typ, row[1])

    def _set(self, part: str, ns: str, key: str, typ: NvsType, value: Any) -> None:
        raw = _encode(typ, value)
        old = self._db.execute(
            "SELECT type, value FROM kv WHERE partition=? AND namespace=? AND key=?", (part, ns, key)
        ).fetchone()
        if old is not None and old[0] == int(typ) and bytes(old[1]) == raw:
            return  # NVS does not rewrite an identical value
        self._seq += 1
        self._db.execute(
            "INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?, ?)", (part, ns, key, int(typ), raw, self._seq)
        )

    def _erase(self, part: str, ns: str | None, key: str | None) -> int:
        if ns is None:
            cur = self._db.execute("DELETE FROM kv WHERE partition=?", (part,))
        elif key is None:
            cur = self._db.execute("DELETE FROM kv WHERE partition=? AND namespace=?", (part, ns))
        else:
            cur = self._db.execute("DELETE FROM kv WHERE partition=? AND namespace=? AND key=?", (part, ns, key))
        return cur.rowcount

    def _namespaces(self, part: str) -> list[str]:
        rows = self._db.execute(
            "SELECT namespace, MIN(seq) AS s FROM kv WHERE partition=? GROUP BY namespace ORDER BY s", (part,)
        ).fetchall()
        return [r[0] for r in rows]

    def _keys(self, part: str, ns: str) -> list[tuple[str, NvsType]]:
        rows = self._db.execute(
            "SELECT key, type FROM kv WHERE partition=? AND namespace=? ORDER BY seq", (part, ns)
        ).fetchall()
        return [(r[0], NvsType(r[1])) for r in rows]


class NvsPartition:
    """One partition of a module's NVS (``nvs`` or ``mfg_nvs``)."""

    def __init__(self, nvs: Nvs, name: str) -> None:
        self.nvs = nvs
        self.name = name

    def get(self, ns: str, key: str, default: Any = None) -> Any:
        got = self.nvs._get(self.name, ns, key)
        return default if got is None else got[1]

    def get_typed(self, ns: str, key: str) -> tuple[NvsType, Any] | None:
        return self.nvs._get(self.name, ns, key)

    def set(self, ns: str, key: str, value: Any, typ: NvsType = NvsType.JSON) -> None:
        self.nvs._set(self.name, ns, key, typ, value)

    def erase(self, ns: str | None = None, key: str | None = None) -> int:
        return self.nvs._erase(self.name, ns, key)

    def namespaces(self) -> list[str]:
        return self.nvs._namespaces(self.name)

    def keys(self, ns: str) -> list[tuple[str, NvsType]]:
        return self.nvs._keys(self.name, ns)

    def has_namespace(self, ns: str) -> bool:
        return bool(self.keys(ns))
