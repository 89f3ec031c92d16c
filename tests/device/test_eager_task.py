"""Eager tasks: the first step runs at once, as the task, and the rest as usual."""

from __future__ import annotations

import asyncio

import pytest

from esp_at_sim.device.eager import create_eager_task


async def test_a_coroutine_that_never_waits_is_done_before_the_call_returns() -> None:
    seen: list[object] = []

    async def handler() -> int:
        seen.append(asyncio.current_task())
        return 42

    task = create_eager_task(handler(), name="quick")
    assert seen == [task]  # ran already, as the task itself
    assert asyncio.current_task() is not task  # the caller is current again
    assert await task == 42


async def test_a_coroutine_that_waits_continues_as_a_task() -> None:
    steps: list[str] = []

    async def handler() -> str:
        steps.append("first")
        await asyncio.sleep(0.01)
        steps.append("second")
        assert asyncio.current_task() is task
        return "done"

    task = create_eager_task(handler())
    assert steps == ["first"]
    assert await task == "done"
    assert steps == ["first", "second"]


async def test_exceptions_of_the_first_step_belong_to_the_task() -> None:
    async def handler() -> None:
        raise ValueError("bad")

    task = create_eager_task(handler())
    with pytest.raises(ValueError, match="bad"):
        await task


async def test_cancelled_before_its_next_step_the_coroutine_sees_the_cancellation() -> None:
    cleaned: list[bool] = []
    waited = asyncio.get_running_loop().create_future()

    async def handler() -> None:
        try:
            await waited
        finally:
            cleaned.append(True)

    task = create_eager_task(handler())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True] and waited.cancelled()


async def test_timeouts_entered_in_the_first_step_belong_to_the_task() -> None:
    async def handler() -> str:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "slept"

    task = create_eager_task(handler())
    await asyncio.sleep(0.2)  # the caller must not be the one cancelled
    assert await task == "timed out"


# ---------------------------------------------------- EagerStarter (the command path)


async def test_starter_makes_no_task_for_a_coroutine_that_never_waits() -> None:
    from esp_at_sim.device.eager import EagerStarter

    starter = EagerStarter("test")
    seen: list[object] = []

    async def quick() -> None:
        seen.append(asyncio.current_task())

    before = len(asyncio.all_tasks())
    assert starter.start(quick()) is None
    assert starter.start(quick()) is None
    assert seen[0] is seen[1] and seen[0] is not asyncio.current_task()  # the spare, reused
    assert isinstance(seen[0], asyncio.Task) and not seen[0].done()
    assert len(asyncio.all_tasks()) == before + 1  # one spare, not one task per call
    spare = starter.close()
    assert spare is seen[0]
    with pytest.raises(asyncio.CancelledError):
        await spare


async def test_starter_hands_a_waiting_coroutine_to_the_task_it_started_in() -> None:
    from esp_at_sim.device.eager import EagerStarter

    starter = EagerStarter("test")
    steps: list[object] = []

    async def slow() -> str:
        steps.append(asyncio.current_task())
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(10)
        except TimeoutError:
            steps.append(asyncio.current_task())
            return "timed out"
        return "slept"

    async def quick() -> None:
        steps.append(asyncio.current_task())

    assert starter.start(quick()) is None
    task = starter.start(slow())
    assert task is not None and task is steps[0] is steps[1]  # the spare carries it on
    assert await task == "timed out"
    assert steps[2] is task
    assert starter.start(quick()) is None
    assert steps[3] is not task  # a new spare
    starter.close()


async def test_starter_exceptions_and_cancellation_belong_to_the_task() -> None:
    from esp_at_sim.device.eager import EagerStarter

    starter = EagerStarter("test")

    async def bad() -> None:
        raise ValueError("bad")

    task = starter.start(bad())
    assert task is not None
    with pytest.raises(ValueError, match="bad"):
        await task

    waited = asyncio.get_running_loop().create_future()
    cleaned: list[bool] = []

    async def waits() -> None:
        try:
            await waited
        finally:
            cleaned.append(True)

    task = starter.start(waits())
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True] and waited.cancelled()
    assert starter.close() is None  # no spare was left


async def test_scope_close_cancels_the_spare_and_waiting_commands() -> None:
    from esp_at_sim.device.scope import TaskScope

    scope = TaskScope("test")

    async def quick() -> None:
        pass

    async def waits() -> None:
        await asyncio.sleep(100)

    assert scope.start_eagerly(quick()) is None
    task = scope.start_eagerly(waits())
    assert task is not None and task in scope.tasks
    assert scope.start_eagerly(quick()) is None  # a new spare
    await scope.close()
    assert task.cancelled()
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("test:")]
    assert all(t.done() for t in leftovers)
