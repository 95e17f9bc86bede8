"""Pre-trade risk: price bands, reduce-only, position limits, initial margin, withdrawals.

Theory of operation
-------------------
All money is in collateral base units, all arithmetic on Python integers; a
result that does not fit int64 is reported as OVERFLOW by the caller, never
wrapped.  ``BPS = 10_000``.  Every division rounds in the exchange's favour:

* fee on notional ``N`` at ``r`` bps: ``ceil(N * r / BPS)`` (a rebate,
  ``r < 0``, is thereby rounded toward zero);
* initial margin of ``|size|`` lots at mark ``M``:
  ``ceil(|size| * M * multiplier * initial_margin_bps / BPS)``;
* price band of ``b`` bps around ``M``: a buy may not be priced above
  ``M + floor(M * b / BPS)``, a sell not below ``M - floor(M * b / BPS)``.

The initial-margin check of an order on side ``s`` assumes every resting order
of the account on ``s``, and the new one, fills at its limit price (a MARKET
order: at the prices it actually traded, found by matching first), paying the
worse of the two fee rates, charged fill by fill (``worst_case_fee``: the
ceiling of the whole, plus one unit per lot for the per-fill rounding):

    cash'   = cash -/+ sum(price * qty) * multiplier - fees      (- buying)
    size'   = size +/- sum(qty)
    equity' = cash' + size' * M * multiplier
    accept iff equity' >= initial_margin(size', M)

where ``cash = collateral - signed entry notional`` (``risk.accounts``), so
``equity'`` is collateral plus unrealized PnL at the mark after those fills,
less their worst-case fees.

Margin modes: every market is isolated today.  ``MarginPolicy`` is the one
seam where a cross-margin policy would plug in (it would price an account's
equity over all its markets of the shard); ``policy_for`` picks the policy of
a market's ``margin_mode`` and a CROSS market config is refused until one
exists.
"""

from __future__ import annotations

from typing import Final, Protocol

from hypermarket.matching.records import AccountOrders
from hypermarket.models import Account, MarketConfig, RejectReason, Side
from hypermarket.models.enums import BUY, MARGIN_ISOLATED, SELL
from hypermarket.models.market import BPS_DENOMINATOR, INT64_MAX
from hypermarket.risk.accounts import cash

Problem = tuple[RejectReason, str]


