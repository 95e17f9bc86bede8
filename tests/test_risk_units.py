"""Risk, one formula or one reject reason per test, with every number worked out by hand here.

The pure formulas of ``hypermarket.risk`` (``fee``, ``worst_case_fee``, ``initial_margin``,
``band_limit``, ``equity_after_fills``, ``apply_fill``) are called directly; the pre-trade
checks, reduce-only trimming, deposits, withdrawals and position updates are driven through
the core (``tests.support.Exchange``: ``step`` one input at a time, ``check_invariants`` after
each).  Each expected value is derived in a comment from docs/risk.md, the spec, never read
back from the engine: fees ``ceil(N * bps / 10000)``; initial margin
``ceil(|size| * M * mult * im / 10000)``; bands ``M +/- floor(M * b / 10000)``; released entry
rounded up for a long and down for a short; the margin check "every order of the account on
that side filled at its limit, at the worse fee rate", whose fees are
``ceil(N * rate / 10000) + one unit per lot`` (nothing without a positive rate).  The last
section checks that this allowance covers fees charged fill by fill, each rounded up: an order
accepted at a mark leaves its account covering initial margin at that mark.
"""

from __future__ import annotations

import msgspec
import pytest

from hypermarket.models import (
    EMPTY_ACCOUNT,
    INT64_MAX,
    Account,
    CancelReason,
    Fill,
    Input,
    MarketStatus,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    Output,
    PositionUpdate,
    Rejected,
    RejectReason,
    Side,
    TimeInForce,
    UpsertMarket,
)
from hypermarket.risk.accounts import apply_fill, cash
from hypermarket.risk.margin import (
    band_limit,
    equity_after_fills,
    fee,
    initial_margin,
    worst_case_fee,
)
from tests.support import (
    ALICE,
    BOB,
    BUY,
    CAROL,
    COMFORTABLE_COLLATERAL,
    DAVE,
    FOK,
    IOC,
    MARKET,
    SELL,
    Exchange,
    all_kinds,
    amend,
    config,
    deposit,
    margin_account,
    mark,
    market_order,
    of,
    one,
    order,
    set_status,
    withdraw,
    wrap,
)

C = COMFORTABLE_COLLATERAL


def risk_exchange(
    deposits: dict[bytes, int], *, mark_price: int = 100, **overrides: object
) -> Exchange:
    """Market 1 (multiplier 1, no fees, initial margin 10 % unless overridden), then the
    deposits in the given order, then a ``PriceUpdate`` at ``mark_price`` (none if 0)."""
    ex = Exchange()
    assert all_kinds(ex.send(wrap(UpsertMarket(config(1, **overrides), 1)))) == ["MarketUpdated"]
    for who, amount in deposits.items():
        ex.send(deposit(who, 1, amount))
    if mark_price:
        ex.send(mark(1, mark_price))
    return ex


def comfortable(**overrides: object) -> Exchange:
    """Market 1 with ALICE, BOB, CAROL and DAVE funded far beyond any margin (mark 100)."""
    ex = Exchange()
    ex.open_market(1, accounts=(ALICE, BOB, CAROL, DAVE), **overrides)
    return ex


def reason(outputs: list[Output]) -> RejectReason:
    """The reason of the single OrderRejected or Rejected among ``outputs``."""
    found = [o.body.reason for o in outputs if isinstance(o.body, OrderRejected | Rejected)]
    assert len(found) == 1, outputs
    return found[0]


def accepted(outputs: list[Output]) -> bool:
    return bool(of(outputs, OrderAccepted))


def position_updates(outputs: list[Output]) -> list[tuple[bytes, int, int, int, int]]:
    """Position updates as (account, size, entry notional, collateral, realized PnL)."""
    return [
        (p.account, p.size, p.entry_notional, p.collateral, p.realized_pnl)
        for p in of(outputs, PositionUpdate)
    ]


def go_long(ex: Exchange, who: bytes, lots: int, *, client_order_id: int = 1) -> None:
    """``who`` buys ``lots`` at 100 from BOB (BOB's ask, then ``who``'s crossing bid)."""
    ex.send(order(BOB, SELL, 100, lots, client_order_id=90 + client_order_id))
    out = ex.send(order(who, BUY, 100, lots, client_order_id=client_order_id))
    assert sum(f.quantity for f in of(out, Fill)) == lots


def reduce_only_market(who: bytes, side: Side, qty: int, client_order_id: int) -> Input:
    """A reduce-only MARKET IOC order."""
    return order(
        who, side, 0, qty, client_order_id=client_order_id, order_type=MARKET, tif=IOC,
        reduce_only=True,
    )  # fmt: skip


def without_mark(ex: Exchange) -> None:
    """Clear market 1's mark price in the exchange's state.

    No input can do this (a ``PriceUpdate`` needs a positive mark, and every order needs one),
    so the tests that need a position without a mark build that state directly.
    """
    markets = ex.state.markets
    stripped = msgspec.structs.replace(markets[1], mark_price=0, index_price=0)
    ex.state = msgspec.structs.replace(ex.state, markets=markets.set(1, stripped))


# ================================================================ the formulas themselves

# ---------------------------------------------------------------- fee = ceil(N * bps / 10000)


@pytest.mark.parametrize(
    ("notional", "fee_bps", "expected"),
    [
        # positive fees round up
        (40_200, 10, 41),  # 40200 * 10 / 10000 = 40.2 -> 41
        (20_950, 10, 21),  # 20.95 -> 21
        (10_001, 1, 2),  # 1.0001 -> 2
        # rebates (negative bps) round toward zero: the exchange pays less
        (40_200, -2, -8),  # -80400 / 10000 = -8.04 -> -8
        (20_950, -2, -4),  # -4.19 -> -4
        (19_999, -5, -9),  # -9.9995 -> -9
        # exact multiples are not rounded at all
        (50_000, 10, 50),  # 50.0
        (50_000, -2, -10),  # -10.0
        (10_000, 1, 1),  # 1.0
        (123_456, 10_000, 123_456),  # 100 %: the whole notional
        # tiny notionals
        (1, 1, 1),  # 0.0001 -> 1: any positive fee is at least one unit
        (9_999, 1, 1),  # 0.9999 -> 1
        (1, -1, 0),  # -0.0001 -> 0: a rebate below one unit is nothing
        (9_999, -1, 0),  # -0.9999 -> 0
        (1, 10_000, 1),  # exactly 1
        # no fee
        (123_456, 0, 0),
    ],
)
def test_fee_rounds_up_and_rebates_toward_zero(notional: int, fee_bps: int, expected: int) -> None:
    assert fee(notional, fee_bps) == expected


