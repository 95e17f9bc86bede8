"""Recovery keeps exactly the durable prefix.  A WAL written by a live run is cut at every record
boundary and inside every record, as a crash mid-write would leave it, and hit by random bit
flips (the seed is printed; ``HYPERMARKET_CRASH_SEED`` replays it).  Each time, recovery either
cuts a torn tail, reports it, and rebuilds the state of the whole records left (equal to the
live state after that many inputs, with the missing outputs recomputed, the log verifying end
to end after the shard goes on), or refuses with an error naming the damaged file and offset
when the damage is not at the tail.  Removing or corrupting the newest snapshot falls back to
the one before it with the same result.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from hypermarket.core import State, state_hash, step
from hypermarket.persistence import (
    Consumed,
    Layout,
    ReplayError,
    SnapshotStore,
    TailCut,
    Wal,
    WalCorruptionError,
    fold,
    recover,
)
from hypermarket.persistence.synthetic import drive, order_flow, random_batches
from hypermarket.persistence.wal_format import (
    SEGMENT_HEADER_BYTES,
    RecordKind,
    decode_record,
    decode_segment_header,
)
from hypermarket.wire import decode_input

LAYOUT = Layout(shard=0, shard_count=1, book_delta_depth=3)
MESSAGES = 32
FLIPS = 150


class Piece(NamedTuple):
    """A header or record as written: its segment, byte range, and for a record its kind and
    sequence."""

    segment: int
    start: int
    end: int
    kind: RecordKind | None
    seq: int


class Golden(NamedTuple):
    directory: Path
    messages: list[Consumed]
    states: list[State]
    segments: list[Path]
    pieces: list[Piece]


def _pieces(segments: list[Path]) -> list[Piece]:
    pieces = []
    for index, path in enumerate(segments):
        data = path.read_bytes()
        header = decode_segment_header(data)
        pieces.append(Piece(index, 0, SEGMENT_HEADER_BYTES, None, 0))
        offset, crc = SEGMENT_HEADER_BYTES, header.chain_seed
        while offset < len(data):
            record, crc, end = decode_record(data, offset, crc)
            pieces.append(Piece(index, offset, end, record.kind, record.shard_seq))
            offset = end
    return pieces


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Golden:
    directory = tmp_path_factory.mktemp("golden")
    rng = random.Random(20240501)
    messages = order_flow(rng.randrange(1 << 32), MESSAGES)
    with Wal.open(directory, LAYOUT, fsync="never", segment_bytes=1_200) as wal:
        drive(wal, LAYOUT.genesis(), random_batches(messages, rng, 4))
        segments = [info.path for info in wal.segments]
    states = [LAYOUT.genesis()]
    for message in messages:
        states.append(step(states[-1], decode_input(message.payload, message.ts_ns))[0])
    assert len(segments) >= 3
    return Golden(directory, messages, states, segments, _pieces(segments))


def _crashed(golden: Golden, target: Path, segment: int, cut: int) -> Path:
    """The folder as a crash would leave it while segment ``segment`` had ``cut`` bytes."""
    target.mkdir()
    for path in golden.segments[:segment]:
        shutil.copy(path, target / path.name)
    data = golden.segments[segment].read_bytes()[:cut]
    (target / golden.segments[segment].name).write_bytes(data)
    return target


def _cut_points(golden: Golden) -> list[tuple[int, int]]:
    points = set()
    for piece in golden.pieces:
        if piece.kind is None:
            points |= {(piece.segment, 0), (piece.segment, 1), (piece.segment, piece.end - 1)}
        candidates = (piece.start + 1, piece.start + 6, piece.end - 1, piece.end)
        points |= {(piece.segment, offset) for offset in candidates}
    return sorted(points)


def _last_input(pieces: list[Piece]) -> int:
    return max((p.seq for p in pieces if p.kind is RecordKind.INPUT), default=0)


def _recover(directory: Path, published: int = 0) -> tuple[Wal, State, int, TailCut | None]:
    wal = Wal.open(directory, LAYOUT, fsync="never")
    recovery = recover(
        wal, SnapshotStore(directory / "snapshots", 0), published_output_seq=published
    )
    return wal, recovery.state, recovery.last_stream_seq, recovery.wal.cut


def test_truncation_anywhere_keeps_exactly_the_whole_records(
    golden: Golden, tmp_path: Path
) -> None:
    for case, (segment, cut) in enumerate(_cut_points(golden)):
        directory = _crashed(golden, tmp_path / str(case), segment, cut)
        where = f"segment {segment} cut at {cut}"
        whole = [
            p
            for p in golden.pieces
            if p.segment < segment or (p.segment == segment and p.end <= cut)
        ]
        if cut < SEGMENT_HEADER_BYTES:
            expected_cut: tuple[int, int] | None = (0, cut)  # the file goes
        else:
            torn = [p for p in golden.pieces if p.segment == segment and p.start < cut < p.end]
            expected_cut = (torn[0].start, cut - torn[0].start) if torn else None
        kept = _last_input(whole)
        wal, state, stream_seq, report = _recover(directory)
        with wal:
            assert (report and (report.offset, report.bytes_cut)) == expected_cut, where
            assert report is None or report.path.name == golden.segments[segment].name
            assert state_hash(state) == state_hash(golden.states[kept]), where
            assert stream_seq == (golden.messages[kept - 1].stream_seq if kept else 0), where
            assert wal.last_output_seq == golden.states[kept].output_seq, where
            # The shard goes on: the cut inputs come again from the stream.
            rest = random_batches(golden.messages[kept:], random.Random(case), 3)
            final = drive(wal, state, rest)
        assert state_hash(final) == state_hash(golden.states[-1]), where
        result = fold(directory, verify=True)
        assert result.verification is not None
        assert result.verification.ok, (where, result.verification)
        assert result.verification.checked == golden.states[-1].output_seq, where


def test_bit_flips_are_cut_at_the_tail_and_refused_before_it(
    golden: Golden, tmp_path: Path
) -> None:
    seed = int(os.environ.get("HYPERMARKET_CRASH_SEED", random.randrange(2**32)))
    print(f"bit flip seed {seed} (replay: HYPERMARKET_CRASH_SEED={seed})")
    rng = random.Random(seed)
    last_segment = len(golden.segments) - 1
    last_record = golden.pieces[-1]
    for case in range(FLIPS):
        # Half the flips land in the last segment, where a tail must be told from damage.
        segment = last_segment if rng.random() < 0.5 else rng.randrange(len(golden.segments))
        path = golden.segments[segment]
        data = bytearray(path.read_bytes())
        offset = rng.randrange(len(data))
        data[offset] ^= 1 << rng.randrange(8)
        directory = tmp_path / str(case)
        shutil.copytree(golden.directory, directory)
        (directory / path.name).write_bytes(bytes(data))
        hit = next(p for p in golden.pieces if p.segment == segment and p.start <= offset < p.end)
        where = f"case {case}: segment {segment} offset {offset}, seed {seed}"
        if segment == last_segment and hit == last_record:
            wal, state, _, report = _recover(directory)
            wal.close()
            assert report is not None, where
            assert (report.offset, report.bytes_cut) == (hit.start, hit.end - hit.start), where
            before = [p for p in golden.pieces if p != last_record]
            assert state_hash(state) == state_hash(golden.states[_last_input(before)]), where
        else:
            with pytest.raises(WalCorruptionError) as refused:
                Wal.open(directory, LAYOUT, fsync="never")
            assert refused.value.path == directory / path.name, where
            assert refused.value.offset == hit.start, where
            assert f"{path.name} at offset {hit.start}" in str(refused.value), where


def test_a_torn_tail_is_logged_with_file_and_offset(
    golden: Golden, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    last = golden.pieces[-1]
    directory = _crashed(golden, tmp_path / "torn", last.segment, last.end - 1)
    with caplog.at_level(logging.WARNING, logger="hypermarket.persistence.wal"):
        Wal.open(directory, LAYOUT, fsync="never").close()
    name = golden.segments[last.segment].name
    assert f"{name} at offset {last.start}, {last.end - 1 - last.start} bytes" in caplog.text


def _with_snapshots(golden: Golden, wal: Path) -> SnapshotStore:
    """Snapshots of the live run after inputs 4, 8, 16 and 24 beside ``wal``; 3 are kept."""
    store = SnapshotStore(wal / "snapshots", 0, keep=3, fsync=False)
    for at in (4, 8, 16, 24):
        store.write(golden.states[at], golden.messages[at - 1].stream_seq)
    return store


def _end_of_input(golden: Golden, seq: int) -> Piece:
    return next(p for p in golden.pieces if p.kind is RecordKind.INPUT and p.seq == seq)


@pytest.mark.parametrize("damage", ["removed", "flipped", "truncated", "ahead_of_the_wal"])
def test_a_lost_or_damaged_newest_snapshot_falls_back(
    golden: Golden, tmp_path: Path, damage: str
) -> None:
    wal_dir = tmp_path / "wal"
    if damage == "ahead_of_the_wal":
        # A crash lost the WAL's tail after input 20 but not the snapshot after input 24: it
        # was taken before the WAL was synced, and the WAL could not continue from it.
        piece = _end_of_input(golden, 20)
        _crashed(golden, wal_dir, piece.segment, piece.end)
    else:
        shutil.copytree(golden.directory, wal_dir)
    store = _with_snapshots(golden, wal_dir)
    newest = store.paths()[-1]
    data = newest.read_bytes()
    if damage == "removed":
        newest.unlink()
    elif damage == "flipped":
        newest.write_bytes(data[:100] + bytes([data[100] ^ 4]) + data[101:])
    elif damage == "truncated":
        newest.write_bytes(data[:-7])
    with Wal.open(wal_dir, LAYOUT, fsync="never") as wal:
        recovery = recover(wal, store, published_output_seq=0)
        expected = golden.states[wal.last_input_seq]
    used = recovery.snapshot.snapshot
    assert used is not None
    assert used.header.input_seq == 16
    assert state_hash(recovery.state) == state_hash(expected)
    rejected = [r.path for r in recovery.snapshot.rejected]
    assert rejected == ([] if damage == "removed" else [newest])


def test_without_snapshots_a_pruned_wal_cannot_be_recovered(golden: Golden, tmp_path: Path) -> None:
    shutil.copytree(golden.directory, tmp_path / "wal")
    with Wal.open(tmp_path / "wal", LAYOUT, fsync="never") as wal:
        assert wal.prune(24)
    store = SnapshotStore(tmp_path / "wal" / "snapshots", 0)
    with (
        Wal.open(tmp_path / "wal", LAYOUT, fsync="never") as wal,
        pytest.raises(ReplayError, match="input 1 was pruned"),
    ):
        recover(wal, store, published_output_seq=0)
