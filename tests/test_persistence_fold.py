"""Replay is a fold: for random flows (hypothesis picks the seed, the length and the batching
of orders, cancels, amends, market changes and undecodable bytes), folding the logged WAL
gives the live run's state hash, from the start or from a snapshot, up to any ``until``;
verification passes on every generated log, and fails, naming the output and the input that
caused it, when one byte of one logged output is changed (the log is rewritten with valid
CRCs, so only verification can notice).
"""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypermarket.core import State, state_hash, step
from hypermarket.persistence import (
    Consumed,
    Layout,
    RecordKind,
    ReplayError,
    SnapshotStore,
    Wal,
    fold,
    market_summaries,
    render_fold,
)
from hypermarket.persistence.synthetic import drive, order_flow, random_batches
from hypermarket.persistence.wal_format import SegmentHeader, encode_segment, segment_name
from hypermarket.wire import decode_input, output_from_bytes

LAYOUT = Layout(shard=1, shard_count=3, book_delta_depth=5)
FLOWS = settings(max_examples=25, deadline=None)


def _states(messages: list[Consumed]) -> list[State]:
    """The live states after 0, 1, ... n inputs, stepped directly (not through the WAL)."""
    states = [LAYOUT.genesis()]
    for message in messages:
        states.append(step(states[-1], decode_input(message.payload, message.ts_ns))[0])
    return states


def _log(directory: Path, seed: int, count: int, max_batch: int) -> list[Consumed]:
    """Run a live shard over a random flow, logging to ``directory``; return the flow.  The
    live state must equal the same inputs stepped directly (``_states``)."""
    rng = random.Random(seed)
    messages = order_flow(seed, count, shard=LAYOUT.shard, shard_count=LAYOUT.shard_count)
    with Wal.open(directory, LAYOUT, fsync="never", segment_bytes=4_000) as wal:
        live = drive(wal, LAYOUT.genesis(), random_batches(messages, rng, max_batch))
    assert state_hash(live) == state_hash(_states(messages)[-1])
    return messages


@FLOWS
@given(
    seed=st.integers(0, 2**32),
    count=st.integers(1, 250),
    max_batch=st.integers(1, 20),
    until=st.floats(0, 1),
)
def test_fold_gives_the_live_state(
    tmp_path_factory: pytest.TempPathFactory, seed: int, count: int, max_batch: int, until: float
) -> None:
    directory = tmp_path_factory.mktemp("wal")
    messages = _log(directory, seed, count, max_batch)
    states = _states(messages)
    result = fold(directory, verify=True)
    assert result.state_hash == state_hash(states[-1])
    assert result.last_input_seq == count
    assert result.last_stream_seq == messages[-1].stream_seq
    assert result.verification is not None
    assert result.verification.ok
    assert result.verification.checked == states[-1].output_seq
    assert result.verification.unlogged == 0
    assert market_summaries(result.state) == market_summaries(states[-1])

    stop = round(until * count)
    partial = fold(directory, until=stop, verify=True)
    assert partial.state_hash == state_hash(states[stop])
    assert partial.verification is not None
    assert partial.verification.ok
    assert partial.verification.checked == states[stop].output_seq


@FLOWS
@given(seed=st.integers(0, 2**32), count=st.integers(2, 200), at=st.floats(0, 1))
def test_fold_from_a_snapshot_gives_the_live_state(
    tmp_path_factory: pytest.TempPathFactory, seed: int, count: int, at: float
) -> None:
    directory = tmp_path_factory.mktemp("wal")
    messages = _log(directory, seed, count, 6)
    states = _states(messages)
    taken = round(at * count)
    stream_seq = messages[taken - 1].stream_seq if taken else 0
    snapshot = SnapshotStore(directory / "snapshots", LAYOUT.shard, fsync=False).write(
        states[taken], stream_seq
    )
    result = fold(directory, snapshot=snapshot, verify=True)
    assert result.state_hash == state_hash(states[-1])
    assert result.inputs_replayed == count - taken
    assert result.verification is not None
    assert result.verification.ok
    assert result.verification.checked == states[-1].output_seq - states[taken].output_seq
    assert result.snapshot == snapshot


