"""Seeded synthetic order flow, for benchmarks, crash tests and demos.

The flow is a pure function of its parameters and seed: a list of inputs that
does not look at the engine's state.  Each market's mid price takes a random
walk; around it the flow places, per event:

==========  =====  ========================================================
kind        share  what
==========  =====  ========================================================
price        1 %   PriceUpdate: the mark follows the mid
passive     44 %   GTC limit 1..``spread_ticks`` ticks away from the mid on
                   the passive side (builds and refreshes resting depth)
crossing    10 %   GTC or IOC limit 0..3 ticks through the mid (trades)
market       5 %   MARKET IOC for 1..5 lots
cancel      30 %   cancel one of the account's recent client order ids (some
                   have traded away already: UNKNOWN_ORDER, as in real flow)
amend       10 %   amend a recent order: half shrink it to one lot (keeps
                   priority), half move it to the edge of the passive band
                   on a random side (loses priority; sometimes trades)
==========  =====  ========================================================

The flow opens with an ``UpsertMarket`` and a ``PriceUpdate`` per market, a
deposit for every account in every market (large enough that margin never
refuses an order: the flow measures the checks, not their refusals), and a
pre-fill of ``initial_depth`` passive orders per market, so the book has
realistic depth before the measured mix starts.  Accounts are drawn from a small pool so that
self-trade prevention happens now and then.

The last ``batch_markets`` markets match in batch auctions: their orders rest
(crossing ones too) and 2 % of their events are an ``AuctionTick``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import msgspec

from hypermarket.models import (
    AmendOrder,
    AuctionTick,
    CancelOrder,
    Deposit,
    Input,
    InputBody,
    MarketConfig,
    MatchingMode,
    NewOrder,
    OrderType,
    PriceUpdate,
    Side,
    TimeInForce,
    UpsertMarket,
)

MID_PRICE = 100_000
DEPOSIT = 10**15


def account_address(index: int) -> bytes:
    """A deterministic 20-byte account for pool member ``index``."""
    return index.to_bytes(20, "big")


class FlowGenerator:
    """Produces the flow described in the module docstring."""

    def __init__(
        self,
        seed: int,
        markets: int = 4,
        accounts: int = 100,
        spread_ticks: int = 50,
        initial_depth: int = 2_000,
        market_ids: list[int] | None = None,
        batch_markets: int = 0,
    ) -> None:
        self.rng = random.Random(seed)
        self.market_ids = market_ids if market_ids is not None else list(range(1, markets + 1))
        self.batch_ids = frozenset(self.market_ids[len(self.market_ids) - batch_markets :])
        self.accounts = [account_address(i + 1) for i in range(accounts)]
        self.spread_ticks = spread_ticks
        self.initial_depth = initial_depth
        self.mids = dict.fromkeys(self.market_ids, MID_PRICE)
        self.next_client_id = dict.fromkeys(self.accounts, 1)
        self.recent: dict[tuple[int, bytes], list[int]] = {}
        self.ts_ns = 1_700_000_000_000_000_000

    def _input(self, body: InputBody, kind: str) -> tuple[str, Input]:
        self.ts_ns += 1_000
        return kind, Input(body, self.ts_ns, self.ts_ns % 1_000_003)

    def setup(self) -> Iterator[tuple[str, Input]]:
        """Market creation and the initial depth."""
        for market_id in self.market_ids:
            config = MarketConfig(market_id=market_id, symbol=f"SIM{market_id}-PERP")
            if market_id in self.batch_ids:
                config = msgspec.structs.replace(
                    config, matching_mode=MatchingMode.BATCH, auction_interval_ms=1_000
                )
            yield self._input(UpsertMarket(config, 1), "upsert")
            mid = self.mids[market_id]
            yield self._input(PriceUpdate(market_id, mid, mid), "price")
            for account in self.accounts:
                yield self._input(Deposit(account, market_id, DEPOSIT), "deposit")
        for _ in range(self.initial_depth):
            for market_id in self.market_ids:
                yield self._passive(market_id)

    def _new(
        self, market_id: int, side: Side, price: int, qty: int, tif: TimeInForce, kind: str
    ) -> tuple[str, Input]:
        account = self.rng.choice(self.accounts)
        client_id = self.next_client_id[account]
        self.next_client_id[account] = client_id + 1
        recent = self.recent.setdefault((market_id, account), [])
        recent.append(client_id)
        if len(recent) > 20:
            del recent[0]
        order_type = OrderType.MARKET if price == 0 else OrderType.LIMIT
        body = NewOrder(market_id, account, client_id, side, order_type, tif, price, qty)
        return self._input(body, kind)

    def _passive(self, market_id: int) -> tuple[str, Input]:
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        offset = self.rng.randint(1, self.spread_ticks)
        mid = self.mids[market_id]
        price = mid - offset if side is Side.BUY else mid + offset
        return self._new(
            market_id, side, price, self.rng.randint(1, 10), TimeInForce.GTC, "passive"
        )

    def crossed_depth(self, market_id: int, count: int) -> Iterator[tuple[str, Input]]:
        """``count`` GTC limits whose bids and asks overlap around the mid (an auction's input)."""
        mid = self.mids[market_id]
        for _ in range(count):
            side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
            price = mid + self.rng.randint(-self.spread_ticks, self.spread_ticks)
            qty = self.rng.randint(1, 10)
            yield self._new(market_id, side, price, qty, TimeInForce.GTC, "crossed")

    def _recent_order(self, market_id: int) -> tuple[bytes, int] | None:
        account = self.rng.choice(self.accounts)
        recent = self.recent.get((market_id, account))
        if not recent:
            return None
        return account, recent.pop(self.rng.randrange(len(recent)))

    def events(self, count: int) -> Iterator[tuple[str, Input]]:
        """``count`` events of the measured mix, each with its kind's name."""
        rng = self.rng
        for _ in range(count):
            market_id = rng.choice(self.market_ids)
            self.mids[market_id] = max(1_000, self.mids[market_id] + rng.randint(-1, 1))
            roll = rng.random()
            if market_id in self.batch_ids and roll < 0.02:
                yield self._input(AuctionTick(market_id), "auction")
                continue
            if roll < 0.01:
                mid = self.mids[market_id]
                yield self._input(PriceUpdate(market_id, mid, mid), "price")
                continue
            if roll < 0.45:
                yield self._passive(market_id)
                continue
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            sign = 1 if side is Side.BUY else -1
            if roll < 0.55:
                price = self.mids[market_id] + sign * rng.randint(0, 3)
                tif = TimeInForce.GTC if rng.random() < 0.5 else TimeInForce.IOC
                yield self._new(market_id, side, price, rng.randint(1, 20), tif, "crossing")
                continue
            if roll < 0.60:
                yield self._new(market_id, side, 0, rng.randint(1, 5), TimeInForce.IOC, "market")
                continue
            picked = self._recent_order(market_id)
            if picked is None:
                yield self._passive(market_id)
                continue
            account, client_id = picked
            if roll < 0.90:
                yield self._input(
                    CancelOrder(market_id, account, client_order_id=client_id), "cancel"
                )
                continue
            self.recent[(market_id, account)].append(client_id)
            if rng.random() < 0.5:
                body = AmendOrder(market_id, account, client_order_id=client_id, new_quantity=1)
            else:
                edge = rng.choice((-self.spread_ticks, self.spread_ticks))
                new_price = self.mids[market_id] + edge
                body = AmendOrder(
                    market_id, account, client_order_id=client_id, new_price=new_price
                )
            yield self._input(body, "amend")


def flow(seed: int, events: int, markets: int = 4, initial_depth: int = 2_000) -> list[Input]:
    """The setup plus ``events`` events of the mix, inputs only."""
    generator = FlowGenerator(seed, markets=markets, initial_depth=initial_depth)
    return [inp for _, inp in (*generator.setup(), *generator.events(events))]