def test_fees_of_a_trade_in_the_fills_position_updates_and_fee_account() -> None:
    """Multiplier 100, taker 10 bps, maker rebate 2 bps; one taker sweeps three makers."""
    ex = risk_exchange(
        {ALICE: 10**6, BOB: 10**6, CAROL: 10**6, DAVE: 10**6},
        contract_multiplier=100,
        taker_fee_bps=10,
        maker_fee_bps=-2,
    )
    ex.send(order(BOB, SELL, 100, 1, client_order_id=1))  # #1
    ex.send(order(CAROL, SELL, 100, 2, client_order_id=1))  # #2, behind #1 at 100
    ex.send(order(BOB, SELL, 101, 1, client_order_id=2))  # #3
    out = ex.send(order(DAVE, BUY, 101, 4, client_order_id=1))  # #4
    # fill 1: 1 @ 100, N = 100 * 1 * 100 = 10_000: taker ceil(10.0) = 10, maker ceil(-2.0) = -2
    # fill 2: 2 @ 100, N = 20_000: taker 20, maker -4
    # fill 3: 1 @ 101, N = 10_100: taker ceil(10.1) = 11, maker ceil(-2.02) = -2
    fees = [
        (f.maker_order_id, f.price, f.quantity, f.maker_fee, f.taker_fee) for f in of(out, Fill)
    ]
    assert fees == [(1, 100, 1, -2, 10), (2, 100, 2, -4, 20), (3, 101, 1, -2, 11)]
    # The taker first, then the makers in fill order, one update per account (BOB's last state):
    #   DAVE:  +4 lots, entry 10_000 + 20_000 + 10_100 = 40_100, collateral 10**6 - 41
    #   BOB:   -2 lots, entry 10_000 + 10_100 = 20_100, collateral 10**6 + 2 + 2
    #   CAROL: -2 lots, entry 20_000, collateral 10**6 + 4
    assert position_updates(out) == [
        (DAVE, 4, 40_100, 10**6 - 41, 0),
        (BOB, -2, 20_100, 10**6 + 4, 0),
        (CAROL, -2, 20_000, 10**6 + 4, 0),
    ]
    assert all_kinds(out)[-3:] == ["PositionUpdate"] * 3
    # Fee account: 10 + 20 + 11 - 2 - 4 - 2 = 33.
    assert ex.state.markets[1].fee_balance == 33


# ---------------------------------------------------------------- initial margin


@pytest.mark.parametrize(
    ("size", "mark_price", "multiplier", "im_bps", "expected"),
    [
        (3, 2000, 10, 1000, 6000),  # 3 * 2000 * 10 = 60_000; * 10 % = 6000 exactly
        (-3, 2000, 10, 1000, 6000),  # a short needs the same
        (1, 2001, 1, 333, 67),  # 2001 * 333 / 10000 = 66.6333 -> 67
        (2, 90, 1, 1000, 18),  # 180 * 10 % = 18 exactly
        (1, 1, 1, 1, 1),  # 0.0001 -> 1
        (7, 99, 3, 1, 1),  # 2079 * 1 / 10000 = 0.2079 -> 1
        (0, 2000, 10, 1000, 0),  # flat: nothing
        (5, 100, 1, 10_000, 500),  # 100 %: the whole notional
    ],
)
def test_initial_margin_rounds_up(
    size: int, mark_price: int, multiplier: int, im_bps: int, expected: int
) -> None:
    cfg = config(
        1, contract_multiplier=multiplier, initial_margin_bps=im_bps, maintenance_margin_bps=1
    )
    assert initial_margin(size, mark_price, cfg) == expected


def test_equity_after_fills_of_the_worked_example() -> None:
    """docs/risk.md: B (collateral 5000, flat) bids 3 @ 2020 at mark 2000."""
    cfg = config(1, contract_multiplier=10, taker_fee_bps=10, maker_fee_bps=-2)
    # N = 3 * 2020 * 10 = 60_600; fees' at max(10, -2, 0): ceil(60.6) + 3 lots = 64
    # cash' = 5000 - 60_600 - 64 = -55_664; equity' = -55_664 + 3 * 2000 * 10 = 4336
    # IM' = ceil(3 * 2000 * 10 * 1000 / 10000) = 6000
    assert equity_after_fills(Account(5000), BUY, 3, 3 * 2020, 2000, cfg) == (4336, 6000)
    # The same account selling 3 @ 1990: fees' = ceil(59.7) + 3 = 63;
    # cash' = 5000 + 59_700 - 63 = 64_637; equity' = 64_637 - 60_000 = 4637; IM' 6000.
    assert equity_after_fills(Account(5000), SELL, 3, 3 * 1990, 2000, cfg) == (4637, 6000)
    # Without a positive fee rate nothing is counted: fees' = 0,
    # equity' = 5000 - 60_600 + 60_000 = 4400.
    free = config(1, contract_multiplier=10)
    assert equity_after_fills(Account(5000), BUY, 3, 3 * 2020, 2000, free) == (4400, 6000)


@pytest.mark.parametrize(
    ("notional", "lots", "fee_bps", "expected"),
    [
        (60_600, 3, 10, 64),  # ceil(60.6) + 3
        (200, 2, 10, 3),  # ceil(0.2) + 2: two fills of 1 lot are charged 1 + 1 = 2 <= 3
        (10_000, 1, 10, 11),  # an exact fee still gets its unit per lot
        (10_000, 5, 0, 0),  # no positive rate: no fee, no rounding allowance
        (10_000, 5, -3, 0),
    ],
)
def test_worst_case_fee_adds_one_unit_per_lot(
    notional: int, lots: int, fee_bps: int, expected: int
) -> None:
    assert worst_case_fee(notional, lots, fee_bps) == expected


# ---------------------------------------------------------------- band limits


@pytest.mark.parametrize(
    ("mark_price", "band_bps", "buy_limit", "sell_limit"),
    [
        (2100, 500, 2205, 1995),  # 2100 * 5 % = 105 exactly
        (2099, 500, 2203, 1995),  # 104.95 -> floor 104
        (95, 500, 99, 91),  # 4.75 -> 4
        (99, 100, 99, 99),  # 0.99 -> 0: the band shrinks to the mark itself
        (100, 10_000, 200, 0),  # 100 %
    ],
)
def test_band_limit_floors_the_offset(
    mark_price: int, band_bps: int, buy_limit: int, sell_limit: int
) -> None:
    assert band_limit(BUY, mark_price, band_bps) == buy_limit
    assert band_limit(SELL, mark_price, band_bps) == sell_limit


# ---------------------------------------------------------------- apply_fill

