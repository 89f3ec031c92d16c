"""Fixtures the application-protocol tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from apps.support import online_module
from esp_at_sim import Module


@pytest.fixture
async def online() -> AsyncIterator[Module]:
    async with online_module() as m:
        yield m
