"""A plain, mutable reference model of one shard's continuous matching and its isolated-margin
accounting, for differential tests.

It restates the documented semantics (CONTRACT.md, docs/risk.md, the docstrings of
``hypermarket.core``, ``core.orders``, ``core.markets``, ``core.collateral`` and
``matching.continuous``) with lists and dicts, sharing no code with the engine: only the domain
enums, the market config and the input types are imported, never ``hypermarket.risk`` or
``hypermarket.matching``.  It is meant to be obviously right rather than fast: books are
``dict[price, list[order]]`` scanned with ``min``/``max``, an order's trial match runs after a
deep copy of its market, orders and an account's exposure are found by linear search.

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
                   quantity, taker_side, maker_fee, taker_fee, maker_remaining, taker_remaining
PositionUpdate     account, size, entry_notional, collateral, realized_pnl
MarketUpdated      revision, status
CancelAllDone      account, cancelled
Rejected           reason
=================  ============================================================================

Semantics restated (where the engine's documents leave a choice, the note says which):

* Rejects follow ``RejectReason`` order.  NewOrder: WRONG_SHARD, UNKNOWN_MARKET,
  MARKET_NOT_ACTIVE (a POST_ONLY market takes POST_ONLY limit orders only), INVALID_ORDER_TYPE
  (MARKET with GTC/POST_ONLY), INVALID_PRICE (MARKET needs 0, LIMIT needs > 0),
  INVALID_QUANTITY (min..max; max 0 = no limit), OVERFLOW (notional, or the level total it
  would rest in), DUPLICATE_CLIENT_ORDER_ID (live in this market), NO_MARK_PRICE,
  PRICE_OUT_OF_BAND (a limit beyond ``mark +/- floor(mark * band / 10000)``), then for a LIMIT
  order the account checks of docs/risk.md (below), POST_ONLY_WOULD_CROSS, and after matching
  FOK_NOT_FILLABLE and OVERFLOW (an account or the fee account out of int64).
* Account checks of an order on side ``s``, on the account and its resting orders as they were
  before the order (docs/risk.md "Pre-trade checks" 4-6): REDUCE_ONLY_WOULD_INCREASE (its
  quantity plus the account's other reduce-only orders on ``s`` must not exceed what closes
  the position), POSITION_LIMIT (every order on ``s`` filled), INSUFFICIENT_MARGIN (every
  order on ``s`` and this one filled at its limit, paying the worse fee rate, plus one unit
  per lot for the rounding of fees charged fill by fill: ``equity' >= IM'`` at the mark).
  A MARKET order is matched first (protected by the band edge when the market has a band)
  and checked on the lots and notional it traded; any failing check after a trial match puts
  the market back as it was.
* A rejected order changes nothing, not even the order id counter.
* An amend checks, in ``RejectReason`` order: market status, a negative price, a negative
  quantity or a given one outside min..max, then finds its order (UNKNOWN_ORDER,
  NOT_ORDER_OWNER), then OVERFLOW (notional, or the level total counting the amended
  order once), then, unless it keeps priority (same price, no larger quantity), the mark, the
  band and the account checks with the amended order counted once at its new values, then
  POST_ONLY_WOULD_CROSS.  A crossing amend trades like a new GTC order.
* Fills: the fee of each side is ``ceil(N * bps / 10000)`` on that fill's notional (a rebate
  rounds toward zero) and goes to the market's fee account; the accounts move as
  docs/risk.md "Fills" says (released entry rounded up for a long, down for a short).
* A reduce-only maker trades at most what still reduces its account's position when the walk
  reaches it, and is cancelled (REDUCE_ONLY) there if nothing does; its cancellation comes
  with the self-trade cancellations, in match order, after all the fills.
* After an input that changed accounts, each changed account (in the order first changed)
  has its reduce-only orders trimmed, buys then sells, newest first, down to what closes the
  position: cancelled (REDUCE_ONLY) or shrunk (OrderAmended, kept priority).  Then one
  PositionUpdate per changed account, in the order first changed: the taker, then the makers
  in fill order; a deposit or withdrawal publishes its account.
* Deposit: INVALID_AMOUNT (<= 0), then OVERFLOW (collateral past int64); any market status.
  Withdraw: INVALID_AMOUNT, INSUFFICIENT_COLLATERAL (amount > collateral), then, if the account
  holds a position or resting orders, NO_MARK_PRICE and INSUFFICIENT_MARGIN (each side's
  resting orders filled, as above, with the collateral that stays).
* PriceUpdate: INVALID_PRICE unless both prices lie in 1..int64; otherwise no output.
* Reject outputs of cancels and amends name what the request named when the order was not
  found, and the order itself once it was found (its client order id).

Not modelled: batch markets and auctions (``AuctionTick``, switches of ``matching_mode``: the
tests that use this model run continuous markets only), the index price (stored, read by
nothing here), reject details (text), and book deltas (see above).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypermarket.models import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelReason,
    Deposit,
    InputBody,
    MarginMode,
    MarketConfig,
    MarketStatus,
    MatchingMode,
    NewOrder,
    OrderType,
    PriceUpdate,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UpsertMarket,
    Withdraw,
)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
BPS = 10_000

Out = tuple[object, ...]


def ceil_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded up (toward +infinity), for a positive denominator."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + 1 if remainder else quotient


@dataclass
class RefAccount:
    """One account's isolated margin in one market (docs/risk.md "Accounts")."""

    collateral: int = 0
    size: int = 0
    entry: int = 0
    realized: int = 0

    def values(self) -> tuple[int, int, int, int]:
        return (self.collateral, self.size, self.entry, self.realized)

    def closable(self, side: Side) -> int:
        """How many lots an order on ``side`` can trade and still only reduce the position."""
        if side is Side.BUY:
            return max(-self.size, 0)
        return max(self.size, 0)


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
    reduce_only: bool = False


