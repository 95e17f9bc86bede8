"""The bytes of a WAL segment: its header and its records.

Theory
------
A shard's WAL is a folder of segment files.  Each segment is a header followed by records,
back to back.  A segment is named after the shard sequence of the first input it may hold,
zero-padded to 20 digits (``00000000000000000001.wal``), so the lexical order of the names is
the order of the log.  All integers are little-endian and unsigned.

Segment header, 54 bytes::

    offset  size  field
         0     8  magic  b"HMWAL\\r\\n\\x1a" (the CR LF and ^Z catch text-mode mangling)
         8     2  format version, 1
        10     4  shard
        14     4  shard_count          \\  the layout of the shard's initial state, so that
        18     4  book_delta_depth     /   a WAL can be folded from its start on its own
        22     8  first input shard sequence of this segment (the number in its name)
        30     8  last output sequence before this segment
        38     8  last stream sequence before this segment
        46     4  chain seed: the CRC of the last record before this segment (0 if none)
        50     4  CRC32C of bytes 0..49

The header carries everything a reader needs to check a segment on its own, and to check that
it continues the segment before it: a missing, swapped or replaced segment shows as a header
that does not continue its predecessor.

Record, 33 bytes of header then the payload::

    offset  size  field
         0     4  crc         CRC32C of bytes 4..end of this record, seeded with the crc of the
                              previous record (the chain seed for the first one of a segment)
         4     4  length      bytes of payload
         8     1  kind        1 = INPUT, 2 = OUTPUT
         9     8  shard_seq   INPUT: the shard's input sequence (dense from 1);
                              OUTPUT: the output's ``seq`` (dense from 1)
        17     8  stream_seq  INPUT: the JetStream stream sequence of the message (increasing);
                              OUTPUT: the stream sequence of the input that caused it
        25     8  ts_ns       the input's event time (the stream's timestamp); an output's own
        33     n  payload     INPUT: the raw protobuf ``InputEvent`` bytes as consumed;
                              OUTPUT: the encoded ``OutputEvent`` of one output

Chaining the CRC (as etcd and PostgreSQL do) means each record vouches for all the records
before it: a record cannot be dropped, duplicated or moved without the next CRC failing.  The
CRC comes first so that it covers one contiguous run of bytes, the length included: a flipped
length is caught like any other flipped bit.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Iterable
from typing import Final

import google_crc32c
import msgspec

from hypermarket.core import State, initial_state

SEGMENT_MAGIC: Final = b"HMWAL\r\n\x1a"
FORMAT_VERSION: Final = 1
MAX_PAYLOAD_BYTES: Final = 64 << 20  # JetStream's largest allowed message

_SEGMENT_FIELDS: Final = struct.Struct("<8sHIIIQQQI")
_CRC: Final = struct.Struct("<I")
SEGMENT_HEADER_BYTES: Final = _SEGMENT_FIELDS.size + _CRC.size
_RECORD_FIELDS: Final = struct.Struct("<IBQQQ")  # length, kind, shard_seq, stream_seq, ts_ns
RECORD_HEADER_BYTES: Final = _CRC.size + _RECORD_FIELDS.size
_U64: Final = 1 << 64

_SEGMENT_NAME: Final = re.compile(r"^(\d{20})\.wal$")


class RecordKind(enum.IntEnum):
    INPUT = 1
    OUTPUT = 2


class Layout(msgspec.Struct, frozen=True):
    """Which shard a WAL belongs to, and the parameters of that shard's initial state."""

    shard: int
    shard_count: int
    book_delta_depth: int

    @classmethod
    def of(cls, state: State) -> Layout:
        return cls(state.shard, state.shard_count, state.book_delta_depth)

    def genesis(self) -> State:
        """The empty state a fold of this shard's WAL starts from when there is no snapshot."""
        return initial_state(self.shard, self.shard_count, self.book_delta_depth)


