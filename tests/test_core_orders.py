"""The order lifecycle in the pure core, one rule per test: rejects, order types, cancels, amends.

Each test builds a small scenario through ``tests.support`` (every trading account funded,
invariants checked after every step), sends the input under test, and compares its outputs,
in order, with values worked out by hand: the reject reason and its precedence
(``RejectReason`` order), fills and remainders of each order type and time in force,
self-trade prevention, cancels by id / client id / account, amends that keep or lose
priority, the output order CONTRACT.md fixes, output numbering, and book deltas at a depth.
"""

from __future__ import annotations

import pytest

from hypermarket.models import (
    INT64_MAX,
    BookDelta,
    CancelAllDone,
    CancelReason,
    Fill,
    Input,
    MarketStatus,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    OrderType,
    Output,
    PositionUpdate,
    Rejected,
    RejectReason,
    Side,
    TimeInForce,
)
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
    DeltaReplica,
    Exchange,
    all_kinds,
    amend,
    book_levels,
    cancel,
    cancel_all,
    deltas,
    deposit,
    fund,
    kinds,
    mark,
    market,
    market_order,
    of,
    one,
    order,
)

ACCOUNTS = (ALICE, BOB, CAROL, DAVE)


def exchange(*, depth: int = 20, **overrides: object) -> Exchange:
    """Market 1 (config ``overrides``) with every test account funded."""
    ex = Exchange(depth=depth)
    ex.open_market(1, accounts=ACCOUNTS, **overrides)
    return ex


def reason(outputs: list[Output]) -> RejectReason:
    """The reason of the single OrderRejected (or Rejected) among ``outputs``."""
    found = [o.body.reason for o in outputs if isinstance(o.body, OrderRejected | Rejected)]
    assert len(found) == 1, outputs
    return found[0]


def fills(outputs: list[Output]) -> list[tuple[int, int, int, int, int, int]]:
    """Fills as (maker id, taker id, price, quantity, maker remaining, taker remaining)."""
    return [
        (
            f.maker_order_id,
            f.taker_order_id,
            f.price,
            f.quantity,
            f.maker_remaining,
            f.taker_remaining,
        )
        for f in of(outputs, Fill)
    ]


def cancels(outputs: list[Output]) -> list[tuple[int, int, CancelReason]]:
    """Cancellations as (order id, remaining, reason)."""
    return [(c.order_id, c.remaining_quantity, c.reason) for c in of(outputs, OrderCancelled)]


# ---------------------------------------------------------------- rejects, one per reason


def test_wrong_shard_for_every_market_scoped_order_input() -> None:
    ex = Exchange(shard=1, shard_count=2)
    ex.open_market(3, accounts=ACCOUNTS)  # 3 % 2 == 1: ours
    ex.send(order(ALICE, BUY, 100, 1, market_id=3, client_order_id=1))
    # 4 % 2 == 0 belongs to shard 0.
    for inp in (
        order(ALICE, BUY, 100, 1, market_id=4),
        cancel(ALICE, order_id=1, market_id=4),
        amend(ALICE, order_id=1, new_quantity=1, market_id=4),
        cancel_all(ALICE, 4),
    ):
        out = ex.send(inp)
        assert reason(out) is RejectReason.WRONG_SHARD
        assert [o.market_id for o in out] == [4]
    # A cancel-all naming a market is answered with Rejected, not OrderRejected.
    assert kinds(ex.send(cancel_all(ALICE, 4))) == ["Rejected"]


def test_unknown_market_for_every_market_scoped_order_input() -> None:
    ex = exchange()
    for inp in (
        order(ALICE, BUY, 100, 1, market_id=2),
        cancel(ALICE, order_id=1, market_id=2),
        amend(ALICE, order_id=1, new_quantity=1, market_id=2),
        cancel_all(ALICE, 2),
    ):
        assert reason(ex.send(inp)) is RejectReason.UNKNOWN_MARKET


@pytest.mark.parametrize(
    ("status", "tif"),
    [
        (MarketStatus.POST_ONLY, GTC),
        (MarketStatus.POST_ONLY, IOC),
        (MarketStatus.POST_ONLY, FOK),
        (MarketStatus.CANCEL_ONLY, POST_ONLY),
        (MarketStatus.CANCEL_ONLY, GTC),
        (MarketStatus.HALTED, POST_ONLY),
        (MarketStatus.HALTED, GTC),
    ],
)
def test_market_not_active(status: MarketStatus, tif: TimeInForce) -> None:
    ex = exchange(status=status)
    assert reason(ex.send(order(ALICE, BUY, 100, 1, tif=tif))) is RejectReason.MARKET_NOT_ACTIVE


@pytest.mark.parametrize("tif", [GTC, POST_ONLY])
def test_market_order_that_could_rest_is_an_invalid_order_type(tif: TimeInForce) -> None:
    ex = exchange()
    out = ex.send(market_order(ALICE, BUY, 1, tif=tif))
    assert reason(out) is RejectReason.INVALID_ORDER_TYPE


@pytest.mark.parametrize(
    ("order_type", "tif", "price"),
    [
        (MARKET, IOC, 100),  # a MARKET order carries price 0
        (MARKET, FOK, -1),
        (LIMIT, GTC, 0),  # a limit price must be positive
        (LIMIT, IOC, -100),
        (LIMIT, POST_ONLY, 0),
    ],
)
def test_invalid_price(order_type: OrderType, tif: TimeInForce, price: int) -> None:
    ex = exchange()
    inp = order(ALICE, BUY, price, 1, order_type=order_type, tif=tif)
    assert reason(ex.send(inp)) is RejectReason.INVALID_PRICE


@pytest.mark.parametrize("quantity", [0, -1, 1, 4, 11, INT64_MAX])
def test_invalid_quantity_outside_min_and_max(quantity: int) -> None:
    ex = exchange(min_quantity=5, max_quantity=10)
    assert reason(ex.send(order(ALICE, BUY, 100, quantity))) is RejectReason.INVALID_QUANTITY


@pytest.mark.parametrize("quantity", [5, 10])
def test_quantities_at_min_and_max_are_accepted(quantity: int) -> None:
    ex = exchange(min_quantity=5, max_quantity=10)
    assert one(ex.send(order(ALICE, BUY, 100, quantity)), OrderAccepted).quantity == quantity


