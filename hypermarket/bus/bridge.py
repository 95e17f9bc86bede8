"""The crossing between Trio and an asyncio loop that runs in its own thread.

Theory of operation
-------------------
nats-py is an asyncio library and the engine is a Trio program.  Three ways exist to
join them (trio-asyncio, Trio's guest mode, a thread); ``bridge_bench`` measures them and
this module is the one the engine uses: a plain asyncio loop runs in one daemon thread
(``AsyncioThread``) and Trio talks to it in two directions, each crossing costing one
wake-up of the other side, so the engine crosses per *batch*, never per message.

* Trio -> asyncio, a call: ``AsyncioThread.run(fn, *args)`` schedules the coroutine on the
  loop with ``asyncio.run_coroutine_threadsafe`` and parks the Trio task on a ``trio.Event``
  that the future's done-callback sets through ``TrioToken.run_sync_soon``.  A cancelled
  Trio caller cancels the asyncio task.  A whole batch of publishes is one call.
* asyncio -> Trio, a stream of items: ``Handoff`` is a list guarded by a lock.  The asyncio
  side ``put``s one item at a time (it is called from nats-py's per-message callback, where
  appending is all the work there is); the Trio side ``take``s everything there is, up to
  ``max_items``, as one list, and never waits for a batch to fill.  The producer schedules a
  wake-up of Trio only when a Trio task is actually waiting and no wake-up is pending yet,
  so a busy stream costs one ``run_sync_soon`` per batch the consumer takes, not per message.

Backpressure: ``Handoff`` has a capacity.  ``put`` always stores the item (the producer has
already received it) but answers False once the buffer holds ``capacity`` items; the
producer must then stop (``feed.OrderedFeed`` drops its subscription) until ``take`` has
drained the buffer to half the capacity and calls ``on_drained``, which the owner wires to
resume the producer.  Memory is therefore bounded by about ``capacity`` items plus what was
in flight when the producer stopped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any, Generic, TypeVar, TypeVarTuple

import trio

logger = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class AsyncioThread:
    """One asyncio event loop running forever in one daemon thread (see the module docstring).

    Create it with ``open_asyncio_thread``; everything scheduled on the loop belongs to it
    and is cancelled when the context exits.
    """

    def __init__(self, name: str) -> None:
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (for code that runs on it and needs to schedule more work there)."""
        assert self._loop is not None, "start() first"
        return self._loop

    def _main(self) -> None:
        # The loop is made in its own thread: a Trio thread may refuse to make one (once
        # trio_asyncio is imported, its event loop policy does).
        loop = self._loop = asyncio.new_event_loop()
        loop.set_exception_handler(_log_loop_exception)
        asyncio.set_event_loop(loop)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def run(self, fn: Callable[[*Ts], Coroutine[Any, Any, T]], *args: *Ts) -> T:
        """Run ``fn(*args)`` on the loop and return its result (or raise its exception) in Trio.

        One call is two thread wake-ups (tens of microseconds): call it per batch.  If the
        calling Trio task is cancelled, the asyncio task is cancelled too and this raises
        ``trio.Cancelled`` at once, without waiting for the asyncio side to unwind.
        """
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()

        def wake(_: object) -> None:
            # Runs in the asyncio thread (or inline, if the future is already done).
            with suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        future = asyncio.run_coroutine_threadsafe(fn(*args), self.loop)
        future.add_done_callback(wake)
        try:
            await done.wait()
        except trio.Cancelled:
            future.cancel()
            raise
        return future.result()

    def call_soon(self, fn: Callable[[*Ts], object], *args: *Ts) -> None:
        """Schedule plain ``fn(*args)`` on the loop from any thread; returns at once."""
        self.loop.call_soon_threadsafe(fn, *args)

    def start(self) -> None:
        """Start the thread and wait for its loop (``open_asyncio_thread`` does this)."""
        self._thread.start()
        self._ready.wait()

    async def stop(self) -> None:
        """Cancel every task left on the loop, stop the loop and join the thread."""
        if not self._thread.is_alive():
            return
        await self.run(_cancel_other_tasks)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await trio.to_thread.run_sync(self._thread.join)


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Exceptions nobody awaited (a failed background task of nats-py) are logged, not lost."""
    exception = context.get("exception")
    logger.error("asyncio loop of the NATS bridge: %s", context.get("message"), exc_info=exception)


@asynccontextmanager
async def open_asyncio_thread(name: str) -> AsyncIterator[AsyncioThread]:
    """A running ``AsyncioThread``; on exit its tasks are cancelled and the thread is joined."""
    thread = AsyncioThread(name)
    thread.start()
    try:
        yield thread
    finally:
        with trio.CancelScope(shield=True):
            await thread.stop()


class Handoff(Generic[T]):
    """A bounded buffer from one producer on any thread to one Trio consumer, taken in batches.

    See the module docstring for the wake-up and backpressure rules.  ``on_drained`` is
    called in the Trio thread (so it must itself be thread-safe towards the producer, e.g.
    ``AsyncioThread.call_soon``) when a producer that was told to stop may go on.
    """

    def __init__(
        self,
        token: trio.lowlevel.TrioToken,
        capacity: int,
        on_drained: Callable[[], None],
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._token = token
        self._capacity = capacity
        self._low_water = capacity // 2
        self._on_drained = on_drained
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._waiter: trio.Event | None = None
        self._wake_pending = False
        self._producer_stopped = False
        self._failure: BaseException | None = None

    def put(self, item: T) -> bool:
        """Store ``item``; False means the buffer is full and the producer must stop.

        Callable from any thread.  The item is stored either way.
        """
        with self._lock:
            self._items.append(item)
            full = len(self._items) >= self._capacity
            if full:
                self._producer_stopped = True
            wake = self._waiter is not None and not self._wake_pending
            if wake:
                self._wake_pending = True
        if wake:
            self._schedule_wake()
        return not full

    def fail(self, failure: BaseException) -> None:
        """Make ``take`` raise ``failure`` once the items stored before it are taken."""
        with self._lock:
            self._failure = failure
            wake = self._waiter is not None and not self._wake_pending
            if wake:
                self._wake_pending = True
        if wake:
            self._schedule_wake()

    def _schedule_wake(self) -> None:
        with suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._wake)

    def _wake(self) -> None:
        with self._lock:
            waiter, self._waiter = self._waiter, None
            self._wake_pending = False
        if waiter is not None:
            waiter.set()

    async def take(self, max_items: int) -> list[T]:
        """The oldest items, at least one and at most ``max_items``, as soon as any exist."""
        await trio.lowlevel.checkpoint()
        while True:
            with self._lock:
                if self._items:
                    if len(self._items) <= max_items:
                        batch, self._items = self._items, []
                    else:
                        batch = self._items[:max_items]
                        del self._items[:max_items]
                    resume = self._producer_stopped and len(self._items) <= self._low_water
                    if resume:
                        self._producer_stopped = False
                    break
                if self._failure is not None:
                    raise self._failure
                waiter = self._waiter = trio.Event()
            await waiter.wait()
        if resume:
            self._on_drained()
        return batch
