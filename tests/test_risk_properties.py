"""Properties of the money and the risk checks that hold after every step of any generated flow.

Hypothesis draws a market configuration (multiplier, fee rates including rebates and a maker
rate worse than the taker's, initial margin, price band, position limit), modest deposits for
three accounts, and a flow of deposits, withdrawals (some of exactly what the margin allows,
or one unit more), new orders (limit and market, every time in force, a quarter of them
reduce-only, mostly on the side that reduces), cancels, amends, cancel-alls and price updates
(a walk of the mark), priced a few ticks around the mark or past the best opposite price, so
that orders cross and positions build up.
The flow runs through the core one input at a time (``tests.support.Exchange``:
``check_invariants`` after every step), and each test checks one property after every step,
recomputing what it needs from the states before and after and the outputs, with the formulas
of docs/risk.md written out here (nothing from ``hypermarket.risk``):

* money is conserved to the unit: sum(collateral) + fee account - sum(realized PnL) =
  successful deposits - successful withdrawals;
* an accepted order filled at its limit leaves its account covering initial margin at the
  mark it was accepted under: the account as the step left it (fees charged fill by fill),
  with every order it had resting on that side before and the order's unfilled part filled
  at their limits (a MARKET order: what it traded), paying the worse fee rate plus one unit
  per lot (docs/risk.md check 6), has equity >= initial margin.  One limit order in seven
  is sent right after a deposit or withdrawal that puts it exactly on that edge;
* a limit order is refused for INSUFFICIENT_MARGIN exactly when that formula says it does
  not cover initial margin (unless an earlier check refused it);
* a fill of a reduce-only order never grows its account's |position|, and after every step
  an account's reduce-only orders on a side add up to at most what closes its position;
* a successful withdrawal leaves the account covering initial margin with either side's
  resting orders filled (no slack: nothing trades).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from hypermarket.core import State
from hypermarket.models import (
    AmendOrder,
    Deposit,
    Fill,
    Input,
    MarketConfig,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderRejected,
    OrderType,
    Output,
    PositionUpdate,
    Rejected,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UpsertMarket,
    Withdraw,
)
from tests.support import (
    ALICE,
    BOB,
    CAROL,
    Exchange,
    amend,
    cancel,
    cancel_all,
    config,
    deposit,
    margin_account,
    mark,
    of,
    order,
    withdraw,
    wrap,
)

ACCOUNTS = (ALICE, BOB, CAROL)
MARKET_ID = 1

# ------------------------------------------------------------------------------ generation


@st.composite
def market_configs(draw: st.DrawFn) -> MarketConfig:
    taker, maker = draw(st.sampled_from([(7, -2), (10, 0), (3, 8), (0, 0), (25, -5)]))
    initial = draw(st.sampled_from([1000, 2500]))
    return config(
        MARKET_ID,
        contract_multiplier=draw(st.sampled_from([1, 7])),
        taker_fee_bps=taker,
        maker_fee_bps=maker,
        initial_margin_bps=initial,
        maintenance_margin_bps=initial // 2,
        price_band_bps=draw(st.sampled_from([0, 300])),
        max_position=draw(st.sampled_from([0, 10])),
    )


KINDS = ["new"] * 10 + ["cancel", "amend", "amend", "deposit", "withdraw", "withdraw", "price"]
KINDS += ["price", "cancel_all"]
# One generated action, resolved against the live state when it runs (see ``resolve``).
Action = tuple[str, int, int, int, int, int, int]
ACTIONS: st.SearchStrategy[Action] = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, 2),  # account (cancels and amends: 0 = the owner)
    st.integers(0, 1),  # side / by client order id
    st.integers(-3, 3),  # ticks past the mark (> 0: past the best opposite price) / mark step
    st.integers(1, 7),  # quantity / new quantity (new orders: 7 = right at the margin's edge)
    st.integers(0, 9),  # order kind / which order / which amount
    st.integers(0, 3),  # 3: reduce-only / amends: 0 keeps the price, 1 keeps the quantity
)
FUNDING = st.tuples(*[st.sampled_from([1000, 300, 10_000, 100])] * 3)
FLOWS = st.tuples(market_configs(), FUNDING, st.lists(ACTIONS, min_size=20, max_size=60))

ORDER_KINDS = [
    *[(OrderType.LIMIT, TimeInForce.GTC)] * 5,
    (OrderType.LIMIT, TimeInForce.IOC),
    (OrderType.LIMIT, TimeInForce.FOK),
    (OrderType.LIMIT, TimeInForce.POST_ONLY),
    (OrderType.MARKET, TimeInForce.IOC),
    (OrderType.MARKET, TimeInForce.FOK),
]
AMOUNTS = [1, 10, 50, 200, 1000, 5000, 20, 100, 400, 0]  # 0: what the margin allows


def resolve(action: Action, state: State, multiplier: int) -> list[Input]:
    """Turn a generated action into inputs, naming a live order where one is needed."""
    kind, who, flag, reach, qty, pick, extra = action
    account = ACCOUNTS[who]
    market = state.markets[MARKET_ID]
    if kind == "new":
        return new_order_inputs(action, state)
    if kind == "price":  # a random walk of the mark between 94 and 106
        return [mark(MARKET_ID, min(max(market.mark_price + reach, 94), 106))]
    if kind == "cancel_all":
        return [cancel_all(account, MARKET_ID)]
    if kind in ("deposit", "withdraw"):
        amount = AMOUNTS[pick] * multiplier
        if kind == "deposit":
            return [deposit(account, MARKET_ID, amount or 1)]
        if not amount:  # as much as the margin allows (or one more)
            amount = withdrawable(state, account) + extra % 2
        return [withdraw(account, MARKET_ID, amount)]
    live = sorted(market.book.orders.values(), key=lambda o: o.order_id)
    if not live:
        return [cancel(account, order_id=10**6)]  # nothing to name: a harmless reject
    target = live[pick % len(live)]
    sender = target.account if who == 0 else account
    by_id = {"client_order_id": target.client_order_id} if flag else {"order_id": target.order_id}
    if kind == "cancel":
        return [cancel(sender, **by_id)]
    price = market.mark_price + (reach if target.side is Side.BUY else -reach)
    return [
        amend(sender, new_price=0 if extra == 0 else price,
              new_quantity=0 if extra == 1 else qty, **by_id)
    ]  # fmt: skip


def new_order_inputs(action: Action, state: State) -> list[Input]:
    """A new order; with quantity 7, a limit order right at the margin's edge.

    Prices are ticks past the mark toward the other side; an order reaching past 0 ticks
    reaches past the best opposite price instead (and then mostly comes from an account that
    is not first in that queue), so that it trades.  Reduce-only orders mostly go on the side
    that reduces.  For quantity 7 a limit order gets 1 to 3 lots (or, reaching past 0 ticks,
    the whole best opposite level, at its price, so that every fill is at the limit), and a
    deposit or withdrawal comes first that leaves equity exactly equal to initial margin with
    the order (and the account's other orders on its side) filled at their limits, by
    docs/risk.md; a market order gets as many lots as the margin allows at the mark, or one
    more.
    """
    _, who, flag, reach, qty, pick, extra = action
    account = ACCOUNTS[who]
    market = state.markets[MARKET_ID]
    order_type, tif = ORDER_KINDS[pick]
    side = Side.BUY if flag else Side.SELL
    size = margin_account(state, MARKET_ID, account)[1]
    if extra == 3 and size:
        side = Side.SELL if (size > 0) == (pick % 4 != 0) else Side.BUY
    toward = 1 if side is Side.BUY else -1
    price = market.mark_price + reach * toward
    other = market.book.side(Side.SELL if side is Side.BUY else Side.BUY)
    if reach > 0 and other.prices:
        price = other.prices[0] + (reach - 1) * toward
        first = market.book.orders[other.levels[other.prices[0]].order_ids[0]]
        if first.account == account and not extra:
            account = ACCOUNTS[(ACCOUNTS.index(account) + 1) % len(ACCOUNTS)]
    is_market = order_type is OrderType.MARKET
    before: list[Input] = []
    if qty == 7 and is_market:
        qty = affordable(state, account, side, market.mark_price) + pick % 2 or 1
    elif qty == 7:
        qty = 1 + pick % 3
        if other.prices and reach > 0:  # sweep the best level, at its price: fills at the limit
            price = other.prices[0]
            qty = other.levels[price].quantity + reach - 1
        with_it = [*resting(state, account, side), (price, qty)]
        surplus = equity_minus_margin(state, account, side, with_it)
        if surplus > 0:
            before.append(withdraw(account, MARKET_ID, surplus))
        elif surplus < 0:
            before.append(deposit(account, MARKET_ID, -surplus))
    new = order(
        account, side, 0 if is_market else price, qty,
        client_order_id=state.next_order_id, order_type=order_type, tif=tif,
        reduce_only=extra == 3, stp=SelfTradePrevention(1 + pick % 3),
    )  # fmt: skip
    return [*before, new]


@dataclass
class Step:
    """One input of a flow, the states around it and its outputs."""

    event: Input
    before: State
    after: State
    outputs: list[Output]


Flow = tuple[MarketConfig, tuple[int, int, int], list[Action]]


def run_flow(flow: Flow) -> Iterator[Step]:
    """Open the market, fund the accounts, publish mark 100, then run the actions."""
    cfg, funding, actions = flow
    ex = Exchange()
    setup = [wrap(UpsertMarket(cfg, 1))]
    setup += [deposit(who, MARKET_ID, amount * cfg.contract_multiplier) for who, amount in
              zip(ACCOUNTS, funding, strict=True) if amount]  # fmt: skip
    setup.append(mark(MARKET_ID, 100))

    def steps(events: list[Input]) -> Iterator[Step]:
        for event in events:
            before = ex.state
            outputs = ex.send(event)
            yield Step(event, before, ex.state, outputs)

    yield from steps(setup)
    for action in actions:
        yield from steps(resolve(action, ex.state, cfg.contract_multiplier))


def check_flow(flow: Flow, check: Callable[[Step], None]) -> None:
    """Run ``flow`` and ``check`` every step of it."""
    for done in run_flow(flow):
        check(done)


# ------------------------------------------------------------------------------ docs/risk.md


def ceil_bps(amount: int, bps: int) -> int:
    """``amount * bps / 10000`` rounded up, for ``amount * bps >= 0``."""
    return (amount * bps + 9_999) // 10_000


def equity_minus_margin(
    state: State, account: bytes, side: Side, orders: list[tuple[int, int]]
) -> int:
    """Equity less initial margin of ``account`` at the mark once ``orders`` ((price, lots) on
    ``side``) fill at their limits, paying the worse of the two fee rates (docs/risk.md)."""
    market = state.markets[MARKET_ID]
    cfg, mark_price = market.config, market.mark_price
    collateral, size, entry, _ = margin_account(state, MARKET_ID, account)
    lots = sum(q for _, q in orders)
    money = sum(p * q for p, q in orders) * cfg.contract_multiplier
    rate = max(cfg.taker_fee_bps, cfg.maker_fee_bps, 0)
    fees = ceil_bps(money, rate) + lots if rate else 0  # one unit per lot: fees round per fill
    signed_entry = entry if size >= 0 else -entry
    if side is Side.BUY:
        cash, size_after = collateral - signed_entry - money - fees, size + lots
    else:
        cash, size_after = collateral - signed_entry + money - fees, size - lots
    equity = cash + size_after * mark_price * cfg.contract_multiplier
    margin = ceil_bps(
        abs(size_after) * mark_price * cfg.contract_multiplier, cfg.initial_margin_bps
    )
    return equity - margin


def affordable(state: State, account: bytes, side: Side, price: int) -> int:
    """The most lots (up to 60) of a new order at ``price`` that keep initial margin covered."""
    orders = resting(state, account, side)
    lots = 0
    while (
        lots < 60 and equity_minus_margin(state, account, side, [*orders, (price, lots + 1)]) >= 0
    ):
        lots += 1
    return lots


def withdrawable(state: State, account: bytes) -> int:
    """The most collateral that can leave with initial margin covered on either side."""
    collateral = margin_account(state, MARKET_ID, account)[0]
    surplus = [
        equity_minus_margin(state, account, side, resting(state, account, side))
        for side in (Side.BUY, Side.SELL)
    ]
    return max(min(collateral, *surplus), 0)


def resting(state: State, account: bytes, side: Side, leave_out: int = 0) -> list[tuple[int, int]]:
    """(price, open lots) of ``account``'s resting orders on ``side``, but order ``leave_out``."""
    return [
        (o.price, o.remaining)
        for o in state.markets[MARKET_ID].book.orders.values()
        if o.account == account and o.side is side and o.order_id != leave_out
    ]


# ------------------------------------------------------------------------------ properties

PROPERTY_SETTINGS = settings(max_examples=120, deadline=None)


def money_is_conserved(done: Step, ledger: list[int]) -> None:
    """``ledger[0]`` carries successful deposits less successful withdrawals across steps."""
    body = done.event.body
    if isinstance(body, Deposit | Withdraw) and of(done.outputs, PositionUpdate):
        assert not of(done.outputs, Rejected)
        ledger[0] += body.amount if isinstance(body, Deposit) else -body.amount
    market = done.after.markets.get(MARKET_ID)
    if market is None:
        return
    accounts = list(market.accounts.values())
    held = sum(a.collateral for a in accounts) + market.fee_balance
    assert held - sum(a.realized_pnl for a in accounts) == ledger[0]


@given(FLOWS)
@PROPERTY_SETTINGS
def test_money_is_conserved_to_the_unit(
    flow: Flow,
) -> None:
    ledger = [0]
    check_flow(flow, lambda done: money_is_conserved(done, ledger))


def accepted_orders_cover_initial_margin(done: Step) -> None:
    body = done.event.body
    fills = of(done.outputs, Fill)
    if isinstance(body, NewOrder):
        accepted = of(done.outputs, OrderAccepted)
        if not accepted:
            return
        order_id = accepted[0].order_id
        who, side = body.account, body.side
        hypothetical = resting(done.before, who, side)
        mine = [f for f in fills if f.taker_order_id == order_id]
        unfilled = body.quantity - sum(f.quantity for f in mine)
        if body.order_type is OrderType.LIMIT and unfilled:
            hypothetical.append((body.price, unfilled))
    elif isinstance(body, AmendOrder):
        amended = of(done.outputs, OrderAmended)
        if not amended or amended[0].kept_priority:
            return  # rejected, or a shrink that no rule checks
        change = amended[0]
        order_id = change.order_id
        old = done.before.markets[MARKET_ID].book.orders[order_id]
        who, side = old.account, old.side
        hypothetical = resting(done.before, who, side, leave_out=order_id)
        mine = [f for f in fills if f.taker_order_id == order_id]
        unfilled = change.quantity - sum(f.quantity for f in mine)
        if unfilled:
            hypothetical.append((change.price, unfilled))
    else:
        return
    surplus = equity_minus_margin(done.after, who, side, hypothetical)
    assert surplus >= 0, (
        f"{body} accepted, yet equity falls {-surplus} short of initial margin "
        f"after {len(mine)} fills"
    )


@given(FLOWS)
@PROPERTY_SETTINGS
def test_accepted_orders_filled_at_their_limits_cover_initial_margin(
    flow: Flow,
) -> None:
    check_flow(flow, accepted_orders_cover_initial_margin)


def margin_decisions_follow_the_formula(done: Step) -> None:
    """A limit order is refused for INSUFFICIENT_MARGIN exactly when the formula says so.

    Orders stopped earlier (band, reduce-only, position limit, ...) say nothing; an order
    accepted, or refused for a later reason (POST_ONLY_WOULD_CROSS, FOK_NOT_FILLABLE), passed.
    """
    body = done.event.body
    if not isinstance(body, NewOrder) or body.order_type is not OrderType.LIMIT:
        return
    refused = of(done.outputs, OrderRejected)
    if refused and refused[0].reason < RejectReason.INSUFFICIENT_MARGIN:
        return
    orders = [*resting(done.before, body.account, body.side), (body.price, body.quantity)]
    surplus = equity_minus_margin(done.before, body.account, body.side, orders)
    margin_refused = bool(refused) and refused[0].reason is RejectReason.INSUFFICIENT_MARGIN
    assert margin_refused == (surplus < 0), (body, surplus, refused)


@given(FLOWS)
@PROPERTY_SETTINGS
def test_margin_decisions_of_limit_orders_follow_the_formula(flow: Flow) -> None:
    check_flow(flow, margin_decisions_follow_the_formula)


def reduce_only_never_grows_a_position(done: Step) -> None:
    if MARKET_ID not in done.before.markets:
        return  # the market is being created
    before_book = done.before.markets[MARKET_ID].book.orders
    body = done.event.body
    # Sizes followed fill by fill from the outputs, starting from the state before the input.
    sizes = {who: margin_account(done.before, MARKET_ID, who)[1] for who in ACCOUNTS}
    for fill in of(done.outputs, Fill):
        maker = before_book[fill.maker_order_id]
        if isinstance(body, NewOrder):
            taker_reduce_only = body.reduce_only
        else:  # an amended order that crossed
            taker_reduce_only = before_book[fill.taker_order_id].reduce_only
        buying = fill.taker_side is Side.BUY
        buyer = fill.taker_account if buying else fill.maker_account
        seller = fill.maker_account if buying else fill.taker_account
        was = dict(sizes)
        sizes[buyer] += fill.quantity
        sizes[seller] -= fill.quantity
        for who, reduce_only in (
            (maker.account, maker.reduce_only),
            (fill.taker_account, taker_reduce_only),
        ):
            assert not reduce_only or abs(sizes[who]) <= abs(was[who]), (
                f"a reduce-only order took {who.hex()[:4]} from {was[who]} to {sizes[who]}"
            )
    for who in ACCOUNTS:
        size = margin_account(done.after, MARKET_ID, who)[1]
        for side, closable in ((Side.BUY, max(-size, 0)), (Side.SELL, max(size, 0))):
            reduce_only_lots = sum(
                o.remaining
                for o in done.after.markets[MARKET_ID].book.orders.values()
                if o.account == who and o.side is side and o.reduce_only
            )
            assert reduce_only_lots <= closable, (who, side, size, reduce_only_lots)


@given(FLOWS)
@PROPERTY_SETTINGS
def test_reduce_only_never_grows_a_position(
    flow: Flow,
) -> None:
    check_flow(flow, reduce_only_never_grows_a_position)


def withdrawals_leave_initial_margin(done: Step) -> None:
    body = done.event.body
    if not isinstance(body, Withdraw) or not of(done.outputs, PositionUpdate):
        return
    for side in (Side.BUY, Side.SELL):
        surplus = equity_minus_margin(
            done.after, body.account, side, resting(done.after, body.account, side)
        )
        assert surplus >= 0, f"{body} left equity {-surplus} short with the {side.name} orders"


@given(FLOWS)
@PROPERTY_SETTINGS
def test_successful_withdrawals_leave_initial_margin(
    flow: Flow,
) -> None:
    check_flow(flow, withdrawals_leave_initial_margin)
