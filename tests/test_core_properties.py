"""Properties of continuous matching that hold after every step of any generated order flow.

Hypothesis generates flows of new orders (every type, time in force and self-trade mode, three
accounts, prices around the mark so that they cross), cancels and amends of earlier orders
(mostly by their owner) and cancel-alls in one funded market, at a random published depth.
Each flow runs through the core one input at a time (``tests.support.Exchange``, invariants
checked after every step) and each test checks one property after every step, from the
outputs and the states before and after:

* the book is never crossed;
* every order's quantity is conserved: accepted + amend changes = filled + cancelled + resting,
  with every ``*_remaining`` field and every cancel's ``remaining_quantity`` equal to the open
  quantity tracked from the outputs alone;
* a taker walks the opposite side in price-time priority (the makers it touches are exactly
  the first ones in the queue as it stood), never trades through its limit, prints at the
  maker's price, and leaves nothing it could still have traded;
* a client applying the book deltas holds exactly the engine's top ``depth`` levels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from hypermarket.core import State
from hypermarket.models import (
    AmendOrder,
    CancelReason,
    Fill,
    Input,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderType,
    Output,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
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
    of,
    order,
)

ACCOUNTS = (ALICE, BOB, CAROL)
MARKET_ID = 1

# One generated action, resolved against the live state when it runs (see ``resolve``).
Action = tuple[str, int, int, int, int, int, int, int]


ACTIONS: st.SearchStrategy[Action] = st.tuples(
    st.sampled_from(["new", "new", "new", "new", "cancel", "amend", "amend", "cancel_all"]),
    st.integers(0, 2),  # account (or, for cancels and amends: 0 = the owner)
    st.integers(0, 1),  # side / by client order id
    st.integers(97, 103),  # price / new price
    st.integers(1, 6),  # quantity / new quantity
    st.integers(0, 9),  # type-and-time-in-force / which order (0-7: a live one)
    st.integers(0, 2),  # self-trade prevention mode
    st.integers(0, 3),  # 0: leave the new price / quantity as they are (amends)
)
FLOWS = st.tuples(st.integers(1, 4), st.lists(ACTIONS, min_size=15, max_size=60))

ORDER_KINDS = [
    (OrderType.LIMIT, TimeInForce.GTC),
    (OrderType.LIMIT, TimeInForce.GTC),
    (OrderType.LIMIT, TimeInForce.GTC),
    (OrderType.LIMIT, TimeInForce.IOC),
    (OrderType.LIMIT, TimeInForce.FOK),
    (OrderType.LIMIT, TimeInForce.POST_ONLY),
    (OrderType.LIMIT, TimeInForce.POST_ONLY),
    (OrderType.MARKET, TimeInForce.IOC),
    (OrderType.MARKET, TimeInForce.FOK),
    (OrderType.LIMIT, TimeInForce.GTC),
]


def resolve(action: Action, ex: Exchange, client_ids: dict[int, tuple[bytes, int]]) -> Input:
    """Turn a generated action into an input, naming an order issued earlier where needed."""
    kind, who, flag, price, qty, pick, stp, keep = action
    if kind == "new":
        order_type, tif = ORDER_KINDS[pick]
        return order(
            ACCOUNTS[who], Side.BUY if flag else Side.SELL,
            0 if order_type is OrderType.MARKET else price, qty,
            client_order_id=ex.state.next_order_id, order_type=order_type, tif=tif,
            stp=SelfTradePrevention(stp + 1),
        )  # fmt: skip
    if kind == "cancel_all":
        return cancel_all(ACCOUNTS[who], MARKET_ID if flag else 0)
    live = sorted(ex.state.markets[MARKET_ID].book.orders.keys())
    issued = ex.state.next_order_id - 1
    if live and pick < 8:
        order_id = live[pick % len(live)]
    else:  # most likely an order that is gone, or was never issued
        order_id = 1 + pick % issued if issued else pick
    owner, client_order_id = client_ids.get(order_id, (ALICE, 0))
    sender = owner if who == 0 else ACCOUNTS[who]
    by_id = {"client_order_id": client_order_id} if flag else {"order_id": order_id}
    if kind == "cancel":
        return cancel(sender, **by_id)
    return amend(
        sender, new_price=0 if keep == 1 else price, new_quantity=0 if keep == 2 else qty, **by_id
    )


@dataclass
class Ledger:
    """Per order, from the outputs alone: the quantity accepted, changed by amends, filled,
    cancelled, and open now."""

    accepted: dict[int, int] = field(default_factory=dict)
    amended_by: dict[int, int] = field(default_factory=dict)
    filled: dict[int, int] = field(default_factory=dict)
    cancelled: dict[int, int] = field(default_factory=dict)
    open: dict[int, int] = field(default_factory=dict)

    def trade(self, order_id: int, qty: int, remaining: int) -> None:
        assert self.open[order_id] >= qty > 0
        self.filled[order_id] += qty
        self.open[order_id] -= qty
        assert remaining == self.open[order_id], f"order {order_id} remaining field"

    def apply(self, outputs: list[Output]) -> None:
        for body in (o.body for o in outputs):
            match body:
                case OrderAccepted():
                    assert body.order_id not in self.accepted
                    self.accepted[body.order_id] = self.open[body.order_id] = body.quantity
                    self.amended_by[body.order_id] = self.filled[body.order_id] = 0
                    self.cancelled[body.order_id] = 0
                case OrderAmended():
                    assert self.open[body.order_id] > 0, "amend of a closed order"
                    self.amended_by[body.order_id] += body.quantity - self.open[body.order_id]
                    self.open[body.order_id] = body.quantity
                case Fill():
                    self.trade(body.maker_order_id, body.quantity, body.maker_remaining)
                    self.trade(body.taker_order_id, body.quantity, body.taker_remaining)
                case OrderCancelled():
                    assert body.remaining_quantity == self.open[body.order_id] > 0
                    self.cancelled[body.order_id] += body.remaining_quantity
                    self.open[body.order_id] = 0


def run_flow(
    depth: int,
    actions: list[Action],
    check: Callable[[Exchange, Input, State, list[Output]], None],
) -> Exchange:
    """Run ``actions`` in one funded market; call ``check(ex, input, before, outputs)`` per step."""
    ex = Exchange(depth=depth)
    ex.open_market(MARKET_ID, accounts=ACCOUNTS)
    client_ids: dict[int, tuple[bytes, int]] = {}
    for action in actions:
        event = resolve(action, ex, client_ids)
        before = ex.state
        outputs = ex.send(event)
        for accepted in of(outputs, OrderAccepted):
            client_ids[accepted.order_id] = (accepted.account, accepted.client_order_id)
        check(ex, event, before, outputs)
    return ex


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(FLOWS)
def test_book_is_never_crossed(flow: tuple[int, list[Action]]) -> None:
    def check(ex: Exchange, event: Input, before: State, outputs: list[Output]) -> None:
        book = ex.state.markets[MARKET_ID].book
        if book.bids.prices and book.asks.prices:
            assert book.bids.prices[0] < book.asks.prices[0]

    run_flow(*flow, check)


@PROPERTY_SETTINGS
@given(FLOWS)
def test_every_orders_quantity_is_conserved(flow: tuple[int, list[Action]]) -> None:
    ledger = Ledger()

    def check(ex: Exchange, event: Input, before: State, outputs: list[Output]) -> None:
        ledger.apply(outputs)
        book = ex.state.markets[MARKET_ID].book
        resting = {oid: o.remaining for oid, o in book.orders.items()}
        for order_id, accepted in ledger.accepted.items():
            rest = resting.get(order_id, 0)
            assert ledger.open[order_id] == rest, f"order {order_id} open vs book"
            total_in = accepted + ledger.amended_by[order_id]
            total_out = ledger.filled[order_id] + ledger.cancelled[order_id] + rest
            assert total_in == total_out, f"order {order_id} not conserved"
        assert set(resting) <= set(ledger.accepted), "a resting order was never accepted"
        # An order that may not rest has no open quantity once its own input is done.
        if isinstance(event.body, NewOrder) and event.body.time_in_force in (
            TimeInForce.IOC,
            TimeInForce.FOK,
        ):
            for accepted_order in of(outputs, OrderAccepted):
                assert ledger.open[accepted_order.order_id] == 0

    run_flow(*flow, check)


def _queue(state: State, side: Side) -> list[tuple[int, int, bytes]]:
    """The resting orders of one side in priority order as (order id, price, account)."""
    book = state.markets[MARKET_ID].book
    side_book = book.side(side)
    return [
        (oid, price, book.orders[oid].account)
        for price in side_book.prices
        for oid in side_book.levels[price].order_ids
    ]


def _taker(event: Input, outputs: list[Output]) -> tuple[int, Side, int | None, bytes] | None:
    """(order id, side, limit or None, account) of the order that walked the book, if any."""
    body = event.body
    if isinstance(body, NewOrder):
        accepted = of(outputs, OrderAccepted)
        if not accepted:
            return None
        limit = None if body.order_type is OrderType.MARKET else body.price
        return accepted[0].order_id, body.side, limit, body.account
    if isinstance(body, AmendOrder):
        amended = of(outputs, OrderAmended)
        if not amended or amended[0].kept_priority:
            return None
        taker_fills = [f for f in of(outputs, Fill) if f.taker_order_id == amended[0].order_id]
        side = taker_fills[0].taker_side if taker_fills else None
        if side is None:
            return None
        return amended[0].order_id, side, amended[0].price, amended[0].account
    return None


@PROPERTY_SETTINGS
@given(FLOWS)
def test_takers_walk_in_price_time_priority_within_their_limit(
    flow: tuple[int, list[Action]],
) -> None:
    def check(ex: Exchange, event: Input, before: State, outputs: list[Output]) -> None:
        taker = _taker(event, outputs)
        fills = of(outputs, Fill)
        if taker is None:
            assert not fills, "a fill without a taker"
            return
        taker_id, side, limit, account = taker
        opposite = Side.SELL if side is Side.BUY else Side.BUY
        queue = _queue(before, opposite)
        price_of = {oid: price for oid, price, _ in queue}
        stp_cancelled = [
            c.order_id
            for c in of(outputs, OrderCancelled)
            if c.reason is CancelReason.SELF_TRADE and c.order_id != taker_id
        ]
        walked = {f.maker_order_id for f in fills} | set(stp_cancelled)
        # The makers touched are exactly the first ones in priority order ...
        assert walked == {oid for oid, _, _ in queue[: len(walked)]}
        # ... and filled in that order (STP cancels are only listed after the fills).
        positions = [
            next(i for i, q in enumerate(queue) if q[0] == f.maker_order_id) for f in fills
        ]
        assert positions == sorted(positions)
        for fill in fills:
            assert fill.taker_order_id == taker_id
            assert fill.taker_side is side
            assert fill.price == price_of[fill.maker_order_id], "trade not at the maker's price"
            if limit is not None:
                assert fill.price <= limit if side is Side.BUY else fill.price >= limit
            assert fill.maker_account != account, "self-trade"
        # Only the last maker touched may keep an open quantity.
        assert all(f.maker_remaining == 0 for f in fills[:-1])
        # Whatever remains was not tradable: STP stopped it, or nothing crosses its limit.
        taker_cancel = [c for c in of(outputs, OrderCancelled) if c.order_id == taker_id]
        stopped = any(c.reason is CancelReason.SELF_TRADE for c in taker_cancel)
        open_left = (fills[-1].taker_remaining if fills else None) != 0
        if open_left and not stopped:
            best = ex.state.markets[MARKET_ID].book.side(opposite).prices[:1]
            if limit is None:
                assert not best, "a MARKET order left liquidity behind"
            elif best:
                assert not (best[0] <= limit if side is Side.BUY else best[0] >= limit)

    run_flow(*flow, check)


@PROPERTY_SETTINGS
@given(FLOWS)
def test_delta_replica_equals_the_top_levels(flow: tuple[int, list[Action]]) -> None:
    replica = DeltaReplica()

    def check(ex: Exchange, event: Input, before: State, outputs: list[Output]) -> None:
        replica.apply(outputs)
        check_delta_outputs(before, ex.state, outputs)
        depth = ex.state.book_delta_depth
        for side in (Side.BUY, Side.SELL):
            assert replica.levels(MARKET_ID, side) == book_levels(ex.state, MARKET_ID, side, depth)

    run_flow(*flow, check)
