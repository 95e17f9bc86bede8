"""Deposits and withdrawals of isolated-margin collateral.

``Deposit`` adds ``amount`` (> 0) to the account's collateral in one market;
it is accepted in every market status, so that a trader can always shore up
a position.  ``Withdraw`` takes it out only while the collateral covers the
amount and what stays still covers initial margin with either side's resting
orders filled (``risk.margin``).  Both answer with the account's
``PositionUpdate``; a refusal is a ``Rejected`` naming the reason.
"""

from __future__ import annotations

from hypermarket.core.emit import Emitter
from hypermarket.core.lookup import locate, with_market
from hypermarket.core.market_step import MarketStep
from hypermarket.core.state import State
from hypermarket.models import Account, Deposit, Rejected, RejectReason, Withdraw
from hypermarket.risk.margin import fits_int64, policy_for


def move_collateral(state: State, move: Deposit | Withdraw, out: Emitter) -> State:
    """Apply one deposit or withdrawal (see the module docstring)."""
    market_id = move.market_id
    found = locate(state, market_id)
    if isinstance(found, tuple):
        out.emit(market_id, Rejected(*found))
        return state
    if move.amount <= 0:
        out.emit(
            market_id,
            Rejected(RejectReason.INVALID_AMOUNT, f"amount {move.amount} must be positive"),
        )
        return state
    step = MarketStep(found, out)
    account = step.ledger.account(move.account)
    delta = move.amount
    if isinstance(move, Withdraw):
        delta = -move.amount
        problem = policy_for(found.config).withdraw_problem(
            found.config,
            found.mark_price,
            account,
            step.editor.exposure(move.account),
            move.amount,
        )
        if problem is not None:
            out.emit(market_id, Rejected(*problem))
            return state
    collateral = account.collateral + delta
    if not fits_int64(collateral):
        out.emit(market_id, Rejected(RejectReason.OVERFLOW, "collateral would exceed int64"))
        return state
    step.ledger.set(
        move.account,
        Account(collateral, account.size, account.entry_notional, account.realized_pnl),
    )
    return with_market(state, step.finish(state.book_delta_depth))
