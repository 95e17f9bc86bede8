"""Snapshots of a shard's state: one file per snapshot, written atomically, the newest K kept.

Theory
------
A snapshot is the canonical encoding of a ``State`` (``hypermarket.core.encode_state``) behind
a header.  States are immutable, so the shard hands its current state to a worker thread and
goes on stepping; ``encode_snapshot`` is a pure function of that state and ``SnapshotStore.write``
touches nothing the shard uses.

File ``<input_seq, 20 digits>.snap``, integers little-endian and unsigned::

    offset  size  field
         0     8  magic  b"HMSNP\\r\\n\\x1a"
         8     2  format version, 1
        10     4  shard
        14     8  last shard sequence covered (``state.input_seq``)
        22     8  last output sequence covered (``state.output_seq``)
        30     8  last stream sequence covered: consume again from the next one
        38    32  state hash: SHA-256 of the payload, which is ``core.state_hash(state)``
        70     8  payload length
        78     4  CRC32C of the payload
        82     4  CRC32C of bytes 0..81
        86     n  payload: ``encode_state(state)`` (msgpack, every collection sorted)

Writing is atomic: the bytes go to ``<name>.tmp``, which is fsynced, renamed over the final
name, and the folder is fsynced, so a crash leaves either the old set of snapshots or the new
one, never a half file under a snapshot's name.  Then all but the newest ``keep`` snapshots
(and any stale temporary file) are removed.

Loading takes the newest snapshot that passes every check (magic, header CRC, version, shard,
length, payload CRC, hash, decoding, sequences agreeing with the header); a newer one that
fails is logged and reported, never silently skipped, and the one before it is tried.  The
WAL is pruned only up to the *oldest* kept snapshot, so falling back always finds the inputs
it needs.

A snapshot must cover only inputs already durable in the WAL: under the ``"interval"`` or
``"never"`` fsync policies call ``Wal.sync`` before taking one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
from pathlib import Path
from typing import Final

import google_crc32c
import msgspec

from hypermarket.core import State, decode_state, encode_state
from hypermarket.persistence.durable import (
    create_directory,
    fsync_directory,
    fsync_file,
    read_file,
    remove_file,
    rename_file,
    write_all,
)
from hypermarket.persistence.errors import DurabilityError, SnapshotError

logger = logging.getLogger(__name__)

SNAPSHOT_MAGIC: Final = b"HMSNP\r\n\x1a"
FORMAT_VERSION: Final = 1
_FIELDS: Final = struct.Struct("<8sHIQQQ32sQI")
_CRC: Final = struct.Struct("<I")
HEADER_BYTES: Final = _FIELDS.size + _CRC.size
_NAME: Final = re.compile(r"^(\d{20})\.snap$")
_TEMP_SUFFIX: Final = ".tmp"


class SnapshotHeader(msgspec.Struct, frozen=True):
    """What a snapshot says about the state it holds."""

    shard: int
    input_seq: int
    output_seq: int
    last_stream_seq: int
    state_hash: str
    payload_bytes: int
    payload_crc: int


class Snapshot(msgspec.Struct, frozen=True):
    """A snapshot read back and checked."""

    path: Path
    header: SnapshotHeader
    state: State


class RejectedSnapshot(msgspec.Struct, frozen=True):
    """A snapshot file that loading passed over, and why."""

    path: Path
    reason: str


class LoadResult(msgspec.Struct, frozen=True):
    """The newest valid snapshot (None if there is none) and the newer ones that were not."""

    snapshot: Snapshot | None
    rejected: tuple[RejectedSnapshot, ...]


def snapshot_name(input_seq: int) -> str:
    return f"{input_seq:020d}.snap"


def encode_snapshot(state: State, last_stream_seq: int) -> bytes:
    """The file bytes of a snapshot of ``state``: a pure function, safe in any thread."""
    payload = encode_state(state)
    # core.state_hash is defined as the SHA-256 of encode_state; hashing the bytes already
    # encoded gives the same digest without encoding twice (a test holds the two together).
    digest = hashlib.sha256(payload).digest()
    fields = _FIELDS.pack(
        SNAPSHOT_MAGIC,
        FORMAT_VERSION,
        state.shard,
        state.input_seq,
        state.output_seq,
        last_stream_seq,
        digest,
        len(payload),
        google_crc32c.value(payload),
    )
    return fields + _CRC.pack(google_crc32c.value(fields)) + payload


def decode_snapshot(data: bytes, path: Path) -> Snapshot:
    """Check and decode snapshot bytes read from ``path``; raise ``SnapshotError`` naming the
    file and the offset of what is wrong."""
    if len(data) < HEADER_BYTES:
        raise SnapshotError(path, f"{len(data)} bytes, shorter than the {HEADER_BYTES}-byte header")
    fields = data[: _FIELDS.size]
    magic, version, shard, input_seq, output_seq, stream_seq, digest, length, crc = _FIELDS.unpack(
        fields
    )
    if magic != SNAPSHOT_MAGIC:
        raise SnapshotError(path, f"not a snapshot (magic {magic!r})", 0)
    if _CRC.unpack_from(data, _FIELDS.size)[0] != google_crc32c.value(fields):
        raise SnapshotError(path, "header CRC mismatch", 0)
    if version != FORMAT_VERSION:
        raise SnapshotError(
            path, f"format version {version}, this engine reads {FORMAT_VERSION}", 8
        )
    payload = data[HEADER_BYTES:]
    if len(payload) != length:
        raise SnapshotError(
            path, f"payload is {len(payload)} bytes, the header says {length}", HEADER_BYTES
        )
    if google_crc32c.value(payload) != crc:
        raise SnapshotError(path, "payload CRC mismatch", HEADER_BYTES)
    if hashlib.sha256(payload).digest() != digest:
        raise SnapshotError(path, "payload does not hash to the state hash in the header", 38)
    try:
        state = decode_state(payload)
    except (ValueError, LookupError, TypeError) as error:
        raise SnapshotError(path, f"payload is not a valid state: {error}", HEADER_BYTES) from None
    header = SnapshotHeader(shard, input_seq, output_seq, stream_seq, digest.hex(), length, crc)
    if (state.shard, state.input_seq, state.output_seq) != (shard, input_seq, output_seq):
        raise SnapshotError(
            path,
            f"state is shard {state.shard} at input {state.input_seq}, output "
            f"{state.output_seq}; the header says shard {shard}, {input_seq}, {output_seq}",
            HEADER_BYTES,
        )
    return Snapshot(path, header, state)


def read_snapshot(path: Path) -> Snapshot:
    """Read and check one snapshot file (the ``snapshot inspect`` and ``diff`` commands and
    ``fold --snapshot`` start here).  Raises ``SnapshotError`` naming file and offset."""
    return decode_snapshot(read_file(path, SnapshotError), path)


class SnapshotStore:
    """The snapshot folder of one shard.

    ``keep`` is how many snapshots survive a write (at least 1).  ``fsync=False`` is for tests
    only: it skips every fsync, so a crash could lose or tear a snapshot.
    """

    def __init__(self, directory: Path, shard: int, *, keep: int = 3, fsync: bool = True) -> None:
        if keep < 1:
            raise ValueError("keep at least one snapshot")
        self.directory = directory
        self.shard = shard
        self.keep = keep
        self._fsync = fsync

    def paths(self) -> list[Path]:
        """The snapshot files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.iterdir() if _NAME.match(path.name))

    def oldest_input_seq(self) -> int | None:
        """The ``input_seq`` of the oldest snapshot kept: what ``Wal.prune`` may prune up to."""
        paths = self.paths()
        match = _NAME.match(paths[0].name) if paths else None
        return int(match.group(1)) if match else None

    def write(self, state: State, last_stream_seq: int) -> Path:
        """Write a snapshot of ``state`` atomically, then keep only the newest ``keep``.

        ``last_stream_seq`` is the stream sequence of the input ``state.input_seq``.  Safe to
        call from a worker thread while the shard goes on.  Raises ``DurabilityError`` when the
        disk fails (the previous snapshots are untouched).
        """
        if state.shard != self.shard:
            raise ValueError(f"state of shard {state.shard} given to the store of {self.shard}")
        data = encode_snapshot(state, last_stream_seq)
        create_directory(self.directory)
        final = self.directory / snapshot_name(state.input_seq)
        temp = final.with_name(final.name + _TEMP_SUFFIX)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as error:
            raise DurabilityError(temp, f"cannot create: {error.strerror}") from error
        try:
            write_all(fd, data, temp)
            if self._fsync:
                fsync_file(fd, temp)
        finally:
            os.close(fd)
        rename_file(temp, final)
        if self._fsync:
            fsync_directory(self.directory)
        self._retain()
        logger.info("snapshot %s written: %d bytes", final, len(data))
        return final

    def _retain(self) -> None:
        stale = [
            path for path in self.directory.iterdir() if path.name.endswith(".snap" + _TEMP_SUFFIX)
        ]
        stale += self.paths()[: -self.keep]
        for path in stale:
            remove_file(path)
        if stale and self._fsync:
            fsync_directory(self.directory)

    def load_newest(
        self, *, max_input_seq: int | None = None, max_output_seq: int | None = None
    ) -> LoadResult:
        """The newest snapshot that passes every check; each newer one that fails is logged
        (warning) and listed in ``rejected``.

        A snapshot covering more inputs or outputs than the WAL holds (``max_input_seq``,
        ``max_output_seq``: the WAL's last ones) fails too: it was taken before what it covers
        was durable, and the WAL could not continue from it.
        """
        rejected: list[RejectedSnapshot] = []
        for path in reversed(self.paths()):
            try:
                snapshot = read_snapshot(path)
                header = snapshot.header
                if header.shard != self.shard:
                    raise SnapshotError(path, f"snapshot of shard {header.shard}", 10)
                if path.name != snapshot_name(header.input_seq):
                    raise SnapshotError(path, f"the header says input {header.input_seq}", 14)
                if (max_input_seq is not None and header.input_seq > max_input_seq) or (
                    max_output_seq is not None and header.output_seq > max_output_seq
                ):
                    raise SnapshotError(
                        path,
                        f"covers input {header.input_seq} and output {header.output_seq}, "
                        f"the WAL ends at input {max_input_seq} and output {max_output_seq}",
                    )
            except SnapshotError as error:
                logger.warning("snapshot passed over: %s", error)
                rejected.append(RejectedSnapshot(path, str(error)))
                continue
            return LoadResult(snapshot, tuple(rejected))
        return LoadResult(None, tuple(rejected))


__all__ = [
    "FORMAT_VERSION",
    "HEADER_BYTES",
    "SNAPSHOT_MAGIC",
    "LoadResult",
    "RejectedSnapshot",
    "Snapshot",
    "SnapshotHeader",
    "SnapshotStore",
    "decode_snapshot",
    "encode_snapshot",
    "read_snapshot",
    "snapshot_name",
]
