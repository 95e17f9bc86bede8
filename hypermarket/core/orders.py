"""The order lifecycle: new orders, cancels, amends and mass cancels.

Theory of operation
-------------------
An order input is checked in the precedence of ``RejectReason``; the first
broken rule rejects it with ``OrderRejected`` and leaves the state as it was
(except the shard's input and output counters).  An accepted ``NewOrder`` gets
the next engine order id, is matched (``matching.continuous``), and its
remainder is decided by its type:

==================  ========================================================
order               remainder after matching
==================  ========================================================
LIMIT GTC           rests in the book
LIMIT POST_ONLY     rests (it never matches: crossing on arrival rejects it)
LIMIT/MARKET IOC    cancelled, IOC_REMAINDER
LIMIT/MARKET FOK    none: an FOK that cannot fill whole is rejected,
                    FOK_NOT_FILLABLE, and nothing happened
MARKET GTC/POST     rejected on arrival, INVALID_ORDER_TYPE
==================  ========================================================

A taker stopped by self-trade prevention has its remainder cancelled with
SELF_TRADE whatever its type.

``AmendOrder`` changes a resting order's price and/or open quantity (0 keeps a
field).  The same price with a smaller or equal quantity keeps time priority;
anything else takes the order out and puts it back at the end of the queue at
its new price.  A re-entered order that crosses the book trades like a new
GTC order (a POST_ONLY order, or any order in a POST_ONLY market, is rejected
instead and stays as it was).  In a batch market nothing trades before the
auction: the re-entered order rests, after self-trade prevention on arrival.

Risk comes between the order's own rules and the match (``risk.margin``):
a mark price must exist (NO_MARK_PRICE), a limit must lie inside the price
band, reduce-only must not grow the position, the position limit and initial
margin must hold with all the account's orders on that side filled at their
limits.  A MARKET order is priced by what it actually trades: it is matched
(protected by the band when the market has one), then checked, and a failing
check discards the match, so nothing happened.  An order whose settlement
would take an account out of int64 is rejected the same way (OVERFLOW).

Outputs of one input, in order: accepted/amended/rejected, fills in match
order, cancellations (makers removed by self-trade prevention or as spent
reduce-only orders, in match order; then the taker's remainder; then
reduce-only orders trimmed because a position shrank), book deltas,
position updates (taker, then makers in fill order).  ``CancelAll`` cancels the account's
orders market by market (ascending market id), each market's cancellations by
ascending order id followed by its deltas, and closes with ``CancelAllDone``.

Client order ids are unique per account among its live orders *in a market*:
markets are spread over shards, so no shard could check more.
"""

from __future__ import annotations

from msgspec.structs import replace

from hypermarket.core.emit import Emitter
from hypermarket.core.lookup import locate
from hypermarket.core.market_step import RESTING_TIFS, MarketStep, cancelled
from hypermarket.core.state import MarketState, State
from hypermarket.matching.auction import reach
from hypermarket.matching.book import BookEditor, adjusted
from hypermarket.matching.continuous import match, would_cross
from hypermarket.matching.records import AccountOrders, MatchResult
from hypermarket.models import (
    EMPTY_ACCOUNT,
    Account,
    AmendOrder,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    CancelReason,
    MarketConfig,
    MarketStatus,
    NewOrder,
    Order,
    OrderAccepted,
    OrderAmended,
    OrderRejected,
    Rejected,
    RejectReason,
    Side,
)
from hypermarket.models.enums import (
    BATCH,
    BUY,
    CANCEL_USER,
    MARKET,
    SELL,
    STATUS_ACTIVE,
    STATUS_POST_ONLY,
    STP_CANCEL_MAKER,
    STP_CANCEL_TAKER,
    TIF_FOK,
    TIF_POST_ONLY,
)
from hypermarket.risk.margin import Problem, band_limit, fits_int64, policy_for


def _status_problem(status: MarketStatus, post_only: bool) -> str | None:
    """Why a market in ``status`` refuses a new or amended order, or None."""
    if status is STATUS_ACTIVE or (status is STATUS_POST_ONLY and post_only):
        return None
    if status is STATUS_POST_ONLY:
        return "market is POST_ONLY: only POST_ONLY limit orders are accepted"
    return f"market is {status.name}: only cancels are accepted"


