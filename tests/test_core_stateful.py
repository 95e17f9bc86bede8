"""The core agrees with a plain mutable reference model on every sequence hypothesis can find.

A ``RuleBasedStateMachine`` drives the engine (``hypermarket.core.step``) and
``tests.reference_model.ReferenceExchange`` side by side with the same inputs: new orders of
every type, time in force and self-trade mode (three accounts, seven prices, two markets of
shard 0 of 2, plus a market of another shard and an unknown one), cancels by order id and by
client order id (live, unknown and other accounts' orders), amends, cancel-alls, and market
changes (status, stale revisions, broken configs).  After every rule it checks that:

* the outputs of the input, described by kind and key fields, are equal, in order;
* output numbering is dense, and ``input_seq`` / ``request_id`` are those of the input;
* the book deltas follow the contract's order and name only levels in or leaving the view;
* ``check_invariants`` holds (``tests.support.Exchange`` runs it after every step);
* the resting books are equal order by order (id, account, client id, open quantity, in time
  priority), and the order id counters agree;
* a client applying the book deltas holds exactly the engine's top ``DEPTH`` levels.

Funding inputs (``fund``) go to the engine only: the reference model has no collateral.
"""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hypermarket.core import State
from hypermarket.models import (
    AuctionResult,
    BookDelta,
    CancelAllDone,
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
    fund,
    order,
    wrap,
)

ACCOUNTS = (ALICE, BOB, CAROL)
DEPTH = 3
# Shard 0 of 2 owns the even markets.  Market 4 has quantity limits so that they are exercised.
MARKET_OVERRIDES: dict[int, dict[str, object]] = {
    2: {},
    4: {"min_quantity": 2, "max_quantity": 20},
}
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
        tif=tif, stp=draw(st.sampled_from(SelfTradePrevention)),
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
                b.maker_remaining,
                b.taker_remaining,
            )
        case MarketUpdated() as b:
            return ("MarketUpdated", mid, b.revision, b.config.status)
        case CancelAllDone() as b:
            return ("CancelAllDone", mid, b.account, b.cancelled)
        case Rejected() as b:
            return ("Rejected", mid, b.reason)
        case BookDelta() | PositionUpdate():
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
            for who in ACCOUNTS:
                self.replica.apply(self.exchange.feed(fund(who, market_id)))

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
        variant = data.draw(st.sampled_from(["same", "same", "fees", "broken", "multiplier"]))
        overrides = dict(MARKET_OVERRIDES.get(market_id, {}))
        if variant == "fees":
            overrides.update(maker_fee_bps=-1, taker_fee_bps=3)
        elif variant == "broken":
            overrides.update(initial_margin_bps=500, maintenance_margin_bps=500)
        elif variant == "multiplier":
            overrides.update(contract_multiplier=10)
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
