"""`demo --seconds 5` runs the whole system end to end: it starts an engine with its embedded
nats-server, trades in both markets (fills printed as they happen), stops the engine cleanly
and verifies the write-ahead log by replaying it with `fold wal --verify`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tools_support import run_cli


def test_demo_trades_then_verifies_the_wal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_cli(capsys, "demo", "--seconds", "5", "--data-dir", str(tmp_path))
    assert result.code == 0, result.out + result.err
    out = result.out

    assert re.search(r"engine ready in [\d.]+ s, its embedded NATS at nats://127\.0\.0\.1:\d+", out)
    fills = re.findall(r"^\s*[\d.]+ s  (BTC-PERP|ETH-PERP)\s+fill \d+ @ \d+", out, re.MULTILINE)
    assert "BTC-PERP" in fills
    assert "ETH-PERP" in fills  # the batch market traded in an auction
    first_fill = re.search(r"^\s*([\d.]+) s  \S+\s+fill ", out, re.MULTILINE)
    assert first_fill is not None
    assert float(first_fill.group(1)) < 3.0  # trading shows within seconds
    assert "engine exit status 0" in out
    assert f"$ python -m hypermarket fold wal {tmp_path / 'wal' / 'shard-0'} --verify" in out
    assert re.search(r"verify: \d+ outputs identical", out)
    assert out.rstrip().endswith("bit for bit")
