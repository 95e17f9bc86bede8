"""Inputs of the core: what a shard consumes, already decoded and range-checked.

Inputs are imperatives (``NewOrder``, ``CancelOrder``).  The wire codec
produces them from protobuf bytes and guarantees the types: every integer fits
its proto field, accounts are 20 bytes, enums are members.  Business rules
(is the price positive, does the market exist) are the core's to check, so that
their rejects are outputs in the deterministic log.

An ``Input`` wraps one body with what the stream adds: the event time (the
JetStream timestamp, never the client's clock) and the client's request id.
A message that could not be decoded still occupies its place in the stream and
the log; it arrives as a ``Malformed`` body and the core answers it with a
``Rejected`` output.
"""

from __future__ import annotations

import msgspec

from hypermarket.models.enums import (
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from hypermarket.models.market import MarketConfig


class NewOrder(msgspec.Struct, frozen=True, gc=False, tag=True):
    market_id: int
    account: bytes
    client_order_id: int
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    reduce_only: bool = False
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER


class CancelOrder(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Cancel by ``order_id`` when it is non-zero, else by ``client_order_id``."""

    market_id: int
    account: bytes
    order_id: int = 0
    client_order_id: int = 0


class CancelAll(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Cancel every live order of ``account`` in one market, or in all of the shard's (0)."""

    account: bytes
    market_id: int = 0


class AmendOrder(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Change price and/or open quantity; 0 leaves a field as it is."""

    market_id: int
    account: bytes
    order_id: int = 0
    client_order_id: int = 0
    new_price: int = 0
    new_quantity: int = 0


class PriceUpdate(msgspec.Struct, frozen=True, gc=False, tag=True):
    market_id: int
    mark_price: int
    index_price: int


class Deposit(msgspec.Struct, frozen=True, gc=False, tag=True):
    account: bytes
    market_id: int
    amount: int


class Withdraw(msgspec.Struct, frozen=True, gc=False, tag=True):
    account: bytes
    market_id: int
    amount: int


class UpsertMarket(msgspec.Struct, frozen=True, gc=False, tag=True):
    config: MarketConfig
    revision: int


class AuctionTick(msgspec.Struct, frozen=True, gc=False, tag=True):
    market_id: int


class Malformed(msgspec.Struct, frozen=True, gc=False, tag=True):
    """A message the codec could not turn into an input; ``detail`` says why."""

    reason: RejectReason
    detail: str
    market_id: int = 0


InputBody = (
    NewOrder
    | CancelOrder
    | CancelAll
    | AmendOrder
    | PriceUpdate
    | Deposit
    | Withdraw
    | UpsertMarket
    | AuctionTick
    | Malformed
)


class Input(msgspec.Struct, frozen=True, gc=False):
    """One consumed message: its body, the stream's event time and the client's request id."""

    body: InputBody
    ts_ns: int = 0
    request_id: int = 0