def test_overflow_of_the_notional() -> None:
    ex = exchange(contract_multiplier=1_000)
    # 10**10 * 10**6 * 1000 = 10**19 > 2**63 - 1 (about 9.22 * 10**18).
    assert reason(ex.send(order(ALICE, BUY, 10**10, 10**6))) is RejectReason.OVERFLOW
    # 9 * 10**9 * 10**6 * 1000 = 9 * 10**18 fits (a sell far above the mark: margin is no issue).
    assert one(ex.send(order(ALICE, SELL, 9 * 10**9, 10**6)), OrderAccepted).order_id == 1


def test_notional_of_exactly_int64_max_is_accepted() -> None:
    ex = exchange()
    assert one(ex.send(order(ALICE, SELL, INT64_MAX, 1)), OrderAccepted).price == INT64_MAX


def test_overflow_of_a_level_total() -> None:
    ex = exchange()
    half = 2**62
    ex.send(order(ALICE, BUY, 1, half, client_order_id=1))
    # half + half = 2**63 lots at price 1 would not fit an int64 level total.
    assert reason(ex.send(order(BOB, BUY, 1, half, client_order_id=1))) is RejectReason.OVERFLOW
    assert one(ex.send(order(BOB, BUY, 1, half - 1, client_order_id=1)), OrderAccepted)
    assert ex.levels(BUY) == [(1, INT64_MAX, 2)]


def test_duplicate_client_order_id_among_live_orders_of_the_account_in_the_market() -> None:
    ex = Exchange()
    for market_id in (1, 2):
        ex.open_market(market_id, accounts=ACCOUNTS)
    ex.send(order(ALICE, BUY, 99, 1, client_order_id=7))
    assert (
        reason(ex.send(order(ALICE, SELL, 120, 1, client_order_id=7)))
        is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    )
    # An IOC is checked too, although it would never rest.
    dup_ioc = order(ALICE, SELL, 99, 1, client_order_id=7, tif=IOC)
    assert reason(ex.send(dup_ioc)) is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    # Another account, or another market, may use the same id.
    assert one(ex.send(order(BOB, BUY, 98, 1, client_order_id=7)), OrderAccepted)
    assert one(ex.send(order(ALICE, BUY, 98, 1, client_order_id=7, market_id=2)), OrderAccepted)
    # Once the order is gone (here: filled), the id is free again.
    ex.send(order(CAROL, SELL, 99, 1, client_order_id=1))
    assert one(ex.send(order(ALICE, BUY, 97, 1, client_order_id=7)), OrderAccepted)


def test_client_order_id_of_a_cancelled_order_is_free_again() -> None:
    ex = exchange()
    ex.send(order(ALICE, BUY, 99, 1, client_order_id=7))
    ex.send(cancel(ALICE, client_order_id=7))
    assert one(ex.send(order(ALICE, BUY, 99, 2, client_order_id=7)), OrderAccepted).order_id == 2


def test_post_only_would_cross() -> None:
    ex = exchange()
    ex.send(order(BOB, SELL, 101, 3, client_order_id=1))
    ex.send(order(BOB, BUY, 99, 3, client_order_id=2))
    for side, price in ((BUY, 101), (BUY, 150), (SELL, 99), (SELL, 50)):
        out = ex.send(order(ALICE, side, price, 1, tif=POST_ONLY))
        assert reason(out) is RejectReason.POST_ONLY_WOULD_CROSS
        assert of(out, BookDelta) == []
    # Inside the spread, or joining the touch of its own side, it rests.
    assert one(ex.send(order(ALICE, BUY, 100, 1, tif=POST_ONLY, client_order_id=1)), OrderAccepted)
    # The new bid at 100 now blocks a POST_ONLY sell at 100, ALICE's own or not.
    at_bid = order(ALICE, SELL, 100, 1, tif=POST_ONLY, client_order_id=2)
    assert reason(ex.send(at_bid)) is RejectReason.POST_ONLY_WOULD_CROSS
    assert one(ex.send(order(ALICE, SELL, 101, 1, tif=POST_ONLY, client_order_id=2)), OrderAccepted)
    assert ex.levels(BUY) == [(100, 1, 1), (99, 3, 1)]
    assert ex.levels(SELL) == [(101, 4, 2)]


def test_fok_not_fillable_changes_nothing() -> None:
    ex = exchange()
    ex.send(order(BOB, SELL, 101, 3, client_order_id=1))  # id 1
    ex.send(order(CAROL, SELL, 102, 3, client_order_id=1))  # id 2
    before = ex.state
    # 7 lots up to 102: only 6 are there.
    out = ex.send(order(ALICE, BUY, 102, 7, tif=FOK, client_order_id=1))
    assert kinds(out) == ["OrderRejected"]
    assert reason(out) is RejectReason.FOK_NOT_FILLABLE
    # 4 lots up to 101: only 3 within the limit.
    assert reason(ex.send(order(ALICE, BUY, 101, 4, tif=FOK))) is RejectReason.FOK_NOT_FILLABLE
    assert reason(ex.send(market_order(ALICE, BUY, 7, tif=FOK))) is RejectReason.FOK_NOT_FILLABLE
    assert ex.state.markets == before.markets
    assert ex.state.next_order_id == before.next_order_id
    # Nothing happened, not even an order id: the next order is id 3.
    assert one(ex.send(order(ALICE, BUY, 90, 1)), OrderAccepted).order_id == 3


# ---------------------------------------------------------------- precedence


PRECEDENCE: list[tuple[str, Input, RejectReason]] = [
    ("unknown-market>price", order(ALICE, BUY, 0, 1, market_id=9), RejectReason.UNKNOWN_MARKET),
    # A MARKET GTC order with a price: the type is checked before the price.
    (
        "order-type>price",
        order(ALICE, BUY, 5, 1, order_type=MARKET, tif=GTC),
        RejectReason.INVALID_ORDER_TYPE,
    ),
    ("price>quantity", order(ALICE, BUY, -1, 0), RejectReason.INVALID_PRICE),
    # Above max_quantity (100) and a notional overflow.
    ("quantity>overflow", order(ALICE, BUY, INT64_MAX, 1_000), RejectReason.INVALID_QUANTITY),
    # ALICE's client id 1 is live: overflow first.
    (
        "overflow>duplicate",
        order(ALICE, BUY, INT64_MAX, 2, client_order_id=1),
        RejectReason.OVERFLOW,
    ),
    (
        "duplicate>post-only-cross",
        order(ALICE, BUY, 101, 1, client_order_id=1, tif=POST_ONLY),
        RejectReason.DUPLICATE_CLIENT_ORDER_ID,
    ),
    (
        "duplicate>fok",
        order(ALICE, BUY, 101, 50, client_order_id=1, tif=FOK),
        RejectReason.DUPLICATE_CLIENT_ORDER_ID,
    ),
]


