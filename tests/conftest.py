"""Shared fixtures. Tests run on a virtual-time event loop: waits that the
firmware would spend (boot, joins, timeouts) take no real time, while real
sockets on loopback still get answered first."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from esp_at_sim import Module
from esp_at_sim.world.clock import VirtualTimeLoop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    if item.get_closest_marker("real_time") is not None:
        # bytes relayed by another process (socat...) may take longer than the
        # virtual loop's idle threshold on a busy machine: timeouts must be real
        return {"real": asyncio.SelectorEventLoop}
    return {"vt": VirtualTimeLoop}


@pytest.fixture
async def module() -> AsyncIterator[Module]:
    async with Module.start("esp32c3") as m:
        yield m


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves tasks running or file descriptors (ptys, sockets) open."""
    before = _open_fds()
    yield
    gc.collect()
    leaked = {
        fd for fd in _open_fds() - before if not os.path.realpath(f"/proc/self/fd/{fd}").startswith("/dev/urandom")
    }
    # descriptors that vanished in between are fine; new ones must be gone
    leaked = {fd for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not leaked, f"leaked file descriptors: {[os.path.realpath(f'/proc/self/fd/{fd}') for fd in leaked]}"
