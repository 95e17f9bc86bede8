"""Uniform-price call auctions: choosing the clearing price and allocating at it.

Theory of operation
-------------------
A batch market does not match on arrival; its orders collect, and each
``AuctionTick`` clears them all at one price.  The candidate prices are the
limit prices present on either side.  At a candidate ``p``:

* demand ``D(p)`` = MARKET buys + limit buys priced at or above ``p``;
* supply ``S(p)`` = MARKET sells + limit sells priced at or below ``p``;
* executable volume ``V(p) = min(D(p), S(p))``, surplus ``D(p) - S(p)``.

The clearing price is chosen by the rules exchanges publish for call auctions
(Xetra, Euronext), each applied to the candidates the previous one left:

1. maximum executable volume;
2. minimum surplus ``|D - S|``;
3. market pressure: if every remaining candidate has buy surplus, the highest
   of them; if every one has sell surplus, the lowest;
4. closest to the reference price (the last mark price, else the last
   clearing price; skipped when there is none);
5. the lowest remaining price (the documented final tie-break).

No candidate with positive volume (no cross, or only MARKET orders) clears
nothing: the result has price 0 and volume 0, and the surpluses are the whole
of each side.

Allocation at clearing price ``c``: buys are ranked MARKET first, then by
price (highest first), then by time; sells likewise (lowest price first).
Walking both rankings, the first ``V`` lots of each side trade: the side
without surplus fills whole, and on the side with surplus the orders ranked
first fill whole, one fills in part and the rest wait.  So an order priced
better than ``c`` can go unfilled when better-ranked orders of its side
already hold ``V`` (bids 102 x 5 and 101 x 3 against asks 100 x 5 and 102 x 3
clear 5 lots at 100, all to the 102 bid).  Trades pair the two walks in
order; all print at ``c``.
"""

from __future__ import annotations

from hypermarket.matching.records import Candidate, Clearing
from hypermarket.models import Order
from hypermarket.models.enums import BUY


def _candidates(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], market_buy: int, market_sell: int
) -> list[Candidate]:
    """Demand and supply at every limit price present, ascending.

    ``bids`` and ``asks`` are (price, total lots) per level, in any order.
    """
    prices = sorted({price for price, _ in bids} | {price for price, _ in asks})
    bid_qty: dict[int, int] = dict(bids)
    ask_qty: dict[int, int] = dict(asks)
    supply_at = []
    supply = market_sell
    for price in prices:
        supply += ask_qty.get(price, 0)
        supply_at.append(supply)
    candidates = []
    demand = market_buy
    for index in range(len(prices) - 1, -1, -1):
        price = prices[index]
        demand += bid_qty.get(price, 0)
        candidates.append(Candidate(price, demand, supply_at[index]))
    candidates.reverse()
    return candidates


def clear(
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    market_buy: int,
    market_sell: int,
    reference_price: int,
) -> Clearing:
    """Choose the clearing price by the rules of the module docstring.

    ``reference_price`` 0 means there is none (rule 4 is skipped).
    """
    candidates = _candidates(bids, asks, market_buy, market_sell)
    volume = max((candidate.volume for candidate in candidates), default=0)
    if volume == 0:
        total_buy = market_buy + sum(qty for _, qty in bids)
        total_sell = market_sell + sum(qty for _, qty in asks)
        return Clearing(0, 0, total_buy, total_sell)
    left = [candidate for candidate in candidates if candidate.volume == volume]
    imbalance = min(abs(candidate.surplus) for candidate in left)
    left = [candidate for candidate in left if abs(candidate.surplus) == imbalance]
    if all(candidate.surplus > 0 for candidate in left):
        left = left[-1:]
    elif all(candidate.surplus < 0 for candidate in left):
        left = left[:1]
    if len(left) > 1 and reference_price:
        distance = min(abs(candidate.price - reference_price) for candidate in left)
        left = [c for c in left if abs(c.price - reference_price) == distance]
    chosen = left[0]
    return Clearing(chosen.price, volume, max(chosen.surplus, 0), max(-chosen.surplus, 0))


MARKET_BUY_REACH = 1 << 64  # above every int64 price


def reach(order: Order) -> int:
    """The most aggressive price ``order`` takes; a MARKET order takes any price."""
    if not order.is_market:
        return order.price
    return MARKET_BUY_REACH if order.side is BUY else 0


def allocate(buys: list[Order], sells: list[Order], volume: int) -> list[tuple[Order, Order, int]]:
    """Pair the first ``volume`` lots of each ranked side: (buy, sell, lots) in trade order.

    ``buys`` and ``sells`` must be ranked as the module docstring says and hold
    only orders eligible at the clearing price.
    """
    pairs: list[tuple[Order, Order, int]] = []
    buy_at = sell_at = 0
    buy_left = buys[0].remaining if buys else 0
    sell_left = sells[0].remaining if sells else 0
    while volume:
        lots = min(min(buy_left, sell_left), volume)
        pairs.append((buys[buy_at], sells[sell_at], lots))
        volume -= lots
        buy_left -= lots
        sell_left -= lots
        if not buy_left and volume:
            buy_at += 1
            buy_left = buys[buy_at].remaining
        if not sell_left and volume:
            sell_at += 1
            sell_left = sells[sell_at].remaining
    return pairs