class SegmentHeader(msgspec.Struct, frozen=True):
    """What a segment says about itself and about the log before it."""

    layout: Layout
    first_input_seq: int
    output_seq_before: int
    stream_seq_before: int
    chain_seed: int


class Consumed(msgspec.Struct, frozen=True, gc=False):
    """One message as a shard consumed it from its input subject: what the WAL logs of it."""

    stream_seq: int
    ts_ns: int
    payload: bytes


class Record(msgspec.Struct, frozen=True, gc=False):
    """One WAL record; see the module docstring for what each field means per kind."""

    kind: RecordKind
    shard_seq: int
    stream_seq: int
    ts_ns: int
    payload: bytes


class FormatError(ValueError):
    """Bytes that are not a valid header or record; the message says why (no file, no offset:
    the reader that knows them adds them)."""


class BrokenRecordError(FormatError):
    """A record whose CRC is valid but whose content breaks the format: it was written that
    way, so it is not a torn write."""


def segment_name(first_input_seq: int) -> str:
    return f"{first_input_seq:020d}.wal"


def segment_first_seq(name: str) -> int | None:
    """The first input sequence a segment file name encodes, or None if it is not a segment."""
    match = _SEGMENT_NAME.match(name)
    return None if match is None else int(match.group(1))


def encode_segment_header(header: SegmentHeader) -> bytes:
    layout = header.layout
    fields = _SEGMENT_FIELDS.pack(
        SEGMENT_MAGIC,
        FORMAT_VERSION,
        layout.shard,
        layout.shard_count,
        layout.book_delta_depth,
        header.first_input_seq,
        header.output_seq_before,
        header.stream_seq_before,
        header.chain_seed,
    )
    return fields + _CRC.pack(google_crc32c.value(fields))


def decode_segment_header(data: bytes) -> SegmentHeader:
    """Read the header at the start of ``data``; raise ``FormatError`` saying what is wrong."""
    if len(data) < SEGMENT_HEADER_BYTES:
        raise FormatError(
            f"segment header is {SEGMENT_HEADER_BYTES} bytes, the file has {len(data)}"
        )
    fields = data[: _SEGMENT_FIELDS.size]
    magic, version, shard, count, depth, first, outputs, stream, seed = _SEGMENT_FIELDS.unpack(
        fields
    )
    if magic != SEGMENT_MAGIC:
        raise FormatError(f"not a WAL segment (magic {magic!r})")
    (crc,) = _CRC.unpack_from(data, _SEGMENT_FIELDS.size)
    if crc != google_crc32c.value(fields):
        raise FormatError("segment header CRC mismatch")
    if version != FORMAT_VERSION:
        raise FormatError(f"WAL format version {version}, this engine reads {FORMAT_VERSION}")
    if first < 1:
        raise FormatError("segment header names input sequence 0 as its first")
    return SegmentHeader(Layout(shard, count, depth), first, outputs, stream, seed)