# Multiplier 10 throughout.  Each case also checks the conservation rule of docs/risk.md:
# cash (collateral - signed entry) moves by exactly the notional (-N buying, +N selling),
# less the fee, whatever the rounding of the released entry.
APPLY_FILL_CASES = [
    # id, before, side, price, qty, fee, after
    # open long: entry 2 * 2010 * 10 = 40_200, the fee comes off collateral
    ("open long", EMPTY_ACCOUNT, BUY, 2010, 2, 41, Account(-41, 2, 40_200, 0)),
    # open short: a rebate of 8 is credited
    ("open short", EMPTY_ACCOUNT, SELL, 2010, 2, -8, Account(8, -2, 40_200, 0)),
    # add to a long: entry 40_200 + 1 * 2100 * 10 = 61_200
    ("add long", Account(1000, 2, 40_200, 0), BUY, 2100, 1, 0, Account(1000, 3, 61_200, 0)),
    # add to a short
    ("add short", Account(1000, -2, 40_200, 0), SELL, 2100, 1, 5, Account(995, -3, 61_200, 0)),
    # partial close of a long, released rounded UP: ceil(61_201 * 1 / 3) = ceil(20_400.33) = 20_401
    # realized = 1 * 2000 * 10 - 20_401 = -401; entry 61_201 - 20_401 = 40_800
    (
        "partial close long",
        Account(1000, 3, 61_201, 0),
        SELL, 2000, 1, 0,
        Account(599, 2, 40_800, -401),
    ),
    # partial close of a short, released rounded DOWN: floor(61_201 / 3) = 20_400
    # realized = 20_400 - 20_000 = 400; entry 61_201 - 20_400 = 40_801
    (
        "partial close short",
        Account(1000, -3, 61_201, 7),
        BUY, 2000, 1, 0,
        Account(1400, -2, 40_801, 407),
    ),
    # full close of a long: released = all 40_200; realized 2 * 2095 * 10 - 40_200 = 1700
    # collateral 5000 + 1700 - 42 (fee)
    ("full close long", Account(5000, 2, 40_200, 0), SELL, 2095, 2, 42, Account(6658, 0, 0, 1700)),
    # full close of a short: realized 40_200 - 41_900 = -1700
    ("full close short", Account(5000, -2, 40_200, 0), BUY, 2095, 2, 0, Account(3300, 0, 0, -1700)),
    # flip long 2 -> short 3: closes 2 (released ceil(40_201 * 2 / 2) = 40_201,
    # realized 40_000 - 40_201 = -201), then opens 3 at 2000: entry 60_000
    # collateral 5000 - 201 - 10; realized 10 - 201 = -191
    ("flip long", Account(5000, 2, 40_201, 10), SELL, 2000, 5, 10, Account(4789, -3, 60_000, -191)),
    # flip short 2 -> long 1: released 40_201, realized 40_201 - 40_000 = 201; entry 1 * 20_000
    ("flip short", Account(5000, -2, 40_201, 0), BUY, 2000, 3, 0, Account(5201, 1, 20_000, 201)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "side", "price", "qty", "fee_paid", "after"),
    [case[1:] for case in APPLY_FILL_CASES],
    ids=[str(case[0]) for case in APPLY_FILL_CASES],
)
def test_apply_fill(
    before: Account, side: Side, price: int, qty: int, fee_paid: int, after: Account
) -> None:
    got = apply_fill(before, side, price, qty, 10, fee_paid)
    assert got == after
    notional = price * qty * 10
    assert cash(got) - cash(before) == (-notional if side is BUY else notional) - fee_paid


def test_released_entry_rounding_favours_the_exchange_on_both_sides() -> None:
    """Closing 1 of 3 lots bought (or sold) for 301 in total, multiplier 1, at price 100.

    Long: released ceil(301 / 3) = ceil(100.33) = 101, realized 100 - 101 = -1 (not 0).
    Short: released floor(301 / 3) = 100, realized 100 - 100 = 0 (not +1).
    """
    long_after = apply_fill(Account(0, 3, 301, 0), SELL, 100, 1, 1, 0)
    assert (long_after.entry_notional, long_after.realized_pnl) == (200, -1)
    short_after = apply_fill(Account(0, -3, 301, 0), BUY, 100, 1, 1, 0)
    assert (short_after.entry_notional, short_after.realized_pnl) == (201, 0)


# ================================================================ pre-trade checks in the core

# ---------------------------------------------------------------- NO_MARK_PRICE


def test_no_mark_price_for_limit_and_market_orders() -> None:
    ex = risk_exchange({ALICE: C, BOB: C}, mark_price=0)
    assert reason(ex.send(order(ALICE, BUY, 100, 1))) is RejectReason.NO_MARK_PRICE
    assert reason(ex.send(order(ALICE, SELL, 100, 1, tif=IOC))) is RejectReason.NO_MARK_PRICE
    assert reason(ex.send(market_order(ALICE, BUY, 1))) is RejectReason.NO_MARK_PRICE
    # NO_MARK_PRICE (14) comes before PRICE_OUT_OF_BAND (15): no band can be drawn without a mark.
    banded = risk_exchange({ALICE: C}, mark_price=0, price_band_bps=500)
    assert reason(banded.send(order(ALICE, BUY, 10**6, 1))) is RejectReason.NO_MARK_PRICE
    # The first PriceUpdate lets the same order in.
    ex.send(mark(1, 100))
    assert accepted(ex.send(order(ALICE, BUY, 100, 1)))


# ---------------------------------------------------------------- PRICE_OUT_OF_BAND


@pytest.mark.parametrize(
    ("side", "price", "ok"),
    [
        # mark 2099, band 500 bps: offset floor(2099 * 500 / 10000) = floor(104.95) = 104
        (BUY, 2203, True),  # 2099 + 104: on the edge
        (BUY, 2204, False),  # one tick above
        (BUY, 1000, True),  # a buy far below the mark is no risk to the band
        (SELL, 1995, True),  # 2099 - 104: on the edge
        (SELL, 1994, False),  # one tick below
        (SELL, 5000, True),
    ],
)
def test_limit_price_band(side: Side, price: int, ok: bool) -> None:
    ex = risk_exchange({ALICE: C}, mark_price=2099, price_band_bps=500)
    out = ex.send(order(ALICE, side, price, 1))
    if ok:
        assert accepted(out)
    else:
        assert reason(out) is RejectReason.PRICE_OUT_OF_BAND


def test_market_buy_does_not_trade_past_the_band() -> None:
    # mark 100, band 500 bps: protection 100 + floor(100 * 5 %) = 105.
    ex = risk_exchange({ALICE: C, BOB: C}, price_band_bps=500)
    for n, price in enumerate((104, 105, 106), 1):
        ex.send(order(BOB, SELL, price, 1, client_order_id=n))  # #1, #2, #3
    out = ex.send(market_order(ALICE, BUY, 3, client_order_id=1))
    assert [(f.price, f.quantity) for f in of(out, Fill)] == [(104, 1), (105, 1)]
    assert one(out, OrderCancelled).reason is CancelReason.IOC_REMAINDER
    assert ex.levels(SELL) == [(106, 1, 1)]
    # A FOK market buy of 1 cannot fill: only 106 is left, beyond the protection price 105.
    assert reason(ex.send(market_order(ALICE, BUY, 1, tif=FOK))) is RejectReason.FOK_NOT_FILLABLE


