"""One shard's loop: consume, log, step, publish, snapshot; and its restart.

Theory of operation
-------------------
A ``ShardLoop`` is the only writer of its shard.  Started (``run`` under
``nursery.start``), it first recovers (``persistence.recover``): it opens the
WAL (cutting a torn tail), loads the newest valid snapshot, folds the WAL
tail, asks the bus which output message of the shard was stored last, and
republishes from the WAL exactly the outputs after it.  Then it reports
itself started and consumes from the stream sequence after the last logged
input.  For every batch, in this order:

1. append the batch's raw inputs to the WAL with one fsync (in a worker
   thread, so other shards keep running); a failed write or fsync is fatal;
2. apply each input with ``step`` and encode its outputs once;
3. append the outputs to the WAL (no fsync: a crash before the next fsync
   loses only outputs, which recovery recomputes identically);
4. hand the batch's outputs, in as few messages as fit ``MESSAGE_BYTES``
   (usually one), each with ``Nats-Msg-Id`` ``"<shard>:<its last output
   seq>"``, to the shard's publisher task, and go on with the next batch;
5. every ``snapshot_interval`` inputs, wait until the publisher has stored
   everything handed to it, fsync the WAL and hand the current (immutable)
   state to a worker thread that writes the snapshot while the loop goes on,
   then prune WAL segments older than the oldest snapshot kept.

The publisher stores one batch's messages at a time, in order, and waits for
the stream's acknowledgement; the loop hands it the next batch only when it
has taken the previous one, so at most one batch is being stored while the
next is being stepped.  Waiting for the server's store (with ``sync_interval:
always``, its fsync) then overlaps the stepping instead of adding to it: this
took a third of the loop's time when the loop waited (``docs/performance.md``).
Snapshots wait for the publisher because recovery republishes unstored
outputs from the WAL, and a snapshot lets older WAL segments be pruned.

Exactly once follows: an input is applied only after it is durable in the
WAL; after a crash the WAL decides the state, the output stream decides what
was published, and message ids make a repeated publication harmless.

``request_stop`` lets the batch in hand finish, then the loop waits for the
publisher to store everything, writes a final snapshot and closes the WAL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import trio

from hypermarket.bus.protocol import Bus, InputMessage, OutputMessage
from hypermarket.core import State, check_invariants, step
from hypermarket.models import Output
from hypermarket.observability.gc_tuning import tune_gc
from hypermarket.observability.metrics import EngineMetrics
from hypermarket.persistence import Consumed, Layout, Record, SnapshotStore, Wal, recover
from hypermarket.persistence.wal import FsyncMode
from hypermarket.wire import decode_input, encode_output, encode_output_batch

logger = logging.getLogger(__name__)


class ShardSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What one shard loop needs to know (built from the config by the runtime)."""

    shard: int
    shard_count: int
    book_delta_depth: int
    wal_dir: Path
    snapshot_dir: Path
    fsync: FsyncMode = "batch"
    fsync_interval_ms: int = 10
    segment_bytes: int = 64 << 20
    snapshot_interval: int = 100_000
    snapshots_kept: int = 3
    batch_max: int = 512
    check_invariants: bool = False


class ShardStatistics(msgspec.Struct, frozen=True):
    """Where a shard stands (for logs, metrics and tests)."""

    shard: int
    last_input_seq: int
    last_output_seq: int
    last_stream_seq: int
    snapshots_written: int


def message_id(shard: int, last_output_seq: int) -> str:
    """The ``Nats-Msg-Id`` of the output message whose last output is ``last_output_seq``."""
    return f"{shard}:{last_output_seq}"


def published_output_seq(msg_id: str | None, shard: int) -> int:
    """The last output seq a stored message id stands for (0 when nothing was published)."""
    if msg_id is None:
        return 0
    owner, _, seq = msg_id.partition(":")
    if owner != str(shard) or not seq.isdigit():
        raise ValueError(f"output message id {msg_id!r} is not one of shard {shard}'s")
    return int(seq)


MESSAGE_BYTES = 256 * 1024
"""Most payload bytes in one output message: well below NATS's 1 MiB default maximum."""


def pack_outputs(shard: int, first_seq: int, encoded: Sequence[bytes]) -> list[OutputMessage]:
    """Outputs ``first_seq``, ``first_seq + 1``, ... in as few messages as ``MESSAGE_BYTES`` allows.

    Each message is an ``OutputBatch`` of consecutive outputs, named by its last
    output's seq; where a message ends does not matter to the reader (outputs are
    applied in ``seq`` order) and may differ after a restart, because only
    outputs after the last stored message are published again.
    """
    messages: list[OutputMessage] = []
    start = size = 0
    for index, event in enumerate(encoded):
        if size and size + len(event) > MESSAGE_BYTES:
            messages.append(_message(shard, first_seq + index - 1, encoded[start:index]))
            start, size = index, 0
        size += len(event) + 8
    if start < len(encoded):
        messages.append(_message(shard, first_seq + len(encoded) - 1, encoded[start:]))
    return messages


