"""Compiled dataclass methods kept between runs, like bytecode.

Theory of operation
-------------------
``@dataclass`` writes the source of ``__init__``, ``__repr__``, ``__eq__``...
for every class and compiles it with ``exec`` when the class is created; with
the package's hundred-odd dataclasses that compiling is a large part of start-up
(more than importing asyncio). :func:`install` gives the ``dataclasses`` module
an ``exec`` that, for classes of this package only, looks the source up in a
table of code objects and compiles only what it has not seen. The table is
loaded from one ``marshal`` file in the package's ``__pycache__`` and written
back at exit when it grew, the way Python keeps ``.pyc`` files (and not when
``sys.dont_write_bytecode`` is set). A code object compiled from the same
source is the same code, so the classes behave exactly as before; a missing,
unreadable or foreign file only means compiling again.
"""

from __future__ import annotations

import atexit
import builtins
import dataclasses
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any

_PACKAGE = __name__.partition(".")[0]
#: a table that grows past this (sources of many versions of the package) starts afresh
_MAX_ENTRIES = 4000
_FILE = Path(__file__).parent / "__pycache__" / f"dataclass-methods.{sys.implementation.cache_tag}.marshal"

_codes: dict[str, CodeType] = {}
_new: dict[str, CodeType] = {}
_exec = builtins.exec


def _cached_exec(source: Any, globals: dict[str, Any] | None = None, locals: Any = None) -> None:
    if isinstance(source, str) and globals is not None and str(globals.get("__name__", "")).startswith(_PACKAGE + "."):
        code = _codes.get(source)
        if code is None:
            code = _codes[source] = _new[source] = compile(source, "<string>", "exec")
        source = code
    _exec(source, globals, locals)


def _load() -> None:
    try:
        table = marshal.loads(_FILE.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return
    if isinstance(table, dict):
        _codes.update((k, v) for k, v in table.items() if isinstance(k, str) and isinstance(v, CodeType))


def _save() -> None:
    if not _new or sys.dont_write_bytecode:
        return
    table = _codes if len(_codes) <= _MAX_ENTRIES else _new
    tmp = _FILE.with_name(f"{_FILE.name}.{os.getpid()}.tmp")
    try:
        _FILE.parent.mkdir(exist_ok=True)
        tmp.write_bytes(marshal.dumps(table))
        os.replace(tmp, _FILE)
    except OSError:  # a read-only installation: compile again next time
        tmp.unlink(missing_ok=True)
        return
    _new.clear()


def install() -> None:
    """Route the ``dataclasses`` module's ``exec`` through the table (once)."""
    if getattr(dataclasses, "exec", None) is _cached_exec:
        return
    _load()
    dataclasses.exec = _cached_exec  # type: ignore[attr-defined]  # shadows the builtin in that module
    atexit.register(_save)
