"""One account's isolated margin in one market: the record (risk.accounts says what a fill does)."""

from __future__ import annotations

import msgspec


class Account(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One account's isolated margin in one market (money in collateral base units)."""

    collateral: int = 0
    size: int = 0
    entry_notional: int = 0
    realized_pnl: int = 0


EMPTY_ACCOUNT = Account()

__all__ = ["EMPTY_ACCOUNT", "Account"]
