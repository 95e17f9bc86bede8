"""Snapshots restore exactly and are taken safely.  For random flows, a snapshot read back gives
the same canonical bytes and state hash as the state written (and the header's hash is
``core.state_hash``); a snapshot serialized in a worker thread from a state reference taken
earlier, while the shard keeps stepping, equals a fold of the WAL up to its sequence; the
store keeps the newest K and cleans stale temporary files; ``inspect_snapshot`` and
``diff_states`` describe what a snapshot holds and what differs between two states, and the
diff is empty exactly when the canonical encodings are equal.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypermarket.core import State, encode_state, state_hash, step
from hypermarket.persistence import (
    Consumed,
    Layout,
    SnapshotStore,
    Wal,
    diff_states,
    encode_snapshot,
    fold,
    inspect_snapshot,
    market_summaries,
    read_snapshot,
    render_inspection,
)
from hypermarket.persistence.synthetic import drive, order_flow, random_batches
from hypermarket.wire import decode_input

LAYOUT = Layout(shard=0, shard_count=2, book_delta_depth=10)


def _states(messages: list[Consumed]) -> list[State]:
    states = [LAYOUT.genesis()]
    for message in messages:
        states.append(step(states[-1], decode_input(message.payload, message.ts_ns))[0])
    return states


def _flow(seed: int, count: int) -> list[Consumed]:
    return order_flow(seed, count, shard=0, shard_count=2)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(0, 300), stream_seq=st.integers(0, 2**64 - 1))
def test_snapshot_then_restore_is_identity(
    tmp_path_factory: pytest.TempPathFactory, seed: int, count: int, stream_seq: int
) -> None:
    state = _states(_flow(seed, count))[-1]
    store = SnapshotStore(tmp_path_factory.mktemp("snapshots"), 0, fsync=False)
    snapshot = read_snapshot(store.write(state, stream_seq))
    assert encode_state(snapshot.state) == encode_state(state)
    assert state_hash(snapshot.state) == state_hash(state)
    assert snapshot.header.state_hash == state_hash(state)
    assert snapshot.header.last_stream_seq == stream_seq
    assert (snapshot.header.input_seq, snapshot.header.output_seq) == (
        state.input_seq,
        state.output_seq,
    )
    assert diff_states(snapshot.state, state) == []


def test_snapshot_of_an_old_reference_in_a_thread_equals_the_fold(tmp_path: Path) -> None:
    rng = random.Random(3)
    messages = _flow(3, 1_500)
    batches = random_batches(messages, rng, 20)
    store = SnapshotStore(tmp_path / "snapshots", 0, fsync=False)
    with Wal.open(tmp_path / "wal", LAYOUT, fsync="never") as wal:
        state = drive(wal, LAYOUT.genesis(), batches[:40])
        taken, taken_stream_seq = state, wal.last_stream_seq
        # The shard goes on stepping while a worker thread serializes the old reference.
        written: list[Path] = []
        worker = threading.Thread(
            target=lambda: written.append(store.write(taken, taken_stream_seq))
        )
        state = drive(wal, state, batches[40:60])
        worker.start()
        state = drive(wal, state, batches[60:])
        worker.join()
    snapshot = read_snapshot(written[0])
    at = fold(tmp_path / "wal", until=taken.input_seq)
    assert snapshot.state.input_seq == taken.input_seq < state.input_seq
    assert snapshot.header.state_hash == at.state_hash
    assert snapshot.header.last_stream_seq == at.last_stream_seq
    rest = fold(tmp_path / "wal", snapshot=written[0], verify=True)
    assert rest.state_hash == state_hash(state)
    assert rest.verification is not None
    assert rest.verification.ok


def test_the_store_keeps_the_newest_k_and_cleans_up(tmp_path: Path) -> None:
    states = _states(_flow(4, 60))
    store = SnapshotStore(tmp_path, 0, keep=3, fsync=False)
    assert store.load_newest().snapshot is None
    assert store.oldest_input_seq() is None
    (tmp_path / "00000000000000000007.snap.tmp").write_bytes(b"a crash mid-write")
    (tmp_path / "notes.txt").write_text("not a snapshot")
    for at in (10, 20, 30, 40, 50):
        store.write(states[at], at * 2)
    assert [path.name for path in store.paths()] == [
        "00000000000000000030.snap",
        "00000000000000000040.snap",
        "00000000000000000050.snap",
    ]
    assert sorted(path.name for path in tmp_path.iterdir())[-1] == "notes.txt"
    assert not list(tmp_path.glob("*.tmp"))
    assert store.oldest_input_seq() == 30
    loaded = store.load_newest()
    assert loaded.snapshot is not None
    assert loaded.snapshot.header.input_seq == 50
    assert loaded.rejected == ()
    with pytest.raises(ValueError, match="of shard 1"):
        store.write(Layout(1, 2, 10).genesis(), 0)


def test_a_snapshot_is_the_same_bytes_whoever_writes_it(tmp_path: Path) -> None:
    state = _states(_flow(5, 200))[-1]
    first = SnapshotStore(tmp_path / "a", 0, fsync=False).write(state, 9)
    second = SnapshotStore(tmp_path / "b", 0).write(state, 9)
    assert first.read_bytes() == second.read_bytes() == encode_snapshot(state, 9)


def test_inspect_describes_the_snapshot(tmp_path: Path) -> None:
    states = _states(_flow(6, 400))
    state = states[-1]
    path = SnapshotStore(tmp_path, 0, fsync=False).write(state, 777)
    description = inspect_snapshot(path)
    assert json.loads(json.dumps(description)) == description
    assert description["header"]["state_hash"] == state_hash(state)
    assert description["header"]["last_stream_seq"] == 777
    assert description["state"]["input_seq"] == 400
    summaries = market_summaries(state)
    assert [m["market_id"] for m in description["markets"]] == [s.market_id for s in summaries]
    for market, summary in zip(description["markets"], summaries, strict=True):
        top = market["top_of_book"]
        assert (top["best_bid"], top["best_ask"]) == (summary.best_bid, summary.best_ask)
        assert len(market["orders"]) == summary.resting_bids + summary.resting_asks
        assert sum(len(level["order_ids"]) for level in market["bids"]) == summary.resting_bids
        assert all(order["account"].startswith("0x") for order in market["orders"])
        assert market["config"]["status"] in {"ACTIVE", "POST_ONLY", "HALTED", "CANCEL_ONLY"}
    text = render_inspection(description)
    assert f"state hash {state_hash(state)}" in text
    assert all(f"market {s.market_id} {s.symbol}" in text for s in summaries)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), first=st.integers(0, 150), second=st.integers(0, 150))
def test_diff_is_empty_exactly_when_the_encodings_are_equal(
    seed: int, first: int, second: int
) -> None:
    states = _states(_flow(seed, 150))
    a, b = states[first], states[second]
    lines = diff_states(a, b)
    assert (lines == []) == (encode_state(a) == encode_state(b))
    if first != second:
        assert lines[0] == f"input_seq: {first} != {second}"


def test_diff_names_markets_orders_and_levels() -> None:
    states = _states(_flow(7, 120))
    lines = diff_states(states[0], states[-1])
    assert "input_seq: 0 != 120" in lines
    market_ids = sorted(states[-1].markets.keys())
    assert [
        line for line in lines if line.startswith("market ") and line.endswith("only in B")
    ] == [f"market {market_id}: only in B" for market_id in market_ids]
    later = diff_states(states[60], states[-1])
    assert any(": order " in line for line in later)
    assert any(" level " in line for line in later)
