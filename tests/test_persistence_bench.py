"""The WAL benchmark runs end to end on small sizes and reports every figure it promises, each a
positive number with its unit: appends per batch size, recovery per 100,000 inputs, snapshot
write time, size and load time.  (The figures themselves are measured by hand, not here.)
"""

from __future__ import annotations

from pathlib import Path

from hypermarket.persistence.bench import render_rows, run_wal_bench


def test_the_benchmark_reports_every_figure(tmp_path: Path) -> None:
    rows = run_wal_bench(
        tmp_path, batch_sizes=(1, 10), records=40, recovery_inputs=300, resting_orders=500
    )
    names = [row.name for row in rows]
    assert names == [
        "WAL append, fsync per batch of 1",
        "WAL append, fsync per batch of 10",
        "recovery: WAL scan and checks",
        "recovery: fold through step, outputs verified",
        "recovery: total",
        "snapshot write: encode, write, fsync, rename",
        "snapshot size",
        "snapshot load: read, check, decode",
    ]
    assert all(row.value > 0 for row in rows)
    assert "40 inputs, 40 fsyncs" in rows[0].detail
    assert "40 inputs, 4 fsyncs" in rows[1].detail
    assert "500 resting orders" in rows[-1].detail
    table = render_rows(rows)
    assert len(table.splitlines()) == len(rows)
