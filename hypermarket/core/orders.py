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
instead and stays as it was).

Outputs of one input, in order: accepted/amended/rejected, fills in match
order, cancellations (makers removed by self-trade prevention in match order,
then the taker's remainder), book deltas.  ``CancelAll`` cancels the account's
orders market by market (ascending market id), each market's cancellations by
ascending order id followed by its deltas, and closes with ``CancelAllDone``.

Client order ids are unique per account among its live orders *in a market*:
markets are spread over shards, so no shard could check more.
"""

from __future__ import annotations

import msgspec

from hypermarket.core.emit import Emitter
from hypermarket.core.markets import emit_deltas, locate, with_market
from hypermarket.core.state import MarketState, State
from hypermarket.matching.book import BookEditor
from hypermarket.matching.continuous import MatchResult, match, would_cross
from hypermarket.models import (
    AmendOrder,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    CancelReason,
    Fill,
    MarketStatus,
    NewOrder,
    Order,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    OrderType,
    Rejected,
    RejectReason,
    TimeInForce,
)
from hypermarket.models.market import INT64_MAX

_RESTING_TIFS = (TimeInForce.GTC, TimeInForce.POST_ONLY)


def _status_problem(status: MarketStatus, post_only: bool) -> str | None:
    """Why a market in ``status`` refuses a new or amended order, or None."""
    if status is MarketStatus.ACTIVE or (status is MarketStatus.POST_ONLY and post_only):
        return None
    if status is MarketStatus.POST_ONLY:
        return "market is POST_ONLY: only POST_ONLY limit orders are accepted"
    return f"market is {status.name}: only cancels are accepted"


def _size_problem(
    market: MarketState, editor: BookEditor, side_price: tuple[Order | NewOrder, int], qty: int
) -> tuple[RejectReason, str] | None:
    """Quantity limits, then int64 overflow of the notional and of the level total."""
    order, price = side_price
    config = market.config
    if not config.min_quantity <= qty <= config.max_quantity:
        return (
            RejectReason.INVALID_QUANTITY,
            f"quantity {qty} is outside {config.min_quantity}..{config.max_quantity}",
        )
    if price * qty * config.contract_multiplier > INT64_MAX:
        return RejectReason.OVERFLOW, "price * quantity * contract_multiplier exceeds int64"
    if price and price in (levels := (editor.book.side(order.side).levels)):
        if levels[price].quantity + qty > INT64_MAX:
            return RejectReason.OVERFLOW, f"level {price} would hold more than int64 lots"
    return None


def _new_order_problem(
    market: MarketState, editor: BookEditor, order: NewOrder
) -> tuple[RejectReason, str] | None:
    """The first rule ``order`` breaks, in ``RejectReason`` order, or None."""
    is_market = order.order_type is OrderType.MARKET
    status = _status_problem(
        market.config.status, order.time_in_force is TimeInForce.POST_ONLY and not is_market
    )
    if status is not None:
        return RejectReason.MARKET_NOT_ACTIVE, status
    if is_market and order.time_in_force in _RESTING_TIFS:
        return RejectReason.INVALID_ORDER_TYPE, "a MARKET order must be IOC or FOK"
    if is_market and order.price != 0:
        return RejectReason.INVALID_PRICE, "a MARKET order carries price 0"
    if not is_market and order.price <= 0:
        return RejectReason.INVALID_PRICE, f"limit price {order.price} must be positive"
    size = _size_problem(market, editor, (order, order.price), order.quantity)
    if size is not None:
        return size
    if editor.order_id_for_client_id(order.account, order.client_order_id) is not None:
        return (
            RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            f"client_order_id {order.client_order_id} is live in this market",
        )
    if order.time_in_force is TimeInForce.POST_ONLY and would_cross(
        editor, order.side, order.price
    ):
        return RejectReason.POST_ONLY_WOULD_CROSS, "a POST_ONLY order may not trade on arrival"
    return None


def _emit_match(out: Emitter, market_id: int, taker: Order, result: MatchResult) -> None:
    """Fills in match order, then makers cancelled by self-trade prevention."""
    for trade in result.trades:
        maker = trade.maker
        out.emit(
            market_id,
            Fill(
                maker.order_id,
                taker.order_id,
                maker.account,
                taker.account,
                trade.price,
                trade.quantity,
                taker.side,
                0,
                0,
                trade.maker_remaining,
                trade.taker_remaining,
            ),
        )
    for maker in result.self_trade_cancels:
        out.emit(market_id, _cancelled(maker, maker.remaining, CancelReason.SELF_TRADE))


def _cancelled(order: Order, remaining: int, reason: CancelReason) -> OrderCancelled:
    return OrderCancelled(order.order_id, order.client_order_id, order.account, remaining, reason)


def _settle_remainder(
    out: Emitter, market_id: int, editor: BookEditor, taker: Order, result: MatchResult
) -> None:
    """Rest, or cancel, what is left of a taker after matching."""
    remaining = result.remaining
    if not remaining:
        return
    if result.taker_self_trade:
        out.emit(market_id, _cancelled(taker, remaining, CancelReason.SELF_TRADE))
    elif taker.time_in_force in _RESTING_TIFS:
        editor.rest(msgspec.structs.replace(taker, remaining=remaining))
    else:
        out.emit(market_id, _cancelled(taker, remaining, CancelReason.IOC_REMAINDER))


def _finish(
    state: State, out: Emitter, market: MarketState, editor: BookEditor, next_order_id: int
) -> State:
    after = msgspec.structs.replace(market, book=editor.finish())
    emit_deltas(out, market, editor, after, state.book_delta_depth)
    return msgspec.structs.replace(
        state,
        markets=state.markets.set(market.config.market_id, after),
        next_order_id=next_order_id,
    )


def new_order(state: State, order: NewOrder, out: Emitter) -> State:
    """Check, match and rest or cancel one new order."""
    market_id = order.market_id
    found = locate(state, market_id)
    if isinstance(found, tuple):
        out.emit(market_id, OrderRejected(order.client_order_id, order.account, *found))
        return state
    editor = BookEditor(found.book)
    problem = _new_order_problem(found, editor, order)
    if problem is not None:
        out.emit(market_id, OrderRejected(order.client_order_id, order.account, *problem))
        return state
    taker = Order(
        state.next_order_id,
        order.account,
        order.client_order_id,
        order.side,
        order.price,
        order.quantity,
        order.time_in_force,
        order.stp,
        order.reduce_only,
    )
    result = match(editor, taker, None if order.order_type is OrderType.MARKET else order.price)
    if order.time_in_force is TimeInForce.FOK and result.remaining:
        out.emit(
            market_id,
            OrderRejected(
                order.client_order_id,
                order.account,
                RejectReason.FOK_NOT_FILLABLE,
                f"only {order.quantity - result.remaining} of {order.quantity} lots can trade now",
            ),
        )
        return state
    out.emit(
        market_id,
        OrderAccepted(
            taker.order_id,
            order.client_order_id,
            order.account,
            order.side,
            order.price,
            order.quantity,
        ),
    )
    _emit_match(out, market_id, taker, result)
    _settle_remainder(out, market_id, editor, taker, result)
    return _finish(state, out, found, editor, state.next_order_id + 1)


def _find_order(
    editor: BookEditor, account: bytes, order_id: int, client_order_id: int
) -> Order | tuple[RejectReason, str]:
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
    order = editor.order(found_id)
    assert order is not None, "client id index names an order the book does not hold"
    return order


def cancel_order(state: State, cancel: CancelOrder, out: Emitter) -> State:
    """Cancel one live order; allowed in every market status."""
    market_id = cancel.market_id
    found = locate(state, market_id)
    if isinstance(found, tuple):
        out.emit(market_id, OrderRejected(cancel.client_order_id, cancel.account, *found))
        return state
    editor = BookEditor(found.book)
    order = _find_order(editor, cancel.account, cancel.order_id, cancel.client_order_id)
    if isinstance(order, tuple):
        out.emit(
            market_id,
            OrderRejected(cancel.client_order_id, cancel.account, *order, cancel.order_id),
        )
        return state
    editor.remove(order)
    out.emit(market_id, _cancelled(order, order.remaining, CancelReason.USER))
    return _finish(state, out, found, editor, state.next_order_id)


def _amend_problem(
    market: MarketState, editor: BookEditor, order: Order, amend: AmendOrder, price: int, qty: int
) -> tuple[RejectReason, str] | None:
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
    return _size_problem(market, editor, (order, price), qty)


def amend_order(state: State, amend: AmendOrder, out: Emitter) -> State:
    """Change a resting order's price and/or open quantity (see the module docstring)."""
    market_id = amend.market_id
    found = locate(state, market_id)
    if isinstance(found, tuple):
        out.emit(market_id, OrderRejected(amend.client_order_id, amend.account, *found))
        return state
    editor = BookEditor(found.book)
    order = _find_order(editor, amend.account, amend.order_id, amend.client_order_id)
    if isinstance(order, tuple):
        out.emit(market_id, OrderRejected(amend.client_order_id, amend.account, *order))
        return state
    price = amend.new_price or order.price
    qty = amend.new_quantity or order.remaining
    problem = _amend_problem(found, editor, order, amend, price, qty)
    keeps_priority = price == order.price and qty <= order.remaining
    crossing = not keeps_priority and would_cross(editor, order.side, price)
    if problem is None and crossing and (
        order.time_in_force is TimeInForce.POST_ONLY
        or found.config.status is MarketStatus.POST_ONLY
    ):
        problem = RejectReason.POST_ONLY_WOULD_CROSS, "the amended order would trade"
    if problem is not None:
        out.emit(
            market_id,
            OrderRejected(order.client_order_id, order.account, *problem, order.order_id),
        )
        return state
    out.emit(
        market_id,
        OrderAmended(
            order.order_id, order.client_order_id, order.account, price, qty, keeps_priority
        ),
    )
    if keeps_priority:
        if qty != order.remaining:
            editor.shrink(order, qty)
        return _finish(state, out, found, editor, state.next_order_id)
    editor.remove(order)
    moved = msgspec.structs.replace(order, price=price, remaining=qty)
    if crossing:
        result = match(editor, moved, price)
        _emit_match(out, market_id, moved, result)
        _settle_remainder(out, market_id, editor, moved, result)
    else:
        editor.rest(moved)
    return _finish(state, out, found, editor, state.next_order_id)


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
        market = state.markets[market_id]
        editor = BookEditor(market.book)
        order_ids = editor.account_order_ids(cancel.account)
        if not order_ids:
            continue
        for order_id in order_ids:
            order = editor.order(order_id)
            assert order is not None
            editor.remove(order)
            out.emit(market_id, _cancelled(order, order.remaining, CancelReason.MASS_CANCEL))
        cancelled += len(order_ids)
        state = _finish(state, out, market, editor, state.next_order_id)
    out.emit(cancel.market_id, CancelAllDone(cancel.account, cancelled))
    return state


__all__ = ["amend_order", "cancel_all", "cancel_order", "new_order", "with_market"]
