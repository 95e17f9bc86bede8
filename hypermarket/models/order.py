"""A resting or incoming order as the book keeps it."""

from __future__ import annotations

import msgspec

from hypermarket.models.enums import SelfTradePrevention, Side, TimeInForce


class Order(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """An order the engine accepted; ``remaining`` is its open quantity in lots.

    ``price`` is 0 only for a MARKET order, which never rests.
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
