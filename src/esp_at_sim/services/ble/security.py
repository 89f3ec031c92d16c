"""LE security of a module (pairing, bonding); filled in with SMP support."""

from __future__ import annotations

from typing import Any


class SecurityManager:
    def __init__(self, stack: Any) -> None:
        self.stack = stack

    def attach(self, link: Any) -> None:
        pass
