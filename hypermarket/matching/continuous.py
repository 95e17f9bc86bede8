"""Continuous price-time matching of one incoming order against a book.

Theory of operation
-------------------
An incoming (taker) order walks the opposite side best price first and, inside
a level, oldest order first.  Every trade prints at the resting (maker) order's
price and for the smaller of the two open quantities.  The walk stops when the
taker is filled, when the next level no longer crosses the taker's limit (a
MARKET order has no limit), when the side is empty, or when self-trade
prevention says so.

Self-trade prevention applies when the next maker belongs to the taker's own
account, by the taker's mode:

=============  ==============================================================
CANCEL_TAKER   stop; the taker's remainder is cancelled (SELF_TRADE)
CANCEL_MAKER   cancel that maker (SELF_TRADE) and go on matching
CANCEL_BOTH    cancel that maker, stop, and cancel the taker's remainder
=============  ==============================================================

A reduce-only maker trades only what still reduces its account's position and
is cancelled (REDUCE_ONLY) once nothing does, so a walk never grows a position
through a reduce-only order.

What happens to the taker's remainder afterwards (rest, cancel, reject the
whole order for FOK) is the caller's decision: this module only matches.
Every trade is settled at once on the caller's ``Ledger`` (fees, positions,
realized PnL), and the book changes through the caller's ``BookEditor``; a
caller that discards both (FOK not fillable, a MARKET order failing its margin
check) has changed nothing.
"""

from __future__ import annotations

from hypermarket.matching.book import BookEditor, crosses
from hypermarket.matching.records import MatchResult, Trade
from hypermarket.models import CancelReason, Order, Side
from hypermarket.models.enums import BUY, SELL, STP_CANCEL_MAKER, STP_CANCEL_TAKER
from hypermarket.risk.ledger import Ledger


def match(editor: BookEditor, ledger: Ledger, taker: Order, limit_price: int | None) -> MatchResult:
    """Match ``taker`` against the opposite side of ``editor``'s book, settling on ``ledger``.

    ``limit_price`` is None for an unprotected MARKET order.  The taker itself
    is not in the book and is not added to it.  A reduce-only maker trades at
    most what still reduces its account's position; once nothing does, it is
    cancelled (REDUCE_ONLY) instead of trading.
    """
    opposite = SELL if taker.side is BUY else BUY
    buying = taker.side is BUY
    trades: list[Trade] = []
    cancels: list[tuple[Order, CancelReason]] = []
    remaining = taker.remaining
    stopped_by_stp = False
    account = taker.account
    while remaining and not stopped_by_stp:
        price = editor.best_price(opposite)
        if price is None or (
            limit_price is not None and (price > limit_price if buying else price < limit_price)
        ):
            break
        for order_id in editor.level(opposite, price).order_ids:
            maker = editor.resting(order_id)
            if maker.account == account:
                if taker.stp is not STP_CANCEL_TAKER:
                    editor.remove(maker)
                    cancels.append((maker, CancelReason.SELF_TRADE))
                if taker.stp is not STP_CANCEL_MAKER:
                    stopped_by_stp = True
                    break
                continue
            quantity = min(remaining, maker.remaining)
            if maker.reduce_only:
                quantity = min(quantity, ledger.reducible(maker.account, maker.side))
                if not quantity:
                    editor.remove(maker)
                    cancels.append((maker, CancelReason.REDUCE_ONLY))
                    continue
            remaining -= quantity
            maker_remaining = maker.remaining - quantity
            if maker_remaining:
                editor.shrink(maker, maker_remaining)
            else:
                editor.remove(maker)
            maker_fee, taker_fee = ledger.trade(maker, taker, price, quantity)
            trades.append(
                Trade(maker, price, quantity, maker_fee, taker_fee, maker_remaining, remaining)
            )
            if not remaining:
                break
    return MatchResult(trades, cancels, remaining, stopped_by_stp)


def would_cross(editor: BookEditor, side: Side, price: int) -> bool:
    """Whether a limit order at ``price`` on ``side`` would trade on arrival (POST_ONLY check)."""
    best = editor.best_price(SELL if side is BUY else BUY)
    return best is not None and crosses(side, price, best)
