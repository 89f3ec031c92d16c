"""Serving a module over a real transport, as the CLI does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from esp_at_sim.device.config import ModuleConfig
from esp_at_sim.device.module import Module
from esp_at_sim.driver import serve
from esp_at_sim.transports.base import Transport

Served = Callable[..., contextlib.AbstractAsyncContextManager[Module]]


@contextlib.asynccontextmanager
async def _served(transport: Transport, *, power: bool = True, **config: Any) -> AsyncIterator[Module]:
    module = Module(ModuleConfig(**config))
    await transport.open()
    pump = asyncio.ensure_future(serve(module, transport))
    try:
        if power:
            await module.power_on()
        yield module
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await module.stop()
        await transport.close()


@pytest.fixture
def served() -> Served:
    """``async with served(transport, **config) as module:`` - a module on that UART."""
    return _served