def test_market_sell_does_not_trade_past_the_band() -> None:
    # protection 100 - 5 = 95
    ex = risk_exchange({ALICE: C, BOB: C}, price_band_bps=500)
    for n, price in enumerate((96, 95, 94), 1):
        ex.send(order(BOB, BUY, price, 1, client_order_id=n))
    out = ex.send(market_order(ALICE, SELL, 3))
    assert [(f.price, f.quantity) for f in of(out, Fill)] == [(96, 1), (95, 1)]
    assert ex.levels(BUY) == [(94, 1, 1)]


def test_market_order_without_a_band_sweeps_the_side() -> None:
    ex = risk_exchange({ALICE: C, BOB: C})
    for n, price in enumerate((104, 105, 106), 1):
        ex.send(order(BOB, SELL, price, 1, client_order_id=n))
    out = ex.send(market_order(ALICE, BUY, 3))
    assert [f.price for f in of(out, Fill)] == [104, 105, 106]


def test_amend_that_grows_must_be_inside_the_band_a_shrink_need_not() -> None:
    ex = risk_exchange({ALICE: C}, price_band_bps=500)
    ex.send(order(ALICE, BUY, 104, 2, client_order_id=1))  # #1, inside 105
    # Mark 95: the buy edge is now 95 + floor(4.75) = 99, and #1 at 104 lies outside it.
    ex.send(mark(1, 95))
    out = ex.send(amend(ALICE, order_id=1, new_quantity=1))  # a shrink is never risk-checked
    assert one(out, OrderAmended).kept_priority
    grow = ex.send(amend(ALICE, order_id=1, new_quantity=3))
    assert reason(grow) is RejectReason.PRICE_OUT_OF_BAND
    assert (
        reason(ex.send(amend(ALICE, order_id=1, new_price=100))) is RejectReason.PRICE_OUT_OF_BAND
    )
    moved = one(ex.send(amend(ALICE, order_id=1, new_price=99)), OrderAmended)
    assert (moved.price, moved.quantity, moved.kept_priority) == (99, 1, False)


# ---------------------------------------------------------------- REDUCE_ONLY_WOULD_INCREASE


def test_reduce_only_must_not_open_or_grow_a_position() -> None:
    ex = comfortable()
    # CAROL is flat: any reduce-only order would open a position.
    for side in (BUY, SELL):
        out = ex.send(order(CAROL, side, 100, 1, reduce_only=True))
        assert reason(out) is RejectReason.REDUCE_ONLY_WOULD_INCREASE
    go_long(ex, ALICE, 3)  # ALICE long 3
    ro = RejectReason.REDUCE_ONLY_WOULD_INCREASE
    # A reduce-only buy would grow the long.
    assert reason(ex.send(order(ALICE, BUY, 99, 1, client_order_id=2, reduce_only=True))) is ro
    # 4 > 3: more than closes the position.
    assert reason(ex.send(order(ALICE, SELL, 101, 4, client_order_id=2, reduce_only=True))) is ro
    assert accepted(ex.send(order(ALICE, SELL, 101, 2, client_order_id=2, reduce_only=True)))
    # 2 + the 2 already in reduce-only sells = 4 > 3.
    assert reason(ex.send(order(ALICE, SELL, 102, 2, client_order_id=3, reduce_only=True))) is ro
    # Plain sells do not count against reduce-only ones.
    assert accepted(ex.send(order(ALICE, SELL, 103, 5, client_order_id=3)))
    # 1 + 2 = 3: exactly what closes the position.
    assert accepted(ex.send(order(ALICE, SELL, 102, 1, client_order_id=4, reduce_only=True)))
    assert reason(ex.send(order(ALICE, SELL, 102, 1, client_order_id=5, reduce_only=True))) is ro


def test_reduce_only_market_order_is_judged_on_what_it_traded() -> None:
    ex = comfortable()
    go_long(ex, ALICE, 3)  # #1 BOB's ask, #2 ALICE's bid
    ex.send(order(CAROL, BUY, 99, 2, client_order_id=1))  # #3
    ex.send(order(CAROL, BUY, 98, 2, client_order_id=2))  # #4
    before = ex.state
    # The trial trades 2 @ 99 + 2 @ 98 = 4 lots > 3: rejected, and the trial is discarded.
    out = ex.send(reduce_only_market(ALICE, SELL, 4, 2))
    assert all_kinds(out) == ["OrderRejected"]
    assert reason(out) is RejectReason.REDUCE_ONLY_WOULD_INCREASE
    assert ex.state.markets == before.markets
    assert ex.state.next_order_id == before.next_order_id
    # 3 lots trade 2 @ 99 and 1 @ 98, and close the position.
    out = ex.send(reduce_only_market(ALICE, SELL, 3, 2))
    assert [(f.price, f.quantity) for f in of(out, Fill)] == [(99, 2), (98, 1)]
    assert margin_account(ex.state, 1, ALICE)[1] == 0


def test_reduce_only_market_order_counts_resting_reduce_only_orders() -> None:
    ex = comfortable()
    go_long(ex, ALICE, 3)
    ex.send(order(ALICE, SELL, 120, 1, client_order_id=2, reduce_only=True))  # #3
    ex.send(order(CAROL, BUY, 99, 5, client_order_id=1))  # #4
    # Trades 3, plus the resting reduce-only 1 = 4 > 3.
    out = ex.send(reduce_only_market(ALICE, SELL, 3, 3))
    assert reason(out) is RejectReason.REDUCE_ONLY_WOULD_INCREASE
    out = ex.send(reduce_only_market(ALICE, SELL, 2, 3))
    assert sum(f.quantity for f in of(out, Fill)) == 2


# ---------------------------------------------------------------- reduce-only follows the position


