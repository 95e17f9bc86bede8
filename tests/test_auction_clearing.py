"""``matching.auction`` picks the clearing price and allocates by the published call-auction rules.

Each test hands ``clear()`` or ``allocate()`` a small book built by hand, in the style of the
worked examples of the Xetra and Euronext market models, and compares the result with the
demand ``D(p)``, supply ``S(p)``, volume ``V(p) = min(D, S)`` and surplus ``D - S`` tables
worked out in the comments: one case per rule of the module docstring (maximum volume, minimum
surplus, market pressure, closest to the reference price, lowest price), then no cross, MARKET
orders alone and mixed with limits, and allocation in price-time order at the chosen price.
"""

from __future__ import annotations

import pytest

from hypermarket.matching.auction import MARKET_BUY_REACH, allocate, clear, reach
from hypermarket.matching.records import Clearing
from hypermarket.models import Order, SelfTradePrevention, Side, TimeInForce

NO_REFERENCE = 0


# ---------------------------------------------------------------------------- rule 1: max volume


def test_one_price_has_the_maximum_volume() -> None:
    bids = [(102, 10), (101, 5), (100, 8)]
    asks = [(99, 6), (100, 7), (101, 9)]
    #   p    D(p)           S(p)         V(p)  surplus
    #   99   10+5+8 = 23    6            6     +17
    #  100   23             6+7 = 13     13    +10
    #  101   10+5   = 15    13+9 = 22    15    -7     <- the only maximum
    #  102   10             22           10    -12
    # The reference (100) would pick 100, but rule 1 decides before rule 4 is asked.
    assert clear(bids, asks, 0, 0, 100) == Clearing(101, 15, 0, 7)


def test_levels_may_come_in_any_order() -> None:
    # Same book as above with both sides shuffled: the candidates are sorted inside.
    bids = [(100, 8), (102, 10), (101, 5)]
    asks = [(101, 9), (99, 6), (100, 7)]
    assert clear(bids, asks, 0, 0, 100) == Clearing(101, 15, 0, 7)


# ----------------------------------------------------------------------- rule 2: minimum surplus


def test_volume_tie_is_decided_by_the_minimum_surplus() -> None:
    bids = [(101, 10)]
    asks = [(99, 4), (100, 6), (101, 3)]
    #   p    D(p)   S(p)          V(p)  surplus
    #   99   10     4             4     +6
    #  100   10     4+6 = 10      10     0    <- |0| < |-3|
    #  101   10     10+3 = 13     10    -3
    # Rule 1 leaves {100, 101}; rule 2 keeps 100 although the reference is 101.
    assert clear(bids, asks, 0, 0, 101) == Clearing(100, 10, 0, 0)


# ---------------------------------------------------------------------- rule 3: market pressure


def test_tie_with_buy_surplus_everywhere_takes_the_highest_price() -> None:
    bids = [(101, 10), (98, 3)]
    asks = [(100, 6), (103, 5)]
    #   p    D(p)          S(p)         V(p)  surplus
    #   98   10+3 = 13     0            0     +13
    #  100   10            6            6     +4
    #  101   10            6            6     +4    <- highest of the buy-surplus tie
    #  103   0             6+5 = 11     0     -11
    # Rules 1 and 2 leave {100, 101}, both with buy surplus 4: demand presses the price up.
    # The reference (100) is not consulted.
    assert clear(bids, asks, 0, 0, 100) == Clearing(101, 6, 4, 0)


def test_tie_with_sell_surplus_everywhere_takes_the_lowest_price() -> None:
    bids = [(101, 6)]
    asks = [(100, 10)]
    #   p    D(p)  S(p)  V(p)  surplus
    #  100   6     10    6     -4    <- lowest of the sell-surplus tie
    #  101   6     10    6     -4
    # The reference (101) would pick 101; supply presses the price down first.
    assert clear(bids, asks, 0, 0, 101) == Clearing(100, 6, 0, 4)


# ---------------------------------------------------------------- rule 4: closest to reference

# Three candidates tie on volume and on |surplus|, with buy surplus at 99 and 100 and sell
# surplus at 101, so rule 3 cannot decide:
#   p    D(p)        S(p)        V(p)  surplus
#   99   5+3 = 8     5           5     +3
#  100   8           5           5     +3
#  101   5           5+3 = 8     5     -3
MIXED_BIDS = [(101, 5), (100, 3)]
MIXED_ASKS = [(99, 5), (101, 3)]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (1, Clearing(99, 5, 3, 0)),  # far below: 99 is closest (distance 98)
        (99, Clearing(99, 5, 3, 0)),  # distances 0, 1, 2
        (100, Clearing(100, 5, 3, 0)),  # distances 1, 0, 1
        (101, Clearing(101, 5, 0, 3)),  # distances 2, 1, 0
        (500, Clearing(101, 5, 0, 3)),  # far above: 101 is closest (distance 399)
    ],
)
def test_mixed_surplus_takes_the_price_closest_to_the_reference(
    reference: int, expected: Clearing
) -> None:
    assert clear(MIXED_BIDS, MIXED_ASKS, 0, 0, reference) == expected


