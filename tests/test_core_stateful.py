"""The core matches a plain reference model, in matching and in money, on any input sequence.

A ``RuleBasedStateMachine`` drives the engine (``hypermarket.core.step``) and
``tests.reference_model.ReferenceExchange`` side by side with the same inputs: new orders of
every type, time in force and self-trade mode, some reduce-only (three accounts, seven prices,
two markets of shard 0 of 2 with fees, a price band, a position limit and a contract
multiplier, plus a market of another shard and an unknown one), orders that reach the best
opposite price, orders that reduce an account's position (reduce-only ones, and plain ones
after a resting reduce-only order, so that reduce-only orders rest, trade, are clamped as
makers and trimmed), cancels by order id and by client order id (live, unknown and other
accounts' orders), amends, cancel-alls, deposits and withdrawals (some of exactly the
collateral, some invalid or overflowing), price updates (some invalid), and market changes
(status, stale revisions, broken configs, new fees, band, position limit or margin).
Accounts are funded modestly, from 150 to a million money units, so that the margin checks
bite, and start with positions.  After every rule it checks that:

* the outputs of the input, described by kind and key fields (fees of fills and position
  updates included), are equal, in order;
* output numbering is dense, and ``input_seq`` / ``request_id`` are those of the input;
* the book deltas follow the contract's order and name only levels in or leaving the view;
* ``check_invariants`` holds (``tests.support.Exchange`` runs it after every step);
* the resting books are equal order by order (id, account, client id, open quantity, in time
  priority), and the order id counters agree;
* every market's accounts (collateral, size, entry notional, realized PnL), fee account and
  mark price are equal;
* a client applying the book deltas holds exactly the engine's top ``DEPTH`` levels.
"""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hypermarket.core import State
from hypermarket.models import (
    INT64_MAX,
    AuctionResult,
    BookDelta,
    CancelAllDone,
    Deposit,
    Fill,
    Input,
    MarketStatus,
    MarketUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    OrderType,
    Output,
    PositionUpdate,
    Rejected,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UpsertMarket,
    Withdraw,
)
from tests.reference_model import Out, ReferenceExchange
from tests.support import (
    ALICE,
    BOB,
    CAROL,
    DeltaReplica,
    Exchange,
    amend,
    book_levels,
    cancel,
    cancel_all,
    check_delta_outputs,
    config,
    deposit,
    mark,
    order,
    wrap,
)

ACCOUNTS = (ALICE, BOB, CAROL)
DEPTH = 3
# Shard 0 of 2 owns the even markets.  Market 2: taker fee 7 bps, maker rebate 2 bps, band
# 300 bps (3 ticks around a mark of 100).  Market 4: quantity limits, multiplier 3, taker 10 and
# maker 40 bps (the maker rate is the worse one), position limit 12 lots.  Initial margin 10 %
# (the default) in both.
MARKET_OVERRIDES: dict[int, dict[str, object]] = {
    2: {"taker_fee_bps": 7, "maker_fee_bps": -2, "price_band_bps": 300},
    4: {
        "min_quantity": 2,
        "max_quantity": 20,
        "contract_multiplier": 3,
        "taker_fee_bps": 10,
        "maker_fee_bps": 40,
        "max_position": 12,
    },
}
# What each account deposits in each market at the start: ALICE can hold a few lots, BOB a few
# dozen, CAROL anything.
FUNDING = {ALICE: 150, BOB: 1500, CAROL: 10**6}
LIVE_MARKETS = tuple(MARKET_OVERRIDES)
# Mostly real markets; 3 belongs to shard 1, 6 was never created.
MARKET_IDS = st.sampled_from([2, 2, 2, 2, 2, 4, 4, 4, 4, 3, 6])
LIMIT_PRICES = st.sampled_from([97, 98, 99, 100, 101, 102, 103, 99, 100, 101, 0, -1])
QUANTITIES = st.sampled_from([1, 2, 3, 4, 5, 6, 8, 0, 25])
CLIENT_IDS = st.integers(1, 8)
ACCOUNT = st.sampled_from(ACCOUNTS)
TIFS = st.sampled_from(
    [TimeInForce.GTC] * 3 + [TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY]
)
STATUSES = st.sampled_from(MarketStatus)
NEW_PRICES = st.sampled_from([0, 0, 0, 97, 98, 99, 100, 101, 102, 103, -1])
NEW_QUANTITIES = st.sampled_from([0, 0, 1, 2, 3, 5, 8, 25, -1])
REDUCE_ONLY = st.sampled_from([False, False, False, True])
AMOUNTS = st.sampled_from([1, 7, 50, 50, 300, 5000, 0, -3, INT64_MAX])
MARKS = st.sampled_from([95, 97, 99, 100, 100, 100, 101, 103, 105, 0])