def test_reduce_only_orders_are_trimmed_newest_first_after_a_step() -> None:
    ex = comfortable()
    go_long(ex, ALICE, 5)  # #1 BOB, #2 ALICE: long 5, entry 500
    ex.send(order(ALICE, SELL, 110, 3, client_order_id=2, reduce_only=True))  # #3, older
    ex.send(order(ALICE, SELL, 111, 2, client_order_id=3, reduce_only=True))  # #4, newer
    ex.send(order(BOB, SELL, 110, 1, client_order_id=2))  # #5, behind #3 at 110
    ex.send(order(CAROL, BUY, 99, 3, client_order_id=1))  # #6
    # A plain sell of 3 leaves ALICE long 2; her reduce-only sells add up to 5: 3 too many.
    out = ex.send(order(ALICE, SELL, 99, 3, client_order_id=4, tif=IOC))  # #7
    assert all_kinds(out) == [
        "OrderAccepted",
        "Fill",
        "OrderCancelled",  # the newest, #4 (2 lots), goes whole ...
        "OrderAmended",  # ... then #3 gives up the last lot: 3 -> 2, keeping its place
        "BookDelta",
        "BookDelta",
        "BookDelta",
        "PositionUpdate",
        "PositionUpdate",
    ]
    assert one(out, OrderCancelled) == OrderCancelled(4, 3, ALICE, 2, CancelReason.REDUCE_ONLY)
    assert one(out, OrderAmended) == OrderAmended(3, 2, ALICE, 110, 2, kept_priority=True)
    assert ex.queue(SELL, 110) == [(3, 2), (5, 1)]
    assert ex.levels(SELL) == [(110, 3, 2)]
    # ALICE sold 3 of 5 lots bought for 500: released ceil(500 * 3 / 5) = 300,
    # realized 3 * 99 - 300 = -3.  CAROL bought 3 @ 99.
    assert position_updates(out) == [(ALICE, 2, 200, C - 3, -3), (CAROL, 3, 297, C, 0)]


def test_reduce_only_orders_are_cancelled_when_the_position_flips() -> None:
    ex = comfortable()
    go_long(ex, ALICE, 2)
    ex.send(order(ALICE, SELL, 110, 2, client_order_id=2, reduce_only=True))  # #3
    ex.send(order(CAROL, BUY, 99, 4, client_order_id=1))  # #4
    out = ex.send(order(ALICE, SELL, 99, 4, client_order_id=3))  # ALICE: long 2 -> short 2
    assert one(out, OrderCancelled) == OrderCancelled(3, 2, ALICE, 2, CancelReason.REDUCE_ONLY)
    assert ex.levels(SELL) == []


def test_reduce_only_maker_is_clamped_during_matching_then_cancelled() -> None:
    ex = comfortable()
    go_long(ex, ALICE, 3)  # #1, #2: ALICE long 3, entry 300
    ex.send(order(ALICE, SELL, 100, 2, client_order_id=2))  # #3, plain
    ex.send(order(ALICE, SELL, 101, 3, client_order_id=3, reduce_only=True))  # #4: 3 <= 3
    ex.send(order(CAROL, SELL, 102, 2, client_order_id=1))  # #5
    out = ex.send(order(DAVE, BUY, 102, 5, client_order_id=1))  # #6
    # #3 trades 2 @ 100: ALICE long 1.  #4 may trade only 1 lot (what still reduces), keeps 2;
    # the walk comes back to it with nothing left to reduce and cancels it; #5 fills the rest.
    assert [
        (f.maker_order_id, f.price, f.quantity, f.maker_remaining, f.taker_remaining)
        for f in of(out, Fill)
    ] == [(3, 100, 2, 0, 3), (4, 101, 1, 2, 2), (5, 102, 2, 0, 0)]
    assert one(out, OrderCancelled) == OrderCancelled(4, 3, ALICE, 2, CancelReason.REDUCE_ONLY)
    assert all_kinds(out) == [
        "OrderAccepted",
        *["Fill"] * 3,
        "OrderCancelled",
        *["BookDelta"] * 3,
        *["PositionUpdate"] * 3,
    ]
    # ALICE: released ceil(300 * 2 / 3) = 200 against 200 received, then 100 against 101:
    # realized 0 + 1 = 1, flat.  DAVE: 200 + 101 + 204 = 505 for 5 lots.
    assert position_updates(out) == [
        (DAVE, 5, 505, C, 0),
        (ALICE, 0, 0, C + 1, 1),
        (CAROL, -2, 204, C, 0),
    ]


def test_reduce_only_maker_with_nothing_to_reduce_is_cancelled_without_trading() -> None:
    ex = comfortable()
    go_long(ex, ALICE, 2)
    ex.send(order(ALICE, SELL, 101, 2, client_order_id=2))  # #3, plain
    ex.send(order(ALICE, SELL, 101, 2, client_order_id=3, reduce_only=True))  # #4, behind it
    out = ex.send(order(DAVE, BUY, 101, 4, client_order_id=1))  # #5
    assert [(f.maker_order_id, f.quantity) for f in of(out, Fill)] == [(3, 2)]
    assert one(out, OrderCancelled) == OrderCancelled(4, 3, ALICE, 2, CancelReason.REDUCE_ONLY)
    assert ex.levels(BUY) == [(101, 2, 1)]  # DAVE's remainder rests
    assert ex.levels(SELL) == []


# ---------------------------------------------------------------- POSITION_LIMIT


def test_position_limit_counts_open_orders_on_the_side() -> None:
    ex = comfortable(max_position=5)
    go_long(ex, ALICE, 2)  # long 2
    limit = RejectReason.POSITION_LIMIT
    assert reason(ex.send(order(ALICE, BUY, 99, 4, client_order_id=2))) is limit  # 2 + 4 = 6
    assert accepted(ex.send(order(ALICE, BUY, 99, 3, client_order_id=2)))  # 2 + 3 = 5
    assert reason(ex.send(order(ALICE, BUY, 98, 1, client_order_id=3))) is limit  # 2 + 3 + 1
    # The sell side counts its own orders: 2 - 7 = -5 is within the limit, 2 - 8 = -6 is not.
    assert accepted(ex.send(order(ALICE, SELL, 101, 7, client_order_id=3)))
    assert reason(ex.send(order(ALICE, SELL, 102, 1, client_order_id=4))) is limit


def test_position_limit_of_a_market_order_uses_what_it_traded() -> None:
    ex = comfortable(max_position=5)
    go_long(ex, ALICE, 2)
    ex.send(order(ALICE, BUY, 98, 3, client_order_id=2))  # 2 + 3 = 5
    # With the ask side empty a market buy trades nothing: 5 stays within the limit.
    out = ex.send(market_order(ALICE, BUY, 1, client_order_id=3))
    assert accepted(out)
    assert one(out, OrderCancelled).reason is CancelReason.IOC_REMAINDER
    ex.send(order(BOB, SELL, 100, 1, client_order_id=1))
    before = ex.state
    out = ex.send(market_order(ALICE, BUY, 1, client_order_id=3))  # trades 1: 2 + 3 + 1 = 6
    assert all_kinds(out) == ["OrderRejected"]
    assert reason(out) is RejectReason.POSITION_LIMIT
    assert ex.state.markets == before.markets


# ---------------------------------------------------------------- INSUFFICIENT_MARGIN