def encode_record(record: Record, prev_crc: int) -> tuple[bytes, int]:
    """The bytes of ``record`` chained after a record whose CRC is ``prev_crc``, and its CRC.

    Raises ``ValueError`` for a payload over ``MAX_PAYLOAD_BYTES`` or a number outside u64.
    """
    if len(record.payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(record.payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    shard_seq, stream_seq, ts_ns = record.shard_seq, record.stream_seq, record.ts_ns
    if not (0 <= shard_seq < _U64 and 0 <= stream_seq < _U64 and 0 <= ts_ns < _U64):
        numbers = (shard_seq, stream_seq, ts_ns)
        raise ValueError(f"shard_seq, stream_seq and ts_ns must fit in u64, got {numbers}")
    fields = _RECORD_FIELDS.pack(len(record.payload), record.kind, shard_seq, stream_seq, ts_ns)
    crc = google_crc32c.extend(google_crc32c.extend(prev_crc, fields), record.payload)
    return _CRC.pack(crc) + fields + record.payload, crc


def encode_records(records: Iterable[Record], prev_crc: int) -> tuple[bytes, int]:
    """``records`` chained after a record whose CRC is ``prev_crc``, and the last CRC."""
    parts = []
    crc = prev_crc
    for record in records:
        data, crc = encode_record(record, crc)
        parts.append(data)
    return b"".join(parts), crc


def encode_segment(header: SegmentHeader, records: Iterable[Record]) -> bytes:
    """A whole segment: ``header``, then ``records`` chained from its seed.

    ``Wal`` writes the same bytes batch by batch (a test holds the two together); tests and
    tools build segments with it.
    """
    return encode_segment_header(header) + encode_records(records, header.chain_seed)[0]


def record_crc_with_length(data: bytes, offset: int, end: int, prev_crc: int) -> int:
    """The CRC the record at ``offset`` would have if it ended at ``end``.

    Used to tell a torn tail from damage in the middle: if a record's length field was
    damaged, the record that really follows it is chained on this value.
    """
    length = _CRC.pack(end - offset - RECORD_HEADER_BYTES)  # a u32, like the CRC
    return int(google_crc32c.extend(google_crc32c.extend(prev_crc, length), data[offset + 8 : end]))


def decode_record(data: bytes, offset: int, prev_crc: int) -> tuple[Record, int, int]:
    """Read the record at ``offset``: ``(record, its crc, offset after it)``.

    Raises ``FormatError`` for a short record, a bad CRC, an unknown kind or a length over
    the limit.  Sequence rules are the scanner's: this checks the bytes only.
    """
    if offset + RECORD_HEADER_BYTES > len(data):
        raise FormatError(
            f"short record: {len(data) - offset} bytes, a record header is {RECORD_HEADER_BYTES}"
        )
    (stored,) = _CRC.unpack_from(data, offset)
    length, kind, shard_seq, stream_seq, ts_ns = _RECORD_FIELDS.unpack_from(data, offset + 4)
    if length > MAX_PAYLOAD_BYTES:
        raise FormatError(f"record length {length} exceeds {MAX_PAYLOAD_BYTES}")
    end = offset + RECORD_HEADER_BYTES + length
    if end > len(data):
        raise FormatError(f"short record: {length} bytes of payload announced, fewer remain")
    crc = google_crc32c.extend(prev_crc, data[offset + 4 : end])
    if crc != stored:
        raise FormatError("record CRC mismatch")
    if kind not in (RecordKind.INPUT, RecordKind.OUTPUT):
        raise BrokenRecordError(f"unknown record kind {kind}")
    payload = data[offset + RECORD_HEADER_BYTES : end]
    return Record(RecordKind(kind), shard_seq, stream_seq, ts_ns, payload), crc, end


def peek_record(data: bytes, offset: int) -> tuple[int, int, int, int] | None:
    """``(stored crc, length, kind, shard_seq)`` of a would-be record at ``offset``, unchecked,
    or None if its header does not fit in ``data``."""
    if offset < 0 or offset + RECORD_HEADER_BYTES > len(data):
        return None
    (stored,) = _CRC.unpack_from(data, offset)
    length, kind, shard_seq, _, _ = _RECORD_FIELDS.unpack_from(data, offset + 4)
    return stored, length, kind, shard_seq


__all__ = [
    "FORMAT_VERSION",
    "MAX_PAYLOAD_BYTES",
    "RECORD_HEADER_BYTES",
    "SEGMENT_HEADER_BYTES",
    "SEGMENT_MAGIC",
    "BrokenRecordError",
    "Consumed",
    "FormatError",
    "Layout",
    "Record",
    "RecordKind",
    "SegmentHeader",
    "decode_record",
    "decode_segment_header",
    "encode_record",
    "encode_records",
    "encode_segment",
    "encode_segment_header",
    "peek_record",
    "record_crc_with_length",
    "segment_first_seq",
    "segment_name",
]
