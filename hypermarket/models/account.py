"""One account's isolated margin in one market: the record (risk.accounts says what a fill does)."""

from __future__ import annotations

import msgspec


class Account(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One account's isolated margin in one market (money in collateral base units)."""

    collateral: int = 0
    size: int = 0
    entry_notional: int = 0
    realized_pnl: int = 0

    @property
    def signed_entry(self) -> int:
        """Entry notional with the sign of the position: what the open lots cost (short: earned)."""
        return self.entry_notional if self.size >= 0 else -self.entry_notional

    @property
    def cash(self) -> int:
        """Collateral less the signed entry notional: moves by exactly each trade's notional."""
        return self.collateral - self.signed_entry


EMPTY_ACCOUNT = Account()
