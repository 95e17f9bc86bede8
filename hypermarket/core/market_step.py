"""One input's work on one market: the book editor, the ledger, and the outputs they cause.

Every handler that changes a market opens a ``MarketStep``, changes the book
and the accounts through it, and calls ``finish``, which appends what the
contract puts after fills and cancellations: reduce-only trims, book deltas
(bids then asks, best price first) and position updates (in the ledger's
order: taker, then makers in fill order), and returns the new
``MarketState``.  A handler that rejects simply drops its ``MarketStep``: the
old market is untouched.
"""

from __future__ import annotations

from msgspec.structs import replace

from hypermarket.core.emit import Emitter
from hypermarket.core.state import MarketState
from hypermarket.matching.book import BookEditor
from hypermarket.matching.deltas import side_deltas
from hypermarket.matching.records import MatchResult
from hypermarket.models import (
    CancelReason,
    Fill,
    Order,
    OrderAmended,
    OrderCancelled,
    OutputBody,
    PositionUpdate,
    Side,
)
from hypermarket.models.enums import BUY, CANCEL_IOC_REMAINDER, SELL, TIF_GTC, TIF_POST_ONLY
from hypermarket.risk.ledger import Ledger


class MarketStep:
    """Mutable, local to one call of ``step``: never stored, never shared."""

    __slots__ = ("_ledger", "editor", "market", "market_id", "out")

    def __init__(self, market: MarketState, out: Emitter) -> None:
        self.market = market
        self.market_id = market.config.market_id
        self.editor = BookEditor(market.book)
        self._ledger: Ledger | None = None
        self.out = out

    def emit(self, body: OutputBody) -> None:
        """Emit one output of this market."""
        self.out.emit(self.market_id, body)

    @property
    def ledger(self) -> Ledger:
        """The market's accounts for this step, opened on first use (most steps move no money)."""
        if self._ledger is None:
            market = self.market
            self._ledger = Ledger(market.accounts, market.config, market.fee_balance)
        return self._ledger

    def cancel(self, order: Order, reason: CancelReason) -> None:
        """Take a resting order out and say so."""
        self.editor.remove(order)
        self.emit(cancelled(order, order.remaining, reason))

    def emit_match(self, taker: Order, result: MatchResult) -> None:
        """Fills in match order, then the makers the walk cancelled, in order."""
        for trade in result.trades:
            maker = trade.maker
            self.emit(
                Fill(
                    maker.order_id,
                    taker.order_id,
                    maker.account,
                    taker.account,
                    trade.price,
                    trade.quantity,
                    taker.side,
                    trade.maker_fee,
                    trade.taker_fee,
                    trade.maker_remaining,
                    trade.taker_remaining,
                )
            )
        for maker, reason in result.cancels:
            self.emit(cancelled(maker, maker.remaining, reason))

    def settle_remainder(self, taker: Order, result: MatchResult) -> None:
        """Rest, or cancel, what is left of a taker after matching."""
        remaining = result.remaining
        if not remaining:
            return
        if result.taker_self_trade:
            self.emit(cancelled(taker, remaining, CancelReason.SELF_TRADE))
        elif taker.time_in_force in RESTING_TIFS:
            if remaining != taker.remaining:
                taker = replace(taker, remaining=remaining)
            self.editor.rest(taker)
        else:
            self.emit(cancelled(taker, remaining, CANCEL_IOC_REMAINDER))

    def _trim_reduce_only(self) -> None:
        """Shrink or cancel reduce-only orders that would now grow a changed position.

        Newest orders go first, so older ones keep their place.  A shrink is
        published as ``OrderAmended`` (kept priority), a removal as
        ``OrderCancelled`` with reason REDUCE_ONLY.
        """
        editor = self.editor
        for address in self.ledger.changed:
            exposure = editor.exposure(address)
            if not (exposure.reduce_only_buy_qty or exposure.reduce_only_sell_qty):
                continue
            for side in (BUY, SELL):
                excess = exposure.reduce_only_qty(side)
                if excess:
                    excess -= self.ledger.reducible(address, side)
                if excess > 0:
                    self._trim(address, side, excess)

    def _trim(self, address: bytes, side: Side, excess: int) -> None:
        editor = self.editor
        for order_id in reversed(editor.account_order_ids(address)):
            order = editor.resting(order_id)
            if not order.reduce_only or order.side is not side:
                continue
            if order.remaining <= excess:
                excess -= order.remaining
                self.cancel(order, CancelReason.REDUCE_ONLY)
            else:
                kept = order.remaining - excess
                editor.shrink(order, kept)
                self.emit(
                    OrderAmended(
                        order.order_id,
                        order.client_order_id,
                        order.account,
                        order.price,
                        kept,
                        kept_priority=True,
                    )
                )
                return
            if not excess:
                return

    def finish(self, depth: int) -> MarketState:
        """Trim reduce-only orders, emit deltas and position updates, return the new market."""
        ledger = self._ledger
        changed = ledger is not None and ledger.changed
        if changed:
            self._trim_reduce_only()
        market = self.market
        editor = self.editor
        before = market.book
        book = editor.finish()
        if ledger is None:
            after = replace(market, book=book)
        else:
            after = replace(
                market, book=book, accounts=ledger.finish(), fee_balance=ledger.fee_balance
            )
        touched = editor.touched(BUY)
        if touched is not None:
            for delta in side_deltas(BUY, before.bids, book.bids, touched, depth):
                self.emit(delta)
        touched = editor.touched(SELL)
        if touched is not None:
            for delta in side_deltas(SELL, before.asks, book.asks, touched, depth):
                self.emit(delta)
        if ledger is not None:
            for address, account in ledger.changed.items():
                self.emit(
                    PositionUpdate(
                        address,
                        account.size,
                        account.entry_notional,
                        account.collateral,
                        account.realized_pnl,
                    )
                )
        return after


def cancelled(order: Order, remaining: int, reason: CancelReason) -> OrderCancelled:
    return OrderCancelled(order.order_id, order.client_order_id, order.account, remaining, reason)


RESTING_TIFS = (TIF_GTC, TIF_POST_ONLY)
