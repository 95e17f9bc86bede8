"""The worked examples in tests/examples fold to the outputs worked out by hand here.

Each example is a file of InputEvents that the docs quote; this runs it through
``python -m hypermarket fold inputs`` (the real command, in a subprocess) and
checks the outputs against numbers computed by hand in the test, so neither the
docs nor the simulator can drift.  It also checks that the same file gives
byte-identical output under different ``PYTHONHASHSEED`` values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parent / "examples"
ENVELOPE = {"shard", "seq", "inputSeq", "tsNs", "marketId", "requestId"}


def fold(path: Path, hash_seed: str = "0") -> tuple[str, str]:
    """(stdout, stderr) of folding ``path``."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-m", "hypermarket", "fold", "inputs", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout, done.stderr


def outputs_by_request(stdout: str) -> dict[int, list[tuple[str, dict[str, Any]]]]:
    """Outputs grouped by request id, each as (kind, body) in output order."""
    grouped: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for line in stdout.splitlines():
        output = json.loads(line)
        (kind,) = set(output) - ENVELOPE
        grouped.setdefault(int(output["requestId"]), []).append((kind, output[kind]))
    return grouped


def test_continuous_basic() -> None:
    stdout, stderr = fold(EXAMPLES / "continuous_basic.jsonl")
    by_request = outputs_by_request(stdout)
    # 7: B bids 7 @ 102 against A's 5 @ 101 and 5 @ 102: best price first, at the maker's price.
    kinds = [kind for kind, _ in by_request[7]]
    assert kinds == [
        "orderAccepted",
        "fill",
        "fill",
        "bookDelta",
        "bookDelta",
        "positionUpdate",
        "positionUpdate",
    ]
    fills = [body for kind, body in by_request[7] if kind == "fill"]
    assert [(f["price"], f["quantity"], f["makerRemaining"]) for f in fills] == [
        ("101", "5", "0"),
        ("102", "2", "3"),
    ]
    deltas = [body for kind, body in by_request[7] if kind == "bookDelta"]
    assert [(d["price"], d["quantity"]) for d in deltas] == [("101", "0"), ("102", "3")]
    taker_position = by_request[7][5][1]
    assert (taker_position["size"], taker_position["entryNotional"]) == (
        "7",
        str(5 * 101 + 2 * 102),
    )
    # 8: an FOK for 7 with only 3 left is rejected whole.
    ((kind, body),) = by_request[8]
    assert (kind, body["reason"]) == ("orderRejected", "REJECT_REASON_FOK_NOT_FILLABLE")
    # 9: amending down keeps priority and publishes the smaller level.
    assert by_request[9][0][1]["keptPriority"] is True
    assert (by_request[9][1][1]["price"], by_request[9][1][1]["quantity"]) == ("102", "2")
    # The line that is not JSON is answered, not skipped; the inputs after it still run.
    assert "line 1 column" in stdout
    assert [kind for kind, _ in by_request[12]] == ["orderCancelled", "bookDelta"]
    assert "inputs 12 outputs 22 state_hash" in stderr


def test_risk_worked_example_of_docs_risk_md() -> None:
    stdout, _ = fold(EXAMPLES / "risk_worked_example.jsonl")
    by_request = outputs_by_request(stdout)
    # 7: B (collateral 5000) bids 3 @ 2020, multiplier 10, mark 2000, taker fee 10 bps:
    #    worst-case fees ceil(60.6) + 3 (one unit per lot) = 64;
    #    cash = 5000 - 60600 - 64 = -55664; equity = -55664 + 3 * 2000 * 10 = 4336;
    #    initial margin = 3 * 2000 * 10 * 10 % = 6000.
    (rejected,) = by_request[7]
    assert rejected[1]["reason"] == "REJECT_REASON_INSUFFICIENT_MARGIN"
    assert rejected[1]["detail"] == "equity 4336 would not cover initial margin 6000"
    # 8: 2 lots @ 2010 = 40200: taker fee ceil(40.2) = 41, maker rebate ceil(-8.04) = -8.
    fill = dict(by_request[8])["fill"]
    assert (fill["takerFee"], fill["makerFee"]) == ("41", "-8")
    positions = [body for kind, body in by_request[8] if kind == "positionUpdate"]
    assert [(p["size"], p["entryNotional"], p["collateral"]) for p in positions] == [
        ("2", "40200", str(5000 - 41)),
        ("-2", "40200", str(100_000 + 8)),
    ]
    # 11: B sells 1 of its 2 @ 2095: releases ceil(40200 / 2) = 20100 of entry, realizes
    #     20950 - 20100 = 850, pays ceil(20.95) = 21; C's rebate is ceil(-4.19) = -4.
    positions = [body for kind, body in by_request[11] if kind == "positionUpdate"]
    assert [
        (p["size"], p["entryNotional"], p["collateral"], p["realizedPnl"]) for p in positions
    ] == [
        ("1", "20100", str(4959 + 850 - 21), "850"),
        ("1", "20950", str(10_000 + 4), "0"),
    ]
    # 12: withdrawing all 5788 leaves cash -20100 and equity -20100 + 21000 = 900 < 2100.
    assert by_request[12][0][1]["detail"] == (
        "equity 900 after the withdrawal would not cover initial margin 2100"
    )
    # 13: 3000 leaves equity 3688 >= 2100.
    assert by_request[13][0][1]["collateral"] == "2788"
    # 14: the band floor is 2100 - floor(2100 * 5 %) = 1995.
    assert by_request[14][0][1]["reason"] == "REJECT_REASON_PRICE_OUT_OF_BAND"
    # Conservation: final collateral 100008 + 2788 + 10004, fees 41 - 8 + 21 - 4 = 50, and the
    # 850 of realized PnL paid out of the settlement account: deposits 115000 - withdrawals 3000.
    last: dict[str, dict[str, Any]] = {}
    fees = 0
    for outputs in by_request.values():
        for kind, body in outputs:
            if kind == "positionUpdate":
                last[body["account"]] = body
            elif kind == "fill":
                fees += int(body["takerFee"]) + int(body["makerFee"])
    collateral = sorted(int(p["collateral"]) for p in last.values())
    realized = sum(int(p["realizedPnl"]) for p in last.values())
    assert (collateral, fees, realized) == ([2788, 10_004, 100_008], 50, 850)
    assert sum(collateral) + fees - realized == 115_000 - 3000


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.jsonl")), ids=lambda p: p.name)
def test_examples_fold_identically_under_any_hash_seed(example: Path) -> None:
    assert fold(example, "1") == fold(example, "4242")
