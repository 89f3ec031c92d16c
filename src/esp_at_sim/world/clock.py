"""Clocks: every wait in esp-at-sim goes through one.

* :class:`Clock` reads the event loop's time, optionally scaled (``scale=10``
  runs the world ten times faster than real time).
* :class:`VirtualTimeLoop` is an asyncio event loop whose time jumps ahead
  whenever nothing is ready, like trio's autojump clock: a 15 s ``AT+CWJAP``
  timeout takes milliseconds in a test. It still waits ``threshold`` seconds
  of real time before jumping, so real sockets on loopback get answered first.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from typing import Any


class Clock:
    """Time as the emulated world sees it (seconds, monotonic)."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = scale
        self._origin: float | None = None

    def _loop_time(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def now(self) -> float:
        t = self._loop_time()
        if self._origin is None:
            self._origin = t
        return self._origin + (t - self._origin) * self.scale

    def real_seconds(self, seconds: float) -> float:
        return max(0.0, seconds) / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(seconds))

    async def wait_for(self, aw: Any, timeout: float | None) -> Any:
        """``asyncio.wait_for`` as Python 3.12 does it: the awaitable runs in the
        caller's task under a timeout (3.11 would wrap it in a task of its own)."""
        if timeout is None:
            return await aw
        async with asyncio.timeout(self.real_seconds(timeout)):
            return await aw


class _JumpSelector:
    """Wraps the loop's selector: an idle wait becomes a jump of virtual time."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        threshold = self._loop.threshold
        if timeout is not None and timeout <= threshold:
            return self._inner.select(timeout)
        ready = self._inner.select(threshold)
        if ready:
            return ready
        if timeout is None:
            return self._inner.select(None)
        self._loop.offset += timeout - threshold
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, threshold: float = 0.003) -> None:
        super().__init__()
        self.threshold = threshold
        self.offset = 0.0
        self._selector = _JumpSelector(self._selector, self)  # type: ignore[has-type,arg-type]

    def time(self) -> float:
        return time.monotonic() + self.offset


class VirtualTimePolicy(asyncio.DefaultEventLoopPolicy):
    def __init__(self, threshold: float = 0.003) -> None:
        super().__init__()
        self.threshold = threshold

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return VirtualTimeLoop(self.threshold)