def _quantity_problem(config: MarketConfig, qty: int) -> Problem | None:
    """``qty`` against the market's minimum and maximum (0 = no maximum)."""
    if qty < config.min_quantity or (config.max_quantity and qty > config.max_quantity):
        limit = config.max_quantity or "no limit"
        return (
            RejectReason.INVALID_QUANTITY,
            f"quantity {qty} is outside {config.min_quantity}..{limit}",
        )
    return None


def _overflow_problem(
    market: MarketState, editor: BookEditor, side: Side, price: int, qty: int, resting: int = 0
) -> Problem | None:
    """int64 overflow of the notional, or of the level total once ``qty`` lots rest at ``price``.

    ``resting`` lots of the same order already at that price are not counted twice.
    """
    if not fits_int64(price * qty * market.config.contract_multiplier):
        return RejectReason.OVERFLOW, "price * quantity * contract_multiplier exceeds int64"
    levels = (editor.book.bids if side is BUY else editor.book.asks).levels
    if price in levels and not fits_int64(levels[price].quantity - resting + qty):
        return RejectReason.OVERFLOW, f"level {price} would hold more than int64 lots"
    return None


def _price_risk_problem(market: MarketState, side: Side, price: int) -> Problem | None:
    """A mark price must exist; a limit price must lie inside the band around it."""
    mark = market.mark_price
    if not mark:
        return RejectReason.NO_MARK_PRICE, "no PriceUpdate for this market yet"
    band_bps = market.config.price_band_bps
    if price and band_bps:
        limit = band_limit(side, mark, band_bps)
        if price > limit if side is BUY else price < limit:
            return (
                RejectReason.PRICE_OUT_OF_BAND,
                f"price {price} is beyond the band limit {limit} around mark {mark}",
            )
    return None


def _reference_price(market: MarketState, side: Side) -> int:
    """The price a MARKET order waiting in a batch market is margined at: band edge, or mark."""
    band_bps = market.config.price_band_bps
    if band_bps:
        return band_limit(side, market.mark_price, band_bps)
    return market.mark_price


def _new_order_problem(
    market: MarketState,
    editor: BookEditor,
    order: NewOrder,
    account: Account,
    resting: AccountOrders,
) -> Problem | None:
    """The first rule ``order`` breaks before matching, in ``RejectReason`` order, or None.

    ``account`` and ``resting`` are the ordering account's margin and resting
    orders in this market.
    """
    is_market = order.order_type is MARKET
    if market.config.status is not STATUS_ACTIVE:
        status = _status_problem(
            market.config.status, order.time_in_force is TIF_POST_ONLY and not is_market
        )
        if status is not None:
            return RejectReason.MARKET_NOT_ACTIVE, status
    if is_market and order.time_in_force in RESTING_TIFS:
        return RejectReason.INVALID_ORDER_TYPE, "a MARKET order must be IOC or FOK"
    batch = market.config.matching_mode is BATCH
    if batch and order.time_in_force is TIF_FOK:
        return RejectReason.INVALID_ORDER_TYPE, "FOK is not available in a BATCH market"
    if batch and order.reduce_only:
        return RejectReason.INVALID_ORDER_TYPE, "reduce-only is not available in a BATCH market"
    if is_market and order.price != 0:
        return RejectReason.INVALID_PRICE, "a MARKET order carries price 0"
    if not is_market and order.price <= 0:
        return RejectReason.INVALID_PRICE, f"limit price {order.price} must be positive"
    problem = _quantity_problem(market.config, order.quantity) or _overflow_problem(
        market, editor, order.side, order.price, order.quantity
    )
    if problem is None and order.client_order_id in resting.ids:
        problem = (
            RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            f"client_order_id {order.client_order_id} is live in this market",
        )
    if problem is None:
        problem = _price_risk_problem(market, order.side, order.price)
    if problem is None and (batch or not is_market):
        price = _reference_price(market, order.side) if is_market else order.price
        problem = policy_for(market.config).order_problem(
            market.config,
            market.mark_price,
            account,
            resting,
            order.side,
            order.quantity,
            price * order.quantity,
            order.reduce_only,
        )
    if (
        problem is None
        and order.time_in_force is TIF_POST_ONLY
        and _would_trade(editor, order.side, order.price, batch)
    ):
        problem = RejectReason.POST_ONLY_WOULD_CROSS, "a POST_ONLY order may not trade on arrival"
    return problem


