"""Bad data on disk gives a ``PersistenceError`` naming the file and, where one applies, the
offset, never a raw ``struct``, ``msgspec`` or index error.  Hand-made WALs break each rule of
the format (sequence gaps and repeats, an output of no input, segments that do not continue
each other, names that lie, a foreign magic or version, a hole before valid records, trailing
bytes in an old segment); hand-made snapshots break each check of theirs; and hypothesis
throws random bytes and random mutations at segments and snapshots (re-sealed with valid
checksums where that lets the bytes reach the decoders).
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import google_crc32c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypermarket.core import encode_state
from hypermarket.persistence import (
    Layout,
    PersistenceError,
    Record,
    RecordKind,
    SnapshotError,
    SnapshotStore,
    Wal,
    WalCorruptionError,
    fold,
    read_snapshot,
)
from hypermarket.persistence.synthetic import drive, order_flow, random_batches
from hypermarket.persistence.wal_format import (
    RECORD_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
    SegmentHeader,
    encode_segment,
    encode_segment_header,
    segment_name,
)
from hypermarket.persistence.wal_scan import scan_wal

LAYOUT = Layout(0, 1, 20)
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _input(seq: int, stream_seq: int) -> Record:
    return Record(RecordKind.INPUT, seq, stream_seq, 1_000 + seq, b"input %d" % seq)


def _output(seq: int, stream_seq: int) -> Record:
    return Record(RecordKind.OUTPUT, seq, stream_seq, 1_000, b"output %d" % seq)


def _segment(directory: Path, records: list[Record], first: int = 1, **header: int) -> Path:
    fields = {"output_seq_before": 0, "stream_seq_before": 0, "chain_seed": 0, **header}
    path = directory / segment_name(first)
    path.write_bytes(encode_segment(SegmentHeader(LAYOUT, first, **fields), records))
    return path


def _offset_of(records: list[Record], index: int) -> int:
    return SEGMENT_HEADER_BYTES + sum(
        RECORD_HEADER_BYTES + len(record.payload) for record in records[:index]
    )


RULES = [
    ("input sequence 4, expected 3", [_input(1, 1), _input(2, 2), _input(4, 3), _input(5, 4)], 2),
    ("stream sequence 2 after 2", [_input(1, 1), _input(2, 2), _input(3, 2)], 2),
    ("output sequence 3, expected 2", [_input(1, 5), _output(1, 5), _output(3, 5)], 2),
    ("not an input of this segment", [_input(1, 5), _output(1, 6)], 1),
    ("not an input of this segment", [_input(1, 5), _input(2, 6), _output(1, 6), _output(2, 5)], 3),
    ("unknown record kind 3", [_input(1, 1), Record(3, 2, 2, 0, b"?")], 1),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("reason", "records", "bad"), RULES)
def test_a_record_that_breaks_a_rule_is_refused_even_at_the_tail(
    tmp_path: Path, reason: str, records: list[Record], bad: int
) -> None:
    path = _segment(tmp_path, records)
    with pytest.raises(WalCorruptionError, match=reason) as refused:
        scan_wal(tmp_path)
    assert (refused.value.path, refused.value.offset) == (path, _offset_of(records, bad))
    assert str(refused.value).startswith(f"{path} at offset {_offset_of(records, bad)}: ")


def test_segments_must_continue_each_other(tmp_path: Path) -> None:
    first = [_input(1, 1), _output(1, 1), _input(2, 4)]
    _segment(tmp_path, first)
    scan = scan_wal(tmp_path)
    crc = scan.segments[0].last_crc
    continuing = {"first": 3, "output_seq_before": 1, "stream_seq_before": 4, "chain_seed": crc}
    cases = {
        "first input 4 (expected 3)": {**continuing, "first": 4},
        "outputs before 0 (expected 1)": {**continuing, "output_seq_before": 0},
        "stream sequence before 3 (expected 4)": {**continuing, "stream_seq_before": 3},
        f"chain seed 7 (expected {crc})": {**continuing, "chain_seed": 7},
    }
    for reason, fields in cases.items():
        second = _segment(tmp_path, [_input(fields["first"], 9)], **fields)
        with pytest.raises(WalCorruptionError, match=f"{re.escape(reason)}$") as refused:
            scan_wal(tmp_path)
        assert (refused.value.path, refused.value.offset) == (second, 0)
        second.unlink()


def test_a_name_that_lies_a_foreign_magic_or_version_is_refused(tmp_path: Path) -> None:
    path = _segment(tmp_path, [_input(1, 1)])
    path.rename(tmp_path / segment_name(2))
    with pytest.raises(WalCorruptionError, match="the name disagrees") as refused:
        scan_wal(tmp_path)
    assert refused.value.offset == 0
    (tmp_path / segment_name(2)).unlink()

    good = encode_segment_header(SegmentHeader(LAYOUT, 1, 0, 0, 0))
    future = good[:8] + struct.pack("<H", 2) + good[10:50]
    for header, reason in (
        (b"PK\x03\x04" + good[4:], "not a WAL segment"),
        (future + struct.pack("<I", google_crc32c.value(future)), "WAL format version 2"),
        (good[:20] + b"\xff" + good[21:], "segment header CRC mismatch"),
    ):
        (tmp_path / segment_name(1)).write_bytes(header + b"\x00" * 40)
        with pytest.raises(WalCorruptionError, match=reason) as refused:
            Wal.open(tmp_path, LAYOUT, fsync="never")
        assert refused.value.offset == 0


def test_trailing_bytes_in_an_old_segment_are_refused(tmp_path: Path) -> None:
    records = [_input(1, 1), _input(2, 2)]
    old = _segment(tmp_path, records)
    crc = scan_wal(tmp_path).segments[0].last_crc
    _segment(tmp_path, [_input(3, 3)], first=3, stream_seq_before=2, chain_seed=crc)
    old.write_bytes(old.read_bytes() + b"\x00" * 5)
    with pytest.raises(WalCorruptionError, match="not the last") as refused:
        Wal.open(tmp_path, LAYOUT, fsync="never")
    assert (refused.value.path, refused.value.offset) == (old, _offset_of(records, 2))


def test_a_hole_before_valid_records_is_refused_not_cut(tmp_path: Path) -> None:
    records = [_input(seq, seq) for seq in range(1, 9)]
    path = _segment(tmp_path, records)
    data = bytearray(path.read_bytes())
    start = _offset_of(records, 2) + 5
    data[start : _offset_of(records, 4) + 3] = bytes(_offset_of(records, 4) + 3 - start)
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorruptionError, match="valid records follow") as refused:
        Wal.open(tmp_path, LAYOUT, fsync="never")
    assert refused.value.offset == _offset_of(records, 2)
    # The same hole with a single record after it cannot be told from a torn tail.
    path.write_bytes(bytes(data[: _offset_of(records, 6)]))
    with Wal.open(tmp_path, LAYOUT, fsync="never") as wal:
        assert wal.recovery.cut is not None
        assert wal.recovery.cut.offset == _offset_of(records, 2)
        assert wal.last_input_seq == 2


def _failure(action: Callable[[], object]) -> PersistenceError | None:
    """The ``PersistenceError`` ``action`` raised, or None; anything else propagates."""
    try:
        action()
    except PersistenceError as error:
        return error
    return None


def _valid_wal(directory: Path) -> None:
    rng = random.Random(1)
    with Wal.open(directory, LAYOUT, fsync="never", segment_bytes=900) as wal:
        drive(wal, LAYOUT.genesis(), random_batches(order_flow(rng.randrange(1 << 32), 40), rng, 4))


@FUZZ
@given(garbage=st.binary(max_size=400), as_second=st.booleans())
def test_random_bytes_as_a_segment_give_a_persistence_error_or_a_tail_cut(
    tmp_path_factory: pytest.TempPathFactory, garbage: bytes, as_second: bool
) -> None:
    directory = tmp_path_factory.mktemp("wal")
    if as_second:
        _valid_wal(directory)
    name = segment_name(10**6 if as_second else 1)
    (directory / name).write_bytes(garbage)
    failure = _failure(lambda: Wal.open(directory, LAYOUT, fsync="never").close())
    if failure is not None:
        assert str(failure).startswith(str(failure.path))
        assert failure.path.parent == directory


@FUZZ
@given(data=st.data())
def test_random_damage_to_a_wal_gives_a_persistence_error_or_a_tail_cut(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp("wal")
    _valid_wal(directory)
    paths = sorted(directory.iterdir())
    path = data.draw(st.sampled_from(paths))
    content = bytearray(path.read_bytes())
    at = data.draw(st.integers(0, len(content) - 1))
    patch = data.draw(st.binary(min_size=1, max_size=40))
    content[at : at + len(patch)] = patch
    if data.draw(st.booleans()):
        del content[data.draw(st.integers(0, len(content))) :]
    path.write_bytes(bytes(content))
    failure = _failure(lambda: Wal.open(directory, LAYOUT, fsync="never").close())
    if failure is None:
        result = fold(directory, verify=True)
        assert result.verification is not None
        assert result.verification.ok
    else:
        assert failure.path.parent == directory


# ---------------------------------------------------------------------- snapshots


def _seal(
    payload: bytes, *, magic: bytes = b"HMSNP\r\n\x1a", version: int = 1, input_seq: int = 0
) -> bytes:
    """A snapshot file around ``payload`` with valid checksums (layout of snapshot.py)."""
    fields = struct.pack(
        "<8sHIQQQ32sQI",
        magic,
        version,
        0,
        input_seq,
        0,
        0,
        hashlib.sha256(payload).digest(),
        len(payload),
        google_crc32c.value(payload),
    )
    return fields + struct.pack("<I", google_crc32c.value(fields)) + payload


EMPTY = encode_state(LAYOUT.genesis())


@pytest.mark.parametrize(
    ("content", "reason", "offset"),
    [
        (b"", "shorter than the 86-byte header", None),
        (_seal(EMPTY, magic=b"HMWAL\r\n\x1a"), "not a snapshot", 0),
        (_seal(EMPTY)[:30] + b"\x01" + _seal(EMPTY)[31:], "header CRC mismatch", 0),
        (_seal(EMPTY, version=9), "format version 9", 8),
        (_seal(EMPTY)[:-1], r"payload is \d+ bytes, the header says \d+", 86),
        (_seal(EMPTY)[:-1] + b"\x00", "payload CRC mismatch", 86),
        (_seal(b"\x93\x01\x02\x03"), "payload is not a valid state", 86),
        (_seal(EMPTY, input_seq=5), "the header says shard 0, 5, 0", 86),
    ],
)
def test_a_bad_snapshot_names_the_file_and_offset(
    tmp_path: Path, content: bytes, reason: str, offset: int | None
) -> None:
    path = tmp_path / "00000000000000000000.snap"
    path.write_bytes(content)
    with pytest.raises(SnapshotError, match=reason) as refused:
        read_snapshot(path)
    assert (refused.value.path, refused.value.offset) == (path, offset)
    loaded = SnapshotStore(tmp_path, 0).load_newest()
    assert loaded.snapshot is None
    assert [r.path for r in loaded.rejected] == [path]


def test_a_snapshot_whose_hash_does_not_match_is_refused(tmp_path: Path) -> None:
    sealed = bytearray(_seal(EMPTY))
    sealed[38] ^= 1
    fields = bytes(sealed[:82])
    sealed[82:86] = struct.pack("<I", google_crc32c.value(fields))
    path = tmp_path / "x.snap"
    path.write_bytes(bytes(sealed))
    with pytest.raises(SnapshotError, match="does not hash to the state hash") as refused:
        read_snapshot(path)
    assert refused.value.offset == 38


def test_a_missing_snapshot_file_is_a_snapshot_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read"):
        read_snapshot(tmp_path / "nowhere.snap")


@FUZZ
@given(data=st.data(), reseal=st.booleans())
def test_random_damage_to_a_snapshot_gives_a_snapshot_error(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, reseal: bool
) -> None:
    directory = tmp_path_factory.mktemp("snapshots")
    rng = random.Random(2)
    wal_dir = directory / "wal"
    with Wal.open(wal_dir, LAYOUT, fsync="never") as wal:
        state = drive(
            wal, LAYOUT.genesis(), random_batches(order_flow(rng.randrange(1 << 32), 80), rng, 5)
        )
    shutil.rmtree(wal_dir)
    path = SnapshotStore(directory, 0, fsync=False).write(state, 1)
    content = bytearray(path.read_bytes())
    start = 86 if reseal else 0
    at = data.draw(st.integers(start, len(content) - 1))
    patch = data.draw(st.binary(min_size=1, max_size=20))
    content[at : at + len(patch)] = patch
    if reseal:  # checksums fixed, so the mutated payload reaches decode_state
        content = bytearray(_seal(bytes(content[86:]), input_seq=state.input_seq))
    path.write_bytes(bytes(content))
    failure = _failure(lambda: read_snapshot(path))
    if failure is None:
        assert read_snapshot(path).state.input_seq == state.input_seq
    else:
        assert isinstance(failure, SnapshotError)
        assert failure.path == path
