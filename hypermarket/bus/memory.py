"""An in-process ``Bus`` with JetStream's semantics, for tests and simulation.

Streams are lists; a consumer waits on an event that every append replaces.
Output deduplication keeps every id (an unbounded window, which only makes the
in-memory bus stricter than JetStream).  Timestamps come from ``clock``, so a
test can make them deterministic.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from hypermarket.bus.protocol import InputMessage, KvEntry, OutputMessage


class MemoryBus:
    """All shards' streams and the markets bucket in one process (see the module docstring)."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._inputs: list[tuple[int, InputMessage]] = []  # (shard, message), index = seq - 1
        self._outputs: dict[int, list[OutputMessage]] = {}
        self._output_ids: dict[int, set[str]] = {}
        self._kv: list[KvEntry] = []
        self._changed = trio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def ensure_streams(self) -> None:
        """Nothing to create in memory."""

    @asynccontextmanager
    async def consume(
        self, shard: int, start_seq: int, batch_max: int
    ) -> AsyncIterator[AsyncIterator[list[InputMessage]]]:
        yield self._batches(shard, start_seq, batch_max)

    async def _batches(
        self, shard: int, start_seq: int, batch_max: int
    ) -> AsyncIterator[list[InputMessage]]:
        position = max(start_seq, 1) - 1
        while True:
            batch: list[InputMessage] = []
            while position < len(self._inputs) and len(batch) < batch_max:
                owner, message = self._inputs[position]
                position += 1
                if owner == shard:
                    batch.append(message)
            if batch:
                yield batch
            elif position >= len(self._inputs):
                await self._changed.wait()

    async def publish_outputs(self, shard: int, messages: list[OutputMessage]) -> None:
        stored = self._outputs.setdefault(shard, [])
        ids = self._output_ids.setdefault(shard, set())
        for message in messages:
            if message.msg_id not in ids:
                ids.add(message.msg_id)
                stored.append(message)
        self._notify()
        await trio.lowlevel.checkpoint()

    async def last_output_id(self, shard: int) -> str | None:
        stored = self._outputs.get(shard)
        return stored[-1].msg_id if stored else None

    def outputs(self, shard: int) -> list[OutputMessage]:
        """Every stored output message of ``shard``, in order (for tests)."""
        return list(self._outputs.get(shard, []))

    async def publish_input(self, shard: int, data: bytes) -> int:
        seq = len(self._inputs) + 1
        self._inputs.append((shard, InputMessage(seq, self._clock(), data)))
        self._notify()
        await trio.lowlevel.checkpoint()
        return seq

    def _current(self, key: str) -> KvEntry | None:
        for entry in reversed(self._kv):
            if entry.key == key:
                return entry
        return None

    async def kv_create(self, key: str, value: bytes) -> int | None:
        current = self._current(key)
        if current is not None and current.value is not None:
            return None
        return await self.kv_put(key, value)

    async def kv_put(self, key: str, value: bytes) -> int:
        entry = KvEntry(key, len(self._kv) + 1, value)
        self._kv.append(entry)
        self._notify()
        await trio.lowlevel.checkpoint()
        return entry.revision

    @asynccontextmanager
    async def kv_watch(self) -> AsyncIterator[AsyncIterator[KvEntry]]:
        yield self._watch()

    async def _watch(self) -> AsyncIterator[KvEntry]:
        latest = {entry.key: entry for entry in self._kv}
        position = len(self._kv)  # before yielding: writes made meanwhile are changes to deliver
        for entry in sorted(latest.values(), key=lambda e: e.revision):
            yield entry
        while True:
            while position < len(self._kv):
                yield self._kv[position]
                position += 1
            await self._changed.wait()
