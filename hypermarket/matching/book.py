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
from collections.abc import Sequence

from immutables import Map
from msgspec.structs import replace

from hypermarket.matching.records import NO_ORDERS, AccountOrders, Book, Level, SideBook
from hypermarket.models import Order, Side
from hypermarket.models.enums import BUY, TIF_IOC


def adjusted(
    orders: AccountOrders, order: Order, lots: int, ids: Map[int, int] | None = None
) -> AccountOrders:
    """``orders`` with ``lots`` (signed) more of ``order`` resting, and ``ids`` if given."""
    ro = lots if order.reduce_only else 0
    if order.side is BUY:
        return AccountOrders(
            orders.ids if ids is None else ids,
            orders.buy_qty + lots,
            orders.buy_notional + lots * order.price,
            orders.sell_qty,
            orders.sell_notional,
            orders.reduce_only_buy_qty + ro,
            orders.reduce_only_sell_qty,
        )
    return AccountOrders(
        orders.ids if ids is None else ids,
        orders.buy_qty,
        orders.buy_notional,
        orders.sell_qty + lots,
        orders.sell_notional + lots * order.price,
        orders.reduce_only_buy_qty,
        orders.reduce_only_sell_qty + ro,
    )


def _empty_side() -> SideBook:
    return SideBook(levels=Map(), prices=())


def empty_book() -> Book:
    return Book(orders=Map(), accounts=Map(), bids=_empty_side(), asks=_empty_side())


def crosses(side: Side, limit_price: int, resting_price: int) -> bool:
    """Whether an order on ``side`` with ``limit_price`` may trade at ``resting_price``."""
    if side is BUY:
        return resting_price <= limit_price
    return resting_price >= limit_price


def better_first_key(side: Side) -> int:
    """Sign that turns a price into an ascending sort key, best first, for ``side``."""
    return -1 if side is BUY else 1


class _SideEditor:
    """Mutable view of one side during a step."""

    __slots__ = ("expiring", "levels", "prices", "sign", "touched")

    def __init__(self, side_book: SideBook, side: Side) -> None:
        self.levels = side_book.levels.mutate()
        self.prices = side_book.prices
        self.expiring = side_book.expiring
        self.sign = better_first_key(side)
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
        return SideBook(levels=self.levels.finish(), prices=self.prices, expiring=self.expiring)


