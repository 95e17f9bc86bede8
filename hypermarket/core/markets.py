"""Finding a market for an input, and the inputs that change markets themselves.

Theory of operation
-------------------
Every market-scoped input first finds its market: a market id that this shard
does not own is ``WRONG_SHARD`` (``market_id % shard_count != shard``), one it
owns but does not know is ``UNKNOWN_MARKET``.

``UpsertMarket`` creates or changes a market.  Its ``revision`` (the KV
revision) orders changes: a revision not newer than the one in force is
ignored without output, so a watcher that re-delivers KV entries after a
restart changes nothing.  A config that breaks a rule of
``models.market.config_problem`` is rejected whole (``INVALID_MARKET_CONFIG``),
as is a change of ``contract_multiplier`` of an existing market (it would
change the meaning of every open position and order).

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

import msgspec

from hypermarket.core.emit import Emitter
from hypermarket.core.market_step import MarketStep
from hypermarket.core.state import MarketState, State
from hypermarket.matching.book import empty_book
from hypermarket.models import (
    CancelReason,
    MarketStatus,
    MarketUpdated,
    MatchingMode,
    PriceUpdate,
    Rejected,
    RejectReason,
    UpsertMarket,
    config_problem,
)
from hypermarket.models.market import INT64_MAX


def locate(state: State, market_id: int) -> MarketState | tuple[RejectReason, str]:
    """The market ``market_id`` of this shard, or why an input naming it must be rejected."""
    if market_id % state.shard_count != state.shard:
        return (
            RejectReason.WRONG_SHARD,
            f"market {market_id} belongs to shard {market_id % state.shard_count}, "
            f"not {state.shard}",
        )
    market = state.markets.get(market_id)
    if market is None:
        return RejectReason.UNKNOWN_MARKET, f"market {market_id} does not exist"
    return market


def with_market(state: State, market: MarketState) -> State:
    """``state`` with ``market`` replacing the market of the same id."""
    return msgspec.structs.replace(
        state, markets=state.markets.set(market.config.market_id, market)
    )


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
    if problem is None and config.matching_mode is MatchingMode.BATCH:
        problem = "matching_mode BATCH is not supported by this engine version"
    if (
        problem is None
        and current is not None
        and current.config.contract_multiplier != config.contract_multiplier
    ):
        problem = "contract_multiplier of an existing market cannot change"
    if problem is not None:
        out.emit(market_id, Rejected(RejectReason.INVALID_MARKET_CONFIG, problem))
        return state
    out.emit(market_id, MarketUpdated(config, upsert.revision))
    if current is None:
        return with_market(state, MarketState(config, upsert.revision, empty_book()))
    updated = msgspec.structs.replace(current, config=config, revision=upsert.revision)
    if config.status is MarketStatus.HALTED and updated.book.orders:
        step = MarketStep(updated, out)
        for order_id in step.editor.all_order_ids():
            step.cancel(step.editor.resting(order_id), CancelReason.MARKET_HALTED)
        updated = step.finish(state.book_delta_depth)
    return with_market(state, updated)


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
        msgspec.structs.replace(
            found, mark_price=update.mark_price, index_price=update.index_price
        ),
    )