def test_insufficient_margin_counts_the_other_resting_orders_on_the_side() -> None:
    # Multiplier 1, taker 10 bps, maker 0, initial margin 10 %, mark 100; ALICE has 34.
    # fees' = ceil(N * 10 / 10000) + one unit per lot.
    ex = risk_exchange({ALICE: 34}, taker_fee_bps=10)
    # Bid 2 @ 100: N = 200, fees' = ceil(0.2) + 2 = 3; cash' = 34 - 200 - 3 = -169;
    # equity' = -169 + 2 * 100 = 31 >= IM' ceil(200 * 10 %) = 20.
    assert accepted(ex.send(order(ALICE, BUY, 100, 2, client_order_id=1)))
    # Bid 1 @ 100 with the 2 resting: N = 300, fees' = ceil(0.3) + 3 = 4;
    # equity' = 34 - 300 - 4 + 300 = 30 = IM' 30: equality is enough.
    assert accepted(ex.send(order(ALICE, BUY, 100, 1, client_order_id=2)))
    # Bid 1 @ 99 with the 3 resting: N = 399, fees' = ceil(0.399) + 4 = 5;
    # equity' = 34 - 399 - 5 + 400 = 30 < IM' 40.
    # (Alone it would pass: 34 - 99 - (1 + 1) + 100 = 33 >= 10.)
    out = ex.send(order(ALICE, BUY, 99, 1, client_order_id=3))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN
    # The buys do not count on the sell side: sell 2 @ 101: N = 202, fees' = 1 + 2 = 3;
    # cash' = 34 + 202 - 3 = 233; equity' = 233 - 2 * 100 = 33 >= 20.
    assert accepted(ex.send(order(ALICE, SELL, 101, 2, client_order_id=3)))
    # 2 more @ 101 with those 2: N = 404, fees' = 1 + 4 = 5;
    # equity' = 34 + 404 - 5 - 400 = 33 < IM' 40.
    out = ex.send(order(ALICE, SELL, 101, 2, client_order_id=4))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN
    assert ex.levels(BUY) == [(100, 3, 2)]
    assert ex.levels(SELL) == [(101, 2, 1)]


@pytest.mark.parametrize(
    ("taker_bps", "maker_bps", "fees_counted"),
    [
        (0, 30, 31),  # the maker rate is the worse one: 30, plus 1 unit for the 1 lot
        (30, 0, 31),  # the taker rate is the worse one
        (5, -5, 6),
        (3, -3, 4),  # a rebate never lowers the fee counted
        (0, 0, 0),  # no positive rate: nothing, not even the unit per lot
    ],
)
def test_margin_check_charges_the_worse_fee_rate(
    taker_bps: int, maker_bps: int, fees_counted: int
) -> None:
    # Multiplier 100: a bid 1 @ 100 is N = 10_000 money; the fee at r bps is exactly r, and
    # fees' = r + 1 (one unit per lot) when r > 0.
    # equity' = D - 10_000 - fees' + 1 * 100 * 100 = D - fees'; IM' = 10_000 * 10 % = 1000.
    need = 1000 + fees_counted
    cfg = {"contract_multiplier": 100, "taker_fee_bps": taker_bps, "maker_fee_bps": maker_bps}
    short_by_one = risk_exchange({ALICE: need - 1}, **cfg)
    out = short_by_one.send(order(ALICE, BUY, 100, 1))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN
    assert accepted(risk_exchange({ALICE: need}, **cfg).send(order(ALICE, BUY, 100, 1)))


def test_insufficient_margin_of_a_market_order_is_checked_on_what_it_traded() -> None:
    # No fees, initial margin 10 %, mark 100.  BOB asks 1 @ 100 and 1 @ 110; ALICE has 29.
    ex = risk_exchange({ALICE: 29, BOB: C})
    ex.send(order(BOB, SELL, 100, 1, client_order_id=1))
    ex.send(order(BOB, SELL, 110, 1, client_order_id=2))
    before = ex.state
    # Market buy 2 trades 100 + 110 = 210: equity' = 29 - 210 + 200 = 19 < IM' 20.
    out = ex.send(market_order(ALICE, BUY, 2, client_order_id=1))
    # The trial match is thrown away: nothing but the reject, and the market is as it was.
    assert all_kinds(out) == ["OrderRejected"]
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN
    assert ex.state.markets == before.markets
    assert ex.state.next_order_id == before.next_order_id
    ex.send(deposit(ALICE, 1, 1))  # 30
    # A limit buy of 2 @ 110 is judged at its limit: 30 - 220 + 200 = 10 < 20.
    out = ex.send(order(ALICE, BUY, 110, 2, client_order_id=1, tif=IOC))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN
    # The market buy is judged at what it traded: 30 - 210 + 200 = 20 >= 20.
    out = ex.send(market_order(ALICE, BUY, 2, client_order_id=1))
    assert [(f.price, f.quantity) for f in of(out, Fill)] == [(100, 1), (110, 1)]
    assert position_updates(out)[0] == (ALICE, 2, 210, 30, 0)


def test_market_order_margin_counts_resting_orders_on_the_side() -> None:
    ex = risk_exchange({ALICE: 15, BOB: C})
    # Bid 1 @ 99 alone: 15 - 99 + 100 = 16 >= 10.
    assert accepted(ex.send(order(ALICE, BUY, 99, 1, client_order_id=1)))
    ex.send(order(BOB, SELL, 100, 1, client_order_id=1))
    # Market buy 1 trades 1 @ 100; with the bid: 15 - 199 + 200 = 16 < IM' 20.
    # (Alone: 15 - 100 + 100 = 15 >= 10.)
    out = ex.send(market_order(ALICE, BUY, 1, client_order_id=2))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN


def test_amend_counts_the_amended_order_once() -> None:
    ex = risk_exchange({ALICE: 30})
    # Bid 2 @ 100: 30 - 200 + 200 = 30 >= 20.
    ex.send(order(ALICE, BUY, 100, 2, client_order_id=1))  # #1
    # To 3 lots: the old 2 are replaced, not added: 30 - 300 + 300 = 30 >= 30.
    out = ex.send(amend(ALICE, order_id=1, new_quantity=3))
    assert one(out, OrderAmended) == OrderAmended(1, 1, ALICE, 100, 3, kept_priority=False)
    # To 4 lots: 30 < 40.
    assert (
        reason(ex.send(amend(ALICE, order_id=1, new_quantity=4)))
        is RejectReason.INSUFFICIENT_MARGIN
    )
    assert ex.levels(BUY) == [(100, 3, 1)]
    # Mark 50: the bid of 3 is now far under margin (30 - 300 + 150 = -120 < 15), yet a shrink
    # is always allowed; a new price is not: 30 - 99 + 50 = -19 < IM' 5.
    ex.send(mark(1, 50))
    assert one(ex.send(amend(ALICE, order_id=1, new_quantity=1)), OrderAmended).kept_priority
    out = ex.send(amend(ALICE, order_id=1, new_price=99))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN


