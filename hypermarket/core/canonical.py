"""The canonical encoding of a shard's state, its hash, and decoding it back.

The encoding is msgpack (msgspec) of plain records in which every collection
is sorted: markets by id, accounts by address, orders by id, levels best price
first with their order ids in time priority.  Nothing derived is stored
(client id index, exposure per account, level totals and sorted price tuples
are rebuilt on decoding), so two states that mean
the same thing encode to the same bytes, whatever order their maps were built
in and whatever ``PYTHONHASHSEED`` is.  ``state_hash`` is the SHA-256 of that
encoding; snapshots store the same bytes.
"""

from __future__ import annotations

import hashlib

import msgspec
from immutables import Map

from hypermarket.core.state import MarketState, State
from hypermarket.matching.book import index_accounts
from hypermarket.matching.records import Book, Level, SideBook
from hypermarket.models import Account, MarketConfig, Order

FORMAT_VERSION = 1


class _LevelRecord(msgspec.Struct, array_like=True, frozen=True):
    price: int
    order_ids: list[int]


class _AccountRecord(msgspec.Struct, array_like=True, frozen=True):
    address: bytes
    account: Account


class _MarketRecord(msgspec.Struct, array_like=True, frozen=True):
    config: MarketConfig
    revision: int
    mark_price: int
    index_price: int
    fee_balance: int
    last_clearing_price: int
    accounts: list[_AccountRecord]
    orders: list[Order]
    bids: list[_LevelRecord]
    asks: list[_LevelRecord]
    bids_expiring: list[int]
    asks_expiring: list[int]


class _StateRecord(msgspec.Struct, array_like=True, frozen=True):
    format_version: int
    shard: int
    shard_count: int
    book_delta_depth: int
    input_seq: int
    output_seq: int
    next_order_id: int
    markets: list[_MarketRecord]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_StateRecord)


def _side_record(side: SideBook) -> list[_LevelRecord]:
    return [_LevelRecord(price, list(side.levels[price].order_ids)) for price in side.prices]


def _market_record(market: MarketState) -> _MarketRecord:
    book = market.book
    return _MarketRecord(
        config=market.config,
        revision=market.revision,
        mark_price=market.mark_price,
        index_price=market.index_price,
        fee_balance=market.fee_balance,
        last_clearing_price=market.last_clearing_price,
        accounts=[
            _AccountRecord(address, market.accounts[address])
            for address in sorted(market.accounts.keys())
        ],
        orders=[book.orders[order_id] for order_id in sorted(book.orders.keys())],
        bids=_side_record(book.bids),
        asks=_side_record(book.asks),
        bids_expiring=list(book.bids.expiring),
        asks_expiring=list(book.asks.expiring),
    )


def encode_state(state: State) -> bytes:
    """The canonical bytes of ``state``."""
    return _encoder.encode(
        _StateRecord(
            format_version=FORMAT_VERSION,
            shard=state.shard,
            shard_count=state.shard_count,
            book_delta_depth=state.book_delta_depth,
            input_seq=state.input_seq,
            output_seq=state.output_seq,
            next_order_id=state.next_order_id,
            markets=[_market_record(state.markets[mid]) for mid in sorted(state.markets.keys())],
        )
    )


def state_hash(state: State) -> str:
    """Hex SHA-256 of the canonical encoding: equal for states that mean the same."""
    return hashlib.sha256(encode_state(state)).hexdigest()


def _side_book(
    records: list[_LevelRecord], expiring: list[int], orders: dict[int, Order]
) -> SideBook:
    levels = {
        record.price: Level(
            tuple(record.order_ids), sum(orders[oid].remaining for oid in record.order_ids)
        )
        for record in records
    }
    return SideBook(
        levels=Map(levels),
        prices=tuple(record.price for record in records),
        expiring=tuple(expiring),
    )


def _book(record: _MarketRecord) -> Book:
    orders = {order.order_id: order for order in record.orders}
    return Book(
        orders=Map(orders),
        accounts=Map(index_accounts(record.orders)),
        bids=_side_book(record.bids, record.bids_expiring, orders),
        asks=_side_book(record.asks, record.asks_expiring, orders),
    )


def decode_state(data: bytes) -> State:
    """Rebuild a ``State`` from ``encode_state`` bytes; raises ``ValueError`` on bad data."""
    try:
        record = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a canonical state encoding: {exc}") from exc
    if record.format_version != FORMAT_VERSION:
        raise ValueError(
            f"state format version {record.format_version}, this engine reads {FORMAT_VERSION}"
        )
    markets = {
        market.config.market_id: MarketState(
            market.config,
            market.revision,
            _book(market),
            market.mark_price,
            market.index_price,
            Map({record.address: record.account for record in market.accounts}),
            market.fee_balance,
            market.last_clearing_price,
        )
        for market in record.markets
    }
    return State(
        shard=record.shard,
        shard_count=record.shard_count,
        book_delta_depth=record.book_delta_depth,
        input_seq=record.input_seq,
        output_seq=record.output_seq,
        next_order_id=record.next_order_id,
        markets=Map(markets),
    )


__all__ = ["FORMAT_VERSION", "decode_state", "encode_state", "state_hash"]
