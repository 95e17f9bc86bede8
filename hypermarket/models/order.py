"""A resting or incoming order as the book keeps it."""

from __future__ import annotations

import msgspec

from hypermarket.models.enums import SelfTradePrevention, Side, TimeInForce


class Order(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """An order the engine accepted; ``remaining`` is its open quantity in lots.

    A MARKET order (``is_market``) has no limit.  In a continuous market it
    never rests and its ``price`` is 0.  In a batch market it waits for the next
    auction in its side's market queue, and ``price`` holds the reference price
    its margin was checked at (``risk.margin``), which is also what its
    account's exposure counts; the auction lets it trade at any price.
    """

    order_id: int
    account: bytes
    client_order_id: int
    side: Side
    price: int
    remaining: int
    time_in_force: TimeInForce
    stp: SelfTradePrevention
    reduce_only: bool
    is_market: bool = False
