"""Finding a market for an input, and the inputs that change markets themselves.

Theory of operation
-------------------
``UpsertMarket`` creates or changes a market.  Its ``revision`` (the KV
revision) orders changes: a revision not newer than the one in force is
ignored without output, so a watcher that re-delivers KV entries after a
restart changes nothing.  A config that breaks a rule of
``models.market.config_problem`` is rejected whole (``INVALID_MARKET_CONFIG``),
as is a change of ``contract_multiplier`` of an existing market (it would
change the meaning of every open position and order).

Switching ``matching_mode``: CONTINUOUS to BATCH keeps the (uncrossed) book as
it is, except reduce-only orders, which a batch market does not take (an
auction cannot cap them without changing its volume): they are cancelled,
reason REDUCE_ONLY.  BATCH to CONTINUOUS first runs one last auction under the batch
configuration (``core.auction.clear_book``: its result, fills and
cancellations follow the ``MarketUpdated``), so the continuous book starts
uncrossed and nothing trades silently; it is refused unless the new status is
ACTIVE, or HALTED (which cancels every order instead of clearing).

Market status decides what a market takes:

============  =========================================================
status        accepts
============  =========================================================
ACTIVE        everything
POST_ONLY     POST_ONLY limit orders, amends that do not cross, cancels
CANCEL_ONLY   cancels
HALTED        cancels (there is nothing to cancel: a halt cancels every
              resting order with reason MARKET_HALTED)
============  =========================================================

``PriceUpdate`` records the mark and index price that risk and price bands
read; it produces no output unless it is rejected.
"""

from __future__ import annotations

from msgspec.structs import replace

from hypermarket.core.auction import clear_book, remember_clearing
from hypermarket.core.emit import Emitter
from hypermarket.core.lookup import locate, with_market
from hypermarket.core.market_step import MarketStep
from hypermarket.core.state import MarketState, State
from hypermarket.matching.book import empty_book
from hypermarket.models import (
    CancelReason,
    MarketConfig,
    MarketUpdated,
    PriceUpdate,
    Rejected,
    RejectReason,
    UpsertMarket,
    change_problem,
    config_problem,
)
from hypermarket.models.enums import BATCH, CONTINUOUS, STATUS_HALTED
from hypermarket.models.market import INT64_MAX


def upsert_market(state: State, upsert: UpsertMarket, out: Emitter) -> State:
    """Create or change a market; see the module docstring for the rules."""
    config = upsert.config
    market_id = config.market_id
    if market_id % state.shard_count != state.shard:
        out.emit(
            market_id,
            Rejected(
                RejectReason.WRONG_SHARD,
                f"market {market_id} belongs to shard {market_id % state.shard_count}, "
                f"not {state.shard}",
            ),
        )
        return state
    current = state.markets.get(market_id)
    if current is not None and upsert.revision <= current.revision:
        return state
    problem = config_problem(config)
    if problem is None and current is not None:
        problem = change_problem(current.config, config)
    if problem is not None:
        out.emit(market_id, Rejected(RejectReason.INVALID_MARKET_CONFIG, problem))
        return state
    out.emit(market_id, MarketUpdated(config, upsert.revision))
    if current is None:
        return with_market(state, MarketState(config, upsert.revision, empty_book()))
    if config.status is STATUS_HALTED and current.book.orders:
        step = MarketStep(current, out)
        for order_id in step.editor.all_order_ids():
            step.cancel(step.editor.resting(order_id), CancelReason.MARKET_HALTED)
        current = step.finish(state.book_delta_depth)
    elif _switches_to_batch(current.config, config):
        reduce_only = sorted(oid for oid, order in current.book.orders.items() if order.reduce_only)
        if reduce_only:
            step = MarketStep(current, out)
            for order_id in reduce_only:
                step.cancel(step.editor.resting(order_id), CancelReason.REDUCE_ONLY)
            current = step.finish(state.book_delta_depth)
    elif _switches_to_continuous(current.config, config):
        step = MarketStep(current, out)
        price = clear_book(step)
        current = remember_clearing(step.finish(state.book_delta_depth), price)
    return with_market(state, replace(current, config=config, revision=upsert.revision))


def _switches_to_batch(before: MarketConfig, after: MarketConfig) -> bool:
    return before.matching_mode is CONTINUOUS and after.matching_mode is BATCH


def _switches_to_continuous(before: MarketConfig, after: MarketConfig) -> bool:
    return before.matching_mode is BATCH and after.matching_mode is CONTINUOUS


def price_update(state: State, update: PriceUpdate, out: Emitter) -> State:
    """Record a market's mark and index price."""
    found = locate(state, update.market_id)
    if isinstance(found, tuple):
        out.emit(update.market_id, Rejected(*found))
        return state
    if not (0 < update.mark_price <= INT64_MAX and 0 < update.index_price <= INT64_MAX):
        out.emit(
            update.market_id,
            Rejected(RejectReason.INVALID_PRICE, "mark_price and index_price must be positive"),
        )
        return state
    return with_market(
        state,
        replace(found, mark_price=update.mark_price, index_price=update.index_price),
    )
