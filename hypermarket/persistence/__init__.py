"""Durability of a shard: its write-ahead log, its snapshots, and replay.

Theory of operation
-------------------
Each shard owns a WAL folder and a snapshot folder.  The WAL (``wal``, format in
``wal_format``) logs every consumed input as the raw bytes it arrived as, with its stream
sequence and event time, and every output the core produced from it.  Snapshots
(``snapshot``) hold the canonical encoding of the state at some input.  The core is a pure
function, so the state after input ``n`` is a fold (``fold``) of ``step`` over the logged
inputs from the newest snapshot on, and every output is reproducible byte for byte.

Durability order (``wal``): the inputs of a batch are appended and fsynced, with one fsync,
before any is applied; their outputs are appended after, and the next fsync covers them.
A snapshot is taken only of a state whose inputs and outputs are in the WAL (``Wal.sync``
first when the fsync policy is not ``"batch"``); the WAL is pruned only up to the oldest
snapshot kept.

What recovery guarantees (``Wal.open`` then ``recovery.recover``):

* every input whose ``append_inputs`` returned (under the ``"batch"`` policy) is recovered;
  what a crash tore off the tail, never acknowledged, is cut, logged and reported, and is
  consumed again from JetStream after ``last_stream_seq``;
* damage anywhere else stops start-up with an error naming the file and the offset: nothing is
  ever skipped silently;
* the recovered state is the fold of the recovered inputs; the outputs are checked against the
  log, missing ones (a crash between a batch and its outputs) are recomputed and appended, and
  the shard learns which logged outputs to publish again.

A failed write or fsync is fatal (``DurabilityError``): the page cache may already have
dropped the data, so no retry can be trusted (fsyncgate).

Modules: ``wal_format`` (bytes of segments and records), ``wal_scan`` (reading and checking),
``wal`` (appending, recovery on open, pruning), ``snapshot``, ``fold`` (replay and
verification), ``recovery`` (restart of a shard), ``inspect`` (summaries, descriptions and
differences for the CLI), ``synthetic`` (generated flows) and ``bench`` (WAL figures).
"""

from hypermarket.persistence.errors import (
    DurabilityError,
    PersistenceError,
    ReplayError,
    SnapshotError,
    WalCorruptionError,
)
from hypermarket.persistence.fold import (
    FoldResult,
    OutputMismatch,
    Verification,
    fold,
    replay,
)
from hypermarket.persistence.inspect import (
    MarketSummary,
    diff_states,
    inspect_snapshot,
    market_summaries,
    render_fold,
    render_inspection,
)
from hypermarket.persistence.recovery import Recovery, recover
from hypermarket.persistence.snapshot import (
    LoadResult,
    RejectedSnapshot,
    Snapshot,
    SnapshotHeader,
    SnapshotStore,
    encode_snapshot,
    read_snapshot,
)
from hypermarket.persistence.wal import FsyncMode, RecoveryReport, Wal, WalStatistics
from hypermarket.persistence.wal_format import Consumed, Layout, Record, RecordKind
from hypermarket.persistence.wal_scan import TailCut

__all__ = [
    "Consumed",
    "DurabilityError",
    "FoldResult",
    "FsyncMode",
    "Layout",
    "LoadResult",
    "MarketSummary",
    "OutputMismatch",
    "PersistenceError",
    "Record",
    "RecordKind",
    "Recovery",
    "RecoveryReport",
    "RejectedSnapshot",
    "ReplayError",
    "Snapshot",
    "SnapshotError",
    "SnapshotHeader",
    "SnapshotStore",
    "TailCut",
    "Verification",
    "Wal",
    "WalCorruptionError",
    "WalStatistics",
    "diff_states",
    "encode_snapshot",
    "fold",
    "inspect_snapshot",
    "market_summaries",
    "read_snapshot",
    "recover",
    "render_fold",
    "render_inspection",
    "replay",
]
