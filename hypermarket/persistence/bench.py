"""WAL and snapshot figures on this machine: ``python -m hypermarket bench wal``.

What it measures, and why those:

* appends per second with one fsync per batch of 1, 100 and 1,000 inputs: group commit is what
  makes the WAL affordable, and the batch of 1 is the floor (one fsync per message);
* recovery time per 100,000 logged inputs: the scan and checks ``Wal.open`` does, then
  ``recover`` (the fold through ``step`` with every output checked byte for byte), on a
  generated flow of orders, cancels, amends, fills; restart time is what an operator waits;
* snapshot write time (encode, write, fsync, rename), size and load time (read, check, decode)
  for a book of N resting orders: how long the worker thread is busy, and what a restart reads.

Each figure comes from one run; ratios between them matter more than the absolute values.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import msgspec

from hypermarket.core import initial_state, step
from hypermarket.persistence.recovery import recover
from hypermarket.persistence.snapshot import SnapshotStore, read_snapshot
from hypermarket.persistence.synthetic import drive, order_flow, resting_flow
from hypermarket.persistence.wal import Wal
from hypermarket.persistence.wal_format import Layout
from hypermarket.wire import decode_input

RECOVERY_UNIT = 100_000


class BenchRow(msgspec.Struct, frozen=True):
    """One measured figure."""

    name: str
    value: float
    unit: str
    detail: str


def _append_rows(
    directory: Path, batch_sizes: Sequence[int], records: int, seed: int
) -> list[BenchRow]:
    messages = order_flow(seed, records)
    rows = []
    for size in batch_sizes:
        with Wal.open(directory / f"append-{size}", Layout(0, 1, 20), fsync="batch") as wal:
            started = time.perf_counter()
            for start in range(0, len(messages), size):
                wal.append_inputs(messages[start : start + size])
            elapsed = time.perf_counter() - started
            fsyncs = wal.statistics().fsyncs
        rows.append(
            BenchRow(
                f"WAL append, fsync per batch of {size}",
                len(messages) / elapsed,
                "inputs/s",
                f"{len(messages)} inputs, {fsyncs} fsyncs, {elapsed:.2f} s",
            )
        )
    return rows


def _recovery_rows(directory: Path, inputs: int, seed: int) -> list[BenchRow]:
    layout = Layout(0, 1, 20)
    messages = order_flow(seed, inputs)
    wal_dir = directory / "recovery-wal"
    with Wal.open(wal_dir, layout, fsync="never") as wal:
        drive(wal, layout.genesis(), (messages[i : i + 100] for i in range(0, inputs, 100)))
        outputs = wal.last_output_seq
    scale = RECOVERY_UNIT / inputs
    started = time.perf_counter()
    wal = Wal.open(wal_dir, layout, fsync="never")
    opened = time.perf_counter()
    with wal:
        recovery = recover(
            wal, SnapshotStore(directory / "recovery-snapshots", 0), published_output_seq=outputs
        )
    folded = time.perf_counter()
    detail = f"{inputs} inputs and {outputs} outputs logged, scaled to {RECOVERY_UNIT} inputs"
    return [
        BenchRow("recovery: WAL scan and checks", (opened - started) * scale, "s", detail),
        BenchRow(
            "recovery: fold through step, outputs verified",
            (folded - opened) * scale,
            "s",
            f"{detail}; {recovery.outputs_checked} outputs compared",
        ),
        BenchRow("recovery: total", (folded - started) * scale, "s", detail),
    ]


def _snapshot_rows(directory: Path, orders: int) -> list[BenchRow]:
    started = time.perf_counter()
    state = initial_state()
    last_stream_seq = 0
    for message in resting_flow(orders):
        state, _ = step(state, decode_input(message.payload, message.ts_ns))
        last_stream_seq = message.stream_seq
    built = time.perf_counter() - started
    store = SnapshotStore(directory / "snapshots", 0, keep=1)
    started = time.perf_counter()
    path = store.write(state, last_stream_seq)
    written = time.perf_counter() - started
    started = time.perf_counter()
    read_snapshot(path)
    loaded = time.perf_counter() - started
    detail = f"{orders} resting orders (book built by {built:.1f} s of steps)"
    return [
        BenchRow("snapshot write: encode, write, fsync, rename", written, "s", detail),
        BenchRow("snapshot size", path.stat().st_size / 1e6, "MB", detail),
        BenchRow("snapshot load: read, check, decode", loaded, "s", detail),
    ]


def run_wal_bench(
    directory: Path,
    batch_sizes: Sequence[int] = (1, 100, 1_000),
    records: int = 20_000,
    recovery_inputs: int = RECOVERY_UNIT,
    resting_orders: int = 1_000_000,
    seed: int = 1,
) -> list[BenchRow]:
    """Measure the WAL and snapshots in ``directory`` (an empty scratch folder on the disk to
    measure; it is filled with WALs and snapshots and left for the caller to remove).

    ``records`` inputs are appended per batch size; ``recovery_inputs`` are logged and
    recovered (figures scaled to 100,000); the snapshot holds ``resting_orders`` orders (the
    issue's figure is 1,000,000: about a minute and a half on 2 cores, most of it building the
    book through ``step``).
    """
    return [
        *_append_rows(directory, batch_sizes, records, seed),
        *_recovery_rows(directory, recovery_inputs, seed),
        *_snapshot_rows(directory, resting_orders),
    ]


def render_rows(rows: Sequence[BenchRow]) -> str:
    """The rows as an aligned text table."""
    width = max(len(row.name) for row in rows)
    return "\n".join(
        f"{row.name:<{width}}  {row.value:>14,.3f} {row.unit:<9} {row.detail}" for row in rows
    )


__all__ = ["BenchRow", "render_rows", "run_wal_bench"]