class BookEditor:
    """Changes one ``Book`` during one step and remembers which prices it touched."""

    __slots__ = ("_accounts", "_asks", "_bids", "_orders", "book")

    def __init__(self, book: Book) -> None:
        self.book = book
        self._orders = book.orders.mutate()
        self._accounts = book.accounts.mutate()
        self._bids: _SideEditor | None = None
        self._asks: _SideEditor | None = None

    def _side(self, side: Side) -> _SideEditor:
        if side is BUY:
            if self._bids is None:
                self._bids = _SideEditor(self.book.bids, side)
            return self._bids
        if self._asks is None:
            self._asks = _SideEditor(self.book.asks, side)
        return self._asks

    def _peek(self, side: Side) -> _SideEditor | SideBook:
        """The side as it stands now: its editor if it has changed, else the book's."""
        if side is BUY:
            return self._bids or self.book.bids
        return self._asks or self.book.asks

    # ---------------------------------------------------------------- reading

    def order(self, order_id: int) -> Order | None:
        return self._orders.get(order_id)

    def order_id_for_client_id(self, account: bytes, client_order_id: int) -> int | None:
        orders = self._accounts.get(account)
        return None if orders is None else orders.ids.get(client_order_id)

    def exposure(self, account: bytes) -> AccountOrders:
        """What ``account``'s resting orders add up to, as the book stands in this step."""
        orders: AccountOrders = self._accounts.get(account, NO_ORDERS)
        return orders

    def account_order_ids(self, account: bytes) -> list[int]:
        """The live order ids of ``account`` in ascending order (oldest first)."""
        orders = self._accounts.get(account)
        return [] if orders is None else sorted(orders.ids.values())

    def all_order_ids(self) -> list[int]:
        return sorted(self.book.orders.keys())

    def prices(self, side: Side) -> tuple[int, ...]:
        """The prices of ``side``'s levels, best first."""
        return self._peek(side).prices

    def expiring(self, side: Side) -> tuple[int, ...]:
        """Ids of the orders on ``side`` that expire at the next auction, oldest first."""
        return self._peek(side).expiring

    def best_price(self, side: Side) -> int | None:
        prices = self._peek(side).prices
        return prices[0] if prices else None

    def level(self, side: Side, price: int) -> Level:
        level: Level = self._peek(side).levels[price]
        return level

    def touched(self, side: Side) -> set[int] | None:
        """The prices this editor touched on ``side``; None if it never changed that side."""
        editor = self._bids if side is BUY else self._asks
        return None if editor is None else editor.touched

    def resting(self, order_id: int) -> Order:
        """The resting order ``order_id``, which must exist."""
        order: Order = self._orders[order_id]
        return order

    # ---------------------------------------------------------------- writing

    def rest(self, order: Order) -> None:
        """Add ``order`` at the back of its level and, if it expires, of the expiring queue."""
        editor = self._side(order.side)
        if order.is_market or order.time_in_force is TIF_IOC:
            editor.expiring = (*editor.expiring, order.order_id)
        if not order.is_market:
            price = order.price
            level = editor.levels.get(price)
            if level is None:
                editor.levels[price] = Level((order.order_id,), order.remaining)
                editor.insert_price(price)
            else:
                editor.levels[price] = Level(
                    (*level.order_ids, order.order_id), level.quantity + order.remaining
                )
            editor.touched.add(price)
        self._orders[order.order_id] = order
        account = self._accounts.get(order.account, NO_ORDERS)
        self._accounts[order.account] = adjusted(
            account, order, order.remaining, account.ids.set(order.client_order_id, order.order_id)
        )

    def remove(self, order: Order) -> None:
        """Take a resting ``order`` out of the book entirely."""
        editor = self._side(order.side)
        if order.is_market or order.time_in_force is TIF_IOC:
            at = editor.expiring.index(order.order_id)
            editor.expiring = editor.expiring[:at] + editor.expiring[at + 1 :]
        if not order.is_market:
            price = order.price
            level = editor.levels[price]
            ids = level.order_ids
            if len(ids) == 1:
                del editor.levels[price]
                editor.remove_price(price)
            else:
                at = ids.index(order.order_id)
                editor.levels[price] = Level(
                    ids[:at] + ids[at + 1 :], level.quantity - order.remaining
                )
            editor.touched.add(price)
        del self._orders[order.order_id]
        account = self._accounts[order.account]
        client_ids = account.ids.delete(order.client_order_id)
        if client_ids:
            self._accounts[order.account] = adjusted(account, order, -order.remaining, client_ids)
        else:
            del self._accounts[order.account]

    def shrink(self, order: Order, remaining: int) -> Order:
        """Lower a resting order's open quantity to ``remaining`` (> 0), keeping its priority."""
        if not order.is_market:
            editor = self._side(order.side)
            level = editor.levels[order.price]
            editor.levels[order.price] = Level(
                level.order_ids, level.quantity - order.remaining + remaining
            )
            editor.touched.add(order.price)
        shrunk = replace(order, remaining=remaining)
        self._orders[order.order_id] = shrunk
        account = self._accounts[order.account]
        self._accounts[order.account] = adjusted(account, order, remaining - order.remaining)
        return shrunk

    def finish(self) -> Book:
        """Seal the changes into a new ``Book``; the editor must not be used afterwards."""
        return Book(
            orders=self._orders.finish(),
            accounts=self._accounts.finish(),
            bids=self.book.bids if self._bids is None else self._bids.finish(),
            asks=self.book.asks if self._asks is None else self._asks.finish(),
        )


def index_accounts(orders: Sequence[Order]) -> dict[bytes, AccountOrders]:
    """The per-account records of a set of resting orders, built from scratch.

    Snapshot loading rebuilds the index with it, and the invariant check
    compares a book's incrementally kept index against it.
    """
    ids: dict[bytes, dict[int, int]] = {}
    for order in orders:
        ids.setdefault(order.account, {})[order.client_order_id] = order.order_id
    accounts = {account: AccountOrders(Map(by_client)) for account, by_client in ids.items()}
    for order in orders:
        accounts[order.account] = adjusted(accounts[order.account], order, order.remaining)
    return accounts


__all__ = [
    "BookEditor",
    "adjusted",
    "better_first_key",
    "crosses",
    "empty_book",
    "index_accounts",
]
