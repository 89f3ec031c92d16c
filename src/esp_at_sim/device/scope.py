"""A task scope: every background task of one boot of a module.

``AT+RST`` closes the scope (cancelling its tasks and running its closers,
which release sockets and other host resources) and the next boot opens a
fresh one, instead of resetting flags by hand.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from esp_at_sim.device.eager import EagerStarter, create_eager_task, finished_eagerly

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None] | None]


class TaskScope:
    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closers: list[Closer] = []
        self._starter = EagerStarter(name)
        self.closed = False

    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str | None = None, *, eager: bool = False
    ) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of this scope; ``eager`` runs its first step now
        (see :mod:`esp_at_sim.device.eager`)."""
        if self.closed:
            coro.close()
            raise RuntimeError(f"scope {self.name} is closed")
        start = create_eager_task if eager else asyncio.get_running_loop().create_task
        task = start(coro, name=name)
        if eager and finished_eagerly(task):
            return task  # already done: nothing to cancel at close, nothing to report
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def start_eagerly(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro``'s first step now, as a task of this scope; None if it
        returned in that step (no task is made for it: see ``EagerStarter``)."""
        if self.closed:
            coro.close()
            raise RuntimeError(f"scope {self.name} is closed")
        task = self._starter.start(coro)
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s of %s failed", task.get_name(), self.name, exc_info=task.exception())

    def on_close(self, fn: Closer) -> None:
        self._closers.append(fn)

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        return set(self._tasks)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        spare = self._starter.close()
        if spare is not None and spare is not current:
            tasks.append(spare)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for fn in reversed(self._closers):
            try:
                result = fn()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("closer of %s failed", self.name)
        self._closers.clear()