def test_zero_surplus_tie_is_decided_by_the_reference() -> None:
    bids = [(101, 5)]
    asks = [(100, 5)]
    #   p    D(p)  S(p)  V(p)  surplus
    #  100   5     5     5     0
    #  101   5     5     5     0
    # Surplus 0 is neither buy nor sell pressure, so rule 3 passes and rule 4 decides.
    assert clear(bids, asks, 0, 0, 100) == Clearing(100, 5, 0, 0)
    assert clear(bids, asks, 0, 0, 101) == Clearing(101, 5, 0, 0)
    assert clear(bids, asks, 0, 0, 200) == Clearing(101, 5, 0, 0)


# ------------------------------------------------------------------- rule 5: the lowest price

# Two candidates, buy surplus at 100 and sell surplus at 102, equally far from 101:
#   p    D(p)       S(p)       V(p)  surplus
#  100   5+3 = 8    5          5     +3
#  102   5          5+3 = 8    5     -3
EQUIDISTANT_BIDS = [(102, 5), (100, 3)]
EQUIDISTANT_ASKS = [(100, 5), (102, 3)]


def test_equidistant_from_the_reference_takes_the_lowest_price() -> None:
    # |100 - 101| == |102 - 101| == 1: rule 4 keeps both, rule 5 takes the lower.
    assert clear(EQUIDISTANT_BIDS, EQUIDISTANT_ASKS, 0, 0, 101) == Clearing(100, 5, 3, 0)
    # Off the midpoint, rule 4 decides alone.
    assert clear(EQUIDISTANT_BIDS, EQUIDISTANT_ASKS, 0, 0, 102) == Clearing(102, 5, 0, 3)


def test_no_reference_and_a_tie_takes_the_lowest_price() -> None:
    # Rule 4 is skipped without a reference; rule 5 takes the lowest of what rule 3 left.
    assert clear(EQUIDISTANT_BIDS, EQUIDISTANT_ASKS, 0, 0, NO_REFERENCE) == Clearing(100, 5, 3, 0)
    assert clear(MIXED_BIDS, MIXED_ASKS, 0, 0, NO_REFERENCE) == Clearing(99, 5, 3, 0)
    assert clear([(101, 5)], [(100, 5)], 0, 0, NO_REFERENCE) == Clearing(100, 5, 0, 0)


# ------------------------------------------------------------------------------- no cross


def test_no_cross_clears_nothing_and_reports_each_whole_side() -> None:
    bids = [(99, 5), (98, 2)]
    asks = [(100, 4), (101, 6)]
    #   p    D(p)  S(p)  V(p)
    #   98   7     0     0
    #   99   5     0     0
    #  100   0     4     0
    #  101   0     10    0
    # No positive volume: price 0, volume 0, the surpluses are the totals 5+2 and 4+6.
    assert clear(bids, asks, 0, 0, 100) == Clearing(0, 0, 7, 10)


def test_empty_book_clears_nothing() -> None:
    assert clear([], [], 0, 0, 100) == Clearing(0, 0, 0, 0)
    assert clear([], [], 0, 0, NO_REFERENCE) == Clearing(0, 0, 0, 0)


def test_one_sided_book_clears_nothing() -> None:
    # Bids and a MARKET buy with nothing to sell against: V(p) = min(D, 0) = 0 everywhere.
    assert clear([(100, 3), (99, 4)], [], 2, 0, 100) == Clearing(0, 0, 3 + 4 + 2, 0)


# -------------------------------------------------------------------------- MARKET orders


def test_only_market_orders_have_no_candidate_price() -> None:
    # Candidates are limit prices; with none there is no price to clear at, even though
    # 5 lots to buy and 7 to sell are waiting.  The surpluses are the whole of each side.
    assert clear([], [], 5, 7, 100) == Clearing(0, 0, 5, 7)


def test_market_buy_against_a_single_limit_sell() -> None:
    #   p    D(p)  S(p)  V(p)  surplus
    #  100   5     3     3     +2
    assert clear([], [(100, 3)], 5, 0, 100) == Clearing(100, 3, 2, 0)


def test_market_sell_larger_than_the_bids() -> None:
    bids = [(101, 4), (100, 3)]
    #   p    D(p)        S(p)  V(p)  surplus
    #  100   4+3 = 7     10    7     -3   <- the only maximum
    #  101   4           10    4     -6
    assert clear(bids, [], 0, 10, 101) == Clearing(100, 7, 0, 3)


def test_market_orders_on_both_sides_plus_limits() -> None:
    bids = [(101, 5), (99, 2)]
    asks = [(100, 4), (102, 6)]
    # MARKET buys (4) count in D at every price, MARKET sells (3) in S at every price:
    #   p    D(p)            S(p)          V(p)  surplus
    #   99   4+5+2 = 11      3             3     +8
    #  100   4+5   = 9       3+4 = 7       7     +2
    #  101   9               7             7     +2    <- highest of the buy-surplus tie
    #  102   4               7+6 = 13      4     -9
    assert clear(bids, asks, 4, 3, 100) == Clearing(101, 7, 2, 0)


