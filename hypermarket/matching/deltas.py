"""Book deltas: what a client needs to hold exactly the top ``depth`` levels of a market.

A client keeps, per side, a map from price to (quantity, order count) and
applies each ``BookDelta`` in ``seq`` order: quantity 0 deletes the price,
anything else sets it.  For that map to equal the engine's best ``depth``
levels after every input, a step publishes, per side:

* every level in the new top ``depth`` that changed (its price was touched) or
  that was not in the old top (it moved into view because better levels went);
* quantity 0 for every price in the old top that is not in the new top (it
  emptied, or it was pushed out of view by better levels).

Deltas come bids first, then asks, each side best price first.  Levels outside
the published depth never produce a delta.  When a step adds or removes no
level on a side (the editor then keeps the same price tuple), only touched
prices inside the depth can have changed, which is checked without slicing.
"""

from __future__ import annotations

from hypermarket.matching.book import better_first_key
from hypermarket.matching.records import SideBook
from hypermarket.models import BookDelta, Side
from hypermarket.models.enums import BUY


def side_deltas(
    side: Side, before: SideBook, after: SideBook, touched: set[int], depth: int
) -> list[BookDelta]:
    """The deltas of one side, best price first."""
    if before.prices is after.prices:
        return _same_levels_deltas(side, after, touched, depth)
    old_top = before.prices[:depth]
    new_top = after.prices[:depth]
    if old_top == new_top:
        if not touched:
            return []
        changed = [price for price in new_top if price in touched]
        gone: list[int] = []
    else:
        old_set = set(old_top)
        new_set = set(new_top)
        changed = [price for price in new_top if price in touched or price not in old_set]
        gone = [price for price in old_top if price not in new_set]
    levels = after.levels
    deltas = [
        (price, BookDelta(side, price, levels[price].quantity, len(levels[price].order_ids)))
        for price in changed
    ]
    if gone:
        deltas.extend((price, BookDelta(side, price, 0, 0)) for price in gone)
        sign = better_first_key(side)
        deltas.sort(key=lambda pair: sign * pair[0])
    return [delta for _, delta in deltas]


def _same_levels_deltas(
    side: Side, after: SideBook, touched: set[int], depth: int
) -> list[BookDelta]:
    """The common case: no level appeared or vanished, so only touched prices in view changed.

    The editor keeps the very same price tuple when it adds or removes no
    level, which is how ``side_deltas`` knows it may come here.
    """
    prices = after.prices
    levels = after.levels
    if len(touched) == 1:
        (price,) = touched
        if len(prices) > depth:
            bound = prices[depth - 1]
            if price < bound if side is BUY else price > bound:
                return []
        level = levels[price]
        return [BookDelta(side, price, level.quantity, len(level.order_ids))]
    if len(prices) > depth:
        bound = prices[depth - 1]
        if side is BUY:
            touched = {price for price in touched if price >= bound}
        else:
            touched = {price for price in touched if price <= bound}
    ordered = sorted(touched, reverse=True) if side is BUY else sorted(touched)
    return [
        BookDelta(side, price, levels[price].quantity, len(levels[price].order_ids))
        for price in ordered
    ]
