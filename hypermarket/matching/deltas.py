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
the published depth never produce a delta.
"""

from __future__ import annotations

from hypermarket.matching.book import SideBook, better_first_key
from hypermarket.models import BookDelta, Side


def side_deltas(
    side: Side, before: SideBook, after: SideBook, touched: set[int], depth: int
) -> list[BookDelta]:
    """The deltas of one side, best price first."""
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
