"""Looking into states and snapshots: summaries, a JSON-ready description, and differences.

These back the operator commands (``python -m hypermarket snapshot inspect FILE [--json]``,
``snapshot diff A B``, and what ``fold wal`` prints); each returns plain data or text so that
the CLI only prints it.  Everything comes out in a fixed order (markets by id,
orders by id, levels best price first, accounts by address), so two runs over the same state
print the same text.

The book is described by what an operator reads (top of book, levels, orders); every other
field of a market (config, revision, prices, accounts with their balances and positions, fee
balance, and whatever the core adds later) is described and compared generically, field by
field, so a new field of ``MarketState`` shows up here without a change.  The description of a
snapshot is a dict with keys ``file``, ``header``, ``state`` (the shard's counters) and
``markets``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
from immutables import Map

from hypermarket.core import MarketState, State
from hypermarket.matching.records import SideBook
from hypermarket.models import Side
from hypermarket.persistence.fold import FoldResult
from hypermarket.persistence.snapshot import read_snapshot


class MarketSummary(msgspec.Struct, frozen=True):
    """One line per market: how many orders rest on each side and the best prices."""

    market_id: int
    symbol: str
    resting_bids: int
    resting_asks: int
    best_bid: int | None
    best_ask: int | None


def _order_count(side: SideBook) -> int:
    return sum(len(side.levels[price].order_ids) for price in side.prices)


def _best(side: SideBook) -> int | None:
    return side.prices[0] if side.prices else None


def market_summaries(state: State) -> list[MarketSummary]:
    """The summary of every market of ``state``, by market id (what ``fold`` prints)."""
    summaries = []
    for market_id in sorted(state.markets.keys()):
        market = state.markets[market_id]
        summaries.append(
            MarketSummary(
                market_id=market_id,
                symbol=market.config.symbol,
                resting_bids=_order_count(market.book.bids),
                resting_asks=_order_count(market.book.asks),
                best_bid=_best(market.book.bids),
                best_ask=_best(market.book.asks),
            )
        )
    return summaries


def _plain(value: object) -> Any:
    """JSON-ready form of a state value: enums by name, bytes (accounts) as 0x hex, structs as
    dicts, maps as lists of ``{"key", "value"}`` sorted by key."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, Map):
        return [{"key": _plain(key), "value": _plain(value[key])} for key in sorted(value.keys())]
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _market_fields(market: MarketState) -> dict[str, Any]:
    """Every field of a market but its book."""
    return {name: getattr(market, name) for name in MarketState.__struct_fields__ if name != "book"}


def _levels(side: SideBook) -> list[dict[str, Any]]:
    return [
        {
            "price": price,
            "quantity": side.levels[price].quantity,
            "order_ids": list(side.levels[price].order_ids),
        }
        for price in side.prices
    ]


def _market(market: MarketState, summary: MarketSummary) -> dict[str, Any]:
    book = market.book
    return {
        "market_id": summary.market_id,
        "symbol": summary.symbol,
        **{name: _plain(value) for name, value in _market_fields(market).items()},
        "top_of_book": {
            "best_bid": summary.best_bid,
            "best_ask": summary.best_ask,
            "resting_bids": summary.resting_bids,
            "resting_asks": summary.resting_asks,
        },
        "bids": _levels(book.bids),
        "asks": _levels(book.asks),
        "orders": [_plain(book.orders[order_id]) for order_id in sorted(book.orders.keys())],
    }


def _counters(state: State) -> dict[str, Any]:
    """Every field of the shard's state but its markets."""
    return {name: getattr(state, name) for name in State.__struct_fields__ if name != "markets"}


def inspect_snapshot(path: Path) -> dict[str, Any]:
    """Everything in the snapshot ``path`` as JSON-ready data: ``snapshot inspect --json``
    prints ``json.dumps`` of it, ``render_inspection`` gives the text form.

    Raises ``SnapshotError`` naming the file and offset when the snapshot is damaged.
    """
    snapshot = read_snapshot(path)
    state = snapshot.state
    return {
        "file": str(path),
        "header": _plain(snapshot.header),
        "state": _plain(_counters(state)),
        "markets": [
            _market(state.markets[summary.market_id], summary)
            for summary in market_summaries(state)
        ],
    }


def _book_line(bids: int, asks: int, best_bid: int | None, best_ask: int | None) -> str:
    def price(value: int | None) -> str:
        return "-" if value is None else str(value)

    return f"{bids} bids / {asks} asks resting, best {price(best_bid)} / {price(best_ask)}"


def render_inspection(description: dict[str, Any]) -> str:
    """The text ``snapshot inspect`` prints: header, counters, one line per market."""
    header = description["header"]
    counters = ", ".join(f"{name} {value}" for name, value in description["state"].items())
    lines = [
        f"snapshot {description['file']}",
        f"  shard {header['shard']}, input {header['input_seq']}, output {header['output_seq']}, "
        f"stream sequence {header['last_stream_seq']}",
        f"  state hash {header['state_hash']}, payload {header['payload_bytes']} bytes",
        f"  {counters}",
        f"  {len(description['markets'])} markets",
    ]
    for market in description["markets"]:
        top = market["top_of_book"]
        lines.append(
            f"  market {market['market_id']} {market['symbol']} ({market['config']['status']}, "
            f"revision {market['revision']}): "
            + _book_line(top["resting_bids"], top["resting_asks"], top["best_bid"], top["best_ask"])
        )
    return "\n".join(lines)


