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