def _finish(state: State, step: MarketStep, next_order_id: int) -> State:
    """The new state after a market step, with the shard's counters brought up to date."""
    after = step.finish(state.book_delta_depth)
    out = step.out
    return replace(
        state,
        markets=state.markets.set(step.market_id, after),
        next_order_id=next_order_id,
        input_seq=out.input_seq,
        output_seq=out.seq,
    )


def _open_market(
    state: State, order: NewOrder | CancelOrder | AmendOrder, out: Emitter
) -> MarketStep | None:
    """A step on the market an order input names, or None after rejecting it (no such market)."""
    found = locate(state, order.market_id)
    if isinstance(found, tuple):
        out.emit(order.market_id, OrderRejected(order.client_order_id, order.account, *found))
        return None
    return MarketStep(found, out)


def new_order(state: State, order: NewOrder, out: Emitter) -> State:
    """Check, match and rest or cancel one new order."""
    market_id = order.market_id
    step = _open_market(state, order, out)
    if step is None:
        return state
    found = step.market
    account = found.accounts.get(order.account, EMPTY_ACCOUNT)
    resting = step.editor.exposure(order.account)
    problem = _new_order_problem(found, step.editor, order, account, resting)
    if problem is not None:
        out.emit(market_id, OrderRejected(order.client_order_id, order.account, *problem))
        return state
    is_market = order.order_type is MARKET
    batch = found.config.matching_mode is BATCH
    taker = Order(
        state.next_order_id,
        order.account,
        order.client_order_id,
        order.side,
        _reference_price(found, order.side) if is_market and batch else order.price,
        order.quantity,
        order.time_in_force,
        order.stp,
        order.reduce_only,
        is_market,
    )
    if batch:
        return _collect(state, step, order, taker)
    band_bps = found.config.price_band_bps
    if not is_market:
        limit: int | None = order.price
    else:
        limit = band_limit(order.side, found.mark_price, band_bps) if band_bps else None
    if limit is not None and not would_cross(step.editor, order.side, limit):
        result = MatchResult([], [], order.quantity, False)  # nothing to trade with: no walk
    else:
        result = match(step.editor, step.ledger, taker, limit)
    if is_market:
        problem = policy_for(found.config).order_problem(
            found.config,
            found.mark_price,
            account,
            resting,
            order.side,
            *result.traded(),
            order.reduce_only,
        )
    if problem is None and order.time_in_force is TIF_FOK and result.remaining:
        problem = (
            RejectReason.FOK_NOT_FILLABLE,
            f"only {order.quantity - result.remaining} of {order.quantity} lots can trade now",
        )
    if problem is None and result.trades and step.ledger.overflowed():
        problem = RejectReason.OVERFLOW, "settling this order would overflow an account"
    if problem is not None:
        out.emit(market_id, OrderRejected(order.client_order_id, order.account, *problem))
        return state
    step.emit(_accepted(taker, order))
    step.emit_match(taker, result)
    step.settle_remainder(taker, result)
    return _finish(state, step, state.next_order_id + 1)


def _accepted(taker: Order, order: NewOrder) -> OrderAccepted:
    """The acknowledgement of ``order`` as ``taker``, priced as sent (0 for a MARKET order)."""
    return OrderAccepted(
        taker.order_id,
        order.client_order_id,
        order.account,
        order.side,
        order.price,
        order.quantity,
    )


