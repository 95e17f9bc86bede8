"""Reading a WAL folder back: checking every segment, finding a torn tail, iterating records.

Theory
------
``scan_wal`` reads every segment, in name order, and checks it completely: the header (magic,
version, CRC, that its name matches, that it continues the segment before it), then every
record (CRC chained from the header's seed, then the sequence rules below).  It changes
nothing on disk; ``Wal.open`` applies the cut it reports, ``fold`` only reads.

Sequence rules, checked per record:

* input shard sequences are dense (each is the previous plus one, across segments);
* input stream sequences increase strictly (they are JetStream sequences of one stream, which
  other shards share, so they need not be dense);
* output sequences are dense;
* an output names, in ``stream_seq``, an input logged earlier in the same segment, at or after
  the input of the output before it (outputs come after the batch of inputs that caused them,
  in input order, and a batch never spans two segments).

What is a torn tail and what is damage:

* The first bad record of the **last** segment is a torn tail (the crash came while a batch was
  being written, before its fsync returned) when nothing valid follows it.  "Valid" is looked
  for in three ways, since a damaged length field hides where the next record starts: a record
  that chains on the bad record's stored CRC (only the bad record's content was hit), one that
  chains on the CRC the bad record would have with a shorter or longer length (its length or
  its CRC field was hit), or two records that chain on each other (a whole region was lost).
  Candidates are positions holding a plausible kind byte and sequence number, so the search
  costs little even in a large segment.
* Anything else is damage and raises ``WalCorruptionError`` naming the file and the offset:
  a bad record followed by valid ones, any bad record or trailing bytes in a segment that is
  not the last, a record whose CRC is valid but whose kind or sequence breaks the rules (a
  writer produced it: that is a bug, not a crash), a segment that does not continue its
  predecessor.
* A last segment too short to hold its header (the crash came as it was being created) is a
  torn tail too: the whole file goes.

A damaged region followed by a single record, the last one, cannot be told from a torn write
of two records; it is cut as a torn tail.  Out-of-order sector writes that persisted the end
of an un-fsynced batch but not its start look like damage before the tail and stop start-up:
that is the safe side, and the report names the exact offset for the operator.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from hypermarket.persistence.durable import read_file
from hypermarket.persistence.errors import PersistenceError, ReplayError, WalCorruptionError
from hypermarket.persistence.wal_format import (
    MAX_PAYLOAD_BYTES,
    RECORD_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
    BrokenRecordError,
    FormatError,
    Layout,
    Record,
    RecordKind,
    SegmentHeader,
    decode_record,
    decode_segment_header,
    peek_record,
    record_crc_with_length,
    segment_first_seq,
)


class InputWindow:
    """Inputs whose outputs may still be logged, as input sequence -> stream sequence.

    Inputs of one segment are added in order; logging an output of the input with stream
    sequence ``s`` closes every input before it (outputs come in input order).  Stream
    sequences are kept in an ``array`` so a long run of inputs without outputs stays small.
    """

    __slots__ = ("first_seq", "stream_seqs")

    def __init__(self, first_seq: int) -> None:
        self.first_seq = first_seq
        self.stream_seqs = array("Q")

    def reset(self, first_seq: int) -> None:
        self.first_seq = first_seq
        self.stream_seqs = array("Q")

    def add(self, stream_seq: int) -> None:
        self.stream_seqs.append(stream_seq)

    def stream_seq_of(self, input_seq: int) -> int | None:
        index = input_seq - self.first_seq
        return self.stream_seqs[index] if 0 <= index < len(self.stream_seqs) else None

    def close_before(self, stream_seq: int) -> bool:
        """Record an output of the input with ``stream_seq``; False if no such input is open."""
        index = bisect.bisect_left(self.stream_seqs, stream_seq)
        if index == len(self.stream_seqs) or self.stream_seqs[index] != stream_seq:
            return False
        del self.stream_seqs[:index]
        self.first_seq += index
        return True


class _DamageError(Exception):
    """The first bad record of a walk; ``torn`` if a crash mid-write could explain it."""

    def __init__(self, offset: int, reason: str, *, torn: bool) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason
        self.torn = torn


class _Cursor:
    """Where a walk through one segment stands: the last record's CRC and sequences."""

    __slots__ = ("crc", "input_seq", "output_seq", "stream_seq", "window")

    def __init__(self, header: SegmentHeader) -> None:
        self.crc = header.chain_seed
        self.input_seq = header.first_input_seq - 1
        self.output_seq = header.output_seq_before
        self.stream_seq = header.stream_seq_before
        self.window = InputWindow(header.first_input_seq)

    def advance(self, record: Record, crc: int) -> str | None:
        """Take ``record`` if it follows the sequence rules; else say which it breaks."""
        if record.kind is RecordKind.INPUT:
            if record.shard_seq != self.input_seq + 1:
                return f"input sequence {record.shard_seq}, expected {self.input_seq + 1}"
            if record.stream_seq <= self.stream_seq:
                return f"stream sequence {record.stream_seq} after {self.stream_seq}"
            self.input_seq = record.shard_seq
            self.stream_seq = record.stream_seq
            self.window.add(record.stream_seq)
        else:
            if record.shard_seq != self.output_seq + 1:
                return f"output sequence {record.shard_seq}, expected {self.output_seq + 1}"
            if not self.window.close_before(record.stream_seq):
                return (
                    f"output {record.shard_seq} names stream sequence {record.stream_seq}, "
                    "not an input of this segment awaiting outputs"
                )
            self.output_seq = record.shard_seq
        self.crc = crc
        return None


