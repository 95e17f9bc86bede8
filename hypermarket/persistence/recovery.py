"""Restarting a shard: newest valid snapshot, fold of the WAL tail, outputs to republish.

Theory
------
On restart the shard has an open ``Wal`` (its torn tail already cut by ``Wal.open``) and its
``SnapshotStore``.  ``recover``:

1. loads the newest valid snapshot that the WAL covers (or starts from the shard's empty
   state);
2. folds the WAL's inputs after it through ``step``, recomputing every output and comparing
   it byte for byte with the logged one.  A difference means the log is damaged or the core
   is not deterministic: the shard must not resume, and ``ReplayError`` says which output and
   which input;
3. appends the recomputed outputs that were never logged (the crash came between a batch's
   inputs and its outputs), so the WAL again holds every output of every input;
4. lists the logged outputs after ``published_output_seq``, the last output the shard finds in
   its output stream: exactly those must be published again (``Nats-Msg-Id`` deduplicates a
   republished one that did get through).

The shard then consumes its input subject again from ``last_stream_seq + 1``.  If the output
stream is ahead of the WAL (possible only under the ``"interval"`` fsync policy: outputs were
published of inputs whose fsync was lost), nothing is republished, and the outputs that the
re-consumed inputs produce again up to ``published_output_seq`` are the same bytes the stream
already holds: the shell skips publishing them.
"""

from __future__ import annotations

import logging

import msgspec

from hypermarket.core import State
from hypermarket.persistence.errors import ReplayError
from hypermarket.persistence.fold import check_layout, replay
from hypermarket.persistence.snapshot import LoadResult, SnapshotStore
from hypermarket.persistence.wal import RecoveryReport, Wal
from hypermarket.persistence.wal_format import Record

logger = logging.getLogger(__name__)


class Recovery(msgspec.Struct, frozen=True):
    """Where a restarted shard resumes, and what it must publish again."""

    state: State
    last_stream_seq: int
    snapshot: LoadResult
    wal: RecoveryReport
    inputs_replayed: int
    outputs_checked: int
    outputs_appended: int
    republish: tuple[Record, ...]


def recover(wal: Wal, snapshots: SnapshotStore, *, published_output_seq: int) -> Recovery:
    """Rebuild the shard's state from ``snapshots`` and ``wal`` and make the WAL whole again.

    ``published_output_seq`` is the ``seq`` of the last output found in the shard's output
    stream (0 if none).  Returns the state to resume from, the stream sequence to resume after,
    and the OUTPUT records to publish again.  Raises ``ReplayError`` when a recomputed output
    differs from the logged one, or the WAL does not reach back to the snapshot (or to the
    shard's first input when there is none); ``WalCorruptionError`` if a segment changed since
    it was opened.
    """
    loaded = snapshots.load_newest(
        max_input_seq=wal.last_input_seq, max_output_seq=wal.last_output_seq
    )
    if loaded.snapshot is None:
        start, stream_seq = wal.layout.genesis(), 0
    else:
        start, stream_seq = loaded.snapshot.state, loaded.snapshot.header.last_stream_seq
        check_layout(start, wal.layout, loaded.snapshot.path)
    result = replay(
        wal.records(start.input_seq + 1),
        start,
        stream_seq,
        source=wal.directory,
        verify=True,
    )
    assert result.verification is not None
    if result.verification.mismatch is not None:
        raise ReplayError(wal.directory, result.verification.mismatch.describe())
    if (result.last_input_seq, result.last_stream_seq) != (
        wal.last_input_seq,
        wal.last_stream_seq,
    ):
        raise ReplayError(
            wal.directory,
            f"the fold reached input {result.last_input_seq} (stream sequence "
            f"{result.last_stream_seq}), the WAL ends at input {wal.last_input_seq} "
            f"(stream sequence {wal.last_stream_seq})",
        )
    wal.append_outputs(result.unlogged_outputs)
    republish = tuple(wal.outputs(published_output_seq))
    logger.info(
        "shard %d recovered at input %d (stream sequence %d): snapshot %s, %d inputs replayed, "
        "%d outputs checked, %d appended, %d to republish",
        wal.layout.shard,
        result.last_input_seq,
        result.last_stream_seq,
        loaded.snapshot.path if loaded.snapshot else "none",
        result.inputs_replayed,
        result.verification.checked,
        len(result.unlogged_outputs),
        len(republish),
    )
    return Recovery(
        state=result.state,
        last_stream_seq=result.last_stream_seq,
        snapshot=loaded,
        wal=wal.recovery,
        inputs_replayed=result.inputs_replayed,
        outputs_checked=result.verification.checked,
        outputs_appended=len(result.unlogged_outputs),
        republish=republish,
    )


__all__ = ["Recovery", "recover"]
