"""`markets put|get|list` against a real engine on a private nats-server: a config that breaks
a rule of the core or of the bucket's JSON codec is refused with the reason and never written;
a good one is written, read back, listed, and applied by the engine (its MarketUpdated)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools_support import RunningEngine, run_cli, running_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    with running_engine(tmp_path_factory.mktemp("tools-markets")) as running:
        yield running


def test_put_refuses_a_config_that_breaks_a_rule_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine
) -> None:
    put = ["markets", "put", "--nats", engine.url, "--market-id", "7", "--symbol", "BAD-PERP"]
    result = run_cli(capsys, *put, "--maintenance-margin-bps", "2000")
    assert result.code == 2
    assert result.err == (
        "hypermarket: market 7 not written: maintenance_margin_bps must be positive and below "
        "initial_margin_bps\n"
    )
    missing = run_cli(capsys, "markets", "get", "7", "--nats", engine.url)
    assert missing.code == 2
    assert "market 7 is not in MARKETS" in missing.err


def test_put_refuses_what_the_json_codec_refuses(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine, tmp_path: Path
) -> None:
    path = tmp_path / "market.json"
    path.write_text('{"market_id": 7, "symbol": "X", "tick_size": 1}', encoding="utf-8")
    result = run_cli(capsys, "markets", "put", str(path), "--nats", engine.url)
    assert result.code == 2
    assert result.err == f"hypermarket: {path}: unknown field 'tick_size'; nothing written\n"


def test_put_writes_a_good_config_which_the_engine_applies(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine, tmp_path: Path
) -> None:
    path = tmp_path / "sol.json"
    path.write_text('{"market_id": 8, "symbol": "SOL-PERP", "taker_fee_bps": 5}', "utf-8")
    written = run_cli(capsys, "markets", "put", str(path), "--nats", engine.url)
    assert written.code == 0, written.err
    assert written.out.startswith("market 8 (SOL-PERP) written to MARKETS at revision ")

    shown = run_cli(capsys, "markets", "get", "8", "--nats", engine.url)
    assert shown.code == 0, shown.err
    config = json.loads(shown.out)
    assert (config["symbol"], config["taker_fee_bps"], config["status"]) == (
        "SOL-PERP",
        5,
        "ACTIVE",
    )

    listed = run_cli(capsys, "markets", "list", "--nats", engine.url)
    assert listed.code == 0, listed.err
    rows = [line.split() for line in listed.out.splitlines()[1:]]
    assert [row[:4] for row in rows] == [
        ["1", "M1-PERP", "continuous", "active"],
        ["2", "M2-PERP", "continuous", "active"],
        ["8", "SOL-PERP", "continuous", "active"],
    ]

    applied = run_cli(
        capsys,
        *("tail", "--nats", engine.url, "--market", "8", "--from-start", "--json"),
        *("--count", "1", "--timeout", "10"),
    )
    assert applied.code == 0, applied.err
    update = json.loads(applied.out)["marketUpdated"]
    assert update["config"]["symbol"] == "SOL-PERP"
    assert update["revision"] == written.out.split()[-1]

    # The file again with one flag changed: the change is listed, an identical put skipped.
    halted = run_cli(
        capsys, "markets", "put", str(path), "--status", "HALTED", "--nats", engine.url
    )
    assert halted.code == 0, halted.err
    assert halted.out.splitlines()[1:] == ["  status: active -> halted"]
    again = run_cli(capsys, "markets", "put", str(path), "--status", "halted", "--nats", engine.url)
    assert again.code == 0, again.err
    assert "already holds this config" in again.out
