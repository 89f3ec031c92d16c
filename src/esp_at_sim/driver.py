"""Pumps a transport into a module: the only glue between asyncio I/O and the core.

Host bytes go to :meth:`Module.receive`; the module's output goes to the
transport. With ``pace`` set, output is paced to the module's baud rate
(8N1: 10 bits a byte), so drivers meet realistic throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from esp_at_sim.device.module import Module
from esp_at_sim.transports.base import Transport


async def _rx(module: Module, transport: Transport) -> None:
    while True:
        data = await transport.read()
        if not data:
            return
        module.receive(data)


async def _tx(module: Module, transport: Transport, pace: bool) -> None:
    budget_start = time.monotonic()
    sent_bits = 0.0
    while True:
        data = await module.output.read(4096 if pace else 65536)
        await transport.write(data)
        if pace and module.uart_baud > 0:
            sent_bits += len(data) * 10
            due = budget_start + sent_bits / module.uart_baud
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                budget_start = time.monotonic()
                sent_bits = 0.0


async def serve(module: Module, transport: Transport, *, pace: bool = False) -> None:
    """Run until the transport closes or the task is cancelled."""
    await transport.open()
    rx = asyncio.ensure_future(_rx(module, transport))
    tx = asyncio.ensure_future(_tx(module, transport, pace))
    try:
        await asyncio.wait([rx, tx], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (rx, tx):
            t.cancel()
        for t in (rx, tx):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
