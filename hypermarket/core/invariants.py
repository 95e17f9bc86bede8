"""Invariants of a shard's state, checked by the tests after every step and at run time on demand.

A broken invariant is a bug in the core, never a business failure: the check
raises ``AssertionError`` naming what is wrong, and the shard stops rather than
spread a wrong state.
"""

from __future__ import annotations

from hypermarket.core.state import MarketState, State
from hypermarket.matching.auction import MARKET_BUY_REACH, reach
from hypermarket.matching.book import index_accounts
from hypermarket.matching.records import Book, SideBook
from hypermarket.models import MatchingMode, Side, TimeInForce
from hypermarket.risk.accounts import signed_entry


class InvariantError(AssertionError):
    """The state broke a rule that no input may break."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise InvariantError(message)


def _check_side(market_id: int, side: Side, side_book: SideBook, book: Book) -> int:
    """Check one side; return how many orders it holds."""
    prices = side_book.prices
    _require(
        list(prices) == sorted(set(prices), reverse=side is Side.BUY),
        f"market {market_id} {side.name}: prices not sorted best first",
    )
    _require(
        set(prices) == set(side_book.levels.keys()),
        f"market {market_id} {side.name}: price list and levels disagree",
    )
    count = 0
    for price in prices:
        level = side_book.levels[price]
        _require(bool(level.order_ids), f"market {market_id} {side.name} {price}: empty level")
        total = 0
        for order_id in level.order_ids:
            order = book.orders.get(order_id)
            _require(order is not None, f"market {market_id}: level names missing order {order_id}")
            assert order is not None
            _require(
                order.side is side and order.price == price and order.remaining > 0,
                f"market {market_id}: order {order_id} misplaced or empty",
            )
            total += order.remaining
        _require(total == level.quantity, f"market {market_id} {side.name} {price}: bad total")
        count += len(level.order_ids)
    expected = [
        order_id
        for order_id, order in sorted(book.orders.items())
        if order.side is side and (order.is_market or order.time_in_force is TimeInForce.IOC)
    ]
    _require(
        list(side_book.expiring) == expected,
        f"market {market_id} {side.name}: expiring queue is not its IOC and MARKET orders",
    )
    return count + sum(book.orders[order_id].is_market for order_id in expected)


def check_invariants(state: State) -> None:
    """Raise ``InvariantError`` if any market's book is inconsistent or crossed."""
    _require(0 <= state.shard < state.shard_count, "shard outside shard_count")
    for market_id, market in state.markets.items():
        _require(market_id == market.config.market_id, f"market {market_id} stored under wrong id")
        _require(market_id % state.shard_count == state.shard, f"market {market_id} wrong shard")
        book = market.book
        resting = _check_side(market_id, Side.BUY, book.bids, book) + _check_side(
            market_id, Side.SELL, book.asks, book
        )
        _require(resting == len(book.orders), f"market {market_id}: orders outside levels")
        if market.config.matching_mode is MatchingMode.CONTINUOUS:
            _require(
                not book.bids.expiring and not book.asks.expiring,
                f"market {market_id}: expiring orders in a continuous market",
            )
            if book.bids.prices and book.asks.prices:
                _require(
                    book.bids.prices[0] < book.asks.prices[0], f"market {market_id}: book crossed"
                )
        else:
            _check_no_self_cross(market_id, book)
        for order_id in book.orders:
            _require(order_id < state.next_order_id, f"order id {order_id} not yet issued")
        _require(
            index_accounts(list(book.orders.values())) == dict(book.accounts.items()),
            f"market {market_id}: per-account order index out of step with the orders",
        )
        _check_money(market_id, market)


def _check_no_self_cross(market_id: int, book: Book) -> None:
    """In a batch market no account has a buy and a sell that could trade with each other."""
    highest_bid: dict[bytes, int] = {}
    lowest_ask: dict[bytes, int] = {}
    for order in book.orders.values():
        price = reach(order)
        if order.side is Side.BUY:
            highest_bid[order.account] = max(price, highest_bid.get(order.account, price))
        else:
            lowest_ask[order.account] = min(price, lowest_ask.get(order.account, price))
    for account, bid in highest_bid.items():
        _require(
            bid < lowest_ask.get(account, MARKET_BUY_REACH + 1),
            f"market {market_id}: account {account.hex()} has crossing orders on both sides",
        )


def _check_money(market_id: int, market: MarketState) -> None:
    """Realized PnL paid out equals the signed entry notional still open (see risk.accounts)."""
    realized = 0
    entry = 0
    for address, account in market.accounts.items():
        _require(
            (account.size == 0) == (account.entry_notional == 0) and account.entry_notional >= 0,
            f"market {market_id}: account {address.hex()} has entry notional without a position",
        )
        realized += account.realized_pnl
        entry += signed_entry(account)
    _require(realized == entry, f"market {market_id}: realized PnL {realized} != entry {entry}")
    _require(market.fee_balance >= 0, f"market {market_id}: fee account negative")
