"""The persistent order book of one market, and the editor that changes it.

Theory of operation
-------------------
A ``Book`` is an immutable value.  It holds:

* ``orders``: every resting order by engine order id;
* ``client_ids``: for each account, its live client order ids mapped to order
  ids (the duplicate-id check, cancel by client id, and cancel-all by account);
* two ``SideBook`` values, one per side, each a map from price to ``Level`` and
  a tuple of the prices present, sorted best first (bids descending, asks
  ascending).  A ``Level`` is the tuple of its order ids in time priority and
  their total open quantity.

Nothing in a ``Book`` is ever iterated in hash order: price order comes from the
sorted tuple, time order from the level tuple, and account-wide walks sort the
order ids.  Old books stay valid after a change, which is what makes snapshots
and discarding a trial match (FOK) free.

A step changes a book through one ``BookEditor``: it opens ``mutate()`` on the
maps once, records which prices it touched (the book deltas are computed from
that), and ``finish()`` seals a new ``Book``.  The editor is local to one call
of the pure core; it never outlives it.
"""

from __future__ import annotations

import bisect

import msgspec
from immutables import Map

from hypermarket.models import Order, Side


class Level(msgspec.Struct, frozen=True, gc=False):
    """The orders at one price, oldest first, and their total open quantity in lots."""

    order_ids: tuple[int, ...]
    quantity: int


class SideBook(msgspec.Struct, frozen=True, gc=False):
    """One side of a book: levels by price and the prices sorted best first."""

    levels: Map[int, Level]
    prices: tuple[int, ...]


class Exposure(msgspec.Struct, frozen=True, gc=False):
    """What an account's resting orders in one market add up to, per side.

    ``*_notional`` is in ticks times lots (multiply by the contract multiplier
    for money).  Risk reads it to price "all open orders on that side filled at
    their limit prices" without walking the orders.
    """

    buy_qty: int = 0
    buy_notional: int = 0
    sell_qty: int = 0
    sell_notional: int = 0
    reduce_only_buy_qty: int = 0
    reduce_only_sell_qty: int = 0

    def qty(self, side: Side) -> int:
        return self.buy_qty if side is Side.BUY else self.sell_qty

    def notional(self, side: Side) -> int:
        return self.buy_notional if side is Side.BUY else self.sell_notional

    def reduce_only_qty(self, side: Side) -> int:
        return self.reduce_only_buy_qty if side is Side.BUY else self.reduce_only_sell_qty

    def changed(self, order: Order, lots: int) -> Exposure:
        """This exposure with ``lots`` (signed) more of ``order`` resting."""
        ro = lots if order.reduce_only else 0
        if order.side is Side.BUY:
            return msgspec.structs.replace(
                self,
                buy_qty=self.buy_qty + lots,
                buy_notional=self.buy_notional + lots * order.price,
                reduce_only_buy_qty=self.reduce_only_buy_qty + ro,
            )
        return msgspec.structs.replace(
            self,
            sell_qty=self.sell_qty + lots,
            sell_notional=self.sell_notional + lots * order.price,
            reduce_only_sell_qty=self.reduce_only_sell_qty + ro,
        )


NO_EXPOSURE = Exposure()


class Book(msgspec.Struct, frozen=True, gc=False):
    """All resting orders of one market."""

    orders: Map[int, Order]
    client_ids: Map[bytes, Map[int, int]]
    exposure: Map[bytes, Exposure]
    bids: SideBook
    asks: SideBook

    def side(self, side: Side) -> SideBook:
        return self.bids if side is Side.BUY else self.asks


def _empty_side() -> SideBook:
    return SideBook(levels=Map(), prices=())


def empty_book() -> Book:
    return Book(
        orders=Map(), client_ids=Map(), exposure=Map(), bids=_empty_side(), asks=_empty_side()
    )


def crosses(side: Side, limit_price: int, resting_price: int) -> bool:
    """Whether an order on ``side`` with ``limit_price`` may trade at ``resting_price``."""
    if side is Side.BUY:
        return resting_price <= limit_price
    return resting_price >= limit_price


def better_first_key(side: Side) -> int:
    """Sign that turns a price into an ascending sort key, best first, for ``side``."""
    return -1 if side is Side.BUY else 1


class _SideEditor:
    """Mutable view of one side during a step."""

    __slots__ = ("levels", "prices", "sign", "touched")

    def __init__(self, side_book: SideBook, side: Side) -> None:
        self.levels = side_book.levels.mutate()
        self.prices = side_book.prices
        self.sign = -1 if side is Side.BUY else 1
        self.touched: set[int] = set()

    def insert_price(self, price: int) -> None:
        sign = self.sign
        at = bisect.bisect_left(self.prices, sign * price, key=lambda p: sign * p)
        self.prices = (*self.prices[:at], price, *self.prices[at:])

    def remove_price(self, price: int) -> None:
        prices = self.prices
        if prices and prices[0] == price:
            self.prices = prices[1:]
        else:
            at = prices.index(price)
            self.prices = prices[:at] + prices[at + 1 :]

    def finish(self) -> SideBook:
        return SideBook(levels=self.levels.finish(), prices=self.prices)


