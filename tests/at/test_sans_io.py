"""The AT core stays sans-IO: it must not import asyncio, socket or serial."""

from __future__ import annotations

import ast
from pathlib import Path

import esp_at_sim.at

FORBIDDEN = {"asyncio", "socket", "serial", "selectors", "ssl", "threading"}


def test_at_package_imports_no_io() -> None:
    root = Path(esp_at_sim.at.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in FORBIDDEN, f"{path.name} imports {n}"