def _walk(data: bytes, offset: int, end: int, cursor: _Cursor) -> Iterator[Record]:
    """Yield the records of ``data[offset:end]``; raise ``_DamageError`` at the first bad one."""
    while offset < end:
        try:
            record, crc, after = decode_record(data, offset, cursor.crc)
        except FormatError as problem:
            torn = not isinstance(problem, BrokenRecordError)
            raise _DamageError(offset, str(problem), torn=torn) from None
        broken = cursor.advance(record, crc)
        if broken is not None:
            raise _DamageError(offset, broken, torn=False)
        yield record
        offset = after


def _chains(data: bytes, offset: int, seed: int) -> bool:
    try:
        decode_record(data, offset, seed)
    except FormatError:
        return False
    return True


def _valid_data_follows(data: bytes, bad: int, cursor: _Cursor) -> bool:
    """Whether a whole record lies after the bad record at ``bad`` (see the module docstring)."""
    bad_header = peek_record(data, bad)
    seeds = () if bad_header is None else (bad_header[0],)
    # A sequence number past what the rest of the file could hold is implausible, so the high
    # bytes of a candidate's shard_seq must be zero: that keeps random payload bytes out.
    top = max(cursor.input_seq, cursor.output_seq) + (len(data) - bad) // RECORD_HEADER_BYTES + 1
    low_bytes = max(1, (top.bit_length() + 7) // 8)
    candidate = re.compile(rb"(?=[\x01\x02].{%d}\x00{%d})" % (low_bytes, 8 - low_bytes), re.DOTALL)
    for match in candidate.finditer(data, bad + 9):
        offset = match.start() - 8
        header = peek_record(data, offset)
        if header is None:
            break
        stored, length, _, _ = header
        after = offset + RECORD_HEADER_BYTES + length
        if length > MAX_PAYLOAD_BYTES or after > len(data):
            continue
        rebuilt = (
            (record_crc_with_length(data, bad, offset, cursor.crc),)
            if offset >= bad + RECORD_HEADER_BYTES
            else ()
        )
        if any(_chains(data, offset, seed) for seed in (*seeds, *rebuilt)):
            return True
        if after < len(data) and _chains(data, after, stored):
            return True
    return False


class SegmentInfo(msgspec.Struct, frozen=True):
    """One checked segment: its header, where its whole records end, and where it left off."""

    path: Path
    header: SegmentHeader
    end: int
    records: int
    last_input_seq: int
    last_output_seq: int
    last_stream_seq: int
    last_crc: int


class TailCut(msgspec.Struct, frozen=True):
    """A torn tail: the bytes of ``path`` from ``offset`` on (the whole file if ``offset`` is 0)
    are not whole records and go.  ``reason`` is what was found at ``offset``."""

    path: Path
    offset: int
    bytes_cut: int
    reason: str


class WalScan(msgspec.Struct, frozen=True):
    """What ``scan_wal`` found.  ``window`` (the last segment's open inputs) is handed over to
    the ``Wal`` that opens the folder; nobody else changes it."""

    directory: Path
    segments: tuple[SegmentInfo, ...]
    tail: TailCut | None
    window: InputWindow

    @property
    def layout(self) -> Layout | None:
        return self.segments[0].header.layout if self.segments else None

    @property
    def last_input_seq(self) -> int:
        return self.segments[-1].last_input_seq if self.segments else 0

    @property
    def last_output_seq(self) -> int:
        return self.segments[-1].last_output_seq if self.segments else 0

    @property
    def last_stream_seq(self) -> int:
        return self.segments[-1].last_stream_seq if self.segments else 0


def _continuity_problem(previous: SegmentInfo, header: SegmentHeader) -> str | None:
    expected = (
        previous.header.layout,
        previous.last_input_seq + 1,
        previous.last_output_seq,
        previous.last_stream_seq,
        previous.last_crc,
    )
    found = (
        header.layout,
        header.first_input_seq,
        header.output_seq_before,
        header.stream_seq_before,
        header.chain_seed,
    )
    if expected == found:
        return None
    names = ("layout", "first input", "outputs before", "stream sequence before", "chain seed")
    diffs = ", ".join(
        f"{name} {got} (expected {want})"
        for name, got, want in zip(names, found, expected, strict=True)
        if got != want
    )
    return f"does not continue {previous.path.name}: {diffs}"


def _scan_segment(
    path: Path, data: bytes, header: SegmentHeader, is_last: bool
) -> tuple[SegmentInfo, TailCut | None, InputWindow]:
    cursor = _Cursor(header)
    count = 0
    end = len(data)
    tail: TailCut | None = None
    try:
        for _ in _walk(data, SEGMENT_HEADER_BYTES, end, cursor):
            count += 1
    except _DamageError as damage:
        if not damage.torn:
            raise WalCorruptionError(path, damage.reason, damage.offset) from None
        if not is_last:
            raise WalCorruptionError(
                path, f"{damage.reason} in a segment that is not the last", damage.offset
            ) from None
        if _valid_data_follows(data, damage.offset, cursor):
            raise WalCorruptionError(
                path, f"{damage.reason}, and valid records follow it", damage.offset
            ) from None
        end = damage.offset
        tail = TailCut(path, end, len(data) - end, damage.reason)
    info = SegmentInfo(
        path=path,
        header=header,
        end=end,
        records=count,
        last_input_seq=cursor.input_seq,
        last_output_seq=cursor.output_seq,
        last_stream_seq=cursor.stream_seq,
        last_crc=cursor.crc,
    )
    return info, tail, cursor.window


def segment_paths(directory: Path) -> list[Path]:
    """The segment files of ``directory`` in log order; other files are not the WAL's."""
    try:
        names = sorted(entry.name for entry in directory.iterdir())
    except OSError as error:
        raise PersistenceError(
            directory, f"cannot list the WAL folder: {error.strerror}"
        ) from error
    return [directory / name for name in names if segment_first_seq(name) is not None]


def _read_header(path: Path, data: bytes) -> SegmentHeader:
    try:
        header = decode_segment_header(data)
    except FormatError as problem:
        raise WalCorruptionError(path, str(problem), 0) from None
    if segment_first_seq(path.name) != header.first_input_seq:
        raise WalCorruptionError(
            path, f"header says first input {header.first_input_seq}, the name disagrees", 0
        )
    return header


def scan_wal(directory: Path) -> WalScan:
    """Check every segment of ``directory`` and find its torn tail, changing nothing.

    Raises ``WalCorruptionError`` (file and offset) for damage that is not a torn tail, and
    ``PersistenceError`` if the folder cannot be read.  An empty or missing folder is an
    empty WAL.
    """
    if not directory.exists():
        return WalScan(directory, (), None, InputWindow(1))
    paths = segment_paths(directory)
    infos: list[SegmentInfo] = []
    window = InputWindow(1)
    tail: TailCut | None = None
    for index, path in enumerate(paths):
        is_last = index == len(paths) - 1
        data = read_file(path, WalCorruptionError)
        if is_last and len(data) <= SEGMENT_HEADER_BYTES:
            try:
                decode_segment_header(data)
            except FormatError as problem:
                tail = TailCut(path, 0, len(data), f"torn segment header: {problem}")
                break
        header = _read_header(path, data)
        if infos:
            broken = _continuity_problem(infos[-1], header)
            if broken is not None:
                raise WalCorruptionError(path, broken, 0)
        info, tail, window = _scan_segment(path, data, header, is_last)
        infos.append(info)
    return WalScan(directory, tuple(infos), tail, window)


def segment_records(info: SegmentInfo) -> Iterator[Record]:
    """The records of one checked segment, checked again as they are read (the file is read
    anew: what was valid at the scan must still be)."""
    data = read_file(info.path, WalCorruptionError)
    header = _read_header(info.path, data)
    if header != info.header or len(data) < info.end:
        raise WalCorruptionError(info.path, "changed since the WAL was scanned", 0)
    try:
        yield from _walk(data, SEGMENT_HEADER_BYTES, info.end, _Cursor(header))
    except _DamageError as damage:
        raise WalCorruptionError(
            info.path, f"{damage.reason} (changed since the WAL was scanned)", damage.offset
        ) from None


def records_from(segments: Sequence[SegmentInfo], first_input_seq: int) -> Iterator[Record]:
    """Every record from the input ``first_input_seq`` on, outputs included, in log order.

    Raises ``ReplayError`` if that input was pruned (the WAL starts after it).
    """
    if not segments:
        return
    start = segments[0].header.first_input_seq
    if first_input_seq < start:
        raise ReplayError(
            segments[0].path, f"input {first_input_seq} was pruned: the WAL starts at {start}"
        )
    index = bisect.bisect_right([s.header.first_input_seq for s in segments], first_input_seq)
    started = False
    for info in segments[index - 1 :]:
        for record in segment_records(info):
            if not started:
                started = record.kind is RecordKind.INPUT and record.shard_seq >= first_input_seq
                if not started:
                    continue
            yield record


def outputs_after(segments: Sequence[SegmentInfo], after_seq: int) -> Iterator[Record]:
    """The output records with ``seq > after_seq``, in order.

    Raises ``ReplayError`` if some of them were pruned.
    """
    if not segments:
        return
    before = segments[0].header.output_seq_before
    if after_seq < before:
        raise ReplayError(
            segments[0].path,
            f"outputs after {after_seq} were pruned: the WAL starts after output {before}",
        )
    index = bisect.bisect_right([s.header.output_seq_before for s in segments], after_seq)
    for info in segments[index - 1 :]:
        for record in segment_records(info):
            if record.kind is RecordKind.OUTPUT and record.shard_seq > after_seq:
                yield record


__all__ = [
    "InputWindow",
    "SegmentInfo",
    "TailCut",
    "WalScan",
    "outputs_after",
    "records_from",
    "scan_wal",
    "segment_paths",
    "segment_records",
]
