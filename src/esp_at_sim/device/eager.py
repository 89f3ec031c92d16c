"""Tasks whose first step runs at once, inside the caller's turn of the loop.

Theory of operation
-------------------
Most AT handlers finish without ever waiting (``AT``, queries, settings). Run
as an ordinary task, each would cost a trip through the event loop before it
could answer. :func:`create_eager_task` makes the task, then runs the
coroutine's first step immediately with that task as the loop's current task
(so ``asyncio.current_task()``, ``asyncio.timeout()`` and friends see the
right task) and in the task's own context. Whatever the step produced - a
future to wait for, a return value, an exception - is handed to the task by a
small coroutine adapter when the task takes its first scheduled step, and the
task carries on from there as usual. This is what Python 3.12's eager task
factory does; on interpreters without the private hooks it relies on, the
task is simply started the ordinary way.
"""

from __future__ import annotations

import asyncio
import contextvars
from asyncio import tasks as _tasks
from collections.abc import Coroutine, Generator
from typing import Any

_enter = getattr(_tasks, "_enter_task", None)
_leave = getattr(_tasks, "_leave_task", None)

_YIELDED, _RETURNED, _RAISED = 0, 1, 2


def _hand_over(outcome: tuple[int, Any]) -> Any:
    """Give the task what a first step already produced, as if it ran it now."""
    kind, payload = outcome
    if kind == _YIELDED:
        return payload
    if kind == _RETURNED:
        raise StopIteration(payload)
    raise payload


def _throw_into(coro: Coroutine[Any, Any, Any], outcome: tuple[int, Any] | None, typ: Any, val: Any) -> Any:
    """Throw into ``coro`` for its task; ``outcome`` is a first step not yet handed over."""
    exc = typ if isinstance(typ, BaseException) else typ(val) if val is None else val
    if outcome is not None:
        kind, payload = outcome
        if kind != _YIELDED:
            raise exc  # the coroutine has already finished
        if isinstance(payload, asyncio.Future):
            payload.cancel()  # as a task cancels the future it waits for
    return coro.throw(exc)


def _run_as(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], context: contextvars.Context, step: Any, *args: Any
) -> Any:
    """Run ``step(*args)`` in ``context`` with ``task`` as the loop's current task."""
    assert _enter is not None and _leave is not None
    caller = asyncio.current_task(loop)
    if caller is not None:
        _leave(loop, caller)
    _enter(loop, task)
    try:
        return context.run(step, *args)
    finally:
        _leave(loop, task)
        if caller is not None:
            _enter(loop, caller)


class _FirstStepDone(Coroutine[Any, Any, Any]):
    """Continues a coroutine whose first step has already been run."""

    __slots__ = ("_coro", "_outcome")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._outcome: tuple[int, Any] | None = None

    def first_step(self) -> None:
        try:
            self._outcome = (_YIELDED, self._coro.send(None))
        except StopIteration as stop:
            self._outcome = (_RETURNED, stop.value)
        except BaseException as exc:  # handed to the task, which reports it
            self._outcome = (_RAISED, exc)

    @property
    def returned(self) -> bool:
        """The first step ran the coroutine to its end without an error."""
        return self._outcome is not None and self._outcome[0] == _RETURNED

    def send(self, value: Any) -> Any:
        outcome = self._outcome
        if outcome is None:
            return self._coro.send(value)
        self._outcome = None
        return _hand_over(outcome)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        outcome, self._outcome = self._outcome, None
        return _throw_into(self._coro, outcome, typ, val)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("only a task drives this")


def finished_eagerly(task: asyncio.Task[Any]) -> bool:
    """Whether ``task``'s coroutine already returned during its eager first step
    (nothing left to cancel or to report)."""
    coro = task.get_coro()
    return isinstance(coro, _FirstStepDone) and coro.returned


def create_eager_task(coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
    """A task for ``coro`` whose first step has already run when this returns."""
    loop = asyncio.get_running_loop()
    if _enter is None or _leave is None:
        return loop.create_task(coro, name=name)
    adapter = _FirstStepDone(coro)
    context = contextvars.copy_context()
    task = loop.create_task(adapter, name=name, context=context)
    _run_as(loop, task, context, adapter.first_step)
    return task


class _Parked(Coroutine[Any, Any, Any]):
    """The coroutine of a spare task: parked at a gate until a command's first
    step, run while the spare was the current task, is handed over to it."""

    __slots__ = ("_coro", "_gate", "_outcome")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._gate: asyncio.Future[None] | None = loop.create_future()
        self._coro: Coroutine[Any, Any, Any] | None = None
        self._outcome: tuple[int, Any] | None = None

    def first_step(self, coro: Coroutine[Any, Any, Any]) -> bool:
        """Run ``coro``'s first step; True if it returned (the spare stays free)."""
        try:
            yielded = coro.send(None)
        except StopIteration:
            return True
        except BaseException as exc:  # handed to the task, which reports it
            self._outcome = (_RAISED, exc)
        else:
            self._outcome = (_YIELDED, yielded)
        self._coro = coro
        gate, self._gate = self._gate, None
        if gate is not None and not gate.done():
            gate.set_result(None)  # wakes the task (if it already waits at the gate)
        return False

    def send(self, value: Any) -> Any:
        gate = self._gate
        if gate is not None:  # still a spare: wait at the gate
            gate._asyncio_future_blocking = True
            return gate
        outcome = self._outcome
        if outcome is None:
            assert self._coro is not None
            return self._coro.send(value)
        self._outcome = None
        return _hand_over(outcome)  # never _RETURNED: a spare whose command returned stays free

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if self._coro is None:  # cancelled while a spare
            self._gate = None
            raise typ if isinstance(typ, BaseException) else typ(val) if val is None else val
        outcome, self._outcome = self._outcome, None
        return _throw_into(self._coro, outcome, typ, val)

    def close(self) -> None:
        if self._coro is not None:
            self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError("only a task drives this")


class EagerStarter:
    """Starts coroutines eagerly without a new task for those that finish at once.

    Like :func:`create_eager_task`, but the first step runs as a *spare* task
    kept parked for the purpose: a coroutine that returns in its first step
    (most AT commands) leaves the spare free for the next one, so no task is
    made, scheduled and finished per command. One that waits is handed to the
    spare, which carries on as its task, and a new spare is made next time.
    While it runs, ``asyncio.current_task()`` is the task that will carry the
    coroutine on, as with an ordinary task.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        # the spare: its task, the task's context and coroutine, and its loop
        self._spare: tuple[asyncio.Task[Any], contextvars.Context, _Parked, asyncio.AbstractEventLoop] | None = None

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro``'s first step now; None if it returned in it, else its task."""
        spare, self._spare = self._spare, None  # in use: a nested start makes its own
        loop = asyncio.get_running_loop()
        if spare is None or spare[3] is not loop or spare[0].done():
            if _enter is None or _leave is None:
                return loop.create_task(coro)
            parked = _Parked(loop)
            context = contextvars.copy_context()
            spare = (loop.create_task(parked, name=f"{self.name}:spare", context=context), context, parked, loop)
        task, context, parked, _ = spare
        returned = _run_as(loop, task, context, parked.first_step, coro)
        if returned and not task.done():
            self._spare = spare
            return None
        return task

    def close(self) -> asyncio.Task[Any] | None:
        """Cancel the spare; returns it (to be awaited) if there was one."""
        spare, self._spare = self._spare, None
        if spare is not None and not spare[0].done():
            spare[0].cancel()
            return spare[0]
        return None