class BookEditor:
    """Changes one ``Book`` during one step and remembers which prices it touched."""

    __slots__ = ("_client_ids", "_exposure", "_orders", "_sides", "book")

    def __init__(self, book: Book) -> None:
        self.book = book
        self._orders = book.orders.mutate()
        self._client_ids = book.client_ids.mutate()
        self._exposure = book.exposure.mutate()
        self._sides: dict[Side, _SideEditor] = {}

    def _expose(self, order: Order, lots: int) -> None:
        exposure = self._exposure.get(order.account, NO_EXPOSURE).changed(order, lots)
        if exposure == NO_EXPOSURE:
            del self._exposure[order.account]
        else:
            self._exposure[order.account] = exposure

    def _side(self, side: Side) -> _SideEditor:
        editor = self._sides.get(side)
        if editor is None:
            editor = self._sides[side] = _SideEditor(self.book.side(side), side)
        return editor

    # ---------------------------------------------------------------- reading

    def order(self, order_id: int) -> Order | None:
        return self._orders.get(order_id)

    def order_id_for_client_id(self, account: bytes, client_order_id: int) -> int | None:
        ids = self._client_ids.get(account)
        return None if ids is None else ids.get(client_order_id)

    def exposure(self, account: bytes) -> Exposure:
        """What ``account``'s resting orders add up to, as the book stands in this step."""
        exposure: Exposure = self._exposure.get(account, NO_EXPOSURE)
        return exposure

    def account_order_ids(self, account: bytes) -> list[int]:
        """The live order ids of ``account`` in ascending order (oldest first)."""
        ids = self._client_ids.get(account)
        return [] if ids is None else sorted(ids.values())

    def all_order_ids(self) -> list[int]:
        return sorted(self.book.orders.keys())

    def prices(self, side: Side) -> tuple[int, ...]:
        editor = self._sides.get(side)
        return editor.prices if editor is not None else self.book.side(side).prices

    def best_price(self, side: Side) -> int | None:
        prices = self.prices(side)
        return prices[0] if prices else None

    def level(self, side: Side, price: int) -> Level:
        editor = self._sides.get(side)
        levels = editor.levels if editor is not None else self.book.side(side).levels
        return levels[price]

    def touched_sides(self) -> list[tuple[Side, set[int]]]:
        """The sides this editor changed, bids first, with the prices touched on each."""
        return [
            (side, self._sides[side].touched)
            for side in (Side.BUY, Side.SELL)
            if side in self._sides
        ]

    def resting(self, order_id: int) -> Order:
        """The resting order ``order_id``, which must exist."""
        order: Order = self._orders[order_id]
        return order

    # ---------------------------------------------------------------- writing

    def rest(self, order: Order) -> None:
        """Add ``order`` at the back of its price level."""
        editor = self._side(order.side)
        level = editor.levels.get(order.price)
        if level is None:
            editor.levels[order.price] = Level((order.order_id,), order.remaining)
            editor.insert_price(order.price)
        else:
            editor.levels[order.price] = Level(
                (*level.order_ids, order.order_id), level.quantity + order.remaining
            )
        editor.touched.add(order.price)
        self._orders[order.order_id] = order
        ids = self._client_ids.get(order.account)
        ids = (
            Map({order.client_order_id: order.order_id})
            if ids is None
            else ids.set(order.client_order_id, order.order_id)
        )
        self._client_ids[order.account] = ids
        self._expose(order, order.remaining)

    def remove(self, order: Order) -> None:
        """Take a resting ``order`` out of the book entirely."""
        editor = self._side(order.side)
        level = editor.levels[order.price]
        if len(level.order_ids) == 1:
            del editor.levels[order.price]
            editor.remove_price(order.price)
        else:
            ids = level.order_ids
            at = ids.index(order.order_id)
            editor.levels[order.price] = Level(
                ids[:at] + ids[at + 1 :], level.quantity - order.remaining
            )
        editor.touched.add(order.price)
        del self._orders[order.order_id]
        client_ids = self._client_ids[order.account].delete(order.client_order_id)
        if client_ids:
            self._client_ids[order.account] = client_ids
        else:
            del self._client_ids[order.account]
        self._expose(order, -order.remaining)

    def shrink(self, order: Order, remaining: int) -> Order:
        """Lower a resting order's open quantity to ``remaining`` (> 0), keeping its priority."""
        editor = self._side(order.side)
        level = editor.levels[order.price]
        editor.levels[order.price] = Level(
            level.order_ids, level.quantity - order.remaining + remaining
        )
        editor.touched.add(order.price)
        shrunk = msgspec.structs.replace(order, remaining=remaining)
        self._orders[order.order_id] = shrunk
        self._expose(order, remaining - order.remaining)
        return shrunk

    def finish(self) -> Book:
        """Seal the changes into a new ``Book``; the editor must not be used afterwards."""
        bids = self._sides[Side.BUY].finish() if Side.BUY in self._sides else self.book.bids
        asks = self._sides[Side.SELL].finish() if Side.SELL in self._sides else self.book.asks
        return Book(
            orders=self._orders.finish(),
            client_ids=self._client_ids.finish(),
            exposure=self._exposure.finish(),
            bids=bids,
            asks=asks,
        )


def sorted_levels(side_book: SideBook, depth: int) -> list[tuple[int, Level]]:
    """The best ``depth`` levels of a side as (price, level), best first."""
    return [(price, side_book.levels[price]) for price in side_book.prices[:depth]]


__all__ = [
    "NO_EXPOSURE",
    "Book",
    "BookEditor",
    "Exposure",
    "Level",
    "SideBook",
    "better_first_key",
    "crosses",
    "empty_book",
    "sorted_levels",
]
