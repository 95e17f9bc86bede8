"""The Trio/asyncio bridge hands items over in batches, applies backpressure and passes errors.

``Handoff`` is driven from a real asyncio thread (``AsyncioThread``) the way nats-py's
callbacks drive it; each wait is bounded by ``trio.fail_after``.
"""

from __future__ import annotations

import asyncio

import pytest
import trio

from hypermarket.bus.bridge import Handoff, open_asyncio_thread


async def test_run_returns_results_and_raises_errors_of_the_asyncio_side() -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    async def fail() -> None:
        raise KeyError("from asyncio")

    async with open_asyncio_thread("test") as thread:
        with trio.fail_after(5):
            assert await thread.run(add, 2, 3) == 5
            with pytest.raises(KeyError, match="from asyncio"):
                await thread.run(fail)


async def test_cancelling_the_trio_caller_cancels_the_asyncio_task() -> None:
    cancelled = trio.Event()
    token = trio.lowlevel.current_trio_token()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            token.run_sync_soon(cancelled.set)
            raise

    async with open_asyncio_thread("test") as thread:
        with trio.move_on_after(0.1):
            await thread.run(forever)
        with trio.fail_after(5):
            await cancelled.wait()


async def test_take_returns_everything_buffered_up_to_the_maximum_without_waiting_to_fill() -> None:
    handoff: Handoff[int] = Handoff(trio.lowlevel.current_trio_token(), 100, lambda: None)
    for item in range(7):
        assert handoff.put(item)
    with trio.fail_after(5):
        assert await handoff.take(5) == [0, 1, 2, 3, 4]
        assert await handoff.take(5) == [5, 6]


async def test_a_waiting_consumer_is_woken_by_a_put_from_the_asyncio_thread() -> None:
    handoff: Handoff[int] = Handoff(trio.lowlevel.current_trio_token(), 100, lambda: None)

    async def produce() -> None:
        await asyncio.sleep(0.05)
        handoff.put(1)

    async with open_asyncio_thread("test") as thread:
        thread.call_soon(asyncio.ensure_future, produce())
        with trio.fail_after(5):
            assert await handoff.take(10) == [1]


async def test_a_full_buffer_stops_the_producer_until_drained_to_half() -> None:
    drained = []
    handoff: Handoff[int] = Handoff(
        trio.lowlevel.current_trio_token(), 4, lambda: drained.append(1)
    )
    assert [handoff.put(item) for item in range(4)] == [True, True, True, False]
    assert handoff.put(4) is False  # still stored: the producer had already received it
    with trio.fail_after(5):
        assert await handoff.take(2) == [0, 1]
        assert drained == []  # 3 left, more than half of 4
        assert await handoff.take(1) == [2]
        assert drained == [1]
        assert await handoff.take(10) == [3, 4]
    assert drained == [1]


async def test_a_failure_is_raised_after_the_items_stored_before_it() -> None:
    handoff: Handoff[int] = Handoff(trio.lowlevel.current_trio_token(), 10, lambda: None)
    handoff.put(1)
    handoff.fail(RuntimeError("stream gone"))
    with trio.fail_after(5):
        assert await handoff.take(10) == [1]
        with pytest.raises(RuntimeError, match="stream gone"):
            await handoff.take(10)