def fee(notional: int, fee_bps: int) -> int:
    """The fee on ``notional`` money units at ``fee_bps``, rounded up (negative: a rebate)."""
    return -(-notional * fee_bps // BPS_DENOMINATOR)


def worst_case_fee(notional: int, qty: int, fee_bps: int) -> int:
    """The most ``qty`` lots worth ``notional`` can pay in fees at ``fee_bps``, however they fill.

    Fees are charged fill by fill, each rounded up, and a sum of ceilings exceeds
    the ceiling of the sum by less than one unit per fill; there are at most
    ``qty`` fills (one lot each), hence one unit per lot on top.
    """
    if fee_bps <= 0:
        return 0
    return fee(notional, fee_bps) + qty


def initial_margin(size: int, mark_price: int, config: MarketConfig) -> int:
    """Initial margin of a position of ``size`` lots at ``mark_price``, rounded up."""
    notional = abs(size) * mark_price * config.contract_multiplier
    return -(-notional * config.initial_margin_bps // BPS_DENOMINATOR)


def band_limit(side: Side, mark_price: int, band_bps: int) -> int:
    """The most aggressive price an order on ``side`` may carry (band_bps > 0)."""
    offset = mark_price * band_bps // BPS_DENOMINATOR
    return mark_price + offset if side is BUY else mark_price - offset


_SMALL_MIN: Final = -(2**62)
_SMALL_MAX: Final = 2**62 - 1


def fits_int64(value: int) -> bool:
    # Nearly every value is far inside int64.  Compiled (mypyc), integers in
    # [-2**62, 2**62) are machine words and larger ones are boxed, so comparing
    # with INT64_MAX takes the slow path every time: test the small range first.
    if _SMALL_MIN <= value <= _SMALL_MAX:
        return True
    return -INT64_MAX - 1 <= value <= INT64_MAX


def equity_after_fills(
    account: Account,
    side: Side,
    qty: int,
    notional_ticks: int,
    mark_price: int,
    config: MarketConfig,
) -> tuple[int, int]:
    """(equity, initial margin) at the mark once ``qty`` lots on ``side`` trade at that notional."""
    multiplier = config.contract_multiplier
    money = notional_ticks * multiplier
    # Two-argument max: compiled, a larger max() is a call through Python.
    fee_bps = max(max(config.taker_fee_bps, config.maker_fee_bps), 0)
    worst_fee = worst_case_fee(money, qty, fee_bps)
    if side is BUY:
        after = cash(account) - money - worst_fee
        size = account.size + qty
    else:
        after = cash(account) + money - worst_fee
        size = account.size - qty
    return after + size * mark_price * multiplier, initial_margin(size, mark_price, config)


class MarginPolicy(Protocol):
    """Decides whether an account may add an order, or take collateral out."""

    def order_problem(
        self,
        config: MarketConfig,
        mark_price: int,
        account: Account,
        exposure: AccountOrders,
        side: Side,
        qty: int,
        notional_ticks: int,
        reduce_only: bool,
    ) -> Problem | None: ...

    def withdraw_problem(
        self,
        config: MarketConfig,
        mark_price: int,
        account: Account,
        exposure: AccountOrders,
        amount: int,
    ) -> Problem | None: ...


class IsolatedMargin:
    """Each (account, market) stands alone: only its own collateral backs its orders."""

    def order_problem(
        self,
        config: MarketConfig,
        mark_price: int,
        account: Account,
        exposure: AccountOrders,
        side: Side,
        qty: int,
        notional_ticks: int,
        reduce_only: bool,
    ) -> Problem | None:
        """Reduce-only, position limit and initial margin, in ``RejectReason`` order."""
        size = account.size
        if side is BUY:
            open_qty, open_notional = exposure.buy_qty, exposure.buy_notional
            reducible, other_reduce_only = -size, exposure.reduce_only_buy_qty
        else:
            open_qty, open_notional = exposure.sell_qty, exposure.sell_notional
            reducible, other_reduce_only = size, exposure.reduce_only_sell_qty
        if reduce_only and qty + other_reduce_only > max(reducible, 0):
            return (
                RejectReason.REDUCE_ONLY_WOULD_INCREASE,
                f"position {size} leaves {max(reducible, 0)} lots to reduce, "
                f"{other_reduce_only} already in reduce-only orders",
            )
        total_qty = open_qty + qty
        if config.max_position:
            worst = size + total_qty if side is BUY else size - total_qty
            if abs(worst) > config.max_position:
                return (
                    RejectReason.POSITION_LIMIT,
                    f"position could reach {worst} lots, limit {config.max_position}",
                )
        equity, margin = equity_after_fills(
            account, side, total_qty, open_notional + notional_ticks, mark_price, config
        )
        if equity < margin:
            return (
                RejectReason.INSUFFICIENT_MARGIN,
                f"equity {equity} would not cover initial margin {margin}",
            )
        return None

    def withdraw_problem(
        self,
        config: MarketConfig,
        mark_price: int,
        account: Account,
        exposure: AccountOrders,
        amount: int,
    ) -> Problem | None:
        """A mark if margin is at stake, enough collateral, then initial margin of what stays.

        Checked in ``RejectReason`` order; margin is priced with either side's
        resting orders filled.
        """
        at_stake = account.size != 0 or exposure.buy_qty != 0 or exposure.sell_qty != 0
        if at_stake and not mark_price:
            return RejectReason.NO_MARK_PRICE, "margin cannot be priced before a PriceUpdate"
        if amount > account.collateral:
            return (
                RejectReason.INSUFFICIENT_COLLATERAL,
                f"withdraw {amount} exceeds collateral {account.collateral}",
            )
        if not at_stake:
            return None
        after = Account(
            account.collateral - amount, account.size, account.entry_notional, account.realized_pnl
        )
        for side in (BUY, SELL):
            equity, margin = equity_after_fills(
                after, side, exposure.qty(side), exposure.notional(side), mark_price, config
            )
            if equity < margin:
                return (
                    RejectReason.INSUFFICIENT_MARGIN,
                    f"equity {equity} after the withdrawal would not cover initial margin {margin}",
                )
        return None


ISOLATED = IsolatedMargin()


def policy_for(config: MarketConfig) -> MarginPolicy:
    """The margin policy of a market's ``margin_mode`` (see the module docstring)."""
    assert config.margin_mode is MARGIN_ISOLATED, "config_problem refuses other modes"
    return ISOLATED