def _collect(state: State, step: MarketStep, order: NewOrder, taker: Order) -> State:
    """Rest an accepted order of a batch market for the next auction (``core.auction``).

    Self-trade prevention acts here, on arrival: the account's own resting
    orders on the other side that the new one would trade with are handled by
    its mode, so that no auction can pair an account with itself.
    """
    step.emit(_accepted(taker, order))
    _rest_for_auction(step, taker)
    return _finish(state, step, state.next_order_id + 1)


def _rest_for_auction(step: MarketStep, order: Order) -> None:
    """Rest ``order`` in a batch market after self-trade prevention on arrival.

    The account's own resting orders on the other side that ``order`` could
    trade with are handled by its mode: CANCEL_MAKER cancels them,
    CANCEL_TAKER cancels ``order`` instead of resting it, CANCEL_BOTH does both.
    """
    editor = step.editor
    buying = order.side is BUY
    crossing = [
        resting
        for resting in map(editor.resting, editor.account_order_ids(order.account))
        if resting.side is not order.side
        and (reach(order) >= reach(resting) if buying else reach(order) <= reach(resting))
    ]
    if crossing and order.stp is not STP_CANCEL_TAKER:
        for resting in crossing:
            step.cancel(resting, CancelReason.SELF_TRADE)
    if crossing and order.stp is not STP_CANCEL_MAKER:
        step.emit(cancelled(order, order.remaining, CancelReason.SELF_TRADE))
    else:
        editor.rest(order)


def _would_trade(editor: BookEditor, side: Side, price: int, batch: bool) -> bool:
    """Whether a limit at ``price`` would trade with the book (POST_ONLY's test).

    In a batch market a waiting MARKET order on the other side trades with
    any price, so it counts as crossing too.
    """
    if would_cross(editor, side, price):
        return True
    opposite = SELL if side is BUY else BUY
    return batch and any(editor.resting(i).is_market for i in editor.expiring(opposite))


def _find_order(
    editor: BookEditor, account: bytes, order_id: int, client_order_id: int
) -> Order | Problem:
    """The live order a cancel or amend names (by order id if non-zero), owned by ``account``."""
    if order_id:
        order = editor.order(order_id)
        if order is None:
            return RejectReason.UNKNOWN_ORDER, f"order {order_id} is not live in this market"
        if order.account != account:
            return RejectReason.NOT_ORDER_OWNER, f"order {order_id} belongs to another account"
        return order
    found_id = editor.order_id_for_client_id(account, client_order_id)
    if found_id is None:
        return (
            RejectReason.UNKNOWN_ORDER,
            f"client_order_id {client_order_id} is not live in this market",
        )
    return editor.resting(found_id)


def cancel_order(state: State, cancel: CancelOrder, out: Emitter) -> State:
    """Cancel one live order; allowed in every market status."""
    market_id = cancel.market_id
    step = _open_market(state, cancel, out)
    if step is None:
        return state
    order = _find_order(step.editor, cancel.account, cancel.order_id, cancel.client_order_id)
    if isinstance(order, tuple):
        out.emit(
            market_id,
            OrderRejected(cancel.client_order_id, cancel.account, *order, cancel.order_id),
        )
        return state
    step.cancel(order, CANCEL_USER)
    return _finish(state, step, state.next_order_id)


def _amend_value_problem(market: MarketState, amend: AmendOrder) -> Problem | None:
    """What is wrong with an amend before its order is looked up (``RejectReason`` order).

    Only a quantity the amend gives is checked against the market's limits: an
    amend of the price alone keeps the open quantity the order already has.
    """
    status = _status_problem(market.config.status, post_only=True)
    if status is not None:
        return RejectReason.MARKET_NOT_ACTIVE, status
    if amend.new_price < 0:
        return RejectReason.INVALID_PRICE, f"new_price {amend.new_price} must not be negative"
    if amend.new_quantity < 0:
        return (
            RejectReason.INVALID_QUANTITY,
            f"new_quantity {amend.new_quantity} must not be negative",
        )
    return _quantity_problem(market.config, amend.new_quantity) if amend.new_quantity else None


