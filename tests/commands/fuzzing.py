"""What the module fuzz tests share: the host-side rule that every line gets exactly
one final result, a record of the errors the module logs, and hypothesis settings."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

from esp_at_sim.testing import AtHost
from esp_at_sim.world.clock import VirtualTimeLoop

T = TypeVar("T")

FINAL_LINES = (b"OK", b"ERROR")


def fuzz_settings(examples: int) -> settings:
    # the logged_errors fixture spans all examples of a test on purpose: any record fails it
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


class LoggedErrors(logging.Handler):
    """Keeps what the module logs at ERROR: a handler that raised logs there."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def one_result(host: AtHost, line: bytes, timeout: float) -> bytes:
    """Read the reply to ``line`` and check it holds exactly one final result line."""
    reply = await host.read_reply(timeout=timeout, finals=FINAL_LINES)
    finals = [x for x in reply.raw.split(b"\r\n") if x in FINAL_LINES]
    assert len(finals) == 1, (line, reply.raw)
    return reply.raw


def run_on_virtual_time(coro: Coroutine[Any, Any, T]) -> T:
    """Run one hypothesis example on a fresh virtual-time loop (``given`` tests are not async)."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
