"""The tools' views without NATS: `BookView` folds book deltas and fills into the ladder `book`
draws, `tail`'s filters and `--last` pick the right outputs, and `describe` writes accounts
as 0x hex and enums by name; each is fed outputs built by hand."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import pytest

from hypermarket.models import (
    AuctionResult,
    BookDelta,
    CancelAllDone,
    Fill,
    MarketConfig,
    MarketUpdated,
    MatchingMode,
    OrderRejected,
    Output,
    OutputBody,
    RejectReason,
    Side,
)
from hypermarket.tools.arguments import format_account, parse_account
from hypermarket.tools.book import BookView
from hypermarket.tools.outputs import Delivery
from hypermarket.tools.render import describe
from hypermarket.tools.tail import selected, wanted

ALICE = b"\xa1" * 20
BOB = b"\xb0" * 20


def output(seq: int, body: OutputBody, market_id: int = 1, request_id: int = 0) -> Output:
    return Output(0, seq, seq, 1_700_000_000_123_000_000, market_id, request_id, body)


def fill(seq: int, price: int, quantity: int, market_id: int = 1) -> Output:
    body = Fill(1, 2, ALICE, BOB, price, quantity, Side.BUY, 0, 0, 0, 0)
    return output(seq, body, market_id)


def test_book_view_applies_deltas_and_keeps_the_last_trades_first() -> None:
    view = BookView(1, trades_kept=2)
    outputs = [
        output(1, MarketUpdated(MarketConfig(market_id=1, symbol="BTC-PERP"), 3)),
        output(2, BookDelta(Side.SELL, 105, 5, 2)),
        output(3, BookDelta(Side.SELL, 106, 1, 1)),
        output(4, BookDelta(Side.BUY, 99, 4, 1)),
        output(5, BookDelta(Side.BUY, 98, 1, 1)),
        output(6, BookDelta(Side.BUY, 98, 0, 0)),  # the level left the book
        output(7, BookDelta(Side.BUY, 97, 9, 3), market_id=2),  # another market: ignored
        fill(8, 105, 1),
        fill(9, 105, 2),
        fill(10, 105, 3),
    ]
    assert [view.apply(out) for out in outputs] == [True] * 6 + [False] + [True] * 3
    assert view.render(depth=5).splitlines() == [
        "BTC-PERP (market 1, continuous, active) as of output 0:10",
        "             price        qty  orders",
        "ask            106          1       1",
        "ask            105          5       2",
        "          spread 6",
        "bid             99          4       1",
        "last trades:",
        "  22:13:20.123  buy         3 @ 105",
        "  22:13:20.123  buy         2 @ 105",
    ]


def test_book_view_of_a_batch_market_shows_the_cross_and_the_last_auction() -> None:
    view = BookView(2)
    config = MarketConfig(
        market_id=2, symbol="ETH-PERP", matching_mode=MatchingMode.BATCH, auction_interval_ms=1
    )
    for out in (
        output(1, MarketUpdated(config, 1), 2),
        output(2, BookDelta(Side.SELL, 100, 1, 1), 2),
        output(3, BookDelta(Side.BUY, 103, 1, 1), 2),
        output(4, AuctionResult(101, 1, 0, 0), 2),
    ):
        view.apply(out)
    frame = view.render(depth=1, trades=0).splitlines()
    assert frame[0].startswith("ETH-PERP (market 2, batch, active)")
    assert frame[3].split() == ["crossed", "3"]
    assert frame[-1] == "last auction: 1 lot @ 101"
    assert BookView(3).render(depth=1).splitlines()[-1].split() == ["(empty)"]


async def deliveries(*messages: list[Output]) -> AsyncIterator[Delivery]:
    for stream_seq, outputs in enumerate(messages, 1):
        yield Delivery(stream_seq, outputs)


async def test_last_prints_the_latest_kept_outputs_of_the_backlog_then_follows() -> None:
    messages = [[fill(1, 1, 1)], [fill(2, 2, 1), fill(3, 3, 1, market_id=2)], [fill(4, 4, 1)]]
    messages.append([fill(5, 5, 1)])  # arrives after the end of the backlog (stream seq 3)
    keep = wanted(1, None, None)
    picked = [out.seq async for out in selected(deliveries(*messages), keep, 2, end=3)]
    assert picked == [2, 4, 5]
    everything = [out.seq async for out in selected(deliveries(*messages), keep, 0, end=0)]
    assert everything == [1, 2, 4, 5]


def test_filters_match_any_account_of_an_output_and_the_request() -> None:
    rejected = OrderRejected(5, BOB, RejectReason.NO_MARK_PRICE, "no mark price")
    outputs = [fill(1, 100, 1), output(2, rejected, request_id=9)]
    assert [wanted(None, ALICE, None)(out) for out in outputs] == [True, False]
    assert [wanted(None, BOB, None)(out) for out in outputs] == [True, True]
    assert [wanted(None, None, 9)(out) for out in outputs] == [False, True]
    assert [wanted(2, None, None)(out) for out in outputs] == [False, False]


def test_describe_writes_accounts_in_hex_and_enums_by_name() -> None:
    body = OrderRejected(5, BOB, RejectReason.NO_MARK_PRICE, "no mark")
    line = describe(output(12, body, market_id=3, request_id=9))
    assert line == (
        f"0:12      m3    OrderRejected   client 5 {format_account(BOB)} no_mark_price: no mark"
        "  req 9"
    )
    done = describe(output(13, CancelAllDone(ALICE, 2), 0))
    assert done.endswith(f"CancelAllDone   {format_account(ALICE)} 2 cancelled")


def test_accounts_read_back_what_they_print() -> None:
    assert parse_account(format_account(ALICE)) == ALICE
    assert parse_account("0X" + "AB" * 20) == b"\xab" * 20
    for bad in ("a1" * 20, "0x" + "a1" * 19, "0x" + "g1" * 20, "0x" + "a1 " * 13 + "a"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not an account"):
            parse_account(bad)
