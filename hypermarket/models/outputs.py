"""Outputs of the core: facts about what an input did.

Every output is an ``Output`` envelope numbered densely per shard (``seq``),
naming the input that caused it (``input_seq``), its event time and the
client's ``request_id``.  The outputs of one input come in the order
CONTRACT.md fixes: accepted or rejected, fills in match order, cancellations,
book deltas (best price first, bids before asks), position updates.
"""

from __future__ import annotations

import msgspec

from hypermarket.models.enums import CancelReason, RejectReason, Side
from hypermarket.models.market import MarketConfig


class OrderAccepted(msgspec.Struct, frozen=True, gc=False, tag=True):
    order_id: int
    client_order_id: int
    account: bytes
    side: Side
    price: int
    quantity: int


class OrderRejected(msgspec.Struct, frozen=True, gc=False, tag=True):
    """A ``NewOrder``, ``CancelOrder`` or ``AmendOrder`` that changed nothing."""

    client_order_id: int
    account: bytes
    reason: RejectReason
    detail: str
    order_id: int = 0


class OrderCancelled(msgspec.Struct, frozen=True, gc=False, tag=True):
    order_id: int
    client_order_id: int
    account: bytes
    remaining_quantity: int
    reason: CancelReason


class OrderAmended(msgspec.Struct, frozen=True, gc=False, tag=True):
    order_id: int
    client_order_id: int
    account: bytes
    price: int
    quantity: int
    kept_priority: bool


class Fill(msgspec.Struct, frozen=True, gc=False, tag=True):
    maker_order_id: int
    taker_order_id: int
    maker_account: bytes
    taker_account: bytes
    price: int
    quantity: int
    taker_side: Side
    maker_fee: int
    taker_fee: int
    maker_remaining: int
    taker_remaining: int


class BookDelta(msgspec.Struct, frozen=True, gc=False, tag=True):
    """A price level inside the published depth: its total after the change (0 = gone from view)."""

    side: Side
    price: int
    quantity: int
    order_count: int


class PositionUpdate(msgspec.Struct, frozen=True, gc=False, tag=True):
    account: bytes
    size: int
    entry_notional: int
    collateral: int
    realized_pnl: int


class MarketUpdated(msgspec.Struct, frozen=True, gc=False, tag=True):
    config: MarketConfig
    revision: int


class AuctionResult(msgspec.Struct, frozen=True, gc=False, tag=True):
    clearing_price: int
    volume: int
    buy_surplus: int
    sell_surplus: int


class CancelAllDone(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Closes a ``CancelAll``, so the sender hears back even when nothing was live."""

    account: bytes
    cancelled: int


class Rejected(msgspec.Struct, frozen=True, gc=False, tag=True):
    """An input that is not about one order failed (bad config, withdraw, undecodable bytes)."""

    reason: RejectReason
    detail: str


OutputBody = (
    OrderAccepted
    | OrderRejected
    | OrderCancelled
    | OrderAmended
    | Fill
    | BookDelta
    | PositionUpdate
    | MarketUpdated
    | AuctionResult
    | CancelAllDone
    | Rejected
)


class Output(msgspec.Struct, frozen=True, gc=False):
    shard: int
    seq: int
    input_seq: int
    ts_ns: int
    market_id: int
    request_id: int
    body: OutputBody
