"""The operator's view of a shard's disk: ``fold wal``, ``snapshot inspect|diff``, ``bench wal``.

Each returns the process exit status; the persistence package does the work
and raises ``PersistenceError`` (naming file and offset) for damage, which
``cli.main`` turns into one line and status 2.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from hypermarket.persistence import diff_states, fold, inspect_snapshot, read_snapshot
from hypermarket.persistence.bench import render_rows, run_wal_bench
from hypermarket.persistence.inspect import render_fold, render_inspection


def _progress_bar(done: int, total: int) -> None:
    """One self-overwriting line on stderr: only called when stderr is a terminal."""
    width = 40
    filled = width * done // total if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] input {done} of {total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def fold_wal(wal_dir: Path, snapshot: Path | None, until: int | None, verify: bool) -> int:
    """Rebuild a shard from its WAL; with ``verify``, exit 1 at the first differing output."""
    progress = _progress_bar if sys.stderr.isatty() else None
    result = fold(wal_dir, snapshot, until, verify, progress=progress)
    print(render_fold(result))
    if result.verification is not None and not result.verification.ok:
        return 1
    return 0


def snapshot_inspect(path: Path, as_json: bool) -> int:
    description = inspect_snapshot(path)
    if as_json:
        print(json.dumps(description, indent=2, sort_keys=True))
    else:
        print(render_inspection(description))
    return 0


def snapshot_diff(first: Path, second: Path) -> int:
    """Print what differs between two snapshots' states; exit 1 if anything does."""
    differences = diff_states(read_snapshot(first).state, read_snapshot(second).state)
    for line in differences:
        print(line)
    if not differences:
        print("the two snapshots hold the same state")
    return 1 if differences else 0


def bench_wal(directory: Path | None, records: int, resting_orders: int) -> int:
    """WAL appends per fsync batch size, recovery time, snapshot time and size."""
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        rows = run_wal_bench(Path(scratch), records=records, resting_orders=resting_orders)
    print(render_rows(rows))
    return 0