def render_fold(result: FoldResult) -> str:
    """The text ``fold wal`` prints: where the fold started and ended, the state hash, the
    verification (when asked), a torn tail it did not replay, and one line per market."""
    start = f"snapshot {result.snapshot}" if result.snapshot else "the shard's empty state"
    lines = [
        f"folded {result.inputs_replayed} inputs from {start} to input "
        f"{result.last_input_seq} (stream sequence {result.last_stream_seq})",
        f"state hash {result.state_hash}",
    ]
    if result.torn_tail is not None:
        tail = result.torn_tail
        lines.append(
            f"torn tail not replayed: {tail.path} at offset {tail.offset}, "
            f"{tail.bytes_cut} bytes ({tail.reason})"
        )
    verification = result.verification
    if verification is not None:
        lines.append(
            f"verify: {verification.checked} outputs identical, "
            f"{verification.unlogged} recomputed past the last logged one"
            if verification.mismatch is None
            else f"verify FAILED: {verification.mismatch.describe()}"
        )
    lines += [
        f"market {s.market_id} {s.symbol}: "
        + _book_line(s.resting_bids, s.resting_asks, s.best_bid, s.best_ask)
        for s in market_summaries(result.state)
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- differences


def _keyed_diff(
    label: Callable[[Any], str],
    a_keys: Iterable[Any],
    b_keys: Iterable[Any],
    differ: Callable[[Any], list[str]],
) -> list[str]:
    """Keys in one side only, then the differences of common keys, all in key order."""
    a_set, b_set = set(a_keys), set(b_keys)
    lines: list[str] = []
    for key in sorted(a_set | b_set):
        if key not in b_set:
            lines.append(f"{label(key)}: only in A")
        elif key not in a_set:
            lines.append(f"{label(key)}: only in B")
        else:
            lines += differ(key)
    return lines


def _value_diff(where: str, a: object, b: object) -> list[str]:
    """Differences of two values of the same field, descending into structs and maps."""
    if a == b:
        return []
    if isinstance(a, Map) and isinstance(b, Map):
        return _keyed_diff(
            lambda key: f"{where}[{_plain(key)}]",
            a.keys(),
            b.keys(),
            lambda key: _value_diff(f"{where}[{_plain(key)}]", a[key], b[key]),
        )
    if isinstance(a, msgspec.Struct) and type(a) is type(b):
        return [
            line
            for name in a.__struct_fields__
            for line in _value_diff(f"{where}.{name}", getattr(a, name), getattr(b, name))
        ]
    return [f"{where}: {_plain(a)} != {_plain(b)}"]


def _side_diff(prefix: str, side: Side, a: SideBook, b: SideBook) -> list[str]:
    name = "bid" if side is Side.BUY else "ask"

    def level(price: int) -> list[str]:
        level_a, level_b = a.levels[price], b.levels[price]
        where = f"{prefix}{name} level {price}: "
        lines = []
        if level_a.order_ids != level_b.order_ids:
            lines.append(f"{where}orders {list(level_a.order_ids)} != {list(level_b.order_ids)}")
        if level_a.quantity != level_b.quantity:
            lines.append(f"{where}quantity {level_a.quantity} != {level_b.quantity}")
        return lines

    return _keyed_diff(lambda price: f"{prefix}{name} level {price}", a.prices, b.prices, level)


def _market_diff(a: MarketState, b: MarketState) -> list[str]:
    prefix = f"market {a.config.market_id}: "
    fields_a, fields_b = _market_fields(a), _market_fields(b)
    lines = [
        line
        for name in fields_a
        for line in _value_diff(f"{prefix}{name}", fields_a[name], fields_b[name])
    ]
    orders_a, orders_b = a.book.orders, b.book.orders
    lines += _keyed_diff(
        lambda order_id: f"{prefix}order {order_id}",
        orders_a.keys(),
        orders_b.keys(),
        lambda order_id: _value_diff(
            f"{prefix}order {order_id}", orders_a[order_id], orders_b[order_id]
        ),
    )
    lines += _side_diff(prefix, Side.BUY, a.book.bids, b.book.bids)
    lines += _side_diff(prefix, Side.SELL, a.book.asks, b.book.asks)
    return lines


def diff_states(a: State, b: State) -> list[str]:
    """What differs between ``a`` and ``b``, one sentence per difference, in a fixed order:
    the shard's counters, then per market (by id) its fields (config, prices, accounts, ...),
    orders (by id) and levels (by price).  Empty exactly when the two states encode to the
    same bytes (for states that keep their invariants: indexes derived from the orders are
    not compared, level totals are).

    This is ``python -m hypermarket snapshot diff A B`` on the states of two snapshots.
    """
    counters_a, counters_b = _counters(a), _counters(b)
    lines = [
        line
        for name in counters_a
        for line in _value_diff(name, counters_a[name], counters_b[name])
    ]
    lines += _keyed_diff(
        lambda market_id: f"market {market_id}",
        a.markets.keys(),
        b.markets.keys(),
        lambda market_id: _market_diff(a.markets[market_id], b.markets[market_id]),
    )
    return lines


__all__ = [
    "MarketSummary",
    "diff_states",
    "inspect_snapshot",
    "market_summaries",
    "render_fold",
    "render_inspection",
]
