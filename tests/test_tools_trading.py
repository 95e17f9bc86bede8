"""`send`, `tail` and `book` against a real engine on a private nats-server: orders sent with
`send` come back through `tail` as a fill, and `book --once` rebuilds the levels the engine
holds from the output stream alone."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools_support import MAKER, TAKER, Result, RunningEngine, run_cli, running_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    with running_engine(tmp_path_factory.mktemp("tools-trading")) as running:
        yield running


def send(capsys: pytest.CaptureFixture[str], engine: RunningEngine, *argv: str) -> Result:
    result = run_cli(capsys, "send", *argv, "--nats", engine.url)
    assert result.code == 0, result.err
    assert "stream seq" in result.out
    return result


def fund(capsys: pytest.CaptureFixture[str], engine: RunningEngine, market: str) -> None:
    send(capsys, engine, "price", "--market", market, "--mark", "100")
    for account in (MAKER, TAKER):
        amount = "1000000000"
        send(
            capsys, engine, "deposit", "--market", market, "--account", account, "--amount", amount
        )


def order(
    capsys: pytest.CaptureFixture[str],
    engine: RunningEngine,
    market: str,
    account: str,
    side: str,
    price: int,
    qty: int,
) -> None:
    send(
        capsys,
        engine,
        "order",
        *("--market", market, "--account", account, "--side", side),
        *("--price", str(price), "--qty", str(qty)),
    )


def test_send_prints_the_stream_sequence_and_tail_shows_the_fill(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine
) -> None:
    fund(capsys, engine, "1")
    order(capsys, engine, "1", MAKER, "sell", 101, 5)
    sent = send(
        capsys,
        engine,
        "order",
        "--market",
        "1",
        "--account",
        TAKER,
        "--side",
        "buy",
        "--price",
        "101",
        "--qty",
        "3",
        "--client-order-id",
        "77",
        "--request-id",
        "4242",
    )
    assert sent.out.startswith("clob.inputs.0: stream seq ")
    assert "request_id 4242, client_order_id 77" in sent.out

    # The taker's outputs: its deposit, the order's acceptance, then the fill.
    tail = ["tail", "--nats", engine.url, "--from-start", "--account", TAKER, "--timeout", "10"]
    readable = run_cli(capsys, *tail, "--market", "1", "--count", "3")
    assert readable.code == 0, readable.err
    fill = [line for line in readable.out.splitlines() if " Fill " in line]
    assert len(fill) == 1
    assert f"3 @ 101 taker buy order 2 {TAKER} maker order 1 {MAKER}" in fill[0]
    assert fill[0].endswith("req 4242")

    as_json = run_cli(capsys, *tail, "--json", "--count", "3")
    assert as_json.code == 0, as_json.err
    fills = [json.loads(line)["fill"] for line in as_json.out.splitlines() if '"fill"' in line]
    assert fills == [
        {
            "makerOrderId": "1",
            "takerOrderId": "2",
            "makerAccount": fills[0]["makerAccount"],
            "takerAccount": fills[0]["takerAccount"],
            "price": "101",
            "quantity": "3",
            "takerSide": "SIDE_BUY",
            "makerFee": "0",
            "takerFee": "0",
            "makerRemaining": "2",
            "takerRemaining": "0",
        }
    ]

    # Every output of that one input, in the order CONTRACT.md gives.
    caused = run_cli(
        capsys,
        *("tail", "--nats", engine.url, "--from-start", "--request-id", "4242"),
        *("--count", "5", "--timeout", "10"),
    )
    assert caused.code == 0, caused.err
    kinds = [line.split()[2] for line in caused.out.splitlines()]
    assert kinds == ["OrderAccepted", "Fill", "BookDelta", "PositionUpdate", "PositionUpdate"]


def book_once(capsys: pytest.CaptureFixture[str], engine: RunningEngine, expected: str) -> str:
    """``book 2 --once`` until it shows ``expected``: the engine applies inputs after `send`
    has its acknowledgement, so the newest outputs may take a moment to be published."""
    deadline = time.monotonic() + 10
    while True:
        result = run_cli(capsys, "book", "2", "--once", "--depth", "5", "--nats", engine.url)
        assert result.code == 0, result.err
        if expected in result.out or time.monotonic() > deadline:
            return result.out
        time.sleep(0.05)


def test_book_once_shows_the_levels_and_the_last_trade(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine
) -> None:
    fund(capsys, engine, "2")
    for side, price, qty in (("sell", 105, 3), ("sell", 105, 2), ("sell", 106, 1)):
        order(capsys, engine, "2", MAKER, side, price, qty)
    for side, price, qty in (("buy", 99, 4), ("buy", 98, 1), ("buy", 105, 2)):
        order(capsys, engine, "2", TAKER, side, price, qty)

    out = book_once(capsys, engine, "last trades:")
    lines = out.splitlines()
    assert lines[0].startswith("M2-PERP (market 2, continuous, active) as of output 0:")
    ladder = [line.split() for line in lines[2:7]]
    assert ladder == [
        ["ask", "106", "1", "1"],
        ["ask", "105", "3", "2"],  # 2 of the first order's 3 lots traded
        ["spread", "6"],
        ["bid", "99", "4", "1"],
        ["bid", "98", "1", "1"],
    ]
    assert lines[7] == "last trades:"
    assert lines[8].split()[1:] == ["buy", "2", "@", "105"]


def test_send_file_publishes_every_input_in_order(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine, tmp_path: Path
) -> None:
    # JSON lines as `fold inputs` reads them: a cancel-all, then a price update.
    account = "oRzgAAAAAAAAAAAAAAAAAAAAAAE="  # MAKER in base64
    path = tmp_path / "inputs.jsonl"
    path.write_text(
        "# two inputs\n"
        f'{{"requestId":"901","cancelAll":{{"account":"{account}","marketId":1}}}}\n'
        "\n"
        '{"requestId":"902","priceUpdate":{"marketId":1,"markPrice":"101","indexPrice":"101"}}\n',
        encoding="utf-8",
    )
    result = run_cli(capsys, "send", "file", str(path), "--nats", engine.url)
    assert result.code == 0, result.err
    found = re.match(
        rf"published 2 inputs from {re.escape(str(path))}: stream seq (\d+) to (\d+)", result.out
    )
    assert found is not None, result.out
    assert int(found.group(2)) == int(found.group(1)) + 1  # one after the other

    caused = run_cli(
        capsys,
        "tail",
        "--nats",
        engine.url,
        "--from-start",
        "--request-id",
        "901",
        "--count",
        "1",
        "--timeout",
        "10",
    )
    assert caused.code == 0, caused.err
    assert caused.out.rstrip().endswith("req 901")


def test_send_file_sends_nothing_when_an_input_is_bad(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"requestId":"1","tick":{}}\n{"auctionTick":{"marketId":2}}\n', "utf-8")
    result = run_cli(capsys, "send", "file", str(path), "--nats", engine.url)
    assert result.code == 2
    assert result.err.startswith(f"hypermarket: {path}: input 1: not a JSON InputEvent")
    assert result.err.rstrip().endswith("; nothing was sent")


def test_cancel_all_without_a_market_goes_to_every_shard(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine
) -> None:
    cancel = ("send", "cancel-all", "--account", TAKER, "--shard-count", "2")
    result = run_cli(capsys, *cancel, "--nats", engine.url)
    assert result.code == 0, result.err
    assert [line.split(":")[0] for line in result.out.splitlines()] == [
        "clob.inputs.0",
        "clob.inputs.1",
    ]


def read_until(fd: int, wanted: bytes, seen: bytearray, timeout_s: float = 10.0) -> bool:
    """Read the terminal ``fd`` into ``seen`` until ``wanted`` shows up after what was there."""
    start = len(seen)
    deadline = time.monotonic() + timeout_s
    while wanted not in seen[start:]:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return False
        seen += os.read(fd, 65536)
    return True


def test_book_redraws_in_place_on_a_terminal(
    capsys: pytest.CaptureFixture[str], engine: RunningEngine
) -> None:
    fund(capsys, engine, "1")
    terminal, child_end = pty.openpty()
    command = [sys.executable, "-m", "hypermarket", "book", "1", "--nats", engine.url]
    viewer = subprocess.Popen(command, stdout=child_end, stderr=subprocess.PIPE)
    os.close(child_end)
    seen = bytearray()
    try:
        assert read_until(terminal, b"M1-PERP (market 1", seen), seen.decode(errors="replace")
        order(capsys, engine, "1", MAKER, "buy", 90, 9)
        assert read_until(terminal, b"bid             90          9", seen), seen.decode()
    finally:
        viewer.send_signal(signal.SIGINT)
        _, err = viewer.communicate(timeout=10)
        os.close(terminal)
    assert seen.count(b"\x1b[H\x1b[2J") >= 2  # each frame cleared the screen first
    assert viewer.returncode == 130
    assert err == b""
