"""The WAL writer keeps its promises: records read back exactly as written, in order, across
segment rotation and reopening, byte for byte what the format module says; group commit
fsyncs once per batch and the interval policy paces fsyncs by the injected clock; a failed
write or fsync is fatal and final; misuse is refused before anything is written; pruning
removes exactly the segments a snapshot covers.  Each test writes a real WAL under tmp_path
and reads it back through the public API.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import msgspec
import pytest

from hypermarket.core import step
from hypermarket.persistence import (
    Consumed,
    DurabilityError,
    Layout,
    PersistenceError,
    RecordKind,
    ReplayError,
    Wal,
)
from hypermarket.persistence.synthetic import drive, order_flow, random_batches
from hypermarket.persistence.wal_format import encode_segment, segment_first_seq
from hypermarket.persistence.wal_scan import segment_records
from hypermarket.wire import decode_input

LAYOUT = Layout(shard=0, shard_count=1, book_delta_depth=20)


def _write_log(directory: Path, count: int, seed: int, segment_bytes: int) -> list[Consumed]:
    rng = random.Random(seed)
    messages = order_flow(rng.randrange(1 << 32), count)
    with Wal.open(directory, LAYOUT, fsync="never", segment_bytes=segment_bytes) as wal:
        drive(wal, LAYOUT.genesis(), random_batches(messages, rng, 8))
    return messages


def test_records_read_back_in_order_across_segments(tmp_path: Path) -> None:
    messages = _write_log(tmp_path, 300, seed=1, segment_bytes=2_000)
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        segments = wal.segments
        records = list(wal.records())
        assert wal.recovery.cut is None
        assert wal.last_input_seq == 300
        assert wal.last_stream_seq == messages[-1].stream_seq
    assert len(segments) > 5
    names = [info.path.name for info in segments]
    assert names == sorted(names)
    assert [segment_first_seq(name) for name in names] == [
        info.header.first_input_seq for info in segments
    ]
    inputs = [r for r in records if r.kind is RecordKind.INPUT]
    assert [(r.shard_seq, r.stream_seq, r.ts_ns, r.payload) for r in inputs] == [
        (seq, m.stream_seq, m.ts_ns, m.payload) for seq, m in enumerate(messages, start=1)
    ]
    outputs = [r.shard_seq for r in records if r.kind is RecordKind.OUTPUT]
    assert outputs == list(range(1, len(outputs) + 1))


def test_writer_bytes_are_the_format_bytes(tmp_path: Path) -> None:
    _write_log(tmp_path, 120, seed=2, segment_bytes=3_000)
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        segments = wal.segments
    assert len(segments) > 1
    for info in segments:
        records = list(segment_records(info))
        assert len(records) == info.records
        assert info.path.read_bytes() == encode_segment(info.header, records)


def test_records_from_an_input_and_outputs_after_an_output(tmp_path: Path) -> None:
    _write_log(tmp_path, 200, seed=3, segment_bytes=2_500)
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        every = list(wal.records())
        tail = list(wal.records(150))
        outputs = list(wal.outputs(40))
    first = next(
        i for i, r in enumerate(every) if r.kind is RecordKind.INPUT and r.shard_seq == 150
    )
    assert tail == every[first:]
    assert outputs == [r for r in every if r.kind is RecordKind.OUTPUT and r.shard_seq > 40]


def test_batch_policy_fsyncs_once_per_batch_and_outputs_ride_along(tmp_path: Path) -> None:
    rng = random.Random(4)
    messages = order_flow(rng.randrange(1 << 32), 60)
    batches = random_batches(messages, rng, 7)
    undecodable = Consumed(messages[-1].stream_seq + 1, messages[-1].ts_ns, b"\xff")
    with Wal.open(tmp_path, LAYOUT) as wal:
        state = drive(wal, LAYOUT.genesis(), batches)
        assert wal.statistics().fsyncs == len(batches)
        wal.append_inputs([undecodable])
        assert wal.statistics().fsyncs == len(batches) + 1
        rejected = step(state, decode_input(undecodable.payload, undecodable.ts_ns))[1]
        wal.append_outputs(rejected)
        assert wal.statistics().fsyncs == len(batches) + 1
        wal.sync()  # the outputs
        assert wal.statistics().fsyncs == len(batches) + 2
        wal.sync()  # nothing pending: no fsync
        assert wal.statistics().fsyncs == len(batches) + 2


def test_interval_policy_takes_time_from_the_injected_clock(tmp_path: Path) -> None:
    now = [0]
    messages = order_flow(5, 6)
    with Wal.open(
        tmp_path, LAYOUT, fsync="interval", fsync_interval_ms=10, clock=lambda: now[0]
    ) as wal:
        fsyncs = []
        for message, at_ms in zip(messages, (5, 10, 12, 19, 21, 22), strict=True):
            now[0] = at_ms * 1_000_000
            wal.append_inputs([message])
            fsyncs.append(wal.statistics().fsyncs)
        assert fsyncs == [0, 1, 1, 1, 2, 2]
        wal.sync()
        assert wal.statistics().fsyncs == 3


def test_never_policy_never_fsyncs(tmp_path: Path) -> None:
    rng = random.Random(6)
    with Wal.open(tmp_path, LAYOUT, fsync="never", segment_bytes=1_000) as wal:
        drive(wal, LAYOUT.genesis(), random_batches(order_flow(rng.randrange(1 << 32), 50), rng, 5))
        wal.sync()
        assert wal.statistics().fsyncs == 0
        assert wal.statistics().segments > 1


@pytest.mark.parametrize("failing", ["fsync", "write"])
def test_a_failed_fsync_or_write_is_fatal_and_final(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    messages = order_flow(7, 4)
    wal = Wal.open(tmp_path, LAYOUT)
    wal.append_inputs(messages[:1])

    def broken(*args: object) -> int:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(os, failing, broken)
        with pytest.raises(DurabilityError) as failure:
            wal.append_inputs(messages[1:2])
    assert f"{failing} failed" in str(failure.value)
    assert str(wal.segments[-1].path) in str(failure.value)
    # The disk works again, but nothing may be retried: fsyncgate.
    for attempt in (
        lambda: wal.append_inputs(messages[2:3]),
        lambda: wal.append_outputs([]),
        wal.sync,
        lambda: wal.prune(10),
    ):
        with pytest.raises(DurabilityError, match="failed before"):
            attempt()
    wal.close()


def test_misuse_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    messages = order_flow(8, 10)
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        wal.append_inputs(messages[:3])
        state = LAYOUT.genesis()
        outputs = []
        for message in messages[:3]:
            state, produced = step(state, decode_input(message.payload, message.ts_ns))
            outputs += produced
        size = wal.segments[-1].end
        with pytest.raises(ValueError, match="consumed twice"):
            wal.append_inputs([messages[3], messages[2]])
        with pytest.raises(ValueError, match="does not follow"):
            wal.append_outputs(outputs[1:])
        with pytest.raises(ValueError, match="does not follow"):
            wal.append_outputs([msgspec.structs.replace(outputs[0], shard=1)])
        with pytest.raises(ValueError, match="not of the last input batch"):
            wal.append_outputs([msgspec.structs.replace(outputs[0], input_seq=9)])
        assert wal.segments[-1].end == size
        wal.append_outputs(outputs)
        wal.append_inputs(messages[3:5])
        of_earlier_batch = msgspec.structs.replace(outputs[0], seq=len(outputs) + 1)
        with pytest.raises(ValueError, match="not of the last input batch"):
            wal.append_outputs([of_earlier_batch])
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        assert (wal.last_input_seq, wal.last_output_seq) == (5, len(outputs))


def test_open_refuses_a_wal_of_another_shard(tmp_path: Path) -> None:
    _write_log(tmp_path, 5, seed=9, segment_bytes=1_000)
    with pytest.raises(PersistenceError, match="this WAL is of"):
        Wal.open(tmp_path, Layout(1, 2, 20))
    with pytest.raises(PersistenceError, match="this WAL is of"):
        Wal.open(tmp_path, Layout(0, 1, 10))


def test_prune_removes_exactly_the_segments_a_snapshot_covers(tmp_path: Path) -> None:
    _write_log(tmp_path, 200, seed=10, segment_bytes=1_500)
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        before = wal.segments
        covered = before[3].header.first_input_seq  # segment 2 ends at covered - 1
        removed = wal.prune(covered - 1)
        assert removed == tuple(info.path for info in before[:3])
        assert wal.first_input_seq == covered
        assert wal.prune(covered - 1) == ()
        with pytest.raises(ReplayError, match="was pruned"):
            next(wal.records(1))
        assert next(wal.records(covered)).shard_seq == covered
        wal.prune(10**9)
        assert len(wal.segments) == 1  # the active segment stays
        last = wal.last_input_seq
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        assert wal.last_input_seq == last
