"""What the engine needs from a message bus, whatever carries it.

Theory of operation
-------------------
The shell talks to JetStream only through ``Bus``.  Two implementations
exist: ``bus.nats`` (nats-py on its own asyncio loop, bridged into Trio in
batches) and ``bus.memory`` (in-process, for tests and simulation).  Both
keep the JetStream semantics the engine relies on:

* inputs of shard ``k`` are messages on ``<input prefix>.<k>`` in one stream,
  numbered by a stream sequence (dense per stream, not per subject) and
  stamped by the stream with a time in nanoseconds;
* a consumer starts at a given stream sequence and delivers the shard's
  inputs in order, in batches, never skipping one (the WAL, not consumer
  acknowledgements, remembers how far a shard got);
* outputs are published on ``<output prefix>.<k>``, each message with a
  ``Nats-Msg-Id``; a message whose id was already stored (inside the
  duplicate window) is dropped, and ``publish_outputs`` returns only when
  every message of the batch is stored;
* ``last_output_id(k)`` answers which output message of shard ``k`` was
  stored last, so a restarted shard republishes exactly what is missing;
* the ``MARKETS`` key-value bucket stores JSON market configs by market id
  with a revision per write; a watch delivers every current entry and then
  every change, each with its revision.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import msgspec


class InputMessage(msgspec.Struct, frozen=True):
    """One consumed input: its stream sequence, the stream's timestamp, the raw bytes."""

    stream_seq: int
    ts_ns: int
    data: bytes


class OutputMessage(msgspec.Struct, frozen=True):
    """One message for the output stream of a shard, with its deduplication id."""

    msg_id: str
    data: bytes


class KvEntry(msgspec.Struct, frozen=True):
    """One revision of one key of the markets bucket; ``value`` None for a deletion."""

    key: str
    revision: int
    value: bytes | None


class Bus(Protocol):
    """The engine's view of JetStream (see the module docstring)."""

    async def ensure_streams(self) -> None:
        """Create the input and output streams and the markets bucket, or check them."""

    def consume(
        self, shard: int, start_seq: int, batch_max: int
    ) -> AbstractAsyncContextManager[AsyncIterator[list[InputMessage]]]:
        """Batches of shard ``shard``'s inputs from stream sequence ``start_seq`` on, in order.

        A batch holds at most ``batch_max`` messages and is handed over as soon
        as any are available: the consumer never waits to fill a batch.
        """

    async def publish_outputs(self, shard: int, messages: list[OutputMessage]) -> None:
        """Store ``messages`` on the shard's output subject; returns when all are stored."""

    async def last_output_id(self, shard: int) -> str | None:
        """The ``Nats-Msg-Id`` of the newest stored output message of ``shard``, if any."""

    async def publish_input(self, shard: int, data: bytes) -> int:
        """Append one input to the shard's input subject; returns its stream sequence."""

    async def kv_create(self, key: str, value: bytes) -> int | None:
        """Create ``key`` unless it exists; the new revision, or None if it existed."""

    async def kv_put(self, key: str, value: bytes) -> int:
        """Write ``key``; returns the new revision."""

    def kv_watch(self) -> AbstractAsyncContextManager[AsyncIterator[KvEntry]]:
        """Every current entry of the markets bucket, then every change, in revision order."""