@pytest.mark.parametrize(
    ("inp", "expected"), [(i, e) for _, i, e in PRECEDENCE], ids=[n for n, _, _ in PRECEDENCE]
)
def test_an_order_breaking_two_rules_gets_the_earlier_reason(
    inp: Input, expected: RejectReason
) -> None:
    ex = exchange(max_quantity=100)
    ex.send(order(ALICE, BUY, 99, 1, client_order_id=1))
    ex.send(order(BOB, SELL, 101, 1, client_order_id=1))
    assert reason(ex.send(inp)) is expected


def test_no_mark_price_before_a_price_update_after_the_orders_own_rules() -> None:
    ex = Exchange()
    ex.send(market(1))
    ex.send(deposit(ALICE, 1, COMFORTABLE_COLLATERAL))
    # Before any PriceUpdate no order can be priced for risk ...
    assert reason(ex.send(order(ALICE, BUY, 99, 1))) is RejectReason.NO_MARK_PRICE
    assert reason(ex.send(market_order(ALICE, SELL, 1))) is RejectReason.NO_MARK_PRICE
    # ... but the order's own rules come first.
    assert reason(ex.send(order(ALICE, BUY, 99, 0))) is RejectReason.INVALID_QUANTITY
    ex.send(mark(1, 100))
    assert one(ex.send(order(ALICE, BUY, 99, 1)), OrderAccepted).order_id == 1


def test_insufficient_margin_comes_before_post_only_cross_and_fok() -> None:
    ex = Exchange()
    ex.send(market(1))
    ex.feed(fund(BOB, 1))
    ex.send(deposit(ALICE, 1, 5))  # 5 money units: not enough for any order here
    ex.send(order(BOB, SELL, 101, 3, client_order_id=1))
    post = order(ALICE, BUY, 101, 3, client_order_id=1, tif=POST_ONLY)
    assert reason(ex.send(post)) is RejectReason.INSUFFICIENT_MARGIN
    fok = order(ALICE, BUY, 101, 50, client_order_id=1, tif=FOK)
    assert reason(ex.send(fok)) is RejectReason.INSUFFICIENT_MARGIN


def test_wrong_shard_comes_before_everything() -> None:
    ex = Exchange(shard=0, shard_count=2)
    out = ex.send(order(ALICE, BUY, 0, 0, market_id=3, order_type=MARKET, tif=GTC))
    assert reason(out) is RejectReason.WRONG_SHARD


def test_market_not_active_comes_before_order_type_and_price() -> None:
    ex = exchange(status=MarketStatus.CANCEL_ONLY)
    out = ex.send(order(ALICE, BUY, 0, 0, order_type=MARKET, tif=GTC))
    assert reason(out) is RejectReason.MARKET_NOT_ACTIVE


def test_cancel_precedence_market_before_order() -> None:
    ex = exchange()
    assert reason(ex.send(cancel(ALICE, order_id=99, market_id=5))) is RejectReason.UNKNOWN_MARKET


# ``core/orders.py`` ``amend_order`` looks the order up first and checks the market status and
# the new values afterwards, so UNKNOWN_ORDER / NOT_ORDER_OWNER win over MARKET_NOT_ACTIVE,
# INVALID_PRICE and INVALID_QUANTITY, which come earlier in ``RejectReason``.  The three tests
# below state the documented precedence ("an order input is checked in the precedence of
# RejectReason", core/orders.py docstring; STYLE.md) and fail against that code.


def test_amend_precedence_invalid_price_before_not_order_owner() -> None:
    ex = exchange()
    ex.send(order(BOB, BUY, 99, 5, client_order_id=1))  # id 1, BOB's
    assert reason(ex.send(amend(ALICE, order_id=1, new_price=-1))) is RejectReason.INVALID_PRICE


def test_amend_precedence_invalid_quantity_before_unknown_order() -> None:
    ex = exchange()
    bad_qty = amend(ALICE, order_id=42, new_quantity=-3)
    assert reason(ex.send(bad_qty)) is RejectReason.INVALID_QUANTITY


def test_amend_precedence_market_not_active_before_unknown_order() -> None:
    ex = exchange(status=MarketStatus.CANCEL_ONLY)
    unknown = amend(ALICE, order_id=42, new_quantity=1)
    assert reason(ex.send(unknown)) is RejectReason.MARKET_NOT_ACTIVE


# ---------------------------------------------------------------- order types


def _asks_101_102() -> Exchange:
    """BOB asks 101x3 (id 1), CAROL asks 102x4 (id 2)."""
    ex = exchange()
    ex.send(order(BOB, SELL, 101, 3, client_order_id=1))
    ex.send(order(CAROL, SELL, 102, 4, client_order_id=1))
    return ex


def test_limit_gtc_rests_when_it_does_not_cross() -> None:
    ex = _asks_101_102()
    out = ex.send(order(ALICE, BUY, 100, 5, client_order_id=1))
    assert kinds(out) == ["OrderAccepted", "BookDelta"]
    assert one(out, OrderAccepted) == OrderAccepted(3, 1, ALICE, BUY, 100, 5)
    assert deltas(out) == [(BUY, 100, 5, 1)]
    assert ex.queue(BUY, 100) == [(3, 5)]


def test_limit_gtc_trades_up_to_its_limit_and_rests_the_remainder() -> None:
    ex = _asks_101_102()
    out = ex.send(order(ALICE, BUY, 101, 5, client_order_id=1))
    assert kinds(out) == ["OrderAccepted", "Fill", "BookDelta", "BookDelta"]
    assert fills(out) == [(1, 3, 101, 3, 0, 2)]
    assert deltas(out) == [(BUY, 101, 2, 1), (SELL, 101, 0, 0)]
    assert ex.levels(BUY) == [(101, 2, 1)]
    assert ex.levels(SELL) == [(102, 4, 1)]


