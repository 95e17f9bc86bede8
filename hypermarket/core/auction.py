"""Batch markets: what an ``AuctionTick`` does, and the auction a switch to continuous runs.

Theory of operation
-------------------
In a market whose ``matching_mode`` is BATCH, orders pass the same checks as
in a continuous market and then rest without matching (``core.orders``); the
book may be crossed between auctions.  An ``AuctionTick`` clears the whole
book at one price (``matching.auction``): outputs are ``AuctionResult`` first,
then the fills in allocation order, then ``OrderCancelled`` (reason
AUCTION_UNFILLED) for every order that lived only for this auction (IOC and
MARKET orders) and is not filled, then book deltas and position updates.  GTC
and POST_ONLY orders that did not fill rest for the next auction.

A trade in an auction has no aggressor.  So that fees and the ``Fill`` message
keep their meaning, the older of the two orders (the lower order id) is the
maker and the newer the taker.  Self-trades cannot happen: an order that
would cross its own account's resting orders is handled by its self-trade
prevention mode when it arrives, so one account never has crossing orders on
both sides.

A tick for a continuous market is rejected (NOT_BATCH_MARKET); a batch market
that is not ACTIVE does not clear (MARKET_NOT_ACTIVE).  Switching a batch
market to CONTINUOUS runs one last auction first (``clear_book``), so that
the continuous book starts uncrossed and nothing trades silently.
"""

from __future__ import annotations

from msgspec.structs import replace

from hypermarket.core.emit import Emitter
from hypermarket.core.lookup import locate, with_market
from hypermarket.core.market_step import MarketStep
from hypermarket.core.state import MarketState, State
from hypermarket.matching.auction import allocate, clear
from hypermarket.matching.book import BookEditor
from hypermarket.models import (
    AuctionResult,
    AuctionTick,
    CancelReason,
    Fill,
    Order,
    Rejected,
    RejectReason,
    Side,
)
from hypermarket.models.enums import BATCH, BUY, SELL, STATUS_ACTIVE


def _ranked(editor: BookEditor, side: Side, price: int) -> list[Order]:
    """The orders of ``side`` eligible at ``price``: MARKET first, then best price, then time."""
    ranked = [order for order in map(editor.resting, editor.expiring(side)) if order.is_market]
    for level_price in editor.prices(side):
        if (level_price < price) if side is BUY else (level_price > price):
            break
        ranked.extend(map(editor.resting, editor.level(side, level_price).order_ids))
    return ranked


def _levels(editor: BookEditor, side: Side) -> list[tuple[int, int]]:
    return [(price, editor.level(side, price).quantity) for price in editor.prices(side)]


def _market_lots(editor: BookEditor, side: Side) -> int:
    return sum(
        order.remaining for order in map(editor.resting, editor.expiring(side)) if order.is_market
    )


def clear_book(step: MarketStep) -> int:
    """Run one auction on ``step``'s market; return the clearing price (0 if nothing traded)."""
    editor = step.editor
    market = step.market
    clearing = clear(
        _levels(editor, BUY),
        _levels(editor, SELL),
        _market_lots(editor, BUY),
        _market_lots(editor, SELL),
        market.mark_price or market.last_clearing_price,
    )
    step.emit(
        AuctionResult(clearing.price, clearing.volume, clearing.buy_surplus, clearing.sell_surplus)
    )
    if clearing.volume:
        buys = _ranked(editor, BUY, clearing.price)
        sells = _ranked(editor, SELL, clearing.price)
        for buy, sell, lots in allocate(buys, sells, clearing.volume):
            _trade(step, buy.order_id, sell.order_id, clearing.price, lots)
    for side in (BUY, SELL):
        for order_id in editor.expiring(side):
            step.cancel(editor.resting(order_id), CancelReason.AUCTION_UNFILLED)
    return clearing.price


def _trade(step: MarketStep, buy_id: int, sell_id: int, price: int, lots: int) -> None:
    """Execute one allocated pair at the clearing price; the older order is the maker."""
    editor = step.editor
    maker = editor.resting(min(buy_id, sell_id))
    taker = editor.resting(max(buy_id, sell_id))
    maker_fee, taker_fee = step.ledger.trade(maker, taker, price, lots)
    maker_left = maker.remaining - lots
    taker_left = taker.remaining - lots
    for order, left in ((maker, maker_left), (taker, taker_left)):
        if left:
            editor.shrink(order, left)
        else:
            editor.remove(order)
    step.emit(
        Fill(
            maker.order_id,
            taker.order_id,
            maker.account,
            taker.account,
            price,
            lots,
            taker.side,
            maker_fee,
            taker_fee,
            maker_left,
            taker_left,
        )
    )


def auction_tick(state: State, tick: AuctionTick, out: Emitter) -> State:
    """Clear a batch market now."""
    found = locate(state, tick.market_id)
    if isinstance(found, tuple):
        out.emit(tick.market_id, Rejected(*found))
        return state
    config = found.config
    if config.matching_mode is not BATCH:
        out.emit(
            tick.market_id,
            Rejected(
                RejectReason.NOT_BATCH_MARKET, f"market {tick.market_id} matches continuously"
            ),
        )
        return state
    if config.status is not STATUS_ACTIVE:
        out.emit(
            tick.market_id,
            Rejected(
                RejectReason.MARKET_NOT_ACTIVE,
                f"market is {config.status.name}: auctions run only while ACTIVE",
            ),
        )
        return state
    step = MarketStep(found, out)
    price = clear_book(step)
    return with_market(state, remember_clearing(step.finish(state.book_delta_depth), price))


def remember_clearing(market: MarketState, price: int) -> MarketState:
    """Remember a clearing price as the next auction's fallback reference."""
    if not price:
        return market
    return replace(market, last_clearing_price=price)


__all__ = ["auction_tick", "clear_book", "remember_clearing"]
