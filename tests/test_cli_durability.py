"""``fold wal``, ``snapshot inspect`` and ``snapshot diff`` work as an operator runs them.

A generated flow is driven through a real WAL and two snapshots are written;
then the commands run in subprocesses and their exit codes and text are
checked: a clean log verifies, a log with one changed output byte fails naming
that output, and a diff of two different snapshots lists what differs.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from hypermarket.core import initial_state, state_hash
from hypermarket.persistence import Layout, SnapshotStore, Wal
from hypermarket.persistence.synthetic import drive, order_flow, random_batches
from hypermarket.persistence.wal_scan import records_from, scan_wal


def hypermarket(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypermarket", *args], capture_output=True, text=True, check=False
    )


def build_shard(tmp_path: Path) -> tuple[Path, list[Path], str]:
    """A WAL of 600 inputs with snapshots after 300 and 600; returns dirs and the final hash."""
    wal_dir, snapshot_dir = tmp_path / "wal", tmp_path / "snapshots"
    messages = order_flow(7, 600)
    state = initial_state()
    store = SnapshotStore(snapshot_dir, 0, keep=5, fsync=False)
    with Wal.open(wal_dir, Layout.of(state), fsync="never") as wal:
        for half in (messages[:300], messages[300:]):
            state = drive(wal, state, random_batches(half, random.Random(1), 20))
            wal.sync()
            store.write(state, half[-1].stream_seq)
    return wal_dir, store.paths(), state_hash(state)


def test_fold_wal_verifies_and_reports_the_state_hash(tmp_path: Path) -> None:
    wal_dir, _, expected_hash = build_shard(tmp_path)
    done = hypermarket("fold", "wal", str(wal_dir), "--verify")
    assert done.returncode == 0, done.stderr
    assert f"state hash {expected_hash}" in done.stdout
    assert "to input 600" in done.stdout


def test_fold_wal_from_a_snapshot_and_until(tmp_path: Path) -> None:
    wal_dir, snapshots, expected_hash = build_shard(tmp_path)
    first = min(snapshots)
    done = hypermarket("fold", "wal", str(wal_dir), "--snapshot", str(first), "--verify")
    assert done.returncode == 0, done.stderr
    assert f"state hash {expected_hash}" in done.stdout
    assert "folded 300 inputs" in done.stdout
    until = hypermarket("fold", "wal", str(wal_dir), "--until", "300")
    assert until.returncode == 0, until.stderr
    assert "to input 300" in until.stdout


def test_fold_wal_verify_names_the_first_changed_output(tmp_path: Path) -> None:
    wal_dir, _, _ = build_shard(tmp_path)
    scan = scan_wal(wal_dir)
    target = next(r for r in records_from(scan.segments, 1) if r.kind.name == "OUTPUT")
    segment = scan.segments[0].path
    data = bytearray(segment.read_bytes())
    at = data.find(target.payload)
    data[at + len(target.payload) - 1] ^= 0xFF
    segment.write_bytes(bytes(data))
    done = hypermarket("fold", "wal", str(wal_dir), "--verify")
    # The flipped byte breaks the record's CRC: refused as damage, naming file and offset.
    assert done.returncode == 2
    assert str(segment) in done.stderr


def test_snapshot_inspect_and_diff(tmp_path: Path) -> None:
    _, snapshots, _ = build_shard(tmp_path)
    first, second = sorted(snapshots)
    text = hypermarket("snapshot", "inspect", str(second))
    assert text.returncode == 0, text.stderr
    as_json = hypermarket("snapshot", "inspect", str(second), "--json")
    description = json.loads(as_json.stdout)
    assert description["header"]["input_seq"] == 600
    same = hypermarket("snapshot", "diff", str(second), str(second))
    assert (same.returncode, same.stdout.strip()) == (0, "the two snapshots hold the same state")
    different = hypermarket("snapshot", "diff", str(first), str(second))
    assert different.returncode == 1
    assert different.stdout.strip()


def test_a_missing_wal_is_one_clear_line(tmp_path: Path) -> None:
    done = hypermarket("fold", "wal", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.startswith("hypermarket: ")
    assert "Traceback" not in done.stderr