@dataclass
class RefMarket:
    config: MarketConfig
    revision: int
    bids: dict[int, list[RefOrder]] = field(default_factory=dict)
    asks: dict[int, list[RefOrder]] = field(default_factory=dict)
    mark: int = 0
    index: int = 0
    accounts: dict[bytes, RefAccount] = field(default_factory=dict)
    fee_balance: int = 0
    changed: list[bytes] = field(default_factory=list)
    """Accounts the current input changed, in the order first changed."""

    def side(self, side: Side) -> dict[int, list[RefOrder]]:
        return self.bids if side is Side.BUY else self.asks

    def best(self, side: Side) -> int | None:
        levels = self.side(side)
        if not levels:
            return None
        return max(levels) if side is Side.BUY else min(levels)

    def all_orders(self) -> list[RefOrder]:
        return [o for levels in (self.bids, self.asks) for q in levels.values() for o in q]

    def orders_of(self, account: bytes, side: Side | None = None) -> list[RefOrder]:
        """``account``'s resting orders (on ``side`` if given), oldest first."""
        mine = [
            o
            for o in self.all_orders()
            if o.account == account and (side is None or o.side is side)
        ]
        return sorted(mine, key=lambda o: o.order_id)

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

    def account(self, address: bytes) -> RefAccount:
        """The account as it stands (a fresh, unstored one if the market never saw it)."""
        return self.accounts.get(address) or RefAccount()

    def touch(self, address: bytes) -> RefAccount:
        """The stored account, created if needed, recorded as changed by this input."""
        if address not in self.changed:
            self.changed.append(address)
        return self.accounts.setdefault(address, RefAccount())

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


def fits_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def rejected(mid: int, client_order_id: int, account: bytes, reason: RejectReason) -> Out:
    return ("OrderRejected", mid, client_order_id, account, reason)


def cancelled(mid: int, o: RefOrder, reason: CancelReason) -> Out:
    return ("OrderCancelled", mid, o.order_id, o.client_order_id, o.account, o.remaining, reason)


def amended(mid: int, o: RefOrder, price: int, qty: int, kept: bool) -> Out:
    return ("OrderAmended", mid, o.order_id, o.client_order_id, o.account, price, qty, kept)


# ---------------------------------------------------------------------- money (docs/risk.md)


def fee_of(notional: int, fee_bps: int) -> int:
    """``ceil(notional * fee_bps / 10000)``; a negative rate (rebate) thereby rounds toward 0."""
    return ceil_div(notional * fee_bps, BPS)


