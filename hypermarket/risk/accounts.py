"""Isolated-margin accounts and what a fill does to them.

Theory of operation
-------------------
Each (account, market) pair has its own isolated ``Account``: ``collateral``
(deposits minus withdrawals, plus realized PnL, minus fees, in money units),
a signed position ``size`` in lots, its ``entry_notional`` (the money paid
for the open lots, >= 0; the average entry price is
``entry_notional / (|size| * contract_multiplier)``) and the cumulative
``realized_pnl``.

A fill of ``q`` lots at price ``p`` (notional ``N = p * q * multiplier``):

* opening or adding (flat, or the same direction): ``size`` moves by ``q``,
  ``entry_notional`` grows by ``N``;
* reducing (the opposite direction), for the ``c = min(q, |size|)`` lots it
  closes: the entry released is ``entry_notional * c / |size|``, rounded
  *up* for a long and *down* for a short (either way the trader's realized
  PnL is rounded down: the exchange's favour); the realized PnL
  ``c * p * multiplier - released`` (long) or ``released - c * p *
  multiplier`` (short) settles into collateral at once;
* flipping: the ``q - c`` lots beyond flat open a new position at ``p``.

Whatever the rounding, the account's *cash* (``collateral`` minus its signed
entry notional) moves by exactly the trade's notional, paid by the buyer to
the seller, so money is conserved to the unit; realized PnL is the part of it
already settled.  Across a market, the realized PnL of all accounts equals
their signed entry notional (``risk.invariants``), and the shard's settlement
account holds minus that sum: the profit paid out before the losers close.
"""

from __future__ import annotations

from hypermarket.models import Account, Side
from hypermarket.models.enums import BUY


def signed_entry(account: Account) -> int:
    """Entry notional with the sign of the position: what the open lots cost (short: earned)."""
    return account.entry_notional if account.size >= 0 else -account.entry_notional


def cash(account: Account) -> int:
    """Collateral less the signed entry notional: moves by exactly each trade's notional."""
    return account.collateral - signed_entry(account)


def apply_fill(
    account: Account, side: Side, price: int, qty: int, multiplier: int, fee: int
) -> Account:
    """``account`` after trading ``qty`` lots on ``side`` at ``price`` and paying ``fee``.

    A negative ``fee`` is a rebate.  See the module docstring for the rules and
    their rounding.
    """
    signed_qty = qty if side is BUY else -qty
    size = account.size
    entry = account.entry_notional
    realized = 0
    if size == 0 or (size > 0) == (signed_qty > 0):
        entry += price * qty * multiplier
    else:
        held = abs(size)
        closed = min(qty, held)
        if size > 0:
            released = -(-entry * closed // held)
            realized = closed * price * multiplier - released
        else:
            released = entry * closed // held
            realized = released - closed * price * multiplier
        entry -= released
        if qty > held:
            entry = price * (qty - held) * multiplier
    return Account(
        collateral=account.collateral + realized - fee,
        size=size + signed_qty,
        entry_notional=entry,
        realized_pnl=account.realized_pnl + realized,
    )
