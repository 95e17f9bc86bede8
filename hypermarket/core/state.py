"""The state of one shard: its markets, their books, and the shard's counters.

A ``State`` is an immutable value; ``step`` returns a new one and leaves the
old one valid, so a snapshot is just a reference handed to another thread, and
replay is ``functools.reduce(step, inputs, state)``.

Counters are what make ids and sequence numbers pure functions of the input
history: ``input_seq`` and ``output_seq`` count the inputs and outputs of the
shard (dense from 1), ``next_order_id`` is the next engine order id.
"""

from __future__ import annotations

import msgspec
from immutables import Map

from hypermarket.matching.records import Book
from hypermarket.models import Account, MarketConfig


class MarketState(msgspec.Struct, frozen=True, gc=False):
    """One market: its config in force, the KV revision it came from, book, prices and money.

    ``accounts`` holds each account's isolated margin in this market;
    ``fee_balance`` is the exchange's fee account for the market (fees
    charged less rebates paid).  Money in collateral base units.
    ``last_clearing_price`` is the last auction's price (batch markets), the
    reference of the next auction when there is no mark price.
    """

    config: MarketConfig
    revision: int
    book: Book
    mark_price: int = 0
    index_price: int = 0
    accounts: Map[bytes, Account] = msgspec.field(default_factory=Map)
    fee_balance: int = 0
    last_clearing_price: int = 0


class State(msgspec.Struct, frozen=True, gc=False):
    """Everything shard ``shard`` of ``shard_count`` knows."""

    shard: int
    shard_count: int
    book_delta_depth: int
    input_seq: int = 0
    output_seq: int = 0
    next_order_id: int = 1
    markets: Map[int, MarketState] = msgspec.field(default_factory=Map)


DEFAULT_BOOK_DELTA_DEPTH = 20


def initial_state(
    shard: int = 0, shard_count: int = 1, book_delta_depth: int = DEFAULT_BOOK_DELTA_DEPTH
) -> State:
    """An empty shard.  Markets arrive later as ``UpsertMarket`` inputs."""
    if not 0 <= shard < shard_count:
        raise ValueError(f"shard {shard} is outside 0..{shard_count - 1}")
    if book_delta_depth < 1:
        raise ValueError("book_delta_depth must be at least 1")
    return State(shard=shard, shard_count=shard_count, book_delta_depth=book_delta_depth)