def _amend_problem(
    market: MarketState, step: MarketStep, order: Order, price: int, qty: int
) -> Problem | None:
    """What is wrong with amending ``order`` to ``price`` and ``qty``; risk only where it grows."""
    editor = step.editor
    resting = order.remaining if price == order.price else 0
    problem = _overflow_problem(market, editor, order.side, price, qty, resting)
    if problem is not None or (price == order.price and qty <= order.remaining):
        return problem
    problem = _price_risk_problem(market, order.side, price)
    if problem is None:
        problem = policy_for(market.config).order_problem(
            market.config,
            market.mark_price,
            step.ledger.account(order.account),
            adjusted(editor.exposure(order.account), order, -order.remaining),
            order.side,
            qty,
            price * qty,
            order.reduce_only,
        )
    return problem


def _amend_target(market: MarketState, editor: BookEditor, amend: AmendOrder) -> Order | Problem:
    """The order an amend changes, or why the amend is refused before looking further."""
    problem = _amend_value_problem(market, amend)
    if problem is not None:
        return problem
    return _find_order(editor, amend.account, amend.order_id, amend.client_order_id)


def _post_only_cross(market: MarketState, order: Order, crossing: bool) -> Problem | None:
    if crossing and (
        order.time_in_force is TIF_POST_ONLY or market.config.status is STATUS_POST_ONLY
    ):
        return RejectReason.POST_ONLY_WOULD_CROSS, "the amended order would trade"
    return None


def amend_order(state: State, amend: AmendOrder, out: Emitter) -> State:
    """Change a resting order's price and/or open quantity (see the module docstring)."""
    market_id = amend.market_id
    step = _open_market(state, amend, out)
    if step is None:
        return state
    found = step.market
    editor = step.editor
    order = _amend_target(found, editor, amend)
    if isinstance(order, tuple):
        out.emit(
            market_id,
            OrderRejected(amend.client_order_id, amend.account, *order, amend.order_id),
        )
        return state
    price = amend.new_price or order.price
    qty = amend.new_quantity or order.remaining
    keeps_priority = price == order.price and qty <= order.remaining
    batch = found.config.matching_mode is BATCH
    crossing = not keeps_priority and _would_trade(editor, order.side, price, batch)
    problem = _amend_problem(found, step, order, price, qty) or _post_only_cross(
        found, order, crossing
    )
    moved = replace(order, price=price, remaining=qty)
    result = None
    if problem is None and crossing and not batch:
        editor.remove(order)
        result = match(editor, step.ledger, moved, price)
        if step.ledger.overflowed():
            problem = RejectReason.OVERFLOW, "settling this amend would overflow an account"
    if problem is not None:
        out.emit(
            market_id,
            OrderRejected(order.client_order_id, order.account, *problem, order.order_id),
        )
        return state
    step.emit(
        OrderAmended(
            order.order_id, order.client_order_id, order.account, price, qty, keeps_priority
        )
    )
    if keeps_priority:
        if qty != order.remaining:
            editor.shrink(order, qty)
    elif result is not None:
        step.emit_match(moved, result)
        step.settle_remainder(moved, result)
    else:
        editor.remove(order)
        if batch:
            _rest_for_auction(step, moved)
        else:
            editor.rest(moved)
    return _finish(state, step, state.next_order_id)


def cancel_all(state: State, cancel: CancelAll, out: Emitter) -> State:
    """Cancel every live order of an account in one market, or in every market of the shard."""
    if cancel.market_id:
        found = locate(state, cancel.market_id)
        if isinstance(found, tuple):
            out.emit(cancel.market_id, Rejected(*found))
            return state
        market_ids = [cancel.market_id]
    else:
        market_ids = sorted(state.markets.keys())
    cancelled = 0
    for market_id in market_ids:
        step = MarketStep(state.markets[market_id], out)
        order_ids = step.editor.account_order_ids(cancel.account)
        if not order_ids:
            continue
        for order_id in order_ids:
            step.cancel(step.editor.resting(order_id), CancelReason.MASS_CANCEL)
        cancelled += len(order_ids)
        state = _finish(state, step, state.next_order_id)
    out.emit(cancel.market_id, CancelAllDone(cancel.account, cancelled))
    return state


__all__ = ["amend_order", "cancel_all", "cancel_order", "new_order"]
