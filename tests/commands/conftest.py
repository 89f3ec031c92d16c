"""Fixtures the command tests share."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from commands.fuzzing import LoggedErrors


@pytest.fixture
def logged_errors() -> Iterator[LoggedErrors]:
    handler = LoggedErrors()
    root = logging.getLogger("esp_at_sim")
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
