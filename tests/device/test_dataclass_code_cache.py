"""The table of compiled dataclass methods (``esp_at_sim.dataclass_code_cache``)."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path

import pytest

from esp_at_sim import dataclass_code_cache as cache


def _declare(module_name: str) -> type:
    """A frozen dataclass declared as if in module ``module_name``."""
    mod = types.ModuleType(module_name)
    source = (
        "from dataclasses import dataclass, field\n"
        "@dataclass(frozen=True, order=True)\n"
        "class Point:\n"
        "    x: int\n"
        "    y: int = 2\n"
        "    tags: tuple[str, ...] = field(default=(), compare=False)\n"
    )
    import sys

    sys.modules[module_name] = mod
    try:
        exec(compile(source, module_name, "exec"), mod.__dict__)
    finally:
        del sys.modules[module_name]
    cls: type = mod.__dict__["Point"]
    return cls


def test_installed_for_the_package() -> None:
    assert getattr(dataclasses, "exec", None) is cache._cached_exec


def test_cached_classes_behave_as_compiled_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_codes", {})
    monkeypatch.setattr(cache, "_new", {})
    compiled = []
    real_compile = compile

    def counting_compile(*args: object, **kwargs: object) -> object:
        compiled.append(args[0])
        return real_compile(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(cache, "compile", counting_compile, raising=False)
    first = _declare("esp_at_sim._cache_probe_a")
    n = len(compiled)
    assert n > 0 and len(cache._new) == n
    second = _declare("esp_at_sim._cache_probe_b")
    assert len(compiled) == n  # the same sources: nothing compiled again
    plain = _declare("elsewhere_probe")  # not the package's: the builtin exec, untouched table
    assert len(cache._codes) == n
    for cls in (first, second, plain):
        a, b = cls(1), cls(1, 2, ("t",))
        assert a == b and hash(a) == hash(b) and cls(0) < a
        assert repr(b) == "Point(x=1, y=2, tags=('t',))"
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.x = 5  # type: ignore[attr-defined]


def test_table_survives_a_restart(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cache, "_FILE", tmp_path / "__pycache__" / "table.marshal")
    monkeypatch.setattr(cache, "_codes", {})
    monkeypatch.setattr(cache, "_new", {})
    monkeypatch.setattr(cache.sys, "dont_write_bytecode", False)
    _declare("esp_at_sim._cache_probe_c")
    saved = dict(cache._codes)
    cache._save()
    assert cache._new == {}
    monkeypatch.setattr(cache, "_codes", {})
    cache._load()
    assert cache._codes.keys() == saved.keys()
    # a damaged file is ignored: everything is compiled again
    cache._FILE.write_bytes(b"\x00garbage")
    monkeypatch.setattr(cache, "_codes", {})
    cache._load()
    assert cache._codes == {}