def test_reduce_only_amend_counts_the_amended_order_once() -> None:
    ex = comfortable()
    go_long(ex, ALICE, 3)
    ex.send(order(ALICE, SELL, 110, 2, client_order_id=2, reduce_only=True))  # #3
    ex.send(order(ALICE, SELL, 111, 1, client_order_id=3, reduce_only=True))  # #4
    # A new price for #3: its own 2 lots + #4's 1 = 3 <= 3.
    assert one(ex.send(amend(ALICE, order_id=3, new_price=109)), OrderAmended).price == 109
    # 3 lots: 3 + 1 = 4 > 3.
    out = ex.send(amend(ALICE, order_id=3, new_quantity=3))
    assert reason(out) is RejectReason.REDUCE_ONLY_WOULD_INCREASE


def test_risk_rejects_come_in_reject_reason_order() -> None:
    # Band 500 bps at mark 100 (buys up to 105), max position 2, ALICE has 1 unit of money.
    ex = risk_exchange({ALICE: 1}, price_band_bps=500, max_position=2)
    # Out of band, and reduce-only on a flat account, and 3 > 2 lots, and no margin:
    assert (
        reason(ex.send(order(ALICE, BUY, 106, 3, reduce_only=True)))
        is RejectReason.PRICE_OUT_OF_BAND
    )
    # Reduce-only, and 3 > 2, and no margin:
    assert (
        reason(ex.send(order(ALICE, BUY, 100, 3, reduce_only=True)))
        is RejectReason.REDUCE_ONLY_WOULD_INCREASE
    )
    # 3 > 2, and no margin:
    assert reason(ex.send(order(ALICE, BUY, 100, 3))) is RejectReason.POSITION_LIMIT
    # No margin: 1 - 200 + 200 = 1 < 20.
    assert reason(ex.send(order(ALICE, BUY, 100, 2))) is RejectReason.INSUFFICIENT_MARGIN
    # POST_ONLY crossing is checked after margin (tests/test_core_orders.py covers it).
    ex.send(deposit(ALICE, 1, 100))
    assert accepted(ex.send(order(ALICE, BUY, 100, 2, tif=TimeInForce.POST_ONLY)))


# ================================================================ deposits and withdrawals


def test_withdraw_needs_the_collateral() -> None:
    ex = risk_exchange({ALICE: 50})
    assert reason(ex.send(withdraw(ALICE, 1, 51))) is RejectReason.INSUFFICIENT_COLLATERAL
    out = ex.send(withdraw(ALICE, 1, 50))  # flat, no orders: all of it may go
    assert all_kinds(out) == ["PositionUpdate"]
    assert position_updates(out) == [(ALICE, 0, 0, 0, 0)]
    assert reason(ex.send(withdraw(ALICE, 1, 1))) is RejectReason.INSUFFICIENT_COLLATERAL
    # An account the market has never seen has nothing to withdraw.
    assert reason(ex.send(withdraw(CAROL, 1, 1))) is RejectReason.INSUFFICIENT_COLLATERAL


@pytest.mark.parametrize("big_side", [BUY, SELL])
def test_withdraw_considers_the_orders_of_both_sides(big_side: Side) -> None:
    """Nine lots on one side, one on the other: whichever side holds the nine binds."""
    ex = risk_exchange({ALICE: 100})
    small_side = SELL if big_side is BUY else BUY
    # Nine lots a tick on the good side of the mark (buy 99 / sell 101):
    #   equity' = C -/+ 891 or 909 +/- 900 = C + 9 against IM' 90: needs C >= 81.
    # One lot on the other side: C + 1 against 10: needs C >= 9.
    big_price = 99 if big_side is BUY else 101
    small_price = 99 if small_side is BUY else 101
    assert accepted(ex.send(order(ALICE, big_side, big_price, 9, client_order_id=1)))
    assert accepted(ex.send(order(ALICE, small_side, small_price, 1, client_order_id=2)))
    # Withdraw 20 leaves 80: 89 < 90 on the big side.
    assert reason(ex.send(withdraw(ALICE, 1, 20))) is RejectReason.INSUFFICIENT_MARGIN
    # Withdraw 19 leaves 81: 90 >= 90.
    out = ex.send(withdraw(ALICE, 1, 19))
    assert position_updates(out) == [(ALICE, 0, 0, 81, 0)]


def test_withdraw_with_a_position_is_priced_at_the_current_mark() -> None:
    ex = risk_exchange({ALICE: 100, BOB: C})
    ex.send(order(BOB, SELL, 100, 2, client_order_id=1))
    ex.send(order(ALICE, BUY, 100, 2, client_order_id=1))  # 100 - 200 + 200 = 100 >= 20
    ex.send(mark(1, 90))
    # cash = 100 - 200 = -100; equity = -100 + 2 * 90 = 80; IM = ceil(180 * 10 %) = 18.
    # Withdraw 63: equity 17 < 18.  Withdraw 62: 18 >= 18.
    assert reason(ex.send(withdraw(ALICE, 1, 63))) is RejectReason.INSUFFICIENT_MARGIN
    out = ex.send(withdraw(ALICE, 1, 62))
    assert position_updates(out) == [(ALICE, 2, 200, 38, 0)]


def test_withdraw_needs_a_mark_only_with_a_position_or_orders() -> None:
    # A market without any PriceUpdate: a flat account without orders moves money freely.
    ex = risk_exchange({ALICE: 100}, mark_price=0)
    assert position_updates(ex.send(withdraw(ALICE, 1, 40))) == [(ALICE, 0, 0, 60, 0)]
    # A position, or only resting orders, need the mark to be priced.
    ex = risk_exchange({ALICE: 100, BOB: C, CAROL: 100, DAVE: 100})
    ex.send(order(BOB, SELL, 100, 1, client_order_id=1))
    ex.send(order(ALICE, BUY, 100, 1, client_order_id=1))  # ALICE long 1
    ex.send(order(CAROL, BUY, 90, 1, client_order_id=1))  # CAROL flat, one bid
    without_mark(ex)
    assert reason(ex.send(withdraw(ALICE, 1, 1))) is RejectReason.NO_MARK_PRICE
    assert reason(ex.send(withdraw(CAROL, 1, 1))) is RejectReason.NO_MARK_PRICE
    assert position_updates(ex.send(withdraw(DAVE, 1, 1))) == [(DAVE, 0, 0, 99, 0)]