def test_limit_ioc_trades_and_cancels_the_remainder() -> None:
    ex = _asks_101_102()
    out = ex.send(order(ALICE, BUY, 101, 5, client_order_id=1, tif=IOC))
    assert kinds(out) == ["OrderAccepted", "Fill", "OrderCancelled", "BookDelta"]
    assert fills(out) == [(1, 3, 101, 3, 0, 2)]
    assert cancels(out) == [(3, 2, CancelReason.IOC_REMAINDER)]
    assert deltas(out) == [(SELL, 101, 0, 0)]
    assert ex.levels(BUY) == []


def test_ioc_that_cannot_trade_is_accepted_then_cancelled_whole() -> None:
    ex = _asks_101_102()
    out = ex.send(order(ALICE, BUY, 100, 5, tif=IOC))
    assert kinds(out) == ["OrderAccepted", "OrderCancelled"]
    assert cancels(out) == [(3, 5, CancelReason.IOC_REMAINDER)]


def test_limit_fok_fills_whole_across_levels() -> None:
    ex = _asks_101_102()
    out = ex.send(order(ALICE, BUY, 102, 7, tif=FOK))
    assert kinds(out) == ["OrderAccepted", "Fill", "Fill", "BookDelta", "BookDelta"]
    assert fills(out) == [(1, 3, 101, 3, 0, 4), (2, 3, 102, 4, 0, 0)]
    assert deltas(out) == [(SELL, 101, 0, 0), (SELL, 102, 0, 0)]


def test_limit_post_only_rests_without_trading() -> None:
    ex = _asks_101_102()
    out = ex.send(order(ALICE, BUY, 100, 2, tif=POST_ONLY))
    assert kinds(out) == ["OrderAccepted", "BookDelta"]
    assert ex.queue(BUY, 100) == [(3, 2)]


def test_market_ioc_sweeps_every_level_and_cancels_what_is_left() -> None:
    ex = _asks_101_102()
    out = ex.send(market_order(ALICE, BUY, 10, client_order_id=4))
    assert one(out, OrderAccepted) == OrderAccepted(3, 4, ALICE, BUY, 0, 10)
    assert fills(out) == [(1, 3, 101, 3, 0, 7), (2, 3, 102, 4, 0, 3)]
    assert cancels(out) == [(3, 3, CancelReason.IOC_REMAINDER)]
    assert ex.levels(SELL) == []


def test_market_ioc_on_an_empty_side_is_cancelled_whole() -> None:
    ex = _asks_101_102()
    out = ex.send(market_order(ALICE, SELL, 2))
    assert kinds(out) == ["OrderAccepted", "OrderCancelled"]
    assert cancels(out) == [(3, 2, CancelReason.IOC_REMAINDER)]


def test_market_fok_fills_whole_or_not_at_all() -> None:
    ex = _asks_101_102()
    assert reason(ex.send(market_order(ALICE, BUY, 8, tif=FOK))) is RejectReason.FOK_NOT_FILLABLE
    out = ex.send(market_order(ALICE, BUY, 5, tif=FOK))
    assert fills(out) == [(1, 3, 101, 3, 0, 2), (2, 3, 102, 2, 2, 0)]
    assert ex.levels(SELL) == [(102, 2, 1)]


def test_sell_taker_walks_bids_best_first_and_prints_at_maker_prices() -> None:
    ex = exchange()
    ex.send(order(BOB, BUY, 98, 2, client_order_id=1))  # id 1
    ex.send(order(CAROL, BUY, 100, 2, client_order_id=1))  # id 2
    ex.send(order(BOB, BUY, 100, 2, client_order_id=2))  # id 3: behind id 2 at 100
    ex.send(order(CAROL, BUY, 99, 2, client_order_id=2))  # id 4
    out = ex.send(order(ALICE, SELL, 98, 7, client_order_id=1))
    assert fills(out) == [
        (2, 5, 100, 2, 0, 5),
        (3, 5, 100, 2, 0, 3),
        (4, 5, 99, 2, 0, 1),
        (1, 5, 98, 1, 1, 0),
    ]
    assert all(f.taker_side is SELL for f in of(out, Fill))
    assert deltas(out) == [(BUY, 100, 0, 0), (BUY, 99, 0, 0), (BUY, 98, 1, 1)]


def test_fill_names_both_accounts_and_carries_zero_fees_without_risk() -> None:
    ex = _asks_101_102()
    fill = one(ex.send(order(ALICE, BUY, 101, 1)), Fill)
    assert (fill.maker_account, fill.taker_account, fill.taker_side) == (BOB, ALICE, BUY)


# ---------------------------------------------------------------- output order


def test_outputs_of_one_input_come_in_contract_order() -> None:
    """accepted, fills in match order, cancels (STP makers, then the remainder), deltas, positions.

    Position updates come taker first, then makers in fill order; with zero fees a buyer of
    2 @ 101 and 4 @ 102 holds +6 lots with entry notional 2*101 + 4*102 = 610.
    """
    ex = exchange()
    ex.send(order(BOB, SELL, 101, 2, client_order_id=1))  # id 1
    ex.send(order(ALICE, SELL, 101, 3, client_order_id=1))  # id 2, ALICE's own
    ex.send(order(CAROL, SELL, 102, 4, client_order_id=1))  # id 3
    ex.send(order(CAROL, BUY, 99, 1, client_order_id=2))  # id 4
    taker = order(ALICE, BUY, 102, 10, client_order_id=2, tif=IOC, stp=CANCEL_MAKER)
    out = ex.send(taker)
    assert all_kinds(out) == [
        "OrderAccepted",
        "Fill",
        "Fill",
        "OrderCancelled",
        "OrderCancelled",
        "BookDelta",
        "BookDelta",
        "PositionUpdate",
        "PositionUpdate",
        "PositionUpdate",
    ]
    assert fills(out) == [(1, 5, 101, 2, 0, 8), (3, 5, 102, 4, 0, 4)]
    assert cancels(out) == [(2, 3, CancelReason.SELF_TRADE), (5, 4, CancelReason.IOC_REMAINDER)]
    assert deltas(out) == [(SELL, 101, 0, 0), (SELL, 102, 0, 0)]
    collateral = COMFORTABLE_COLLATERAL
    assert of(out, PositionUpdate) == [
        PositionUpdate(ALICE, 6, 610, collateral, 0),
        PositionUpdate(BOB, -2, 202, collateral, 0),
        PositionUpdate(CAROL, -4, 408, collateral, 0),
    ]


