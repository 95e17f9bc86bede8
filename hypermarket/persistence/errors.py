"""The errors of the persistence layer: each one names the file, and the offset where one applies.

Bad data on disk is never a raw ``struct.error``, ``msgspec`` error or ``KeyError`` out of
this package: every reader turns what it finds into one of these, with a sentence saying what
is wrong, so an operator reading a log or the CLI knows which file to look at and where.

* ``WalCorruptionError``: damage in the WAL that recovery must not cut (it is not a torn
  tail): the shard refuses to start rather than lose or skip acknowledged inputs.
* ``SnapshotError``: a snapshot file that cannot be trusted (recovery then tries the one
  before it).
* ``DurabilityError``: a write, fsync, rename or removal failed.  It is fatal: after a failed
  fsync the kernel may already have dropped the dirty pages and marked them clean, so a retry
  that succeeds proves nothing (PostgreSQL's "fsyncgate", 2018).  The object that raised it
  refuses all further work; the process must stop and recover from what is on disk.
* ``ReplayError``: the WAL and the snapshots do not fit together (the WAL was pruned past the
  snapshot, a snapshot is ahead of the WAL, a replayed output differs from the logged one).
"""

from __future__ import annotations

from pathlib import Path


class PersistenceError(Exception):
    """Something on disk (or the disk itself) is wrong; ``path`` and ``offset`` say where."""

    def __init__(self, path: Path, reason: str, offset: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.offset = offset
        where = str(path) if offset is None else f"{path} at offset {offset}"
        super().__init__(f"{where}: {reason}")


class WalCorruptionError(PersistenceError):
    """Damage before the tail of the WAL (or a WAL that breaks its own rules)."""


class SnapshotError(PersistenceError):
    """A snapshot file that is unreadable, damaged or not what its name and header say."""


class DurabilityError(PersistenceError):
    """A write or fsync failed: fatal, never retried (fsyncgate)."""


class ReplayError(PersistenceError):
    """The WAL, the snapshot and the core disagree; the shard must not resume."""


__all__ = [
    "DurabilityError",
    "PersistenceError",
    "ReplayError",
    "SnapshotError",
    "WalCorruptionError",
]