@pytest.mark.parametrize("amount", [0, -1, -(10**6)])
@pytest.mark.parametrize("move", [deposit, withdraw])
def test_invalid_amount(move: object, amount: int) -> None:
    ex = risk_exchange({ALICE: 100})
    assert callable(move)
    out = ex.send(move(ALICE, 1, amount))
    assert all_kinds(out) == ["Rejected"]
    assert reason(out) is RejectReason.INVALID_AMOUNT
    assert margin_account(ex.state, 1, ALICE) == (100, 0, 0, 0)


@pytest.mark.parametrize("status", list(MarketStatus))
def test_deposit_works_in_every_market_status(status: MarketStatus) -> None:
    ex = risk_exchange({ALICE: 100})
    ex.send(set_status(1, status, revision=2))
    out = ex.send(deposit(ALICE, 1, 5))
    assert all_kinds(out) == ["PositionUpdate"]
    assert position_updates(out) == [(ALICE, 0, 0, 105, 0)]


def test_deposit_that_would_overflow_collateral() -> None:
    ex = risk_exchange({})
    assert position_updates(ex.send(deposit(ALICE, 1, INT64_MAX))) == [(ALICE, 0, 0, INT64_MAX, 0)]
    before = ex.state
    out = ex.send(deposit(ALICE, 1, 1))
    assert all_kinds(out) == ["Rejected"]
    assert reason(out) is RejectReason.OVERFLOW
    assert ex.state.markets == before.markets


def test_deposit_and_withdraw_publish_the_whole_account() -> None:
    ex = risk_exchange({ALICE: 1000, BOB: C}, taker_fee_bps=10)
    ex.send(order(BOB, SELL, 100, 3, client_order_id=1))
    ex.send(order(ALICE, BUY, 100, 3, client_order_id=1))  # fee ceil(300 * 0.1 %) = 1
    ex.send(order(BOB, BUY, 104, 1, client_order_id=2))
    ex.send(order(ALICE, SELL, 104, 1, client_order_id=2))  # realized 104 - 100 = 4, fee 1
    assert margin_account(ex.state, 1, ALICE) == (1000 - 1 + 4 - 1, 2, 200, 4)
    assert position_updates(ex.send(deposit(ALICE, 1, 10))) == [(ALICE, 2, 200, 1012, 4)]
    assert position_updates(ex.send(withdraw(ALICE, 1, 12))) == [(ALICE, 2, 200, 1000, 4)]


# ================================================================ fees charged fill by fill


def test_limit_order_margin_covers_the_fees_charged_fill_by_fill() -> None:
    """An order accepted at a mark never leaves its account below initial margin at that mark.

    Fees are charged fill by fill, each rounded up; ``fees'`` of the margin check adds one
    unit per lot to the ceiling of the whole to cover that (docs/risk.md, check 6).  Before
    that allowance, ALICE below was accepted with 21 and left with equity 19 < 20.

    Multiplier 1, taker 10 bps, initial margin 10 %, mark 100.  BOB asks 1 @ 100 twice;
    ALICE bids 2 @ 100: fees' = ceil(200 * 0.1 %) + 2 = 3, equity' = D - 200 - 3 + 200 =
    D - 3 against IM' 20: refused with 22, accepted with 23.  The two fills then charge
    ceil(0.1) + ceil(0.1) = 2: collateral 21, equity 21 + (200 - 200) = 21 >= 20.
    """
    ex = risk_exchange({ALICE: 22, BOB: C}, taker_fee_bps=10)
    ex.send(order(BOB, SELL, 100, 1, client_order_id=1))
    ex.send(order(BOB, SELL, 100, 1, client_order_id=2))
    out = ex.send(order(ALICE, BUY, 100, 2, client_order_id=1))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN
    ex.send(deposit(ALICE, 1, 1))
    out = ex.send(order(ALICE, BUY, 100, 2, client_order_id=1))
    assert [f.taker_fee for f in of(out, Fill)] == [1, 1]
    collateral, size, entry, _ = margin_account(ex.state, 1, ALICE)
    assert (collateral, size, entry) == (21, 2, 200)
    assert collateral - entry + size * 100 >= 20


def test_market_order_margin_covers_the_fees_charged_fill_by_fill() -> None:
    """The same for a MARKET order, checked on what it traded.

    BOB asks 1 @ 100 and 1 @ 101; ALICE buys 2 at market: N = 201, fees' = ceil(0.201) + 2
    = 3, equity' = D - 201 - 3 + 200 = D - 4 against IM' 20: refused with 23, accepted with
    24.  Charged: ceil(0.1) + ceil(0.101) = 2: collateral 22, equity 22 - 201 + 200 = 21.
    """
    ex = risk_exchange({ALICE: 23, BOB: C}, taker_fee_bps=10)
    ex.send(order(BOB, SELL, 100, 1, client_order_id=1))
    ex.send(order(BOB, SELL, 101, 1, client_order_id=2))
    out = ex.send(market_order(ALICE, BUY, 2, client_order_id=1))
    assert reason(out) is RejectReason.INSUFFICIENT_MARGIN
    ex.send(deposit(ALICE, 1, 1))
    out = ex.send(market_order(ALICE, BUY, 2, client_order_id=1))
    assert [f.taker_fee for f in of(out, Fill)] == [1, 1]
    collateral, size, entry, _ = margin_account(ex.state, 1, ALICE)
    assert (collateral, size, entry) == (22, 2, 201)
    assert collateral - entry + size * 100 >= 20


def test_resting_order_margin_covers_maker_fees_charged_fill_by_fill() -> None:
    """A resting order filled in pieces pays the maker fee piece by piece.

    Multiplier 1, maker 10 bps, taker 0, initial margin 10 %, mark 100.  ALICE bids 3 @ 100
    with D: fees' = ceil(0.3) + 3 = 4, equity' = D - 4 against IM' 30: accepted with 34.
    Three takers sell 1 lot each: ceil(0.1) * 3 = 3 charged; equity 31 >= 30.
    """
    ex = risk_exchange({ALICE: 33, BOB: C}, maker_fee_bps=10)
    assert reason(ex.send(order(ALICE, BUY, 100, 3, client_order_id=1))) is (
        RejectReason.INSUFFICIENT_MARGIN
    )
    ex.send(deposit(ALICE, 1, 1))
    assert accepted(ex.send(order(ALICE, BUY, 100, 3, client_order_id=1)))
    for n in (1, 2, 3):
        out = ex.send(order(BOB, SELL, 100, 1, client_order_id=n, tif=IOC))
        assert [f.maker_fee for f in of(out, Fill)] == [1]
    collateral, size, entry, _ = margin_account(ex.state, 1, ALICE)
    assert (collateral, size, entry) == (31, 3, 300)
    assert collateral - entry + size * 100 >= 30
