"""A plain, mutable reference model of one shard's continuous matching, for differential tests.

It restates the documented semantics (CONTRACT.md, the docstrings of ``hypermarket.core``,
``core.orders``, ``core.markets`` and ``matching.continuous``) with lists and dicts, sharing no
code with the engine: only the domain enums and the input types are imported.  It is meant to
be obviously right rather than fast: books are ``dict[price, list[order]]`` scanned with
``min``/``max``, a fill-or-kill trial runs on a deep copy, orders are found by linear search.

``ReferenceExchange.step(body)`` returns the outputs of one input as plain tuples
``(kind, market_id, *key fields)``; book deltas are not modelled (the tests check them with a
replica of the published levels instead).  The tuples are:

=================  ============================================================================
kind               fields after market_id
=================  ============================================================================
OrderAccepted      order_id, client_order_id, account, side, price, quantity
OrderRejected      client_order_id, account, reason
OrderCancelled     order_id, client_order_id, account, remaining, reason
OrderAmended       order_id, client_order_id, account, price, quantity, kept_priority
Fill               maker_order_id, taker_order_id, maker_account, taker_account, price,
                   quantity, taker_side, maker_remaining, taker_remaining
MarketUpdated      revision, status
CancelAllDone      account, cancelled
Rejected           reason
=================  ============================================================================

Semantics restated (where the engine's documents leave a choice, the note says which):

* Rejects follow ``RejectReason`` order.  NewOrder: WRONG_SHARD, UNKNOWN_MARKET,
  MARKET_NOT_ACTIVE (a POST_ONLY market takes POST_ONLY limit orders only), INVALID_ORDER_TYPE
  (MARKET with GTC/POST_ONLY), INVALID_PRICE (MARKET needs 0, LIMIT needs > 0),
  INVALID_QUANTITY (min..max; max 0 = no limit), OVERFLOW (notional, or the level total it
  would rest in),
  DUPLICATE_CLIENT_ORDER_ID (live in this market), POST_ONLY_WOULD_CROSS, FOK_NOT_FILLABLE.
* An amend checks, in ``RejectReason`` order: market status, a negative price, a negative
  quantity or a given one outside min..max, then finds its order (UNKNOWN_ORDER,
  NOT_ORDER_OWNER), then OVERFLOW (notional, or the level total counting the amended
  order once).
* A rejected FOK changes nothing, not even the order id counter.
* Risk is not modelled (collateral, mark price, bands, reduce-only, position limits, fees):
  the tests that use this model fund every account comfortably and use none of the rest, so
  risk never refuses an order there, and fees and position updates are not compared.
* Reject outputs of cancels and amends name what the request named when the order was not
  found, and the order itself once it was found (its client order id).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypermarket.models import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelReason,
    InputBody,
    MarginMode,
    MarketConfig,
    MarketStatus,
    MatchingMode,
    NewOrder,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UpsertMarket,
)

INT64_MAX = 2**63 - 1

Out = tuple[object, ...]


@dataclass
class RefOrder:
    order_id: int
    account: bytes
    client_order_id: int
    side: Side
    price: int
    remaining: int
    tif: TimeInForce
    stp: SelfTradePrevention


@dataclass
class RefMarket:
    config: MarketConfig
    revision: int
    bids: dict[int, list[RefOrder]] = field(default_factory=dict)
    asks: dict[int, list[RefOrder]] = field(default_factory=dict)

    def side(self, side: Side) -> dict[int, list[RefOrder]]:
        return self.bids if side is Side.BUY else self.asks

    def best(self, side: Side) -> int | None:
        levels = self.side(side)
        if not levels:
            return None
        return max(levels) if side is Side.BUY else min(levels)

    def all_orders(self) -> list[RefOrder]:
        return [o for levels in (self.bids, self.asks) for q in levels.values() for o in q]

    def by_id(self, order_id: int) -> RefOrder | None:
        for o in self.all_orders():
            if o.order_id == order_id:
                return o
        return None

    def by_client_id(self, account: bytes, client_order_id: int) -> RefOrder | None:
        for o in self.all_orders():
            if o.account == account and o.client_order_id == client_order_id:
                return o
        return None

    def remove(self, o: RefOrder) -> None:
        levels = self.side(o.side)
        levels[o.price].remove(o)
        if not levels[o.price]:
            del levels[o.price]

    def rest(self, o: RefOrder) -> None:
        self.side(o.side).setdefault(o.price, []).append(o)

    def level_total(self, side: Side, price: int) -> int:
        return sum(o.remaining for o in self.side(side).get(price, []))

    def snapshot(self) -> list[tuple[Side, int, list[tuple[int, bytes, int, int]]]]:
        """Every level, bids then asks, best first, orders in time priority."""
        result = []
        for side in (Side.BUY, Side.SELL):
            levels = self.side(side)
            for price in sorted(levels, reverse=side is Side.BUY):
                queue = [
                    (o.order_id, o.account, o.client_order_id, o.remaining) for o in levels[price]
                ]
                result.append((side, price, queue))
        return result

    def top(self, side: Side, depth: int) -> list[tuple[int, int, int]]:
        levels = self.side(side)
        prices = sorted(levels, reverse=side is Side.BUY)[:depth]
        return [(p, sum(o.remaining for o in levels[p]), len(levels[p])) for p in prices]


def crosses(side: Side, limit: int, resting: int) -> bool:
    return resting <= limit if side is Side.BUY else resting >= limit


def config_rule_broken(c: MarketConfig) -> bool:
    """The MarketConfig rules of CONTRACT.md / models.market, restated."""
    return not (
        c.market_id >= 1
        and 0 < len(c.symbol) <= 32
        and c.symbol.isprintable()
        and c.contract_multiplier >= 1
        and c.min_quantity >= 1
        and (c.max_quantity == 0 or c.max_quantity >= c.min_quantity)
        and -10_000 <= c.maker_fee_bps <= 10_000
        and -10_000 <= c.taker_fee_bps <= 10_000
        and c.taker_fee_bps + c.maker_fee_bps >= 0
        and 0 < c.initial_margin_bps <= 10_000
        and 0 < c.maintenance_margin_bps < c.initial_margin_bps
        and 0 <= c.price_band_bps <= 10_000
        and c.max_position >= 0
        and (c.matching_mode is MatchingMode.CONTINUOUS or c.auction_interval_ms > 0)
        and c.auction_interval_ms >= 0
        and c.margin_mode is MarginMode.ISOLATED
    )


def quantity_ok(c: MarketConfig, qty: int) -> bool:
    """min_quantity..max_quantity, where max_quantity 0 means no upper limit."""
    return qty >= c.min_quantity and (c.max_quantity == 0 or qty <= c.max_quantity)


def rejected(mid: int, client_order_id: int, account: bytes, reason: RejectReason) -> Out:
    return ("OrderRejected", mid, client_order_id, account, reason)


def cancelled(mid: int, o: RefOrder, reason: CancelReason) -> Out:
    return ("OrderCancelled", mid, o.order_id, o.client_order_id, o.account, o.remaining, reason)


def fill(mid: int, maker: RefOrder, taker: RefOrder, price: int, qty: int) -> Out:
    """A fill; call it after both remainders were lowered by ``qty``."""
    ids = (maker.order_id, taker.order_id, maker.account, taker.account)
    return ("Fill", mid, *ids, price, qty, taker.side, maker.remaining, taker.remaining)


def amended(mid: int, o: RefOrder, price: int, qty: int, kept: bool) -> Out:
    return ("OrderAmended", mid, o.order_id, o.client_order_id, o.account, price, qty, kept)


class ReferenceExchange:
    """One shard: markets by id, and the order id counter."""

    def __init__(self, shard: int = 0, shard_count: int = 1) -> None:
        self.shard = shard
        self.shard_count = shard_count
        self.markets: dict[int, RefMarket] = {}
        self.next_order_id = 1

    # ------------------------------------------------------------------ helpers

    def _locate(self, market_id: int) -> RefMarket | RejectReason:
        if market_id % self.shard_count != self.shard:
            return RejectReason.WRONG_SHARD
        if market_id not in self.markets:
            return RejectReason.UNKNOWN_MARKET
        return self.markets[market_id]

    def _match(
        self, m: RefMarket, taker: RefOrder, limit: int | None, out: list[Out]
    ) -> tuple[int, bool]:
        """Walk the opposite side; append fills then STP maker cancels to ``out``.

        Returns the taker's remainder and whether self-trade prevention stopped it.
        """
        mid = m.config.market_id
        opposite = Side.SELL if taker.side is Side.BUY else Side.BUY
        cancel_maker = taker.stp in (
            SelfTradePrevention.CANCEL_MAKER,
            SelfTradePrevention.CANCEL_BOTH,
        )
        cancel_taker = taker.stp in (
            SelfTradePrevention.CANCEL_TAKER,
            SelfTradePrevention.CANCEL_BOTH,
        )
        fills: list[Out] = []
        stp_cancels: list[Out] = []
        stopped = False
        while taker.remaining > 0 and not stopped:
            best = m.best(opposite)
            if best is None or (limit is not None and not crosses(taker.side, limit, best)):
                break
            for maker in list(m.side(opposite)[best]):
                if maker.account == taker.account:
                    if cancel_maker:
                        m.remove(maker)
                        stp_cancels.append(cancelled(mid, maker, CancelReason.SELF_TRADE))
                    if cancel_taker:
                        stopped = True
                        break
                    continue
                qty = min(taker.remaining, maker.remaining)
                taker.remaining -= qty
                maker.remaining -= qty
                if maker.remaining == 0:
                    m.remove(maker)
                fills.append(fill(mid, maker, taker, best, qty))
                if taker.remaining == 0:
                    break
        out.extend(fills)
        out.extend(stp_cancels)
        return taker.remaining, stopped

    def _settle(self, m: RefMarket, taker: RefOrder, stopped: bool, out: list[Out]) -> None:
        """Rest what is left of a GTC/POST_ONLY taker, cancel the rest."""
        if taker.remaining == 0:
            return
        if stopped:
            out.append(cancelled(m.config.market_id, taker, CancelReason.SELF_TRADE))
        elif taker.tif in (TimeInForce.GTC, TimeInForce.POST_ONLY):
            m.rest(taker)
        else:
            out.append(cancelled(m.config.market_id, taker, CancelReason.IOC_REMAINDER))

    def _find(
        self, m: RefMarket, account: bytes, order_id: int, client_order_id: int
    ) -> RefOrder | RejectReason:
        if order_id:
            found = m.by_id(order_id)
            if found is None:
                return RejectReason.UNKNOWN_ORDER
            if found.account != account:
                return RejectReason.NOT_ORDER_OWNER
            return found
        found = m.by_client_id(account, client_order_id)
        return RejectReason.UNKNOWN_ORDER if found is None else found

    # ------------------------------------------------------------------ inputs

    def step(self, body: InputBody) -> list[Out]:
        match body:
            case NewOrder():
                return self.new_order(body)
            case CancelOrder():
                return self.cancel(body)
            case AmendOrder():
                return self.amend(body)
            case CancelAll():
                return self.cancel_all(body)
            case UpsertMarket():
                return self.upsert(body)
            case _:
                raise NotImplementedError(type(body).__name__)

    def _new_order_problem(self, m: RefMarket, o: NewOrder) -> RejectReason | None:
        is_market = o.order_type is OrderType.MARKET
        status = m.config.status
        post_only_limit = o.time_in_force is TimeInForce.POST_ONLY and not is_market
        if status is not MarketStatus.ACTIVE and not (
            status is MarketStatus.POST_ONLY and post_only_limit
        ):
            return RejectReason.MARKET_NOT_ACTIVE
        if is_market and o.time_in_force in (TimeInForce.GTC, TimeInForce.POST_ONLY):
            return RejectReason.INVALID_ORDER_TYPE
        if (is_market and o.price != 0) or (not is_market and o.price <= 0):
            return RejectReason.INVALID_PRICE
        if not quantity_ok(m.config, o.quantity):
            return RejectReason.INVALID_QUANTITY
        if o.price * o.quantity * m.config.contract_multiplier > INT64_MAX:
            return RejectReason.OVERFLOW
        if o.price and m.level_total(o.side, o.price) + o.quantity > INT64_MAX:
            return RejectReason.OVERFLOW
        if m.by_client_id(o.account, o.client_order_id) is not None:
            return RejectReason.DUPLICATE_CLIENT_ORDER_ID
        best = m.best(Side.SELL if o.side is Side.BUY else Side.BUY)
        if (
            o.time_in_force is TimeInForce.POST_ONLY
            and best is not None
            and crosses(o.side, o.price, best)
        ):
            return RejectReason.POST_ONLY_WOULD_CROSS
        return None

    def new_order(self, o: NewOrder) -> list[Out]:
        mid = o.market_id
        m = self._locate(mid)
        problem = m if isinstance(m, RejectReason) else self._new_order_problem(m, o)
        if problem is not None:
            return [rejected(mid, o.client_order_id, o.account, problem)]
        assert isinstance(m, RefMarket)
        taker = RefOrder(
            self.next_order_id,
            o.account,
            o.client_order_id,
            o.side,
            o.price,
            o.quantity,
            o.time_in_force,
            o.stp,
        )
        saved = copy.deepcopy((m.bids, m.asks))
        walk: list[Out] = []
        limit = None if o.order_type is OrderType.MARKET else o.price
        remaining, stopped = self._match(m, taker, limit, walk)
        if o.time_in_force is TimeInForce.FOK and remaining:
            m.bids, m.asks = saved
            return [rejected(mid, o.client_order_id, o.account, RejectReason.FOK_NOT_FILLABLE)]
        self.next_order_id += 1
        ids = (taker.order_id, o.client_order_id, o.account)
        out: list[Out] = [("OrderAccepted", mid, *ids, o.side, o.price, o.quantity)]
        out.extend(walk)
        self._settle(m, taker, stopped, out)
        return out

    def cancel(self, c: CancelOrder) -> list[Out]:
        mid = c.market_id
        m = self._locate(mid)
        found = (
            m
            if isinstance(m, RejectReason)
            else self._find(m, c.account, c.order_id, c.client_order_id)
        )
        if isinstance(found, RejectReason):
            return [rejected(mid, c.client_order_id, c.account, found)]
        assert isinstance(m, RefMarket)
        m.remove(found)
        return [cancelled(mid, found, CancelReason.USER)]

    def _amend_value_problem(self, m: RefMarket, a: AmendOrder) -> RejectReason | None:
        """Checked before the order is looked up, in RejectReason order."""
        if m.config.status not in (MarketStatus.ACTIVE, MarketStatus.POST_ONLY):
            return RejectReason.MARKET_NOT_ACTIVE
        if a.new_price < 0:
            return RejectReason.INVALID_PRICE
        if a.new_quantity < 0 or (a.new_quantity and not quantity_ok(m.config, a.new_quantity)):
            return RejectReason.INVALID_QUANTITY
        return None

    def _amend_overflow(self, m: RefMarket, found: RefOrder, price: int, qty: int) -> bool:
        if price * qty * m.config.contract_multiplier > INT64_MAX:
            return True
        # The level the amended order ends in, counting the order itself once.
        others = m.level_total(found.side, price) - (found.remaining if price == found.price else 0)
        return others + qty > INT64_MAX

    def amend(self, a: AmendOrder) -> list[Out]:
        mid = a.market_id
        m = self._locate(mid)
        if isinstance(m, RejectReason):
            return [rejected(mid, a.client_order_id, a.account, m)]
        early = self._amend_value_problem(m, a)
        found = (
            early if early is not None else self._find(m, a.account, a.order_id, a.client_order_id)
        )
        if isinstance(found, RejectReason):
            return [rejected(mid, a.client_order_id, a.account, found)]
        price = a.new_price or found.price
        qty = a.new_quantity or found.remaining
        problem = RejectReason.OVERFLOW if self._amend_overflow(m, found, price, qty) else None
        keeps = price == found.price and qty <= found.remaining
        best = m.best(Side.SELL if found.side is Side.BUY else Side.BUY)
        crossing = not keeps and best is not None and crosses(found.side, price, best)
        post_only = found.tif is TimeInForce.POST_ONLY or m.config.status is MarketStatus.POST_ONLY
        if problem is None and crossing and post_only:
            problem = RejectReason.POST_ONLY_WOULD_CROSS
        if problem is not None:
            return [rejected(mid, found.client_order_id, found.account, problem)]
        out: list[Out] = [amended(mid, found, price, qty, keeps)]
        if keeps:
            found.remaining = qty
            return out
        m.remove(found)
        found.price = price
        found.remaining = qty
        if crossing:
            _, stopped = self._match(m, found, price, out)
            self._settle(m, found, stopped, out)
        else:
            m.rest(found)
        return out

    def cancel_all(self, c: CancelAll) -> list[Out]:
        if c.market_id:
            m = self._locate(c.market_id)
            if isinstance(m, RejectReason):
                return [("Rejected", c.market_id, m)]
            market_ids = [c.market_id]
        else:
            market_ids = sorted(self.markets)
        out: list[Out] = []
        count = 0
        for mid in market_ids:
            m = self.markets[mid]
            mine = [o for o in m.all_orders() if o.account == c.account]
            for o in sorted(mine, key=lambda o: o.order_id):
                m.remove(o)
                out.append(cancelled(mid, o, CancelReason.MASS_CANCEL))
            count += len(mine)
        out.append(("CancelAllDone", c.market_id, c.account, count))
        return out

    def upsert(self, u: UpsertMarket) -> list[Out]:
        c = u.config
        mid = c.market_id
        if mid % self.shard_count != self.shard:
            return [("Rejected", mid, RejectReason.WRONG_SHARD)]
        current = self.markets.get(mid)
        if current is not None and u.revision <= current.revision:
            return []
        multiplier_changed = (
            current is not None and current.config.contract_multiplier != c.contract_multiplier
        )
        if config_rule_broken(c) or multiplier_changed:
            return [("Rejected", mid, RejectReason.INVALID_MARKET_CONFIG)]
        out: list[Out] = [("MarketUpdated", mid, u.revision, c.status)]
        if current is None:
            self.markets[mid] = RefMarket(c, u.revision)
            return out
        current.config = c
        current.revision = u.revision
        if c.status is MarketStatus.HALTED:
            for o in sorted(current.all_orders(), key=lambda o: o.order_id):
                current.remove(o)
                out.append(cancelled(mid, o, CancelReason.MARKET_HALTED))
        return out