def test_deltas_come_bids_before_asks_each_best_first() -> None:
    ex = exchange()
    ex.send(order(BOB, SELL, 101, 2, client_order_id=1))  # id 1
    ex.send(order(BOB, SELL, 102, 2, client_order_id=2))  # id 2
    ex.send(order(CAROL, BUY, 99, 1, client_order_id=1))  # id 3
    # ALICE buys through both ask levels and rests 1 lot at 103, the new best bid.
    out = ex.send(order(ALICE, BUY, 103, 5, client_order_id=1))
    assert kinds(out) == ["OrderAccepted", "Fill", "Fill", "BookDelta", "BookDelta", "BookDelta"]
    assert deltas(out) == [(BUY, 103, 1, 1), (SELL, 101, 0, 0), (SELL, 102, 0, 0)]


def test_seq_is_dense_from_one_and_input_seq_request_id_ts_are_echoed() -> None:
    ex = Exchange()
    ex.open_market(1, accounts=ACCOUNTS)
    ex.send(order(BOB, SELL, 101, 2, client_order_id=1, request_id=11, ts_ns=1_000))
    rejected = ex.send(order(ALICE, BUY, 5, 0, request_id=12, ts_ns=2_000))
    traded = ex.send(order(ALICE, BUY, 101, 3, client_order_id=1, request_id=13, ts_ns=3_000))
    history = ex.history
    assert [o.seq for o in history] == list(range(1, len(history) + 1))
    assert all(o.shard == 0 for o in history)
    assert ex.state.output_seq == history[-1].seq
    assert kinds(traded) == ["OrderAccepted", "Fill", "BookDelta", "BookDelta"]
    assert {(o.input_seq, o.request_id, o.ts_ns) for o in traded} == {
        (ex.state.input_seq, 13, 3_000)
    }
    assert [(o.input_seq, o.request_id, o.ts_ns) for o in rejected] == [
        (ex.state.input_seq - 1, 12, 2_000)
    ]
    assert [o.seq for o in rejected] == [traded[0].seq - 1]


def test_first_outputs_of_a_fresh_shard_are_numbered_from_one() -> None:
    ex = Exchange(shard=2, shard_count=4)
    out = ex.send(order(ALICE, BUY, 100, 1, market_id=6, request_id=5))
    assert [(o.shard, o.seq, o.input_seq, o.request_id) for o in out] == [(2, 1, 1, 5)]


# ---------------------------------------------------------------- cancels


def test_cancel_by_order_id_and_by_client_order_id() -> None:
    ex = exchange()
    ex.send(order(ALICE, BUY, 99, 5, client_order_id=10))  # id 1
    ex.send(order(ALICE, BUY, 99, 2, client_order_id=11))  # id 2
    ex.send(order(BOB, SELL, 99, 3, client_order_id=1))  # fills 3 of id 1
    out = ex.send(cancel(ALICE, order_id=1, request_id=3))
    assert kinds(out) == ["OrderCancelled", "BookDelta"]
    assert one(out, OrderCancelled) == OrderCancelled(1, 10, ALICE, 2, CancelReason.USER)
    assert deltas(out) == [(BUY, 99, 2, 1)]
    out = ex.send(cancel(ALICE, client_order_id=11))
    assert one(out, OrderCancelled) == OrderCancelled(2, 11, ALICE, 2, CancelReason.USER)
    assert deltas(out) == [(BUY, 99, 0, 0)]


def test_cancel_rejects_unknown_and_foreign_orders() -> None:
    ex = Exchange()
    for market_id in (1, 2):
        ex.open_market(market_id, accounts=ACCOUNTS)
    ex.send(order(BOB, BUY, 99, 5, client_order_id=10))  # id 1
    ex.send(order(ALICE, BUY, 99, 5, client_order_id=10, market_id=2))  # id 2, market 2
    unknown = one(ex.send(cancel(ALICE, order_id=99)), OrderRejected)
    assert (unknown.reason, unknown.order_id) == (RejectReason.UNKNOWN_ORDER, 99)
    foreign = one(ex.send(cancel(ALICE, order_id=1)), OrderRejected)
    assert (foreign.reason, foreign.order_id) == (RejectReason.NOT_ORDER_OWNER, 1)
    # By client id an order is looked up among the sender's own: BOB's id 10 is not ALICE's.
    assert reason(ex.send(cancel(ALICE, client_order_id=10))) is RejectReason.UNKNOWN_ORDER
    # An order of another market is not live in this one.
    assert reason(ex.send(cancel(ALICE, order_id=2))) is RejectReason.UNKNOWN_ORDER
    # Cancelled twice: the second is unknown.
    ex.send(cancel(BOB, order_id=1))
    assert reason(ex.send(cancel(BOB, order_id=1))) is RejectReason.UNKNOWN_ORDER
    assert len(ex.state.markets[2].book.orders) == 1


def test_cancel_all_in_one_market() -> None:
    ex = Exchange()
    for market_id in (1, 2):
        ex.open_market(market_id, accounts=ACCOUNTS)
    ex.send(order(ALICE, SELL, 103, 1, client_order_id=1))  # id 1
    ex.send(order(ALICE, BUY, 98, 2, client_order_id=2))  # id 2
    ex.send(order(BOB, BUY, 99, 3, client_order_id=1))  # id 3: another account
    ex.send(order(ALICE, BUY, 99, 4, client_order_id=3))  # id 4
    ex.send(order(ALICE, BUY, 99, 5, client_order_id=4, market_id=2))  # id 5: another market
    out = ex.send(cancel_all(ALICE, 1, request_id=8))
    assert kinds(out) == ["OrderCancelled"] * 3 + ["BookDelta"] * 3 + ["CancelAllDone"]
    assert cancels(out) == [
        (1, 1, CancelReason.MASS_CANCEL),
        (2, 2, CancelReason.MASS_CANCEL),
        (4, 4, CancelReason.MASS_CANCEL),
    ]
    assert deltas(out) == [(BUY, 99, 3, 1), (BUY, 98, 0, 0), (SELL, 103, 0, 0)]
    assert one(out, CancelAllDone) == CancelAllDone(ALICE, 3)
    assert {o.market_id for o in out} == {1}
    assert ex.queue(BUY, 99) == [(3, 3)]
    assert ex.queue(BUY, 99, market_id=2) == [(5, 5)]