def _message(shard: int, last_seq: int, encoded: Sequence[bytes]) -> OutputMessage:
    return OutputMessage(message_id(shard, last_seq), encode_output_batch(encoded))


class _Publication(msgspec.Struct, frozen=True):
    """One batch's output messages, and its inputs' stream timestamps for the latency metric."""

    messages: list[OutputMessage]
    input_ts_ns: list[int]


_Job = _Publication | trio.Event
"""What the publisher takes: a batch to store, or an event to set once all before it are stored."""


class ShardLoop:
    """The loop of one shard (see the module docstring)."""

    def __init__(self, settings: ShardSettings, metrics: EngineMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.label = str(settings.shard)
        self.state: State | None = None
        self.last_stream_seq = 0
        self.bus: Bus | None = None
        self._store = SnapshotStore(
            settings.snapshot_dir,
            settings.shard,
            keep=settings.snapshots_kept,
            fsync=settings.fsync != "never",
        )
        self._stopping = False
        self._consume_scope = trio.CancelScope()
        self._since_snapshot = 0
        self._snapshot_running = False
        self._snapshots_written = 0
        self._prune_before: int | None = None

    def statistics(self) -> ShardStatistics:
        state = self.state
        return ShardStatistics(
            self.settings.shard,
            0 if state is None else state.input_seq,
            0 if state is None else state.output_seq,
            self.last_stream_seq,
            self._snapshots_written,
        )

    def _bus(self) -> Bus:
        assert self.bus is not None, "the loop uses its bus only while it runs"
        return self.bus

    def request_stop(self) -> None:
        """Finish the batch in hand, then snapshot and close (``run`` returns)."""
        self._stopping = True
        self._consume_scope.cancel()

    async def run(
        self, bus: Bus, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Recover, report started, then consume from ``bus`` until ``request_stop``."""
        self.bus = bus
        settings = self.settings
        layout = Layout(settings.shard, settings.shard_count, settings.book_delta_depth)
        wal = await trio.to_thread.run_sync(self._open_wal, layout)
        try:
            async with trio.open_nursery() as snapshots:
                await self._recover(wal)
                task_status.started()
                jobs, pending = trio.open_memory_channel[_Job](0)
                async with trio.open_nursery() as publisher:
                    publisher.start_soon(self._publish, pending)
                    async with jobs:
                        await self._consume(wal, snapshots, jobs)
            # The publisher has stored everything and every snapshot task has
            # finished: write the last snapshot in line, then prune.
            await trio.to_thread.run_sync(wal.sync)
            await self._write_snapshot()
            self._prune(wal)
        finally:
            wal.close()

    def _open_wal(self, layout: Layout) -> Wal:
        s = self.settings
        wal = Wal.open(
            s.wal_dir,
            layout,
            fsync=s.fsync,
            fsync_interval_ms=s.fsync_interval_ms,
            segment_bytes=s.segment_bytes,
        )
        if wal.recovery.cut is not None:
            cut = wal.recovery.cut
            logger.warning(
                "cut a torn WAL tail: %d bytes at offset %d (%s)",
                cut.bytes_cut,
                cut.offset,
                cut.reason,
                extra={"shard": s.shard, "path": str(cut.path), "offset": cut.offset},
            )
        return wal

    async def _recover(self, wal: Wal) -> None:
        shard = self.settings.shard
        published = published_output_seq(await self._bus().last_output_id(shard), shard)
        recovery = await trio.to_thread.run_sync(
            lambda: recover(wal, self._store, published_output_seq=published)
        )
        self.state = recovery.state
        self.last_stream_seq = recovery.last_stream_seq
        tune_gc()
        await self._republish(recovery.republish)
        logger.info(
            "shard recovered: %d inputs replayed from %s, %d outputs republished",
            recovery.inputs_replayed,
            "a snapshot" if recovery.snapshot.snapshot is not None else "the start",
            len(recovery.republish),
            extra={"shard": shard, "seq": recovery.state.input_seq},
        )

    async def _republish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        messages = pack_outputs(
            self.settings.shard, records[0].shard_seq, [record.payload for record in records]
        )
        await self._bus().publish_outputs(self.settings.shard, messages)

    async def _publish(self, pending: trio.MemoryReceiveChannel[_Job]) -> None:
        """Store each batch's messages in order; record their inputs' end-to-end latency."""
        shard, bus = self.settings.shard, self._bus()
        end_to_end = self.metrics.end_to_end_seconds.labels(self.label)
        async with pending:
            async for job in pending:
                if isinstance(job, trio.Event):
                    job.set()
                    continue
                if job.messages:
                    await bus.publish_outputs(shard, job.messages)
                now_ns = time.time_ns()
                for ts_ns in job.input_ts_ns:
                    end_to_end.observe(max(now_ns - ts_ns, 0) / 1e9)

    @staticmethod
    async def _all_published(jobs: trio.MemorySendChannel[_Job]) -> None:
        """Return once the publisher has stored every batch handed to it so far."""
        stored = trio.Event()
        await jobs.send(stored)
        await stored.wait()

    async def _consume(
        self, wal: Wal, snapshots: trio.Nursery, jobs: trio.MemorySendChannel[_Job]
    ) -> None:
        settings = self.settings
        async with self._bus().consume(
            settings.shard, self.last_stream_seq + 1, settings.batch_max
        ) as batches:
            while not self._stopping:
                batch: list[InputMessage] | None = None
                # A scope per wait: a Trio cancel scope is entered once.
                self._consume_scope = trio.CancelScope()
                with self._consume_scope:
                    batch = await anext(batches)
                if batch is None:
                    break
                await self._apply(wal, batch, jobs)
                self._prune(wal)
                if (
                    self._since_snapshot >= settings.snapshot_interval
                    and not self._snapshot_running
                ):
                    # Outputs of the last batch are fsynced only with the next batch;
                    # a snapshot must never be ahead of the durable log, nor of the
                    # output stream (the WAL it lets go may hold unstored outputs).
                    await self._all_published(jobs)
                    await trio.to_thread.run_sync(wal.sync)
                    self._since_snapshot = 0
                    self._snapshot_running = True
                    snapshots.start_soon(self._write_snapshot)

    async def _apply(
        self, wal: Wal, batch: list[InputMessage], jobs: trio.MemorySendChannel[_Job]
    ) -> None:
        """Steps 1 to 4 of the module docstring for one batch."""
        shard, label, metrics = self.settings.shard, self.label, self.metrics
        consumed = [Consumed(m.stream_seq, m.ts_ns, m.data) for m in batch]
        started = time.perf_counter()
        await trio.to_thread.run_sync(wal.append_inputs, consumed)
        metrics.wal_fsync_seconds.labels(label).observe(time.perf_counter() - started)
        state = self.state
        assert state is not None
        outputs: list[Output] = []
        started = time.perf_counter()
        for message in batch:
            state, produced = step(state, decode_input(message.data, message.ts_ns))
            outputs += produced
            if self.settings.check_invariants:
                check_invariants(state)
        stepped = time.perf_counter() - started
        encoded = [encode_output(output) for output in outputs]
        wal.append_outputs(outputs, encoded)
        self.state = state
        self.last_stream_seq = batch[-1].stream_seq
        self._since_snapshot += len(batch)
        messages = pack_outputs(shard, outputs[0].seq, encoded) if outputs else []
        await jobs.send(_Publication(messages, [message.ts_ns for message in batch]))
        now_ns = time.time_ns()
        metrics.inputs.labels(label).inc(len(batch))
        metrics.batch_size.labels(label).observe(len(batch))
        metrics.step_seconds.labels(label).observe(stepped / len(batch))
        metrics.consumer_lag_seconds.labels(label).set(max(now_ns - batch[-1].ts_ns, 0) / 1e9)
        metrics.last_input_seq.labels(label).set(state.input_seq)
        metrics.record_outputs(shard, outputs)
        metrics.record_books(shard, state)

    async def _write_snapshot(self) -> None:
        """Write the current (immutable) state in a worker thread while the loop goes on.

        Only the snapshot folder is touched here; the WAL is pruned by the loop
        itself (``_prune``), so the WAL never has two writers.
        """
        state = self.state
        try:
            if state is None or state.input_seq == 0:
                return
            path = await trio.to_thread.run_sync(self._store.write, state, self.last_stream_seq)
            self._prune_before = self._store.oldest_input_seq()
            self._snapshots_written += 1
            logger.info(
                "snapshot written: %s",
                path,
                extra={"shard": self.settings.shard, "seq": state.input_seq},
            )
        finally:
            self._snapshot_running = False

    def _prune(self, wal: Wal) -> None:
        """Drop WAL segments wholly before the oldest snapshot kept (after a snapshot)."""
        if self._prune_before is not None:
            removed = wal.prune(self._prune_before)
            self._prune_before = None
            if removed:
                logger.info(
                    "pruned %d WAL segments", len(removed), extra={"shard": self.settings.shard}
                )


__all__ = ["ShardLoop", "ShardSettings", "ShardStatistics", "message_id", "published_output_seq"]