def settle_fill(a: RefAccount, buying: bool, price: int, qty: int, multiplier: int) -> None:
    """Move ``a`` by a fill of ``qty`` lots at ``price`` (docs/risk.md "Fills"), before fees."""
    signed_qty = qty if buying else -qty
    if a.size == 0 or (a.size > 0) == buying:
        # Opening or adding: the new lots cost their notional.
        a.entry += price * qty * multiplier
        a.size += signed_qty
        return
    held = abs(a.size)
    closing = min(qty, held)
    if a.size > 0:
        # Closing part of a long: the released entry rounds up, the PnL down.
        released = ceil_div(a.entry * closing, held)
        pnl = closing * price * multiplier - released
    else:
        # Closing part of a short: the released entry rounds down, and so does the PnL.
        released = a.entry * closing // held
        pnl = released - closing * price * multiplier
    a.entry -= released
    a.realized += pnl
    a.collateral += pnl
    a.size += signed_qty
    if qty > held:
        # Flipped: the lots past flat open a new position at this price.
        a.entry = (qty - held) * price * multiplier


def equity_and_margin(
    c: MarketConfig, mark: int, a: RefAccount, side: Side, lots: int, ticks: int
) -> tuple[int, int]:
    """docs/risk.md check 6: (equity', IM') once ``lots`` lots worth ``ticks`` (price times
    lots) trade on ``side`` at the worse of the two fee rates, charged fill by fill: the fee
    of the whole plus one unit per lot (each fill rounds up), nothing without a positive rate."""
    money = ticks * c.contract_multiplier
    worst_rate = max(c.taker_fee_bps, c.maker_fee_bps, 0)
    worst_fee = fee_of(money, worst_rate) + lots if worst_rate > 0 else 0
    signed_entry = a.entry if a.size >= 0 else -a.entry
    cash = a.collateral - signed_entry
    if side is Side.BUY:
        cash_after = cash - money - worst_fee
        size_after = a.size + lots
    else:
        cash_after = cash + money - worst_fee
        size_after = a.size - lots
    equity = cash_after + size_after * mark * c.contract_multiplier
    margin = ceil_div(abs(size_after) * mark * c.contract_multiplier * c.initial_margin_bps, BPS)
    return equity, margin


def account_problem(
    m: RefMarket,
    account: bytes,
    side: Side,
    lots: int,
    ticks: int,
    reduce_only: bool,
    leave_out: RefOrder | None = None,
) -> RejectReason | None:
    """docs/risk.md checks 4-6 for ``lots`` more lots worth ``ticks`` on ``side``.

    ``m`` holds the account and its resting orders as they were before the order;
    ``leave_out`` is an order being amended, counted only through ``lots`` and ``ticks``.
    """
    c = m.config
    a = m.account(account)
    mine = [o for o in m.orders_of(account, side) if o is not leave_out]
    if reduce_only:
        other_reduce_only = sum(o.remaining for o in mine if o.reduce_only)
        if lots + other_reduce_only > a.closable(side):
            return RejectReason.REDUCE_ONLY_WOULD_INCREASE
    all_lots = lots + sum(o.remaining for o in mine)
    all_ticks = ticks + sum(o.price * o.remaining for o in mine)
    if c.max_position:
        worst = a.size + all_lots if side is Side.BUY else a.size - all_lots
        if abs(worst) > c.max_position:
            return RejectReason.POSITION_LIMIT
    equity, margin = equity_and_margin(c, m.mark, a, side, all_lots, all_ticks)
    if equity < margin:
        return RejectReason.INSUFFICIENT_MARGIN
    return None


def band_problem(m: RefMarket, side: Side, price: int) -> RejectReason | None:
    """NO_MARK_PRICE, then PRICE_OUT_OF_BAND for a limit ``price`` (0: a MARKET order)."""
    if not m.mark:
        return RejectReason.NO_MARK_PRICE
    band = m.config.price_band_bps
    if price and band:
        offset = m.mark * band // BPS
        if side is Side.BUY and price > m.mark + offset:
            return RejectReason.PRICE_OUT_OF_BAND
        if side is Side.SELL and price < m.mark - offset:
            return RejectReason.PRICE_OUT_OF_BAND
    return None