def test_cancel_all_across_markets_goes_by_ascending_market_id() -> None:
    ex = Exchange()
    for market_id in (3, 1, 2):  # created out of order on purpose
        ex.open_market(market_id, accounts=ACCOUNTS)
    ex.send(order(ALICE, BUY, 99, 1, client_order_id=1, market_id=3))  # id 1
    ex.send(order(ALICE, SELL, 105, 2, client_order_id=1, market_id=1))  # id 2
    ex.send(order(BOB, BUY, 99, 3, client_order_id=1, market_id=2))  # id 3: BOB's
    ex.send(order(ALICE, BUY, 97, 4, client_order_id=2, market_id=1))  # id 4
    out = ex.send(cancel_all(ALICE))
    assert [(o.market_id, type(o.body).__name__) for o in out] == [
        (1, "OrderCancelled"),
        (1, "OrderCancelled"),
        (1, "BookDelta"),
        (1, "BookDelta"),
        (3, "OrderCancelled"),
        (3, "BookDelta"),
        (0, "CancelAllDone"),
    ]
    assert [c.order_id for c in of(out, OrderCancelled)] == [2, 4, 1]
    assert deltas(out) == [(BUY, 97, 0, 0), (SELL, 105, 0, 0), (BUY, 99, 0, 0)]
    assert one(out, CancelAllDone) == CancelAllDone(ALICE, 3)
    assert book_levels(ex.state, 2, BUY) == [(99, 3, 1)]


def test_cancel_all_with_nothing_live_still_answers() -> None:
    ex = exchange()
    out = ex.send(cancel_all(ALICE, request_id=4))
    assert [(o.market_id, o.request_id, o.body) for o in out] == [(0, 4, CancelAllDone(ALICE, 0))]


# ---------------------------------------------------------------- amends


def _bids_at_99() -> Exchange:
    """Bids at 99: ALICE 5 (id 1, client 1), BOB 3 (id 2), CAROL 2 (id 3); BOB bid 98x1 (id 4)."""
    ex = exchange()
    ex.send(order(ALICE, BUY, 99, 5, client_order_id=1))
    ex.send(order(BOB, BUY, 99, 3, client_order_id=1))
    ex.send(order(CAROL, BUY, 99, 2, client_order_id=1))
    ex.send(order(BOB, BUY, 98, 1, client_order_id=2))
    return ex


def test_amend_to_a_smaller_quantity_keeps_priority() -> None:
    ex = _bids_at_99()
    out = ex.send(amend(ALICE, order_id=1, new_quantity=4))
    assert kinds(out) == ["OrderAmended", "BookDelta"]
    assert one(out, OrderAmended) == OrderAmended(1, 1, ALICE, 99, 4, True)
    assert deltas(out) == [(BUY, 99, 9, 3)]
    assert ex.queue(BUY, 99) == [(1, 4), (2, 3), (3, 2)]
    # It is still first in line: a seller of 4 fills only ALICE.
    assert fills(ex.send(order(DAVE, SELL, 99, 4))) == [(1, 5, 99, 4, 0, 0)]


def test_amend_to_a_larger_quantity_loses_priority() -> None:
    ex = _bids_at_99()
    out = ex.send(amend(ALICE, client_order_id=1, new_quantity=6))
    assert one(out, OrderAmended) == OrderAmended(1, 1, ALICE, 99, 6, False)
    assert deltas(out) == [(BUY, 99, 11, 3)]
    assert ex.queue(BUY, 99) == [(2, 3), (3, 2), (1, 6)]


def test_amend_to_a_new_price_loses_priority_and_moves() -> None:
    ex = _bids_at_99()
    out = ex.send(amend(BOB, order_id=2, new_price=98))
    assert one(out, OrderAmended) == OrderAmended(2, 1, BOB, 98, 3, False)
    assert deltas(out) == [(BUY, 99, 7, 2), (BUY, 98, 4, 2)]
    assert ex.queue(BUY, 98) == [(4, 1), (2, 3)]
    # Back to 99: it is now behind the orders that stayed there.
    ex.send(amend(BOB, order_id=2, new_price=99))
    assert ex.queue(BUY, 99) == [(1, 5), (3, 2), (2, 3)]


def test_amend_to_a_smaller_quantity_at_a_new_price_loses_priority() -> None:
    ex = _bids_at_99()
    ex.send(amend(ALICE, order_id=1, new_price=98, new_quantity=2))
    assert ex.queue(BUY, 98) == [(4, 1), (1, 2)]


def test_amend_without_changes_keeps_everything() -> None:
    ex = _bids_at_99()
    out = ex.send(amend(ALICE, order_id=1))
    assert one(out, OrderAmended) == OrderAmended(1, 1, ALICE, 99, 5, True)
    assert ex.queue(BUY, 99) == [(1, 5), (2, 3), (3, 2)]


def test_amend_sets_the_open_quantity_of_a_partly_filled_order() -> None:
    ex = _bids_at_99()
    ex.send(order(DAVE, SELL, 99, 3))  # id 5 fills 3 of ALICE's 5
    out = ex.send(amend(ALICE, order_id=1, new_quantity=4))
    # 4 > 2 open lots: a larger quantity, so it goes to the back with 4 open.
    assert one(out, OrderAmended) == OrderAmended(1, 1, ALICE, 99, 4, False)
    assert ex.queue(BUY, 99) == [(2, 3), (3, 2), (1, 4)]


def test_amend_that_crosses_trades_like_a_new_gtc_order() -> None:
    ex = exchange()
    ex.send(order(BOB, SELL, 100, 3, client_order_id=1))  # id 1
    ex.send(order(CAROL, SELL, 101, 1, client_order_id=1))  # id 2
    ex.send(order(ALICE, BUY, 98, 5, client_order_id=1))  # id 3
    out = ex.send(amend(ALICE, order_id=3, new_price=100))
    assert kinds(out) == ["OrderAmended", "Fill", "BookDelta", "BookDelta", "BookDelta"]
    assert one(out, OrderAmended) == OrderAmended(3, 1, ALICE, 100, 5, False)
    fill = one(out, Fill)
    assert (fill.maker_order_id, fill.taker_order_id, fill.price, fill.quantity) == (1, 3, 100, 3)
    assert (fill.taker_side, fill.maker_remaining, fill.taker_remaining) == (BUY, 0, 2)
    assert deltas(out) == [(BUY, 100, 2, 1), (BUY, 98, 0, 0), (SELL, 100, 0, 0)]
    assert ex.queue(BUY, 100) == [(3, 2)]
    assert ex.levels(SELL) == [(101, 1, 1)]


