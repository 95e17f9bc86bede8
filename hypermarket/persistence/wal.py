"""The write-ahead log of one shard: group commit of inputs, outputs after, recovery on open.

Theory
------
Durability order, per batch of consumed messages:

1. ``append_inputs(batch)`` writes one INPUT record per message and fsyncs once (group commit:
   one fsync per batch, and a batch is whatever the bus handed over, never a wait to fill one);
2. only then does the shard apply the inputs (``step``);
3. ``append_outputs(outputs)`` writes one OUTPUT record per output, without an fsync of its
   own: the next batch's fsync (or ``sync``/``close``) covers them.

A crash before 1 completes loses inputs that were never applied and never acknowledged: they
are consumed again from JetStream, from ``last_stream_seq + 1``.  A crash between 1 and 3
loses only outputs, which are recomputed identically from the inputs (``recovery.recover``
appends them).  So the WAL is always the consumed prefix of the shard's input subject, plus
the outputs of a prefix of it.

The fsync policy trades that guarantee for speed: ``"batch"`` (the default) is as above;
``"interval"`` fsyncs a batch only if the last fsync is at least ``fsync_interval_ms`` old
(time from the injected ``clock``), so up to that much acknowledged work can be lost in a power
cut; ``"never"`` is for tests.  Rotating to a new segment always fsyncs the old one first
(except under ``"never"``), so only the last segment can ever have a torn tail.

A failed write or fsync raises ``DurabilityError`` and the ``Wal`` refuses all further work
(fsyncgate: nothing may be retried); the process must stop and recover from the disk.

Segments rotate when the active one has reached ``segment_bytes`` and a new batch comes (so a
batch and its outputs never span two segments).  ``prune`` removes segments whose inputs all
precede the oldest kept snapshot.

Recovery on open: ``Wal.open`` scans every segment (``wal_scan``), cuts a torn tail back to the
last whole record, logs and reports the cut (``RecoveryReport``), and refuses (raises
``WalCorruptionError`` naming file and offset) any other damage.  It never skips a record.

A ``Wal`` is used by one task at a time (the shard loop); it is not thread-safe.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import msgspec

from hypermarket.models import Output
from hypermarket.persistence.durable import (
    create_directory,
    fsync_directory,
    fsync_file,
    remove_file,
    truncate_file,
    write_all,
)
from hypermarket.persistence.errors import DurabilityError, PersistenceError
from hypermarket.persistence.wal_format import (
    SEGMENT_HEADER_BYTES,
    Consumed,
    Layout,
    Record,
    RecordKind,
    SegmentHeader,
    encode_records,
    encode_segment_header,
    segment_name,
)
from hypermarket.persistence.wal_scan import (
    InputWindow,
    SegmentInfo,
    TailCut,
    outputs_after,
    records_from,
    scan_wal,
)
from hypermarket.wire import encode_output

logger = logging.getLogger(__name__)

FsyncMode = Literal["batch", "interval", "never"]
DEFAULT_SEGMENT_BYTES = 64 << 20


class RecoveryReport(msgspec.Struct, frozen=True):
    """What ``Wal.open`` found and did; ``cut`` is the torn tail it removed, if any."""

    directory: Path
    segments: int
    records: int
    last_input_seq: int
    last_output_seq: int
    last_stream_seq: int
    cut: TailCut | None


class WalStatistics(msgspec.Struct, frozen=True):
    """Counters since the ``Wal`` was opened, and where the log stands."""

    last_input_seq: int
    last_output_seq: int
    last_stream_seq: int
    segments: int
    records_appended: int
    bytes_appended: int
    fsyncs: int


class Wal:
    """An open WAL folder of one shard, positioned after its last whole record.

    Create it with ``Wal.open``; ``recovery`` says what opening it found.
    """

    def __init__(
        self,
        directory: Path,
        layout: Layout,
        fsync: FsyncMode,
        fsync_interval_ms: int,
        clock: Callable[[], int],
        segment_bytes: int,
    ) -> None:
        self.directory = directory
        self.layout = layout
        self._mode = fsync
        self._interval_ns = fsync_interval_ms * 1_000_000
        self._clock = clock
        self._segment_bytes = segment_bytes
        self._closed: list[SegmentInfo] = []
        self._fd = -1
        self._path = directory
        self._header = SegmentHeader(layout, 1, 0, 0, 0)
        self._size = 0
        self._records = 0
        self._input_seq = 0
        self._output_seq = 0
        self._stream_seq = 0
        self._crc = 0
        self._window = InputWindow(1)
        self._unsynced = False
        self._last_sync_ns = clock()
        self._broken: DurabilityError | None = None
        self._appended = 0
        self._bytes = 0
        self._fsyncs = 0
        self.recovery = RecoveryReport(directory, 0, 0, 0, 0, 0, None)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        directory: Path,
        layout: Layout,
        *,
        fsync: FsyncMode = "batch",
        fsync_interval_ms: int = 0,
        clock: Callable[[], int] = time.monotonic_ns,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> Wal:
        """Open (creating if needed) the WAL in ``directory`` for the shard ``layout`` describes.

        Scans every segment, cuts a torn tail (logged, and reported in ``recovery``), and
        raises ``WalCorruptionError`` for any other damage, ``PersistenceError`` if the folder
        holds another shard's WAL.  ``clock`` returns nanoseconds; it paces the ``"interval"``
        policy only.
        """
        if fsync == "interval" and fsync_interval_ms <= 0:
            raise ValueError("the interval fsync policy needs fsync_interval_ms > 0")
        if segment_bytes <= SEGMENT_HEADER_BYTES:
            raise ValueError(f"segment_bytes must exceed the {SEGMENT_HEADER_BYTES}-byte header")
        create_directory(directory)
        scan = scan_wal(directory)
        if scan.layout is not None and scan.layout != layout:
            raise PersistenceError(
                scan.segments[0].path, f"this WAL is of {scan.layout}, not of {layout}"
            )
        wal = cls(directory, layout, fsync, fsync_interval_ms, clock, segment_bytes)
        if scan.tail is not None:
            wal._cut(scan.tail)
        wal._window = scan.window
        if scan.segments:
            wal._resume(scan.segments)
        else:
            wal._create_segment(SegmentHeader(layout, 1, 0, 0, 0))
        wal.recovery = RecoveryReport(
            directory=directory,
            segments=len(scan.segments),
            records=sum(info.records for info in scan.segments),
            last_input_seq=wal._input_seq,
            last_output_seq=wal._output_seq,
            last_stream_seq=wal._stream_seq,
            cut=scan.tail,
        )
        logger.info(
            "WAL %s open: %d segments, last input %d, last output %d, last stream seq %d",
            directory,
            len(scan.segments),
            wal._input_seq,
            wal._output_seq,
            wal._stream_seq,
        )
        return wal

    def _cut(self, tail: TailCut) -> None:
        logger.warning(
            "WAL torn tail cut: %s at offset %d, %d bytes (%s)",
            tail.path,
            tail.offset,
            tail.bytes_cut,
            tail.reason,
        )
        if tail.offset == 0:
            remove_file(tail.path)
            fsync_directory(self.directory)
        else:
            truncate_file(tail.path, tail.offset)

    def _resume(self, segments: Sequence[SegmentInfo]) -> None:
        *self._closed, last = segments
        try:
            self._fd = os.open(last.path, os.O_WRONLY | os.O_APPEND)
        except OSError as error:
            raise DurabilityError(last.path, f"cannot open for append: {error.strerror}") from error
        self._activate(last)

    def _create_segment(self, header: SegmentHeader) -> None:
        path = self.directory / segment_name(header.first_input_seq)
        with self._fatal():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except OSError as error:
                raise DurabilityError(path, f"cannot create: {error.strerror}") from error
            self._fd = fd
            write_all(fd, encode_segment_header(header), path)
            if self._mode != "never":
                fsync_file(fd, path)
                fsync_directory(self.directory)
        self._window.reset(header.first_input_seq)
        self._activate(
            SegmentInfo(
                path=path,
                header=header,
                end=SEGMENT_HEADER_BYTES,
                records=0,
                last_input_seq=header.first_input_seq - 1,
                last_output_seq=header.output_seq_before,
                last_stream_seq=header.stream_seq_before,
                last_crc=header.chain_seed,
            )
        )

    def _activate(self, info: SegmentInfo) -> None:
        """Make ``info``'s segment, open on ``self._fd``, the one appends go to."""
        self._path = info.path
        self._header = info.header
        self._size = info.end
        self._records = info.records
        self._input_seq = info.last_input_seq
        self._output_seq = info.last_output_seq
        self._stream_seq = info.last_stream_seq
        self._crc = info.last_crc

    # ------------------------------------------------------------------ appending

    @contextmanager
    def _fatal(self) -> Iterator[None]:
        """Turn the ``Wal`` unusable for good when a file operation fails (fsyncgate)."""
        try:
            yield
        except DurabilityError as error:
            self._broken = error
            raise

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise DurabilityError(
                self._broken.path, f"the WAL failed before and takes no more work: {self._broken}"
            ) from self._broken
        if self._fd < 0:
            raise ValueError(f"the WAL in {self.directory} is closed")

    def _write(self, records: list[Record]) -> int:
        """Append ``records`` to the active segment; return the CRC of the last one."""
        blob, crc = encode_records(records, self._crc)
        with self._fatal():
            write_all(self._fd, blob, self._path)
        self._size += len(blob)
        self._records += len(records)
        self._appended += len(records)
        self._bytes += len(blob)
        self._unsynced = True
        return crc

    def _fsync(self) -> None:
        with self._fatal():
            fsync_file(self._fd, self._path)
        self._fsyncs += 1
        self._unsynced = False
        self._last_sync_ns = self._clock()

    def _rotate(self) -> None:
        if self._mode != "never" and self._unsynced:
            self._fsync()
        self._closed.append(self._active_info())
        os.close(self._fd)
        self._fd = -1
        self._create_segment(
            SegmentHeader(
                self.layout, self._input_seq + 1, self._output_seq, self._stream_seq, self._crc
            )
        )

    def append_inputs(self, batch: Sequence[Consumed]) -> int:
        """Log ``batch`` and make it durable (per the fsync policy) before returning.

        The inputs get the shard sequences following ``last_input_seq``, in order; returns
        the last one.  Call it before applying any of them.  Raises ``ValueError`` (nothing
        written) if a stream sequence does not increase, ``DurabilityError`` if the disk failed.
        """
        self._check_usable()
        if not batch:
            return self._input_seq
        if self._size >= self._segment_bytes and self._input_seq >= self._header.first_input_seq:
            self._rotate()
        seq, stream = self._input_seq, self._stream_seq
        records: list[Record] = []
        for message in batch:
            if message.stream_seq <= stream:
                raise ValueError(
                    f"stream sequence {message.stream_seq} after {stream}: "
                    "a message consumed twice must not reach the WAL"
                )
            seq += 1
            stream = message.stream_seq
            records.append(Record(RecordKind.INPUT, seq, stream, message.ts_ns, message.payload))
        crc = self._write(records)
        if self._mode == "batch" or (
            self._mode == "interval" and self._clock() - self._last_sync_ns >= self._interval_ns
        ):
            self._fsync()
        self._window.reset(self._input_seq + 1)
        for message in batch:
            self._window.add(message.stream_seq)
        self._input_seq, self._stream_seq, self._crc = seq, stream, crc
        return seq

    def append_outputs(
        self, outputs: Sequence[Output], encoded: Sequence[bytes] | None = None
    ) -> None:
        """Log the outputs of the last input batch, in ``seq`` order, without an fsync.

        ``encoded``, if given, holds each output's ``OutputEvent`` bytes already
        (the engine encodes them once, for the bus and the log).

        Raises ``ValueError`` (nothing written) for an output out of sequence, of another
        shard, or of an input that is not in the last batch.
        """
        self._check_usable()
        if not outputs:
            return
        seq = self._output_seq
        records: list[Record] = []
        last_input = 0
        stream = 0
        for index, output in enumerate(outputs):
            found = self._window.stream_seq_of(output.input_seq)
            if output.shard != self.layout.shard or output.seq != seq + 1:
                raise ValueError(
                    f"output (shard {output.shard}, seq {output.seq}) does not follow "
                    f"(shard {self.layout.shard}, seq {seq})"
                )
            if found is None or output.input_seq < last_input:
                raise ValueError(
                    f"output {output.seq} is of input {output.input_seq}, "
                    "not of the last input batch in order"
                )
            seq, last_input, stream = output.seq, output.input_seq, found
            records.append(
                Record(
                    RecordKind.OUTPUT,
                    seq,
                    stream,
                    output.ts_ns,
                    encode_output(output) if encoded is None else encoded[index],
                )
            )
        crc = self._write(records)
        self._window.close_before(stream)
        self._output_seq, self._crc = seq, crc

    def sync(self) -> None:
        """fsync what was appended since the last fsync (the ``"interval"`` policy's timer and
        shutdown call this); a no-op under ``"never"``."""
        self._check_usable()
        if self._mode != "never" and self._unsynced:
            self._fsync()

    # ------------------------------------------------------------------ reading and pruning

    def _active_info(self) -> SegmentInfo:
        return SegmentInfo(
            path=self._path,
            header=self._header,
            end=self._size,
            records=self._records,
            last_input_seq=self._input_seq,
            last_output_seq=self._output_seq,
            last_stream_seq=self._stream_seq,
            last_crc=self._crc,
        )

    @property
    def segments(self) -> tuple[SegmentInfo, ...]:
        """Every segment, oldest first, the active one last, as it stands now."""
        return (*self._closed, self._active_info())

    @property
    def first_input_seq(self) -> int:
        """The first input still in the WAL (earlier ones were pruned)."""
        return (
            self._closed[0].header.first_input_seq if self._closed else self._header.first_input_seq
        )

    @property
    def last_input_seq(self) -> int:
        return self._input_seq

    @property
    def last_output_seq(self) -> int:
        return self._output_seq

    @property
    def last_stream_seq(self) -> int:
        """The stream sequence of the last logged input: consume again from the next one."""
        return self._stream_seq

    def records(self, from_input_seq: int = 1) -> Iterator[Record]:
        """Every record from input ``from_input_seq`` on (its outputs and later ones included).

        Reads the files (re-checking them); do not append while iterating.  Raises
        ``ReplayError`` if that input was pruned.
        """
        return records_from(self.segments, from_input_seq)

    def outputs(self, after_seq: int) -> Iterator[Record]:
        """The OUTPUT records with ``seq > after_seq``: what to republish after a restart."""
        return outputs_after(self.segments, after_seq)

    def prune(self, before_seq: int) -> tuple[Path, ...]:
        """Remove the segments all of whose inputs are at or below ``before_seq``.

        Pass the ``input_seq`` of the oldest snapshot kept: a snapshot covers every input up to
        its own, so those segments are no longer needed to recover.  The active segment is
        never removed.  Segments go oldest first, so a crash part-way leaves a WAL without
        holes.  Returns the removed paths.
        """
        self._check_usable()
        if not self._closed:
            return ()
        starts = [info.header.first_input_seq for info in self._closed[1:]]
        starts.append(self._header.first_input_seq)
        removable = [
            info
            for info, next_first in zip(self._closed, starts, strict=True)
            if next_first - 1 <= before_seq
        ]
        if not removable:
            return ()
        with self._fatal():
            for info in removable:
                remove_file(info.path)
            if self._mode != "never":
                fsync_directory(self.directory)
        del self._closed[: len(removable)]
        logger.info(
            "WAL %s: pruned %d segments up to input %d", self.directory, len(removable), before_seq
        )
        return tuple(info.path for info in removable)

    def statistics(self) -> WalStatistics:
        return WalStatistics(
            last_input_seq=self._input_seq,
            last_output_seq=self._output_seq,
            last_stream_seq=self._stream_seq,
            segments=len(self._closed) + 1,
            records_appended=self._appended,
            bytes_appended=self._bytes,
            fsyncs=self._fsyncs,
        )

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """fsync what is pending (unless the policy is ``"never"``) and close the file."""
        if self._fd < 0:
            return
        try:
            if self._broken is None and self._mode != "never" and self._unsynced:
                self._fsync()
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["DEFAULT_SEGMENT_BYTES", "FsyncMode", "RecoveryReport", "Wal", "WalStatistics"]