@st.composite
def new_orders(draw: st.DrawFn) -> Input:
    """Any NewOrder: every type, time in force and STP mode; a few break a rule."""
    if draw(st.integers(0, 5)) == 5:
        order_type = OrderType.MARKET
        price = draw(st.sampled_from([0, 0, 0, 100]))
        tif = draw(st.sampled_from(TimeInForce))
    else:
        order_type, price, tif = OrderType.LIMIT, draw(LIMIT_PRICES), draw(TIFS)
    return order(
        draw(ACCOUNT), draw(st.sampled_from(Side)), price, draw(QUANTITIES),
        market_id=draw(MARKET_IDS), client_order_id=draw(CLIENT_IDS), order_type=order_type,
        tif=tif, stp=draw(st.sampled_from(SelfTradePrevention)), reduce_only=draw(REDUCE_ONLY),
    )  # fmt: skip


NEW_ORDERS = new_orders()


@st.composite
def resting_orders(draw: st.DrawFn) -> Input:
    """A GTC limit order in a live market, mostly on its own side of 100, so books grow deep."""
    side = draw(st.sampled_from(Side))
    offset = draw(st.integers(0, 5))
    price = 100 - offset if side is Side.BUY else 100 + offset
    return order(
        draw(ACCOUNT), side, price, draw(st.integers(2, 6)),
        market_id=draw(st.sampled_from(LIVE_MARKETS)), client_order_id=draw(CLIENT_IDS),
    )  # fmt: skip


RESTING_ORDERS = resting_orders()


def describe(output: Output) -> Out | None:
    """An engine output as the reference model's tuple; None for kinds it does not model."""
    mid = output.market_id
    match output.body:
        case OrderAccepted() as b:
            return (
                "OrderAccepted",
                mid,
                b.order_id,
                b.client_order_id,
                b.account,
                b.side,
                b.price,
                b.quantity,
            )
        case OrderRejected() as b:
            return ("OrderRejected", mid, b.client_order_id, b.account, b.reason)
        case OrderCancelled() as b:
            return (
                "OrderCancelled",
                mid,
                b.order_id,
                b.client_order_id,
                b.account,
                b.remaining_quantity,
                b.reason,
            )
        case OrderAmended() as b:
            return (
                "OrderAmended",
                mid,
                b.order_id,
                b.client_order_id,
                b.account,
                b.price,
                b.quantity,
                b.kept_priority,
            )
        case Fill() as b:
            return (
                "Fill",
                mid,
                b.maker_order_id,
                b.taker_order_id,
                b.maker_account,
                b.taker_account,
                b.price,
                b.quantity,
                b.taker_side,
                b.maker_fee,
                b.taker_fee,
                b.maker_remaining,
                b.taker_remaining,
            )
        case PositionUpdate() as b:
            return (
                "PositionUpdate",
                mid,
                b.account,
                b.size,
                b.entry_notional,
                b.collateral,
                b.realized_pnl,
            )
        case MarketUpdated() as b:
            return ("MarketUpdated", mid, b.revision, b.config.status)
        case CancelAllDone() as b:
            return ("CancelAllDone", mid, b.account, b.cancelled)
        case Rejected() as b:
            return ("Rejected", mid, b.reason)
        case BookDelta():
            return None
        case AuctionResult():
            raise AssertionError(f"no auction can run in a continuous market: {output}")
    raise AssertionError(f"unknown output {output}")


def engine_book(
    state: State, market_id: int
) -> list[tuple[Side, int, list[tuple[int, bytes, int, int]]]]:
    """The engine's book in the reference model's ``snapshot`` shape."""
    book = state.markets[market_id].book
    result = []
    for side in (Side.BUY, Side.SELL):
        side_book = book.side(side)
        for price in side_book.prices:
            orders = [book.orders[oid] for oid in side_book.levels[price].order_ids]
            queue = [(o.order_id, o.account, o.client_order_id, o.remaining) for o in orders]
            result.append((side, price, queue))
    return result


class CoreVersusReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.exchange = Exchange(shard=0, shard_count=2, depth=DEPTH)
        self.model = ReferenceExchange(shard=0, shard_count=2)
        self.replica = DeltaReplica()
        self.request_id = 0
        self.revisions: dict[int, int] = {}
        for market_id, overrides in MARKET_OVERRIDES.items():
            self.apply(wrap(UpsertMarket(config(market_id, **overrides), 1)))
            self.revisions[market_id] = 1
            for who, amount in FUNDING.items():
                self.apply(deposit(who, market_id, amount))
            self.apply(mark(market_id, 100))
            # Every account starts with a position, so that reduce-only orders have something to
            # reduce from the first rule on, bought at two prices, so that closing part of it
            # releases an entry that does not divide evenly: ALICE long 3 (2 @ 99, 1 @ 100),
            # BOB long 2 (@ 100), CAROL short 5.
            self.apply(order(CAROL, Side.SELL, 99, 2, market_id=market_id, client_order_id=7))
            self.apply(order(CAROL, Side.SELL, 100, 3, market_id=market_id, client_order_id=8))
            self.apply(order(ALICE, Side.BUY, 100, 3, market_id=market_id, client_order_id=8))
            self.apply(order(BOB, Side.BUY, 100, 2, market_id=market_id, client_order_id=8))

    # ------------------------------------------------------------------ driving both

    def apply(self, event: Input) -> None:
        self.request_id += 1
        event = msgspec.structs.replace(event, request_id=self.request_id)
        before = self.exchange.state
        outputs = self.exchange.send(event)  # check_invariants runs inside
        expected = self.model.step(event.body)
        actual = [d for d in map(describe, outputs) if d is not None]
        assert actual == expected, f"engine {actual}\nmodel  {expected}"
        first = before.output_seq + 1
        assert [o.seq for o in outputs] == list(range(first, first + len(outputs)))
        assert self.exchange.state.output_seq == before.output_seq + len(outputs)
        assert self.exchange.state.input_seq == before.input_seq + 1
        for output in outputs:
            assert (output.shard, output.input_seq, output.request_id) == (
                0,
                before.input_seq + 1,
                self.request_id,
            )
        check_delta_outputs(before, self.exchange.state, outputs)
        self.replica.apply(outputs)

    def live_orders(self) -> list[tuple[int, int, bytes, int]]:
        """(market id, order id, account, client id) of every live order, per the model."""
        return [
            (market_id, o.order_id, o.account, o.client_order_id)
            for market_id, m in sorted(self.model.markets.items())
            for o in sorted(m.all_orders(), key=lambda o: o.order_id)
        ]

    # ------------------------------------------------------------------ rules
    # Hypothesis picks rules evenly, so the common ones are registered twice (orders, amends).

    @initialize(events=st.lists(RESTING_ORDERS, min_size=3, max_size=15))
    def seed_books(self, events: list[Input]) -> None:
        """Start most runs from books a few levels deep, not from empty ones."""
        for event in events:
            self.apply(event)

    @rule(event=NEW_ORDERS)
    def place_order(self, event: Input) -> None:
        self.apply(event)

    @rule(event=NEW_ORDERS)
    def place_another_order(self, event: Input) -> None:
        self.apply(event)

    @rule(event=RESTING_ORDERS)
    def rest_order(self, event: Input) -> None:
        """A plain GTC limit order in a live market, so that books fill up."""
        self.apply(event)

    @rule(data=st.data())
    def take_liquidity(self, data: st.DataObject) -> None:
        """An order near the best opposite price (so that positions build up), or, for an
        account with a position, an order on the side that reduces it: reduce-only (so that
        reduce-only orders rest and trade) or plain (so that resting reduce-only orders of the
        account must be trimmed)."""
        market_id = data.draw(st.sampled_from(LIVE_MARKETS), label="market")
        market = self.model.markets[market_id]
        who = data.draw(ACCOUNT, label="account")
        size = market.account(who).size
        kind = "any"
        if size:
            kind = data.draw(st.sampled_from(["any", "reduce only", "closing"]), label="kind")
        reduce_only = kind == "reduce only"
        if kind != "any":
            side = Side.SELL if size > 0 else Side.BUY
            qty = data.draw(st.integers(1, abs(size) + 1), label="quantity")
        else:
            side = data.draw(st.sampled_from(Side), label="side")
            qty = data.draw(st.integers(1, 6), label="quantity")
        best = market.best(Side.SELL if side is Side.BUY else Side.BUY)
        reach = data.draw(st.integers(-2, 2), label="ticks past the best price")
        price = 100 if best is None else best + (reach if side is Side.BUY else -reach)
        is_market = data.draw(st.integers(0, 4), label="market order?") == 0
        tif = data.draw(st.sampled_from([TimeInForce.IOC, TimeInForce.FOK]), label="tif")
        if not is_market:
            tif = data.draw(TIFS, label="tif")
        self.apply(
            order(who, side, 0 if is_market else price, qty, market_id=market_id,
                  client_order_id=data.draw(CLIENT_IDS, label="client order id"),
                  order_type=OrderType.MARKET if is_market else OrderType.LIMIT, tif=tif,
                  stp=data.draw(st.sampled_from(SelfTradePrevention)), reduce_only=reduce_only)
        )  # fmt: skip

    @rule(data=st.data())
    def take_more_liquidity(self, data: st.DataObject) -> None:
        self.take_liquidity(data)

    @rule(data=st.data())
    def reduce_only_then_close(self, data: st.DataObject) -> None:
        """A resting reduce-only order, then a plain order of the same account that reduces
        the position by trading: the reduce-only order must shrink or go (``_finish``)."""
        market_id = data.draw(st.sampled_from(LIVE_MARKETS), label="market")
        market = self.model.markets[market_id]
        who = data.draw(ACCOUNT, label="account")
        size = market.account(who).size
        side = Side.SELL if size > 0 else Side.BUY
        away = data.draw(st.integers(1, 3), label="ticks away from the mark")
        self.apply(
            order(who, side, 100 + away if side is Side.SELL else 100 - away,
                  data.draw(st.integers(1, max(abs(size), 2)), label="reduce-only quantity"),
                  market_id=market_id, client_order_id=data.draw(CLIENT_IDS), reduce_only=True)
        )  # fmt: skip
        best = market.best(Side.BUY if side is Side.SELL else Side.SELL)
        self.apply(
            order(who, side, 0 if best is None else best,
                  data.draw(st.integers(1, abs(size) + 2), label="closing quantity"),
                  market_id=market_id, client_order_id=data.draw(CLIENT_IDS),
                  order_type=OrderType.MARKET if best is None else OrderType.LIMIT,
                  tif=TimeInForce.IOC)
        )  # fmt: skip

    @rule(data=st.data())
    def cancel_order(self, data: st.DataObject) -> None:
        market_id, order_id, client_order_id, who = self.draw_target(data)
        if data.draw(st.booleans(), label="by client order id"):
            self.apply(cancel(who, client_order_id=client_order_id, market_id=market_id))
        else:
            self.apply(cancel(who, order_id=order_id, market_id=market_id))

    @rule(data=st.data(), new_price=NEW_PRICES, new_quantity=NEW_QUANTITIES)
    def amend_order(self, data: st.DataObject, new_price: int, new_quantity: int) -> None:
        self.send_amend(data, new_price, new_quantity)

    @rule(data=st.data(), new_price=NEW_PRICES, new_quantity=NEW_QUANTITIES)
    def amend_another_order(self, data: st.DataObject, new_price: int, new_quantity: int) -> None:
        self.send_amend(data, new_price, new_quantity)

    def send_amend(self, data: st.DataObject, new_price: int, new_quantity: int) -> None:
        market_id, order_id, client_order_id, who = self.draw_target(data)
        if data.draw(st.booleans(), label="by client order id"):
            order_id = 0
        else:
            client_order_id = 0
        self.apply(
            amend(who, order_id=order_id, client_order_id=client_order_id, market_id=market_id,
                  new_price=new_price, new_quantity=new_quantity)
        )  # fmt: skip

    @rule(data=st.data(), amount=AMOUNTS)
    def move_collateral(self, data: st.DataObject, amount: int) -> None:
        """A deposit or a withdrawal; some withdraw exactly the collateral the model holds."""
        who = data.draw(ACCOUNT, label="account")
        market_id = data.draw(MARKET_IDS, label="market")
        if data.draw(st.booleans(), label="deposit"):
            self.apply(wrap(Deposit(who, market_id, amount)))
            return
        known = self.model.markets.get(market_id)
        if known is not None and data.draw(st.booleans(), label="all of it"):
            amount = known.account(who).collateral
        self.apply(wrap(Withdraw(who, market_id, amount)))

    @rule(market_id=MARKET_IDS, mark_price=MARKS, index_offset=st.sampled_from([0, 0, 2, -100]))
    def update_price(self, market_id: int, mark_price: int, index_offset: int) -> None:
        self.apply(mark(market_id, mark_price, mark_price + index_offset))

    @rule(data=st.data())
    def administer(self, data: st.DataObject) -> None:
        """Rarer inputs: a cancel-all, or a change of a market (status, revision, config)."""
        if data.draw(st.booleans(), label="cancel all"):
            who = data.draw(ACCOUNT, label="account")
            market_id = data.draw(st.sampled_from([0, 0, 2, 4, 3, 6]), label="market")
            self.apply(cancel_all(who, market_id))
            return
        market_id = data.draw(st.sampled_from([*LIVE_MARKETS, 3]), label="market")
        status = data.draw(STATUSES, label="status")
        step = data.draw(st.sampled_from([1, 1, 1, 3, 0, -1]), label="revision step")
        variant = data.draw(
            st.sampled_from(
                ["same", "same", "fees", "broken", "multiplier", "band", "limit", "margin"]
            )
        )
        overrides = dict(MARKET_OVERRIDES.get(market_id, {}))
        if variant == "fees":
            overrides.update(maker_fee_bps=-1, taker_fee_bps=3)
        elif variant == "broken":
            overrides.update(initial_margin_bps=500, maintenance_margin_bps=500)
        elif variant == "multiplier":
            overrides.update(contract_multiplier=10)
        elif variant == "band":
            overrides.update(price_band_bps=100)
        elif variant == "limit":
            overrides.update(max_position=4)
        elif variant == "margin":
            overrides.update(initial_margin_bps=2000, maintenance_margin_bps=1000)
        revision = self.revisions.get(market_id, 1) + step
        self.apply(wrap(UpsertMarket(config(market_id, status=status, **overrides), revision)))
        market = self.model.markets.get(market_id)
        if market is not None:
            self.revisions[market_id] = market.revision

    def draw_target(self, data: st.DataObject) -> tuple[int, int, int, bytes]:
        """(market id, order id, client order id, sender) for a cancel or amend.

        Mostly a live order sent by its owner; sometimes another account's, or made-up ids.
        """
        live = self.live_orders()
        if live and data.draw(st.integers(0, 5), label="made-up ids?") < 5:
            market_id, order_id, owner, client_order_id = data.draw(st.sampled_from(live))
            who = data.draw(st.sampled_from((owner, owner, owner, *ACCOUNTS)), label="sender")
            return market_id, order_id, client_order_id, who
        market_id = data.draw(MARKET_IDS, label="market")
        order_id = data.draw(st.integers(1, 80), label="order id")
        client_order_id = data.draw(CLIENT_IDS, label="client order id")
        return market_id, order_id, client_order_id, data.draw(ACCOUNT, label="sender")

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_and_counters_agree(self) -> None:
        state = self.exchange.state
        assert sorted(state.markets.keys()) == sorted(self.model.markets)
        for market_id, market in self.model.markets.items():
            assert engine_book(state, market_id) == market.snapshot(), f"market {market_id}"
            engine_market = state.markets[market_id]
            assert engine_market.revision == market.revision
            assert engine_market.config == market.config
        assert state.next_order_id == self.model.next_order_id

    @invariant()
    def accounts_and_fee_accounts_agree(self) -> None:
        state = self.exchange.state
        for market_id, market in self.model.markets.items():
            engine_market = state.markets[market_id]
            engine_accounts = {
                address: (a.collateral, a.size, a.entry_notional, a.realized_pnl)
                for address, a in engine_market.accounts.items()
            }
            model_accounts = {address: a.values() for address, a in market.accounts.items()}
            assert engine_accounts == model_accounts, f"market {market_id}"
            assert engine_market.fee_balance == market.fee_balance, f"market {market_id}"
            assert (engine_market.mark_price, engine_market.index_price) == (
                market.mark,
                market.index,
            )

    @invariant()
    def delta_replica_holds_the_top_levels(self) -> None:
        for market_id, market in self.model.markets.items():
            for side in (Side.BUY, Side.SELL):
                engine_top = book_levels(self.exchange.state, market_id, side, DEPTH)
                assert self.replica.levels(market_id, side) == engine_top
                assert engine_top == market.top(side, DEPTH)


CoreVersusReference.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_core_matches_reference_model = CoreVersusReference.TestCase