@pytest.mark.parametrize("new_price", [100, 101])
def test_post_only_order_amended_to_cross_is_rejected_and_unchanged(new_price: int) -> None:
    ex = exchange()
    ex.send(order(BOB, SELL, 100, 3, client_order_id=1))  # id 1
    ex.send(order(ALICE, BUY, 98, 5, client_order_id=1, tif=POST_ONLY))  # id 2
    before = ex.state.markets
    out = ex.send(amend(ALICE, order_id=2, new_price=new_price))
    assert kinds(out) == ["OrderRejected"]
    rejected = one(out, OrderRejected)
    assert (rejected.reason, rejected.order_id) == (RejectReason.POST_ONLY_WOULD_CROSS, 2)
    assert ex.state.markets == before
    # Below the ask it is fine.
    assert one(ex.send(amend(ALICE, order_id=2, new_price=99)), OrderAmended).price == 99


@pytest.mark.parametrize(
    ("account_", "order_id", "client_order_id", "expected"),
    [
        (ALICE, 77, 0, RejectReason.UNKNOWN_ORDER),
        (ALICE, 0, 77, RejectReason.UNKNOWN_ORDER),
        (BOB, 1, 0, RejectReason.NOT_ORDER_OWNER),
        (BOB, 0, 1, RejectReason.UNKNOWN_ORDER),  # BOB has no client id 1
    ],
)
def test_amend_of_an_order_that_is_not_the_senders(
    account_: bytes, order_id: int, client_order_id: int, expected: RejectReason
) -> None:
    ex = exchange()
    ex.send(order(ALICE, BUY, 99, 5, client_order_id=1))
    out = ex.send(
        amend(account_, order_id=order_id, client_order_id=client_order_id, new_quantity=1)
    )
    assert reason(out) is expected
    assert ex.queue(BUY, 99) == [(1, 5)]


@pytest.mark.parametrize(
    ("new_price", "new_quantity", "expected"),
    [
        (-1, 0, RejectReason.INVALID_PRICE),
        (0, -1, RejectReason.INVALID_QUANTITY),
        (0, 1, RejectReason.INVALID_QUANTITY),  # below min_quantity 2
        (0, 11, RejectReason.INVALID_QUANTITY),  # above max_quantity 10
        (INT64_MAX, 2, RejectReason.OVERFLOW),
    ],
)
def test_amend_with_bad_values(new_price: int, new_quantity: int, expected: RejectReason) -> None:
    ex = exchange(min_quantity=2, max_quantity=10)
    ex.send(order(ALICE, BUY, 99, 5, client_order_id=1))
    out = ex.send(amend(ALICE, order_id=1, new_price=new_price, new_quantity=new_quantity))
    rejected = one(out, OrderRejected)
    # Values are checked before the order is looked up, so those rejects echo the input's
    # ids (client_order_id 0 here); OVERFLOW needs the order and names its client id.
    client_order_id = 1 if expected is RejectReason.OVERFLOW else 0
    assert (rejected.reason, rejected.order_id, rejected.client_order_id) == (
        expected,
        1,
        client_order_id,
    )
    assert ex.queue(BUY, 99) == [(1, 5)]


def test_amend_of_a_level_near_int64_counts_the_order_once() -> None:
    """Shrinking an order on a level holding INT64_MAX lots leaves a total that fits.

    ``_size_problem`` in ``core/orders.py`` adds the new quantity to the level total, which
    still contains the amended order's own lots, so this amend is rejected with OVERFLOW
    although the level would hold INT64_MAX - 1 lots afterwards.
    """
    ex = exchange()
    ex.send(order(ALICE, BUY, 1, 2**62, client_order_id=1))  # id 1
    ex.send(order(BOB, BUY, 1, 2**62 - 1, client_order_id=1))  # id 2: level = INT64_MAX
    out = ex.send(amend(ALICE, order_id=1, new_quantity=2**62 - 1))
    assert one(out, OrderAmended) == OrderAmended(1, 1, ALICE, 1, 2**62 - 1, True)
    assert ex.levels(BUY) == [(1, INT64_MAX - 1, 2)]


def test_price_only_amend_of_a_partly_filled_order_below_min_quantity() -> None:
    """A partial fill may leave fewer than ``min_quantity`` lots open (3 of 8, min 5).

    Moving that order's price changes no quantity, yet the core rejects it with
    INVALID_QUANTITY: the trader can only cancel and re-enter.  Exchanges apply the minimum
    to the quantity an order is entered or amended *to*; this test states that choice.
    """
    ex = exchange(min_quantity=5)
    ex.send(order(ALICE, BUY, 99, 8, client_order_id=1))  # id 1
    ex.send(order(BOB, SELL, 99, 5, client_order_id=1))  # fills 5: 3 left open
    assert ex.queue(BUY, 99) == [(1, 3)]
    assert one(ex.send(amend(ALICE, order_id=1, new_price=98)), OrderAmended).price == 98


# ---------------------------------------------------------------- self-trade prevention


def _queue_with_own_order() -> Exchange:
    """Asks at 100: BOB 2 (id 1), ALICE 5 (id 2), CAROL 3 (id 3); CAROL ask 101x4 (id 4)."""
    ex = exchange()
    ex.send(order(BOB, SELL, 100, 2, client_order_id=1))
    ex.send(order(ALICE, SELL, 100, 5, client_order_id=1))
    ex.send(order(CAROL, SELL, 100, 3, client_order_id=1))
    ex.send(order(CAROL, SELL, 101, 4, client_order_id=2))
    return ex


def test_stp_cancel_taker_stops_and_cancels_the_takers_remainder() -> None:
    ex = _queue_with_own_order()
    out = ex.send(order(ALICE, BUY, 100, 4, client_order_id=2, stp=CANCEL_TAKER))
    assert kinds(out) == ["OrderAccepted", "Fill", "OrderCancelled", "BookDelta"]
    assert fills(out) == [(1, 5, 100, 2, 0, 2)]
    # A GTC taker stopped by STP does not rest: its remainder is cancelled.
    assert cancels(out) == [(5, 2, CancelReason.SELF_TRADE)]
    assert ex.queue(SELL, 100) == [(2, 5), (3, 3)]
    assert ex.levels(BUY) == []