# --------------------------------------------------------------------------------- allocate

ACCOUNT = bytes(20)


def _order(order_id: int, side: Side, price: int, qty: int, *, is_market: bool = False) -> Order:
    return Order(
        order_id,
        ACCOUNT,
        order_id,
        side,
        price,
        qty,
        TimeInForce.IOC if is_market else TimeInForce.GTC,
        SelfTradePrevention.CANCEL_TAKER,
        False,
        is_market,
    )


def _ids(pairs: list[tuple[Order, Order, int]]) -> list[tuple[int, int, int]]:
    return [(buy.order_id, sell.order_id, lots) for buy, sell, lots in pairs]


def test_allocate_walks_both_rankings_in_order() -> None:
    # Book at clearing price 101, ranked MARKET first, then best price, then time:
    #   buys:  #1 MARKET 3, #2 101 x 4, #3 101 x 5        sells: #4 99 x 6, #5 100 x 4
    # V = 10: buys 3 + 4 + 3 (of 5); sells 6 + 4.
    buys = [
        _order(1, Side.BUY, 100, 3, is_market=True),
        _order(2, Side.BUY, 101, 4),
        _order(3, Side.BUY, 101, 5),
    ]
    sells = [_order(4, Side.SELL, 99, 6), _order(5, Side.SELL, 100, 4)]
    # #1 takes 3 of #4 (3 left); #2 takes those 3, then 1 of #5 (3 left); #3 takes the last 3.
    assert _ids(allocate(buys, sells, 10)) == [(1, 4, 3), (2, 4, 3), (2, 5, 1), (3, 5, 3)]


def test_allocate_stops_exactly_at_the_volume() -> None:
    buys = [_order(1, Side.BUY, 101, 5)]
    sells = [
        _order(2, Side.SELL, 100, 2),
        _order(3, Side.SELL, 101, 3),
        _order(4, Side.SELL, 101, 9),
    ]
    # 2 + 3 = 5 = V: both rankings end together; the third sell is never reached.
    assert _ids(allocate(buys, sells, 5)) == [(1, 2, 2), (1, 3, 3)]


def test_allocate_fills_the_surplus_side_by_time() -> None:
    # Buy surplus at 100: the sell (6) is exhausted; of the three bids at 100, the oldest
    # fill first and the newest is left with everything.
    buys = [_order(1, Side.BUY, 100, 4), _order(2, Side.BUY, 100, 4), _order(3, Side.BUY, 100, 4)]
    sells = [_order(4, Side.SELL, 100, 6)]
    assert _ids(allocate(buys, sells, 6)) == [(1, 4, 4), (2, 4, 2)]


def test_allocate_nothing_for_zero_volume() -> None:
    assert allocate([], [], 0) == []
    assert allocate([_order(1, Side.BUY, 100, 1)], [_order(2, Side.SELL, 101, 1)], 0) == []


def test_a_bid_better_than_the_clearing_price_can_go_unfilled() -> None:
    # The module docstring says every order strictly better than the clearing price fills
    # whole.  When rule 4 picks a price that no bid sits on, one does not:
    bids = [(102, 5), (101, 3)]
    asks = [(100, 5), (102, 3)]
    #   p    D(p)       S(p)       V(p)  surplus
    #  100   5+3 = 8    5          5     +3    <- reference 100: distance 0
    #  101   8          5          5     +3
    #  102   5          5+3 = 8    5     -3
    clearing = clear(bids, asks, 0, 0, 100)
    assert clearing == Clearing(100, 5, 3, 0)
    # At 100 the eligible bids are #1 102 x 5 and #2 101 x 3, the sell is #3 100 x 5:
    # #1 takes all 5 lots and #2, bidding 101 for a price of 100, gets nothing.
    buys = [_order(1, Side.BUY, 102, 5), _order(2, Side.BUY, 101, 3)]
    sells = [_order(3, Side.SELL, 100, 5)]
    assert _ids(allocate(buys, sells, clearing.volume)) == [(1, 3, 5)]
    # Likewise a MARKET buy (better than every price) larger than all the supply is only
    # partly filled: V = min(D, S) = min(10, 5) = 5.
    assert clear([], [(100, 5)], 10, 0, 100) == Clearing(100, 5, 5, 0)
    market_buy = _order(4, Side.BUY, 100, 10, is_market=True)
    assert _ids(allocate([market_buy], sells, 5)) == [(4, 3, 5)]


# ------------------------------------------------------------------------------------ reach


def test_reach_of_limit_and_market_orders() -> None:
    assert reach(_order(1, Side.BUY, 101, 1)) == 101
    assert reach(_order(2, Side.SELL, 99, 1)) == 99
    # A MARKET order carries its margin reference as price, but reaches any price.
    assert reach(_order(3, Side.BUY, 100, 1, is_market=True)) == MARKET_BUY_REACH
    assert MARKET_BUY_REACH > (1 << 63) - 1
    assert reach(_order(4, Side.SELL, 100, 1, is_market=True)) == 0
