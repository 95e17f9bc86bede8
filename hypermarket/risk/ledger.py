"""The accounts of one market while one step changes them.

A ``Ledger`` is to accounts what ``BookEditor`` is to the book: it keeps the
step's changed accounts aside and writes them into the persistent map once, in
``finish`` (most steps change none or two).  It applies deposits, withdrawals
and trades (``risk.accounts.apply_fill`` with the fees of ``risk.margin.fee``),
adds the fees to the market's fee account, and remembers which accounts
changed, in the order the contract publishes their ``PositionUpdate``s: the
taker first (``trade`` settles it before the maker), then makers in fill order.
Discarding a ledger (an order rejected after a trial match) changes nothing.
"""

from __future__ import annotations

from immutables import Map

from hypermarket.models import EMPTY_ACCOUNT, Account, MarketConfig, Order, Side
from hypermarket.models.enums import BUY
from hypermarket.risk.accounts import apply_fill
from hypermarket.risk.margin import fee, fits_int64


class Ledger:
    """Mutable view of one market's accounts during one step."""

    __slots__ = ("_accounts", "changed", "config", "fee_balance")

    def __init__(self, accounts: Map[bytes, Account], config: MarketConfig, fee_balance: int):
        self._accounts = accounts
        self.config = config
        self.fee_balance = fee_balance
        self.changed: dict[bytes, Account] = {}
        """The accounts this step changed, as they are now, in the order first changed
        (a dict keeps the position of a key written again)."""

    def account(self, address: bytes) -> Account:
        account = self.changed.get(address)
        if account is None:
            account = self._accounts.get(address, EMPTY_ACCOUNT)
        return account

    def set(self, address: bytes, account: Account) -> None:
        self.changed[address] = account

    def reducible(self, address: bytes, side: Side) -> int:
        """How many lots an order on ``side`` can trade without growing |position|."""
        size = self.account(address).size
        return max(-size if side is BUY else size, 0)

    def trade(self, maker: Order, taker: Order, price: int, qty: int) -> tuple[int, int]:
        """Settle one execution on both accounts; return (maker fee, taker fee)."""
        config = self.config
        notional = price * qty * config.contract_multiplier
        maker_fee = fee(notional, config.maker_fee_bps)
        taker_fee = fee(notional, config.taker_fee_bps)
        multiplier = config.contract_multiplier
        self.set(
            taker.account,
            apply_fill(self.account(taker.account), taker.side, price, qty, multiplier, taker_fee),
        )
        self.set(
            maker.account,
            apply_fill(self.account(maker.account), maker.side, price, qty, multiplier, maker_fee),
        )
        self.fee_balance += maker_fee + taker_fee
        return maker_fee, taker_fee

    def overflowed(self) -> bool:
        """Whether any changed account or the fee account left int64."""
        if not fits_int64(self.fee_balance):
            return True
        return not all(
            fits_int64(account.collateral)
            and fits_int64(account.size)
            and fits_int64(account.entry_notional)
            and fits_int64(account.realized_pnl)
            for account in self.changed.values()
        )

    def finish(self) -> Map[bytes, Account]:
        """The market's accounts with this step's changes (unchanged map if there were none)."""
        if not self.changed:
            return self._accounts
        return self._accounts.update(self.changed)
