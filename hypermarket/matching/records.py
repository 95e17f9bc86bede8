"""The immutable records of books, walks and auctions: msgspec structs.

They live apart from the functions that build them because ``matching``'s
function modules may be compiled with mypyc (see ``docs/performance.md``),
and mypyc drops a ``Struct``'s class options (``frozen``, ``gc=False``,
``array_like``): records must stay in modules that are never compiled.
``book.py`` explains what a ``Book`` holds, ``continuous.py`` what a walk
returns and ``auction.py`` how a clearing is chosen.
"""

from __future__ import annotations

import msgspec
from immutables import Map

from hypermarket.models import CancelReason, Order, Side
from hypermarket.models.enums import BUY


class Level(msgspec.Struct, frozen=True, gc=False):
    """The orders at one price, oldest first, and their total open quantity in lots."""

    order_ids: tuple[int, ...]
    quantity: int


class SideBook(msgspec.Struct, frozen=True, gc=False):
    """One side of a book: levels by price, the prices sorted best first, expiring orders.

    ``expiring`` holds, oldest first, the ids of the orders of a batch market
    that live only until its next auction: MARKET orders (which are in no
    level: they take any price) and IOC limit orders (which are also in their
    level).  It is always empty in a continuous market, where such orders never
    rest.
    """

    levels: Map[int, Level]
    prices: tuple[int, ...]
    expiring: tuple[int, ...] = ()


class AccountOrders(msgspec.Struct, frozen=True, gc=False):
    """One account's resting orders in one market: its client ids and what they add up to.

    ``ids`` maps live client order ids to order ids (the duplicate check,
    cancel by client id, cancel-all).  The sums are per side; ``*_notional``
    is in ticks times lots (times the contract multiplier for money).  Risk
    reads them to price "all open orders on that side filled at their limit
    prices" without walking the orders.
    """

    ids: Map[int, int]
    buy_qty: int = 0
    buy_notional: int = 0
    sell_qty: int = 0
    sell_notional: int = 0
    reduce_only_buy_qty: int = 0
    reduce_only_sell_qty: int = 0

    def qty(self, side: Side) -> int:
        """Open lots on ``side``."""
        return self.buy_qty if side is BUY else self.sell_qty

    def notional(self, side: Side) -> int:
        """Open ticks times lots on ``side``."""
        return self.buy_notional if side is BUY else self.sell_notional

    def reduce_only_qty(self, side: Side) -> int:
        """Open reduce-only lots on ``side``."""
        return self.reduce_only_buy_qty if side is BUY else self.reduce_only_sell_qty


NO_ORDERS = AccountOrders(Map())


class Book(msgspec.Struct, frozen=True, gc=False):
    """All resting orders of one market."""

    orders: Map[int, Order]
    accounts: Map[bytes, AccountOrders]
    bids: SideBook
    asks: SideBook

    def side(self, side: Side) -> SideBook:
        return self.bids if side is BUY else self.asks


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One execution: ``maker`` as it rested before the trade, fees, and what is left of both."""

    maker: Order
    price: int
    quantity: int
    maker_fee: int
    taker_fee: int
    maker_remaining: int
    taker_remaining: int


class MatchResult(msgspec.Struct, frozen=True, gc=False):
    """What a walk did: trades in match order, makers it cancelled (in order), the taker's rest."""

    trades: list[Trade]
    cancels: list[tuple[Order, CancelReason]]
    remaining: int
    taker_self_trade: bool

    def traded(self) -> tuple[int, int]:
        """(lots, ticks times lots) the taker traded."""
        return (
            sum(trade.quantity for trade in self.trades),
            sum(trade.quantity * trade.price for trade in self.trades),
        )


class Clearing(msgspec.Struct, frozen=True, gc=False):
    """The auction's outcome; ``price`` 0 and ``volume`` 0 when nothing crosses."""

    price: int
    volume: int
    buy_surplus: int
    sell_surplus: int


class Candidate(msgspec.Struct, frozen=True, gc=False):
    """Demand and supply at one candidate clearing price."""

    price: int
    demand: int
    supply: int

    @property
    def volume(self) -> int:
        """Lots that would trade at this price."""
        return min(self.demand, self.supply)

    @property
    def surplus(self) -> int:
        """Demand less supply: positive means buy pressure."""
        return self.demand - self.supply


__all__ = [
    "NO_ORDERS",
    "AccountOrders",
    "Book",
    "Candidate",
    "Clearing",
    "Level",
    "MatchResult",
    "SideBook",
    "Trade",
]
