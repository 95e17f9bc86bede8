"""Batch markets through ``step``: what an ``AuctionTick``, a batch order and a mode switch output.

Each test builds a small batch-market scenario with ``tests.support`` (accounts funded, mark
100, invariants checked after every step), sends the input under test and compares its
outputs, in order, with values worked out by hand in the comments: the auction's result, its
fills (at the clearing price, the older order as maker, fees by that rule), the AUCTION_UNFILLED
cancels, book deltas and position updates; the order types a batch market refuses; self-trade
prevention on arrival; ticks that are refused; the switches between CONTINUOUS and BATCH; the
mark price as the auction's reference.  The worked example ``tests/examples/batch_auction.jsonl``
(the one docs/auction.md quotes) is folded by the real command and checked the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hypermarket.models import (
    AuctionResult,
    AuctionTick,
    CancelReason,
    Deposit,
    Fill,
    Input,
    InputBody,
    MarketConfig,
    MarketStatus,
    MarketUpdated,
    MatchingMode,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderType,
    Output,
    PositionUpdate,
    PriceUpdate,
    Rejected,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UpsertMarket,
)
from hypermarket.wire import input_to_json
from tests.support import (
    ALICE,
    BOB,
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    CAROL,
    COMFORTABLE_COLLATERAL,
    DAVE,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    POST_ONLY,
    SELL,
    Exchange,
    all_kinds,
    amend,
    deltas,
    deposit,
    kinds,
    mark,
    market,
    market_order,
    of,
    one,
    order,
    wrap,
)

ACCOUNTS = (ALICE, BOB, CAROL, DAVE)
BATCH = {"matching_mode": MatchingMode.BATCH, "auction_interval_ms": 1_000}
EXAMPLES = Path(__file__).parent / "examples"


def batch_exchange(**overrides: object) -> Exchange:
    """Batch market 1 (config ``overrides`` on top of BATCH), every test account funded."""
    ex = Exchange()
    ex.open_market(1, accounts=ACCOUNTS, **{**BATCH, **overrides})
    return ex


def tick(market_id: int = 1) -> Input:
    return wrap(AuctionTick(market_id))


def fills(outputs: list[Output]) -> list[tuple[int, int, int, int, Side, int, int]]:
    """Fills as (maker id, taker id, price, lots, taker side, maker left, taker left)."""
    return [
        (
            f.maker_order_id,
            f.taker_order_id,
            f.price,
            f.quantity,
            f.taker_side,
            f.maker_remaining,
            f.taker_remaining,
        )
        for f in of(outputs, Fill)
    ]


def cancels(outputs: list[Output]) -> list[tuple[int, int, CancelReason]]:
    """Cancellations as (order id, remaining, reason)."""
    return [(c.order_id, c.remaining_quantity, c.reason) for c in of(outputs, OrderCancelled)]


def positions(outputs: list[Output]) -> list[tuple[bytes, int, int]]:
    """Position updates as (account, size, entry notional)."""
    return [(p.account, p.size, p.entry_notional) for p in of(outputs, PositionUpdate)]


# A book with every kind of batch order (mark 100, multiplier 1, no fees):
#   #1 ALICE buy  4 @ 101 IOC        #2 BOB  sell 3 @ 99 IOC
#   #3 CAROL buy  2 MARKET IOC       #4 DAVE sell 2 @ 100 GTC
#   #5 CAROL buy  3 @ 100 GTC        #6 DAVE sell 4 @ 102 GTC
# MARKET buys: 2.
#   p    D(p)           S(p)         V(p)  surplus
#   99   2+4+3 = 9      3            3     +6
#  100   9              3+2 = 5      5     +4
#  101   2+4   = 6      5            5     +1    <- rule 2: |+1| < |+4|
#  102   2              5+4 = 9      2     -7
# Clearing price 101, volume 5, buy surplus 1.
#
# Allocation at 101: buys ranked MARKET first then price then time: #3 (2), #1 (4); #5 bids
# 100 < 101 and is not eligible.  Sells: #2 (3), #4 (2); #6 asks 102 > 101.
#   #3 takes 2 of #2 (1 left); #1 takes #2's last 1, then both lots of #4 (1 of #1 left).
# The older order is the maker: (2, 3), (1, 2), (1, 4).
EVERY_KIND_BOOK = (
    order(ALICE, BUY, 101, 4, client_order_id=1, tif=IOC),
    order(BOB, SELL, 99, 3, client_order_id=1, tif=IOC),
    market_order(CAROL, BUY, 2, client_order_id=1),
    order(DAVE, SELL, 100, 2, client_order_id=1),
    order(CAROL, BUY, 100, 3, client_order_id=2),
    order(DAVE, SELL, 102, 4, client_order_id=2),
)
EVERY_KIND_BOOK_RESULT = AuctionResult(101, 5, 1, 0)
EVERY_KIND_BOOK_FILLS = [
    (2, 3, 101, 2, BUY, 1, 0),
    (1, 2, 101, 1, SELL, 3, 0),
    (1, 4, 101, 2, SELL, 1, 0),
]


# ----------------------------------------------------------------------------- the tick


def test_orders_of_a_batch_market_collect_without_trading() -> None:
    ex = batch_exchange()
    outputs = ex.feed(EVERY_KIND_BOOK)
    assert of(outputs, Fill) == []
    assert [o.order_id for o in of(outputs, OrderAccepted)] == [1, 2, 3, 4, 5, 6]
    # The book is crossed (bid 101 over ask 99), as a batch book may be between auctions.
    assert ex.levels(BUY) == [(101, 4, 1), (100, 3, 1)]
    assert ex.levels(SELL) == [(99, 3, 1), (100, 2, 1), (102, 4, 1)]
    # The MARKET order waits in no level: only in the buy side's expiring queue, with #1.
    book = ex.state.markets[1].book
    assert book.bids.expiring == (1, 3)
    assert book.asks.expiring == (2,)


def test_tick_outputs_result_fills_cancels_deltas_positions_in_that_order() -> None:
    ex = batch_exchange()
    ex.feed(EVERY_KIND_BOOK)
    outputs = ex.send(wrap(AuctionTick(1), request_id=77))
    assert all_kinds(outputs) == [
        "AuctionResult",
        "Fill",
        "Fill",
        "Fill",
        "OrderCancelled",
        "BookDelta",
        "BookDelta",
        "BookDelta",
        "PositionUpdate",
        "PositionUpdate",
        "PositionUpdate",
        "PositionUpdate",
    ]
    assert outputs[0].body == EVERY_KIND_BOOK_RESULT
    assert fills(outputs) == EVERY_KIND_BOOK_FILLS
    first = of(outputs, Fill)[0]
    assert (first.maker_account, first.taker_account) == (BOB, CAROL)
    # #1 (IOC) has 1 lot left: it lived for this auction only.  #3 and #2 filled whole.
    assert cancels(outputs) == [(1, 1, CancelReason.AUCTION_UNFILLED)]
    # Bid 101 emptied (#1 gone); asks 99 and 100 emptied.  Best first, bids before asks.
    assert deltas(outputs) == [(BUY, 101, 0, 0), (SELL, 99, 0, 0), (SELL, 100, 0, 0)]
    # Accounts in order of first touch, each fill touching the taker first:
    # fill 1 CAROL, BOB; fill 2 (BOB), ALICE; fill 3 DAVE, (ALICE).
    assert positions(outputs) == [
        (CAROL, 2, 2 * 101),
        (BOB, -3, 3 * 101),
        (ALICE, 3, 3 * 101),
        (DAVE, -2, 2 * 101),
    ]
    assert {(o.market_id, o.request_id) for o in outputs} == {(1, 77)}


def test_gtc_remainders_rest_for_the_next_auction() -> None:
    ex = batch_exchange()
    ex.feed(EVERY_KIND_BOOK)
    ex.send(tick())
    # #5 (bid 100) and #6 (ask 102) were never eligible; they rest, uncrossed, unchanged.
    assert ex.levels(BUY) == [(100, 3, 1)]
    assert ex.levels(SELL) == [(102, 4, 1)]
    assert ex.state.markets[1].book.bids.expiring == ()
    assert ex.state.markets[1].last_clearing_price == 101
    # A second tick with nothing crossing: price 0, volume 0, the whole sides as surplus.
    assert all_kinds(ex.send(tick())) == ["AuctionResult"]
    assert ex.history[-1].body == AuctionResult(0, 0, 3, 4)
    assert ex.state.markets[1].last_clearing_price == 101  # an empty auction changes nothing
    # A new sell 3 @ 100 (#7) crosses #5 at the next auction:
    #   p    D  S        V
    #  100   3  3        3   <- surplus 0
    #  102   0  3+4 = 7  0
    ex.send(order(BOB, SELL, 100, 3, client_order_id=9))
    outputs = ex.send(tick())
    assert outputs[0].body == AuctionResult(100, 3, 0, 0)
    assert fills(outputs) == [(5, 7, 100, 3, SELL, 0, 0)]
    assert ex.state.markets[1].last_clearing_price == 100


def test_tick_on_an_empty_book() -> None:
    ex = batch_exchange()
    outputs = ex.send(tick())
    assert [o.body for o in outputs] == [AuctionResult(0, 0, 0, 0)]


def test_market_orders_alone_do_not_clear_and_are_cancelled() -> None:
    ex = batch_exchange()
    ex.send(market_order(ALICE, BUY, 5, client_order_id=1))  # #1
    ex.send(market_order(BOB, SELL, 7, client_order_id=1))  # #2
    ex.send(market_order(CAROL, BUY, 1, client_order_id=1))  # #3
    outputs = ex.send(tick())
    # No limit price, no candidate: nothing clears, surpluses 5 + 1 and 7.
    assert outputs[0].body == AuctionResult(0, 0, 6, 7)
    # Each expires: buy side first (oldest first), then the sell side.  They were in no
    # level, so no book delta follows, and no position changed.
    assert all_kinds(outputs) == ["AuctionResult"] + ["OrderCancelled"] * 3
    assert cancels(outputs) == [
        (1, 5, CancelReason.AUCTION_UNFILLED),
        (3, 1, CancelReason.AUCTION_UNFILLED),
        (2, 7, CancelReason.AUCTION_UNFILLED),
    ]
    assert len(ex.state.markets[1].book.orders) == 0


def test_unfilled_ioc_limit_order_expires_with_its_level() -> None:
    ex = batch_exchange()
    ex.send(order(ALICE, BUY, 99, 4, client_order_id=1, tif=IOC))  # #1
    ex.send(order(BOB, SELL, 101, 2, client_order_id=1, tif=IOC))  # #2
    outputs = ex.send(tick())
    assert outputs[0].body == AuctionResult(0, 0, 4, 2)
    assert cancels(outputs) == [
        (1, 4, CancelReason.AUCTION_UNFILLED),
        (2, 2, CancelReason.AUCTION_UNFILLED),
    ]
    assert deltas(outputs) == [(BUY, 99, 0, 0), (SELL, 101, 0, 0)]


# ------------------------------------------------------------------- order types on arrival


@pytest.mark.parametrize(
    ("order_type", "tif", "reduce_only", "detail"),
    [
        (LIMIT, FOK, False, "FOK is not available"),
        (MARKET, FOK, False, "FOK is not available"),
        (LIMIT, GTC, True, "reduce-only is not available"),
        (LIMIT, IOC, True, "reduce-only is not available"),
        (MARKET, IOC, True, "reduce-only is not available"),
        (MARKET, GTC, False, "MARKET order must be IOC or FOK"),
        (MARKET, POST_ONLY, False, "MARKET order must be IOC or FOK"),
    ],
)
def test_order_types_a_batch_market_refuses(
    order_type: OrderType, tif: TimeInForce, reduce_only: bool, detail: str
) -> None:
    ex = batch_exchange()
    before = ex.state.markets
    price = 0 if order_type is MARKET else 100
    body = NewOrder(1, ALICE, 5, BUY, order_type, tif, price, 1, reduce_only)
    outputs = ex.send(wrap(body))
    rejected = one(outputs, OrderRejected)
    assert (rejected.reason, rejected.client_order_id) == (RejectReason.INVALID_ORDER_TYPE, 5)
    assert detail in rejected.detail
    assert len(outputs) == 1
    assert ex.state.markets is before
    assert ex.state.next_order_id == 1


def test_post_only_that_crosses_on_arrival_is_rejected() -> None:
    ex = batch_exchange()
    ex.send(order(BOB, SELL, 100, 5, client_order_id=1))  # #1
    outputs = ex.send(order(ALICE, BUY, 100, 5, client_order_id=1, tif=POST_ONLY))
    assert one(outputs, OrderRejected).reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert ex.levels(BUY) == []


def test_post_only_that_does_not_cross_rests_like_gtc() -> None:
    ex = batch_exchange()
    ex.send(order(BOB, SELL, 100, 5, client_order_id=1))  # #1
    outputs = ex.send(order(ALICE, BUY, 99, 5, client_order_id=1, tif=POST_ONLY))  # #2
    assert kinds(outputs) == ["OrderAccepted", "BookDelta"]
    # It survives an auction that does not reach it (no AUCTION_UNFILLED for POST_ONLY) ...
    assert all_kinds(ex.send(tick())) == ["AuctionResult"]
    assert ex.levels(BUY) == [(99, 5, 1)]
    # ... and trades in a later one as the older order, i.e. the maker:
    #   p    D  S        V
    #   99   5  2        2   <- buy surplus 3
    #  100   0  2+5 = 7  0
    ex.send(order(CAROL, SELL, 99, 2, client_order_id=1))  # #3
    outputs = ex.send(tick())
    assert outputs[0].body == AuctionResult(99, 2, 3, 0)
    assert fills(outputs) == [(2, 3, 99, 2, SELL, 3, 0)]
    assert ex.levels(BUY) == [(99, 3, 1)]


def test_post_only_is_rejected_when_it_would_trade_with_a_waiting_market_order() -> None:
    """BUG: a POST_ONLY bid is accepted although a MARKET sell is waiting for the auction.

    ``would_cross`` looks only at the best *level* of the other side; a waiting MARKET order
    is in no level.  At the tick the POST_ONLY order trades with it as the newer order, so it
    is the taker and pays the taker fee: exactly what POST_ONLY promises never to do.
    """
    ex = batch_exchange(maker_fee_bps=0, taker_fee_bps=10)
    ex.send(market_order(BOB, SELL, 5, client_order_id=1))  # #1, waits for the auction
    outputs = ex.send(order(ALICE, BUY, 99, 5, client_order_id=1, tif=POST_ONLY))
    tick_outputs = ex.send(tick())
    assert not any(f.taker_order_id == 2 for f in of(tick_outputs, Fill)), (
        "the POST_ONLY order #2 traded as taker (fee "
        f"{[f.taker_fee for f in of(tick_outputs, Fill)]})"
    )
    assert one(outputs, OrderRejected).reason is RejectReason.POST_ONLY_WOULD_CROSS


def test_market_order_is_margined_at_the_mark_without_a_band() -> None:
    # Isolated margin, IM 10 %, no fees: a MARKET buy of 10 lots waiting at reference price
    # R = mark 100 is checked as if filled at 100:
    #   equity' = C - 100*10 + 10*100 = C,   margin = ceil(10 * 100 * 1000 / 10000) = 100.
    # So collateral 100 is enough and 99 is not.
    ex = Exchange()
    ex.open_market(1, accounts=(ALICE,), **BATCH)
    ex.send(deposit(DAVE, 1, 99))
    rejected = one(ex.send(market_order(DAVE, BUY, 10, client_order_id=1)), OrderRejected)
    assert rejected.reason is RejectReason.INSUFFICIENT_MARGIN
    ex.send(deposit(DAVE, 1, 1))
    accepted = one(ex.send(market_order(DAVE, BUY, 10, client_order_id=1)), OrderAccepted)
    assert accepted.price == 0
    assert ex.state.markets[1].book.orders[accepted.order_id].price == 100


@pytest.mark.parametrize(("side", "reference"), [(BUY, 105), (SELL, 95)])
def test_market_order_is_margined_at_the_band_edge(side: Side, reference: int) -> None:
    # Band 500 bps around mark 100: offset floor(100 * 500 / 10000) = 5, so a buy is
    # margined at 105 and a sell at 95.  For 10 lots, no fees, IM 10 %:
    #   buy:  equity' = C - 105*10 + 10*100 = C - 50;  sell: C + 95*10 - 10*100 = C - 50
    #   margin = ceil(10 * 100 * 0.1) = 100, so C - 50 >= 100 needs C >= 150.
    ex = Exchange()
    ex.open_market(1, accounts=(ALICE,), price_band_bps=500, **BATCH)
    ex.send(deposit(DAVE, 1, 149))
    rejected = one(ex.send(market_order(DAVE, side, 10, client_order_id=1)), OrderRejected)
    assert rejected.reason is RejectReason.INSUFFICIENT_MARGIN
    ex.send(deposit(DAVE, 1, 1))
    accepted = one(ex.send(market_order(DAVE, side, 10, client_order_id=1)), OrderAccepted)
    assert ex.state.markets[1].book.orders[accepted.order_id].price == reference


# ---------------------------------------------------------------- self-trade prevention


def _alice_asks(ex: Exchange) -> None:
    ex.send(order(ALICE, SELL, 100, 3, client_order_id=1))  # #1
    ex.send(order(ALICE, SELL, 101, 2, client_order_id=2))  # #2
    ex.send(order(ALICE, SELL, 103, 4, client_order_id=3))  # #3


@pytest.mark.parametrize(
    ("stp", "expected_cancels", "expected_deltas", "bids", "asks"),
    [
        # The bid (#4) is cancelled; Alice's asks stay; the bid never rested: no delta.
        (
            CANCEL_TAKER,
            [(4, 5, CancelReason.SELF_TRADE)],
            [],
            [],
            [(100, 3, 1), (101, 2, 1), (103, 4, 1)],
        ),
        # Asks #1 (100) and #2 (101) would trade with a bid at 101 and go; #3 (103) stays.
        (
            CANCEL_MAKER,
            [(1, 3, CancelReason.SELF_TRADE), (2, 2, CancelReason.SELF_TRADE)],
            [(BUY, 101, 5, 1), (SELL, 100, 0, 0), (SELL, 101, 0, 0)],
            [(101, 5, 1)],
            [(103, 4, 1)],
        ),
        (
            CANCEL_BOTH,
            [
                (1, 3, CancelReason.SELF_TRADE),
                (2, 2, CancelReason.SELF_TRADE),
                (4, 5, CancelReason.SELF_TRADE),
            ],
            [(SELL, 100, 0, 0), (SELL, 101, 0, 0)],
            [],
            [(103, 4, 1)],
        ),
    ],
)
def test_self_trade_prevention_on_arrival(
    stp: SelfTradePrevention,
    expected_cancels: list[tuple[int, int, CancelReason]],
    expected_deltas: list[tuple[Side, int, int, int]],
    bids: list[tuple[int, int, int]],
    asks: list[tuple[int, int, int]],
) -> None:
    ex = batch_exchange()
    _alice_asks(ex)
    outputs = ex.send(order(ALICE, BUY, 101, 5, client_order_id=4, stp=stp))  # #4
    assert kinds(outputs)[0] == "OrderAccepted"
    assert cancels(outputs) == expected_cancels
    assert deltas(outputs) == expected_deltas
    assert (ex.levels(BUY), ex.levels(SELL)) == (bids, asks)
    assert of(outputs, Fill) == []


def test_own_orders_that_do_not_cross_are_left_alone() -> None:
    ex = batch_exchange()
    _alice_asks(ex)
    outputs = ex.send(order(ALICE, BUY, 99, 5, client_order_id=4, stp=CANCEL_BOTH))
    assert kinds(outputs) == ["OrderAccepted", "BookDelta"]
    # Another account may cross Alice's asks: the batch book is then crossed until the tick.
    outputs = ex.send(order(BOB, BUY, 103, 1, client_order_id=1, stp=CANCEL_BOTH))
    assert kinds(outputs) == ["OrderAccepted", "BookDelta"]


@pytest.mark.parametrize(
    ("stp", "expected_cancels", "asks", "market_rests"),
    [
        (
            CANCEL_TAKER,
            [(4, 2, CancelReason.SELF_TRADE)],
            [(100, 3, 1), (101, 2, 1), (103, 4, 1)],
            False,
        ),
        # A MARKET buy reaches every price: all three asks would trade with it.
        (
            CANCEL_MAKER,
            [(n, q, CancelReason.SELF_TRADE) for n, q in ((1, 3), (2, 2), (3, 4))],
            [],
            True,
        ),
        (
            CANCEL_BOTH,
            [(n, q, CancelReason.SELF_TRADE) for n, q in ((1, 3), (2, 2), (3, 4), (4, 2))],
            [],
            False,
        ),
    ],
)
def test_self_trade_prevention_of_a_market_order_against_own_resting_orders(
    stp: SelfTradePrevention,
    expected_cancels: list[tuple[int, int, CancelReason]],
    asks: list[tuple[int, int, int]],
    market_rests: bool,
) -> None:
    ex = batch_exchange()
    _alice_asks(ex)
    outputs = ex.send(market_order(ALICE, BUY, 2, client_order_id=4, stp=stp))  # #4
    assert cancels(outputs) == expected_cancels
    assert ex.levels(SELL) == asks
    assert ex.state.markets[1].book.bids.expiring == ((4,) if market_rests else ())
    # The MARKET order is in no level: no bid delta either way.
    assert [d for d in deltas(outputs) if d[0] is BUY] == []


def test_limit_order_against_own_waiting_market_order() -> None:
    ex = batch_exchange()
    ex.send(market_order(ALICE, SELL, 2, client_order_id=1))  # #1: reaches down to 0
    outputs = ex.send(order(ALICE, BUY, 90, 1, client_order_id=2, stp=CANCEL_MAKER))  # #2
    assert cancels(outputs) == [(1, 2, CancelReason.SELF_TRADE)]
    assert ex.levels(BUY) == [(90, 1, 1)]
    assert ex.state.markets[1].book.asks.expiring == ()


# ------------------------------------------------------------------------ refused ticks


def test_tick_for_a_continuous_market_is_rejected() -> None:
    ex = Exchange()
    ex.open_market(1, accounts=ACCOUNTS)
    ex.send(order(ALICE, BUY, 99, 1, client_order_id=1))
    before = ex.state.markets
    outputs = ex.send(tick())
    rejected = one(outputs, Rejected)
    assert rejected.reason is RejectReason.NOT_BATCH_MARKET
    assert len(outputs) == 1
    assert ex.state.markets is before


def test_tick_for_an_unknown_market_is_rejected() -> None:
    ex = batch_exchange()
    assert one(ex.send(tick(2)), Rejected).reason is RejectReason.UNKNOWN_MARKET


@pytest.mark.parametrize(
    "status", [MarketStatus.POST_ONLY, MarketStatus.CANCEL_ONLY, MarketStatus.HALTED]
)
def test_tick_for_a_batch_market_that_is_not_active_is_rejected(status: MarketStatus) -> None:
    ex = batch_exchange()
    ex.feed(EVERY_KIND_BOOK)  # crossed
    ex.send(market(1, revision=2, status=status, **BATCH))
    before = ex.state.markets
    outputs = ex.send(tick())
    assert one(outputs, Rejected).reason is RejectReason.MARKET_NOT_ACTIVE
    assert len(outputs) == 1
    assert ex.state.markets is before


# ------------------------------------------------------------------------ mode switches


def test_switch_to_continuous_runs_a_last_auction_after_market_updated() -> None:
    ex = batch_exchange()
    ex.feed(EVERY_KIND_BOOK)
    outputs = ex.send(market(1, revision=2))  # CONTINUOUS, ACTIVE
    assert all_kinds(outputs) == [
        "MarketUpdated",
        "AuctionResult",
        "Fill",
        "Fill",
        "Fill",
        "OrderCancelled",
        "BookDelta",
        "BookDelta",
        "BookDelta",
        "PositionUpdate",
        "PositionUpdate",
        "PositionUpdate",
        "PositionUpdate",
    ]
    assert one(outputs, MarketUpdated).config.matching_mode is MatchingMode.CONTINUOUS
    assert one(outputs, AuctionResult) == EVERY_KIND_BOOK_RESULT
    assert fills(outputs) == EVERY_KIND_BOOK_FILLS
    assert cancels(outputs) == [(1, 1, CancelReason.AUCTION_UNFILLED)]
    # The continuous book starts uncrossed, with nothing waiting for an auction.
    market_state = ex.state.markets[1]
    assert market_state.config.matching_mode is MatchingMode.CONTINUOUS
    assert (ex.levels(BUY), ex.levels(SELL)) == ([(100, 3, 1)], [(102, 4, 1)])
    assert market_state.book.bids.expiring == market_state.book.asks.expiring == ()
    assert market_state.last_clearing_price == 101
    # From now on an order matches on arrival: a buy at 102 takes #6 at once.
    outputs = ex.send(order(ALICE, BUY, 102, 1, client_order_id=7))
    assert fills(outputs) == [(6, 7, 102, 1, BUY, 3, 0)]


def test_last_auction_runs_under_the_batch_configuration() -> None:
    # The switch also sets fees; the last auction still charges the batch market's (none).
    ex = batch_exchange()
    ex.send(order(ALICE, BUY, 100, 2, client_order_id=1))
    ex.send(order(BOB, SELL, 100, 2, client_order_id=1))
    outputs = ex.send(market(1, revision=2, maker_fee_bps=5, taker_fee_bps=10))
    fill = one(outputs, Fill)
    assert (fill.price, fill.quantity, fill.maker_fee, fill.taker_fee) == (100, 2, 0, 0)
    assert ex.state.markets[1].config.taker_fee_bps == 10


def test_switch_to_continuous_with_an_empty_book() -> None:
    ex = batch_exchange()
    outputs = ex.send(market(1, revision=2))
    assert [o.body for o in outputs][1:] == [AuctionResult(0, 0, 0, 0)]


@pytest.mark.parametrize("status", [MarketStatus.POST_ONLY, MarketStatus.CANCEL_ONLY])
def test_switch_to_continuous_needs_active_or_halted(status: MarketStatus) -> None:
    ex = batch_exchange()
    ex.feed(EVERY_KIND_BOOK)
    before = ex.state.markets
    outputs = ex.send(market(1, revision=2, status=status))
    assert one(outputs, Rejected).reason is RejectReason.INVALID_MARKET_CONFIG
    assert len(outputs) == 1
    assert ex.state.markets is before
    assert ex.state.markets[1].config.matching_mode is MatchingMode.BATCH


def test_switch_to_continuous_and_halted_cancels_instead_of_clearing() -> None:
    ex = batch_exchange()
    ex.feed(EVERY_KIND_BOOK)
    outputs = ex.send(market(1, revision=2, status=MarketStatus.HALTED))
    assert of(outputs, AuctionResult) == []
    assert of(outputs, Fill) == []
    assert [c[0] for c in cancels(outputs)] == [1, 2, 3, 4, 5, 6]
    assert {c[2] for c in cancels(outputs)} == {CancelReason.MARKET_HALTED}
    assert len(ex.state.markets[1].book.orders) == 0


def test_switch_to_batch_keeps_the_book() -> None:
    ex = Exchange()
    ex.open_market(1, accounts=ACCOUNTS)
    ex.send(order(ALICE, BUY, 99, 2, client_order_id=1))  # #1
    ex.send(order(BOB, SELL, 101, 3, client_order_id=1))  # #2
    book = ex.state.markets[1].book
    outputs = ex.send(market(1, revision=2, **BATCH))
    assert all_kinds(outputs) == ["MarketUpdated"]
    assert ex.state.markets[1].book is book
    # Now a crossing order waits for the auction instead of trading.
    outputs = ex.send(order(CAROL, BUY, 101, 3, client_order_id=1))  # #3
    assert of(outputs, Fill) == []
    outputs = ex.send(tick())
    # D(99) = 5, S(99) = 0; D(101) = 3, S(101) = 3: price 101, the resting ask is the maker.
    assert outputs[0].body == AuctionResult(101, 3, 0, 0)
    assert fills(outputs) == [(2, 3, 101, 3, BUY, 0, 0)]


# --------------------------------------------------------------------- the reference price

# Three candidates tie on volume (5) and |surplus| (3) with mixed signs (ALICE bids, BOB asks):
#   p    D(p)        S(p)        V(p)  surplus
#   99   5+3 = 8     5           5     +3
#  100   8           5           5     +3
#  101   5           5+3 = 8     5     -3
# so rule 4 picks the candidate closest to the reference: the mark.
REFERENCE_BOOK = (
    order(ALICE, BUY, 101, 5, client_order_id=1),
    order(ALICE, BUY, 100, 3, client_order_id=2),
    order(BOB, SELL, 99, 5, client_order_id=1),
    order(BOB, SELL, 101, 3, client_order_id=2),
)


@pytest.mark.parametrize(
    ("mark_price", "expected"),
    [
        (100, AuctionResult(100, 5, 3, 0)),
        (101, AuctionResult(101, 5, 0, 3)),
        (99, AuctionResult(99, 5, 3, 0)),
        (90, AuctionResult(99, 5, 3, 0)),
    ],
)
def test_the_mark_price_is_the_reference(mark_price: int, expected: AuctionResult) -> None:
    ex = batch_exchange()
    # An earlier auction at 103 leaves a last clearing price that must not be used.
    ex.send(order(CAROL, BUY, 103, 1, client_order_id=1))
    ex.send(order(DAVE, SELL, 103, 1, client_order_id=1))
    assert one(ex.send(tick()), AuctionResult).clearing_price == 103
    ex.feed(REFERENCE_BOOK)
    ex.send(mark(1, mark_price))
    assert ex.send(tick())[0].body == expected


def test_without_a_mark_the_last_clearing_price_is_the_reference() -> None:
    # No input can take a mark away (PriceUpdate needs a positive price), so this builds the
    # state by hand: the REFERENCE_BOOK resting, no mark, last clearing price 101.
    ex = batch_exchange()
    ex.feed(REFERENCE_BOOK)
    markets = ex.state.markets
    stripped = msgspec.structs.replace(markets[1], mark_price=0, last_clearing_price=101)
    ex.state = msgspec.structs.replace(ex.state, markets=markets.set(1, stripped))
    assert ex.send(tick())[0].body == AuctionResult(101, 5, 0, 3)
    # And with neither, rule 5 takes the lowest of the tie: 99.
    ex = batch_exchange()
    ex.feed(REFERENCE_BOOK)
    stripped = msgspec.structs.replace(ex.state.markets[1], mark_price=0)
    ex.state = msgspec.structs.replace(ex.state, markets=ex.state.markets.set(1, stripped))
    assert ex.send(tick())[0].body == AuctionResult(99, 5, 3, 0)


# ------------------------------------------------------------------------------- fees


def test_auction_fees_follow_the_older_maker_newer_taker_rule() -> None:
    # Multiplier 1000, maker -1 bps (a rebate), taker 5 bps; fees round up (rebates toward 0).
    ex = batch_exchange(contract_multiplier=1_000, maker_fee_bps=-1, taker_fee_bps=5)
    ex.send(order(ALICE, SELL, 101, 7, client_order_id=1))  # #1, older
    ex.send(order(BOB, BUY, 102, 7, client_order_id=1))  # #2, newer
    # Candidates 101 and 102 both have D = S = 7 (surplus 0): the mark 100 picks 101.
    outputs = ex.send(tick())
    assert outputs[0].body == AuctionResult(101, 7, 0, 0)
    # Notional 101 * 7 * 1000 = 707,000.
    #   maker (ALICE, the older sell): ceil(707,000 * -1 / 10,000) = ceil(-70.7) = -70
    #   taker (BOB, the newer buy):    ceil(707,000 *  5 / 10,000) = ceil(353.5) = 354
    fill = one(outputs, Fill)
    assert (fill.maker_order_id, fill.taker_order_id, fill.taker_side) == (1, 2, BUY)
    assert (fill.maker_fee, fill.taker_fee) == (-70, 354)
    collateral = {p.account: p.collateral for p in of(outputs, PositionUpdate)}
    assert collateral == {ALICE: COMFORTABLE_COLLATERAL + 70, BOB: COMFORTABLE_COLLATERAL - 354}
    assert ex.state.markets[1].fee_balance == 354 - 70
    # Now the older order is the buy: CAROL bids 99 (#3), DAVE then asks 98 (#4).
    ex.send(order(CAROL, BUY, 99, 3, client_order_id=1))
    ex.send(order(DAVE, SELL, 98, 3, client_order_id=1))
    # 98 and 99 tie (V 3, surplus 0); 99 is closer to the mark 100.
    outputs = ex.send(tick())
    assert outputs[0].body == AuctionResult(99, 3, 0, 0)
    # Notional 99 * 3 * 1000 = 297,000: maker ceil(-29.7) = -29, taker ceil(148.5) = 149.
    fill = one(outputs, Fill)
    assert (fill.maker_order_id, fill.taker_order_id, fill.taker_side) == (3, 4, SELL)
    assert (fill.maker_fee, fill.taker_fee) == (-29, 149)
    assert ex.state.markets[1].fee_balance == 354 - 70 + 149 - 29


# ------------------------------------------------------------------- bugs found in review


def test_amend_in_a_batch_market_does_not_trade_before_the_auction() -> None:
    """BUG: ``orders.amend_order`` matches continuously in a BATCH market.

    An amend that loses priority and crosses the (batch, possibly crossed) book calls
    ``matching.continuous.match``: it trades at once, at the resting order's price, outside
    any auction.
    """
    ex = batch_exchange()
    ex.send(order(BOB, SELL, 98, 5, client_order_id=1))  # #1
    ex.send(order(ALICE, BUY, 99, 5, client_order_id=1))  # #2: crosses, waits for the tick
    outputs = ex.send(amend(ALICE, client_order_id=1, new_quantity=6))
    assert of(outputs, Fill) == [], f"an amend traded in a batch market: {fills(outputs)}"
    assert ex.levels(BUY) == [(99, 6, 1)]


def test_reduce_only_order_kept_from_continuous_never_grows_a_position_in_an_auction() -> None:
    """BUG: a reduce-only order that rested before a CONTINUOUS to BATCH switch trades
    uncapped in the auction (``core.auction._trade`` ignores ``reduce_only``).

    ALICE is long 2 with a reduce-only sell 2 @ 100 and a plain sell 3 @ 99.  The auction
    sells the 3 first (better price: ALICE is then short 1) and then the reduce-only 2,
    leaving her short 3: the reduce-only order grew her position from 1 to 3 lots.
    """
    ex = Exchange()
    ex.open_market(1, accounts=ACCOUNTS)
    ex.send(order(BOB, SELL, 100, 2, client_order_id=1))
    ex.send(order(ALICE, BUY, 100, 2, client_order_id=1))  # ALICE long 2
    ex.send(order(ALICE, SELL, 100, 2, client_order_id=2, reduce_only=True))  # #3
    ex.send(order(ALICE, SELL, 99, 3, client_order_id=3))  # #4
    ex.send(market(1, revision=2, **BATCH))
    ex.send(order(CAROL, BUY, 101, 5, client_order_id=1))
    outputs = ex.send(tick())
    size = ex.state.markets[1].accounts[ALICE].size
    assert size >= -1, f"reduce-only order #3 grew ALICE's short to {size}: {fills(outputs)}"


# ------------------------------------------------------------------ the worked example


def _example_account(byte: int) -> bytes:
    return bytes([byte]) * 20


EX_A, EX_B, EX_C, EX_D = (_example_account(b) for b in (0x0A, 0x0B, 0x0C, 0x0D))
EX_DEPOSIT = 1_000_000_000  # 1,000 USDC in micro-USDC
EX_CONFIG = MarketConfig(
    market_id=1,
    symbol="ETH-PERP",
    contract_multiplier=1_000,
    min_quantity=1,
    max_quantity=1_000,
    maker_fee_bps=1,
    taker_fee_bps=5,
    initial_margin_bps=1_000,
    maintenance_margin_bps=500,
    matching_mode=MatchingMode.BATCH,
    auction_interval_ms=1_000,
)


def _ex_order(
    who: bytes,
    client_order_id: int,
    side: Side,
    price: int,
    qty: int,
    tif: TimeInForce = GTC,
    order_type: OrderType = LIMIT,
) -> NewOrder:
    return NewOrder(1, who, client_order_id, side, order_type, tif, price, qty)


EXAMPLE_HEADER = (
    "# Batch auction (docs/auction.md): accounts A (0x0a..), B (0x0b..), C (0x0c..), D (0x0d..).",
    "# Generated by tests/test_auction_core.py (example_lines); each input follows its comment.",
)
# (comment, input body); the request id is the position, from 1.
EXAMPLE_INPUTS: tuple[tuple[str, InputBody], ...] = (
    (
        "create ETH-PERP, a BATCH market: multiplier 1000, maker 1 bps, taker 5 bps, IM 10 %",
        UpsertMarket(EX_CONFIG, 1),
    ),
    ("mark 100: the reference price of the auctions", PriceUpdate(1, 100, 100)),
    ("A deposits 1,000 USDC", Deposit(EX_A, 1, EX_DEPOSIT)),
    ("B deposits 1,000 USDC", Deposit(EX_B, 1, EX_DEPOSIT)),
    ("C deposits 1,000 USDC", Deposit(EX_C, 1, EX_DEPOSIT)),
    ("D deposits 1,000 USDC", Deposit(EX_D, 1, EX_DEPOSIT)),
    ("order #1: C sells 5 @ 99 GTC (rests, no matching)", _ex_order(EX_C, 1, SELL, 99, 5)),
    ("order #2: A buys 6 @ 102 GTC (the book is now crossed)", _ex_order(EX_A, 1, BUY, 102, 6)),
    ("order #3: D sells 3 @ 100 GTC", _ex_order(EX_D, 1, SELL, 100, 3)),
    (
        "order #4: B buys 4 @ 101 IOC (lives until the next auction)",
        _ex_order(EX_B, 1, BUY, 101, 4, IOC),
    ),
    ("order #5: C sells 5 @ 102 GTC", _ex_order(EX_C, 2, SELL, 102, 5)),
    ("order #6: B buys 2 MARKET IOC", _ex_order(EX_B, 2, BUY, 0, 2, IOC, MARKET)),
    ("auction: clears at 101 (rules 1, 2 and 3), 8 lots", AuctionTick(1)),
    ("auction: nothing crosses any more (price 0, volume 0)", AuctionTick(1)),
)


def example_lines() -> list[str]:
    """The text of tests/examples/batch_auction.jsonl, line by line."""
    lines = list(EXAMPLE_HEADER)
    for number, (comment, body) in enumerate(EXAMPLE_INPUTS, start=1):
        lines.append(f"# {number}. {comment}")
        lines.append(input_to_json(Input(body, request_id=number)))
    return lines


def fold_example(path: Path) -> dict[int, list[tuple[str, dict[str, Any]]]]:
    """Fold ``path`` with ``python -m hypermarket fold inputs``; outputs by request id, as
    (kind, body) in output order."""
    done = subprocess.run(
        [sys.executable, "-m", "hypermarket", "fold", "inputs", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    envelope = {"shard", "seq", "inputSeq", "tsNs", "marketId", "requestId"}
    grouped: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for line in done.stdout.splitlines():
        output = json.loads(line)
        (kind,) = set(output) - envelope
        grouped.setdefault(int(output["requestId"]), []).append((kind, output[kind]))
    return grouped


def test_batch_example_file_is_generated_from_its_inputs() -> None:
    text = (EXAMPLES / "batch_auction.jsonl").read_text(encoding="utf-8")
    assert text.splitlines() == example_lines()


def _ints(body: dict[str, Any], *names: str) -> tuple[int, ...]:
    """Integer fields of a JSON output (64-bit integers arrive as strings; zero may be absent)."""
    return tuple(int(body.get(name, 0)) for name in names)


def test_batch_example_folds_to_the_hand_computed_auction() -> None:
    by_request = fold_example(EXAMPLES / "batch_auction.jsonl")
    # 7 to 12: every order is accepted and rests; nothing trades before the auction.
    for request in range(7, 13):
        assert by_request[request][0][0] == "orderAccepted"
        assert all(kind != "fill" for kind, _ in by_request[request])
    # 13: the auction.  MARKET buys 2.
    #   p    D(p)           S(p)          V(p)  surplus
    #   99   2+6+4 = 12     5             5     +7
    #  100   12             5+3 = 8       8     +4
    #  101   12             8             8     +4
    #  102   2+6   = 8      8+5 = 13      8     -5
    # Rule 1: V = 8 at {100, 101, 102}.  Rule 2: |surplus| 4, 4, 5 -> {100, 101}.
    # Rule 3: both have buy surplus -> the highest, 101.  (Rule 4 would have taken 100.)
    auction = by_request[13]
    assert [kind for kind, _ in auction] == [
        "auctionResult",
        "fill",
        "fill",
        "fill",
        "orderCancelled",
        "bookDelta",
        "bookDelta",
        "bookDelta",
        "bookDelta",
        "positionUpdate",
        "positionUpdate",
        "positionUpdate",
        "positionUpdate",
    ]
    result = auction[0][1]
    assert _ints(result, "clearingPrice", "volume", "buySurplus", "sellSurplus") == (101, 8, 4, 0)
    # Allocation at 101: buys #6 (MARKET 2), #2 (102 x 6), #4 (101 x 4); sells #1 (99 x 5),
    # #3 (100 x 3).  #6 takes 2 of #1; #2 takes #1's other 3, then #3's 3; #4 gets nothing.
    # Fees on notional N = 101 * lots * 1000: maker ceil(N / 10,000), taker ceil(5 N / 10,000).
    #   2 lots: N = 202,000 -> maker ceil(20.2) = 21, taker 101
    #   3 lots: N = 303,000 -> maker ceil(30.3) = 31, taker ceil(151.5) = 152
    fill_fields = (
        "makerOrderId",
        "takerOrderId",
        "price",
        "quantity",
        "makerFee",
        "takerFee",
        "makerRemaining",
        "takerRemaining",
    )
    fill_bodies = [body for kind, body in auction if kind == "fill"]
    assert [_ints(body, *fill_fields) for body in fill_bodies] == [
        (1, 6, 101, 2, 21, 101, 3, 0),  # C's #1 is older than B's MARKET #6
        (1, 2, 101, 3, 31, 152, 0, 3),  # C's #1 is older than A's #2
        (2, 3, 101, 3, 31, 152, 0, 0),  # A's #2 is older than D's #3: the seller takes
    ]
    assert [body["takerSide"] for body in fill_bodies] == ["SIDE_BUY", "SIDE_BUY", "SIDE_SELL"]
    cancelled = auction[4][1]
    assert _ints(cancelled, "orderId", "remainingQuantity") == (4, 4)
    assert cancelled["reason"] == "CANCEL_REASON_AUCTION_UNFILLED"
    # Bids 102 and 101 emptied; asks 99 and 100 emptied; C's ask 102 x 5 stays.
    assert [_ints(body, "price", "quantity") for kind, body in auction if kind == "bookDelta"] == [
        (102, 0),
        (101, 0),
        (99, 0),
        (100, 0),
    ]
    # First touch, taker before maker in each fill: B, C; A; D.
    #   B: +2, entry 202,000, paid 101          C: -5, entry 505,000, paid 21 + 31 = 52
    #   A: +6, entry 606,000, paid 152 + 31     D: -3, entry 303,000, paid 152
    updates = [body for kind, body in auction if kind == "positionUpdate"]
    assert [
        (body["account"], *_ints(body, "size", "entryNotional", "collateral")) for body in updates
    ] == [
        ("CwsLCwsLCwsLCwsLCwsLCwsLCws=", 2, 202_000, EX_DEPOSIT - 101),
        ("DAwMDAwMDAwMDAwMDAwMDAwMDAw=", -5, 505_000, EX_DEPOSIT - 52),
        ("CgoKCgoKCgoKCgoKCgoKCgoKCgo=", 6, 606_000, EX_DEPOSIT - 183),
        ("DQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0=", -3, 303_000, EX_DEPOSIT - 152),
    ]
    # 14: only C's 102 x 5 is left: no cross, the whole sell side is surplus.
    ((kind, body),) = by_request[14]
    assert kind == "auctionResult"
    assert _ints(body, "clearingPrice", "volume", "buySurplus", "sellSurplus") == (0, 0, 0, 5)