@FLOWS
@given(seed=st.integers(0, 2**32), count=st.integers(1, 150), pick=st.randoms())
def test_verify_names_the_first_changed_output(
    tmp_path_factory: pytest.TempPathFactory, seed: int, count: int, pick: random.Random
) -> None:
    directory = tmp_path_factory.mktemp("wal")
    _log(directory, seed, count, 5)
    with Wal.open(directory, LAYOUT, fsync="never") as wal:
        records = list(wal.records())
    outputs = [i for i, record in enumerate(records) if record.kind is RecordKind.OUTPUT]
    index = pick.choice(outputs)
    original = records[index]
    payload = bytearray(original.payload)
    payload[pick.randrange(len(payload))] ^= pick.randint(1, 255)
    records[index] = msgspec.structs.replace(original, payload=bytes(payload))
    changed = directory.parent / f"{directory.name}-changed"
    changed.mkdir()
    (changed / segment_name(1)).write_bytes(
        encode_segment(SegmentHeader(LAYOUT, 1, 0, 0, 0), records)
    )

    result = fold(changed, verify=True)
    assert result.verification is not None
    mismatch = result.verification.mismatch
    assert mismatch is not None
    assert mismatch.output_seq == original.shard_seq
    assert mismatch.input_seq == output_from_bytes(original.payload).input_seq
    assert mismatch.logged == bytes(payload)
    assert mismatch.recomputed == original.payload
    assert f"output {original.shard_seq} of input {mismatch.input_seq}" in mismatch.describe()
    assert result.verification.checked == original.shard_seq - 1
    assert f"verify FAILED: {mismatch.describe()}" in render_fold(result)
    # The fold itself does not depend on the logged outputs.
    assert result.state_hash == fold(directory).state_hash


def test_fold_only_reads_and_reports_a_torn_tail(tmp_path: Path) -> None:
    messages = _log(tmp_path, 12, 40, 4)
    segment = max(tmp_path.iterdir())
    size = segment.stat().st_size
    with segment.open("r+b") as file:
        file.truncate(size - 3)
    result = fold(tmp_path, verify=True)
    assert segment.stat().st_size == size - 3
    assert result.torn_tail is not None
    assert result.torn_tail.path == segment
    assert result.verification is not None
    assert result.verification.ok
    expected = _states(messages[: result.last_input_seq])[-1]
    assert result.state_hash == state_hash(expected)
    text = render_fold(result)
    assert f"torn tail not replayed: {segment} at offset {result.torn_tail.offset}" in text
    assert f"state hash {result.state_hash}" in text
    assert all(f"market {s.market_id} {s.symbol}: " in text for s in market_summaries(expected))


def test_fold_refuses_what_does_not_fit(tmp_path: Path) -> None:
    messages = _log(tmp_path / "wal", 11, 30, 4)
    states = _states(messages)
    store = SnapshotStore(tmp_path / "snapshots", LAYOUT.shard, fsync=False)
    at_ten = store.write(states[10], messages[9].stream_seq)
    with pytest.raises(ReplayError, match="before the start at input 10"):
        fold(tmp_path / "wal", snapshot=at_ten, until=9)
    ahead = store.write(msgspec.structs.replace(states[30], input_seq=31), 10**6)
    with pytest.raises(ReplayError, match="covers input 31, the WAL ends at 30"):
        fold(tmp_path / "wal", snapshot=ahead)
    other = SnapshotStore(tmp_path / "other", 0, fsync=False).write(Layout(0, 3, 5).genesis(), 0)
    with pytest.raises(ReplayError, match="the WAL of"):
        fold(tmp_path / "wal", snapshot=other)
    with pytest.raises(ReplayError, match="no WAL segments"):
        fold(tmp_path / "empty")
