"""The benchmark commands run end to end at small sizes and print their figures.

They are measured on purpose by hand (docs/performance.md says how); this only
keeps them from rotting: each runs as a subprocess with tiny sizes and must
exit 0 printing the lines the docs quote.  No speed is asserted here.
"""

from __future__ import annotations

import subprocess
import sys


def bench(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hypermarket", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_bench_core() -> None:
    out = bench("core", "--events", "3000", "--auction-orders", "500")
    assert "gc=default:" in out
    assert "gc=tuned:" in out
    assert "auction: " in out


def test_bench_wal() -> None:
    out = bench("wal", "--records", "500", "--resting-orders", "2000")
    assert "fsync" in out


def test_bench_e2e() -> None:
    out = bench("e2e", "--events", "2000", "--paced", "50", "--rate", "200")
    assert "raw nats-py ordered consumer" in out
    assert "engine on the in-memory bus" in out
    assert "end-to-end latency" in out


def test_bench_bridge() -> None:
    out = bench("bridge", "--messages", "3000", "--sync-interval", "2m")
    assert "thread (NatsBus.consume)" in out
    assert "guest" in out