def accounts_overflowed(m: RefMarket) -> bool:
    """Whether an account this input changed, or the fee account, left int64."""
    values = [m.fee_balance]
    for address in m.changed:
        values.extend(m.accounts[address].values())
    return not all(fits_int64(v) for v in values)


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
    ) -> tuple[int, bool, int, int]:
        """Walk the opposite side; append fills, then the makers cancelled on the way, to ``out``.

        Returns the taker's remainder, whether self-trade prevention stopped it, and the lots
        and ticks (price times lots) it traded.
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
        maker_cancels: list[Out] = []
        stopped = False
        traded_lots = traded_ticks = 0
        while taker.remaining > 0 and not stopped:
            best = m.best(opposite)
            if best is None or (limit is not None and not crosses(taker.side, limit, best)):
                break
            for maker in list(m.side(opposite)[best]):
                if maker.account == taker.account:
                    if cancel_maker:
                        m.remove(maker)
                        maker_cancels.append(cancelled(mid, maker, CancelReason.SELF_TRADE))
                    if cancel_taker:
                        stopped = True
                        break
                    continue
                qty = min(taker.remaining, maker.remaining)
                if maker.reduce_only:
                    qty = min(qty, m.account(maker.account).closable(maker.side))
                    if qty == 0:
                        m.remove(maker)
                        maker_cancels.append(cancelled(mid, maker, CancelReason.REDUCE_ONLY))
                        continue
                taker.remaining -= qty
                maker.remaining -= qty
                if maker.remaining == 0:
                    m.remove(maker)
                fills.append(self._trade(m, maker, taker, best, qty))
                traded_lots += qty
                traded_ticks += best * qty
                if taker.remaining == 0:
                    break
        out.extend(fills)
        out.extend(maker_cancels)
        return taker.remaining, stopped, traded_lots, traded_ticks

    def _trade(self, m: RefMarket, maker: RefOrder, taker: RefOrder, price: int, qty: int) -> Out:
        """Settle one fill on both accounts (taker first) and the fee account; its output.

        Call it after both remainders were lowered by ``qty``.
        """
        c = m.config
        notional = price * qty * c.contract_multiplier
        maker_fee = fee_of(notional, c.maker_fee_bps)
        taker_fee = fee_of(notional, c.taker_fee_bps)
        buying = taker.side is Side.BUY
        taker_account = m.touch(taker.account)
        settle_fill(taker_account, buying, price, qty, c.contract_multiplier)
        taker_account.collateral -= taker_fee
        maker_account = m.touch(maker.account)
        settle_fill(maker_account, not buying, price, qty, c.contract_multiplier)
        maker_account.collateral -= maker_fee
        m.fee_balance += maker_fee + taker_fee
        ids = (maker.order_id, taker.order_id, maker.account, taker.account)
        return (
            "Fill", c.market_id, *ids, price, qty, taker.side, maker_fee, taker_fee,
            maker.remaining, taker.remaining,
        )  # fmt: skip

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

    def _finish(self, m: RefMarket, out: list[Out]) -> None:
        """Trim reduce-only orders of the changed accounts, then publish those accounts."""
        mid = m.config.market_id
        for address in m.changed:
            held = m.accounts[address]
            for side in (Side.BUY, Side.SELL):
                reduce_only = [o for o in m.orders_of(address, side) if o.reduce_only]
                excess = sum(o.remaining for o in reduce_only) - held.closable(side)
                for o in reversed(reduce_only):  # newest first
                    if excess <= 0:
                        break
                    if o.remaining <= excess:
                        excess -= o.remaining
                        m.remove(o)
                        out.append(cancelled(mid, o, CancelReason.REDUCE_ONLY))
                    else:
                        o.remaining -= excess
                        excess = 0
                        out.append(amended(mid, o, o.price, o.remaining, True))
        for address in m.changed:
            a = m.accounts[address]
            out.append(("PositionUpdate", mid, address, a.size, a.entry, a.collateral, a.realized))
        m.changed = []

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
            case PriceUpdate():
                return self.price_update(body)
            case Deposit() | Withdraw():
                return self.move_collateral(body)
            case _:
                # Auction ticks and undecodable inputs are outside the model (module docstring);
                # the stateful test never sends them.
                raise ValueError(f"the reference model does not model {type(body).__name__}")

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
        problem = band_problem(m, o.side, o.price)
        if problem is None and not is_market:
            problem = account_problem(
                m, o.account, o.side, o.quantity, o.price * o.quantity, o.reduce_only
            )
        if problem is not None:
            return problem
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
            o.reduce_only,
        )
        before = copy.deepcopy(m)
        walk: list[Out] = []
        is_market = o.order_type is OrderType.MARKET
        if not is_market:
            limit: int | None = o.price
        elif m.config.price_band_bps:
            offset = m.mark * m.config.price_band_bps // BPS
            limit = m.mark + offset if o.side is Side.BUY else m.mark - offset
        else:
            limit = None
        remaining, stopped, lots, ticks = self._match(m, taker, limit, walk)
        if is_market:
            # Checked on what it traded, against the account and orders as they were before.
            problem = account_problem(before, o.account, o.side, lots, ticks, o.reduce_only)
        if problem is None and o.time_in_force is TimeInForce.FOK and remaining:
            problem = RejectReason.FOK_NOT_FILLABLE
        if problem is None and accounts_overflowed(m):
            problem = RejectReason.OVERFLOW
        if problem is not None:
            self.markets[mid] = before
            return [rejected(mid, o.client_order_id, o.account, problem)]
        self.next_order_id += 1
        ids = (taker.order_id, o.client_order_id, o.account)
        out: list[Out] = [("OrderAccepted", mid, *ids, o.side, o.price, o.quantity)]
        out.extend(walk)
        self._settle(m, taker, stopped, out)
        self._finish(m, out)
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
        if problem is None and not keeps:
            problem = band_problem(m, found.side, price) or account_problem(
                m, found.account, found.side, qty, price * qty, found.reduce_only, found
            )
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
        before = copy.deepcopy(m)
        m.remove(found)
        found.price = price
        found.remaining = qty
        if crossing:
            _, stopped, _, _ = self._match(m, found, price, out)
            if accounts_overflowed(m):
                self.markets[mid] = before
                return [rejected(mid, found.client_order_id, found.account, RejectReason.OVERFLOW)]
            self._settle(m, found, stopped, out)
        else:
            m.rest(found)
        self._finish(m, out)
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

    def price_update(self, p: PriceUpdate) -> list[Out]:
        m = self._locate(p.market_id)
        if isinstance(m, RejectReason):
            return [("Rejected", p.market_id, m)]
        if not (0 < p.mark_price <= INT64_MAX and 0 < p.index_price <= INT64_MAX):
            return [("Rejected", p.market_id, RejectReason.INVALID_PRICE)]
        m.mark = p.mark_price
        m.index = p.index_price
        return []

    def _withdraw_problem(self, m: RefMarket, w: Withdraw) -> RejectReason | None:
        a = m.account(w.account)
        if w.amount > a.collateral:
            return RejectReason.INSUFFICIENT_COLLATERAL
        mine = m.orders_of(w.account)
        if a.size == 0 and not mine:
            return None
        if not m.mark:
            return RejectReason.NO_MARK_PRICE
        after = RefAccount(a.collateral - w.amount, a.size, a.entry, a.realized)
        for side in (Side.BUY, Side.SELL):
            lots = sum(o.remaining for o in mine if o.side is side)
            ticks = sum(o.price * o.remaining for o in mine if o.side is side)
            equity, margin = equity_and_margin(m.config, m.mark, after, side, lots, ticks)
            if equity < margin:
                return RejectReason.INSUFFICIENT_MARGIN
        return None

    def move_collateral(self, move: Deposit | Withdraw) -> list[Out]:
        mid = move.market_id
        m = self._locate(mid)
        if isinstance(m, RejectReason):
            return [("Rejected", mid, m)]
        if move.amount <= 0:
            return [("Rejected", mid, RejectReason.INVALID_AMOUNT)]
        if isinstance(move, Withdraw):
            problem = self._withdraw_problem(m, move)
            if problem is not None:
                return [("Rejected", mid, problem)]
            collateral = m.account(move.account).collateral - move.amount
        else:
            collateral = m.account(move.account).collateral + move.amount
        if not fits_int64(collateral):
            return [("Rejected", mid, RejectReason.OVERFLOW)]
        m.touch(move.account).collateral = collateral
        out: list[Out] = []
        self._finish(m, out)
        return out
