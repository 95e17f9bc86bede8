"""Varint length-delimited framing, exactly protobuf's ``writeDelimitedTo``/``parseDelimitedFrom``.

A file or pipe of protobuf messages needs a frame around each one, since a message does not
say where it ends.  The convention every protobuf runtime reads is the message's length as a
base-128 varint, then the message.  Tools, tests and benchmarks use it for streams of
``InputEvent`` and ``OutputEvent`` (the WAL has a framing of its own, with checksums).

A damaged stream is not an error here, because the reader of an input stream must go on like
the engine does: ``read_delimited`` yields every whole record, then, if bytes are left that do
not make a whole record (a truncated last record, or a length varint that is itself cut short
or longer than ten bytes), yields them as one final chunk.  That chunk is not a message, so
``decode_input`` turns it into a ``Malformed`` input and the fold answers it with a
``Rejected`` output and carries on.  (A protobuf stream has no checksum: no framing can rule
out that a cut happens to leave bytes that parse; the tests check that cutting real records
does not.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

_MAX_VARINT_BYTES: Final = 10  # a 64-bit varint never needs more


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """``(value, position after it)``, or None if the varint is cut short or too long."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    return None


def write_delimited(messages: Iterable[bytes]) -> bytes:
    """Frame each message with its length as a varint and join them."""
    return b"".join(varint(len(message)) + message for message in messages)


def read_delimited(data: bytes) -> Iterator[bytes]:
    """Yield the messages of a delimited stream, then any damaged tail as one last chunk.

    A well-formed stream yields exactly what ``write_delimited`` framed; empty messages are
    yielded as ``b""``.  See the module docstring for the damaged tail.
    """
    pos = 0
    while pos < len(data):
        header = _read_varint(data, pos)
        if header is None or header[1] + header[0] > len(data):
            yield data[pos:]
            return
        length, start = header
        yield data[start : start + length]
        pos = start + length