def test_stp_cancel_maker_cancels_own_makers_and_goes_on() -> None:
    ex = _queue_with_own_order()
    out = ex.send(order(ALICE, BUY, 100, 4, client_order_id=2, stp=CANCEL_MAKER))
    assert kinds(out) == ["OrderAccepted", "Fill", "Fill", "OrderCancelled", "BookDelta"]
    assert fills(out) == [(1, 5, 100, 2, 0, 2), (3, 5, 100, 2, 1, 0)]
    assert cancels(out) == [(2, 5, CancelReason.SELF_TRADE)]
    assert deltas(out) == [(SELL, 100, 1, 1)]
    assert ex.queue(SELL, 100) == [(3, 1)]


def test_stp_cancel_both_cancels_maker_and_taker() -> None:
    ex = _queue_with_own_order()
    out = ex.send(order(ALICE, BUY, 101, 9, client_order_id=2, stp=CANCEL_BOTH))
    assert fills(out) == [(1, 5, 100, 2, 0, 7)]
    assert cancels(out) == [(2, 5, CancelReason.SELF_TRADE), (5, 7, CancelReason.SELF_TRADE)]
    assert ex.queue(SELL, 100) == [(3, 3)]
    assert ex.queue(SELL, 101) == [(4, 4)]
    assert ex.levels(BUY) == []


def test_stp_with_fok_that_cannot_fill_changes_nothing() -> None:
    ex = _queue_with_own_order()
    before = ex.state.markets
    for stp in (CANCEL_TAKER, CANCEL_BOTH):
        out = ex.send(order(ALICE, BUY, 100, 4, tif=FOK, stp=stp, client_order_id=2))
        assert reason(out) is RejectReason.FOK_NOT_FILLABLE
    assert ex.state.markets == before
    # With CANCEL_MAKER it fills 2 from BOB and 2 from CAROL, cancelling ALICE's ask.
    out = ex.send(order(ALICE, BUY, 100, 4, tif=FOK, stp=CANCEL_MAKER, client_order_id=2))
    assert fills(out) == [(1, 5, 100, 2, 0, 2), (3, 5, 100, 2, 1, 0)]
    assert cancels(out) == [(2, 5, CancelReason.SELF_TRADE)]


def test_stp_does_not_apply_between_different_accounts() -> None:
    ex = _queue_with_own_order()
    out = ex.send(order(DAVE, BUY, 100, 10, stp=CANCEL_BOTH))
    assert [f[0] for f in fills(out)] == [1, 2, 3]
    assert of(out, OrderCancelled) == []


def test_amend_that_crosses_own_order_is_stopped_by_stp() -> None:
    ex = exchange()
    ex.send(order(ALICE, SELL, 100, 3, client_order_id=1))  # id 1
    ex.send(order(ALICE, BUY, 98, 5, client_order_id=2))  # id 2, CANCEL_TAKER
    out = ex.send(amend(ALICE, order_id=2, new_price=100))
    assert kinds(out) == ["OrderAmended", "OrderCancelled", "BookDelta"]
    assert cancels(out) == [(2, 5, CancelReason.SELF_TRADE)]
    assert deltas(out) == [(BUY, 98, 0, 0)]
    assert ex.queue(SELL, 100) == [(1, 3)]


# ---------------------------------------------------------------- book deltas at a depth


def test_deltas_follow_levels_into_and_out_of_view() -> None:
    ex = exchange(depth=2)
    replica = DeltaReplica()

    def send_and_check(inp: Input) -> list[tuple[Side, int, int, int]]:
        out = ex.send(inp)
        replica.apply(out)
        for side in (BUY, SELL):
            assert replica.levels(1, side) == book_levels(ex.state, 1, side, 2)
        return deltas(out)

    assert send_and_check(order(BOB, SELL, 102, 1, client_order_id=1)) == [
        (SELL, 102, 1, 1)
    ]  # id 1
    assert send_and_check(order(BOB, SELL, 103, 2, client_order_id=2)) == [
        (SELL, 103, 2, 1)
    ]  # id 2
    # 104 is third best: out of view, no delta.
    assert send_and_check(order(BOB, SELL, 104, 3, client_order_id=3)) == []  # id 3
    assert send_and_check(order(CAROL, SELL, 104, 1, client_order_id=1)) == []  # id 4
    # A better level pushes 103 out of view.
    assert send_and_check(order(CAROL, SELL, 101, 4, client_order_id=2)) == [  # id 5
        (SELL, 101, 4, 1),
        (SELL, 103, 0, 0),
    ]
    # Taking out 101 and 102 brings 103 and 104 into view, with their full totals.
    assert send_and_check(order(ALICE, BUY, 102, 5, client_order_id=1, tif=IOC)) == [  # id 6
        (SELL, 101, 0, 0),
        (SELL, 102, 0, 0),
        (SELL, 103, 2, 1),
        (SELL, 104, 4, 2),
    ]
    # A cancel inside the view changes the total only.
    assert send_and_check(cancel(BOB, order_id=3)) == [(SELL, 104, 1, 1)]
    # Bids: best first means descending.
    assert send_and_check(order(ALICE, BUY, 97, 1, client_order_id=2)) == [(BUY, 97, 1, 1)]
    assert send_and_check(order(ALICE, BUY, 99, 1, client_order_id=3)) == [(BUY, 99, 1, 1)]
    assert send_and_check(order(ALICE, BUY, 98, 1, client_order_id=4)) == [
        (BUY, 98, 1, 1),
        (BUY, 97, 0, 0),
    ]
    assert send_and_check(cancel_all(ALICE, 1)) == [
        (BUY, 99, 0, 0),
        (BUY, 98, 0, 0),
    ]


def test_a_change_outside_the_view_publishes_nothing() -> None:
    ex = exchange(depth=1)
    ex.send(order(BOB, SELL, 101, 1, client_order_id=1))
    ex.send(order(BOB, SELL, 102, 1, client_order_id=2))  # id 2, out of view
    assert deltas(ex.send(amend(BOB, order_id=2, new_quantity=5))) == []
    assert deltas(ex.send(cancel(BOB, order_id=2))) == []
