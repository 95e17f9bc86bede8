"""Auctions on random batch books keep their promises, checked against independent brute force.

Hypothesis draws rounds of orders (four accounts, so self-trade prevention fires; seven prices
around the mark, so books cross; LIMIT GTC / IOC / POST_ONLY and MARKET IOC; every STP mode),
each round closed by an ``AuctionTick``, with the mark moving between rounds.  Every input goes
through ``step`` with ``check_invariants`` after it.  Around every tick the test recomputes, from
the book as it stood and with code of its own: the demand and supply at every integer price (the
executed volume must be their maximum), the clearing price by the five published rules, the
price-time order of allocation, what expires, and that the book left over is uncrossed.  Over
the whole run it checks each order's lots (accepted = filled + cancelled + resting) and the
money (collateral + fees - realized PnL = deposits), and that replaying the inputs gives the same
outputs and state hash.  ``clear()`` is also compared with the brute force directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypermarket.core import initial_state, state_hash, step
from hypermarket.matching.auction import clear
from hypermarket.matching.records import Clearing
from hypermarket.models import (
    AuctionResult,
    AuctionTick,
    CancelReason,
    Deposit,
    Fill,
    Input,
    MatchingMode,
    Order,
    OrderAccepted,
    OrderCancelled,
    Output,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from tests.support import (
    ALICE,
    BOB,
    CAROL,
    COMFORTABLE_COLLATERAL,
    DAVE,
    GTC,
    IOC,
    POST_ONLY,
    Exchange,
    fund,
    mark,
    market,
    market_order,
    of,
    order,
    wrap,
)

ACCOUNTS = (ALICE, BOB, CAROL, DAVE)
PRICES = st.integers(97, 103)
KINDS = ("gtc", "ioc", "post_only", "market")

# (account index, side, kind, price, quantity, stp)
OrderSpec = tuple[int, Side, str, int, int, SelfTradePrevention]
order_specs = st.tuples(
    st.integers(0, len(ACCOUNTS) - 1),
    st.sampled_from(Side),
    st.sampled_from(KINDS),
    PRICES,
    st.integers(1, 5),
    st.sampled_from(SelfTradePrevention),
)
# A round: the mark for it, then its orders; the round ends with a tick.
rounds = st.lists(
    st.tuples(PRICES, st.lists(order_specs, min_size=1, max_size=14)), min_size=1, max_size=3
)


# ----------------------------------------------------------------- independent brute force


def _demand(orders: Iterable[Order], price: int) -> int:
    return sum(
        o.remaining for o in orders if o.side is Side.BUY and (o.is_market or o.price >= price)
    )


def _supply(orders: Iterable[Order], price: int) -> int:
    return sum(
        o.remaining for o in orders if o.side is Side.SELL and (o.is_market or o.price <= price)
    )


def brute_force_volume(orders: list[Order]) -> int:
    """The largest ``min(D(p), S(p))`` over every integer price from 1 to above the highest
    limit; 0 when no limit price exists (MARKET orders alone have no price to clear at)."""
    limits = [o.price for o in orders if not o.is_market]
    if not limits:
        return 0
    return max(min(_demand(orders, p), _supply(orders, p)) for p in range(1, max(limits) + 2))


def brute_force_clearing(orders: list[Order], reference: int) -> Clearing:
    """The five rules of ``matching.auction`` applied to ``orders`` by direct counting."""
    total_buy = sum(o.remaining for o in orders if o.side is Side.BUY)
    total_sell = sum(o.remaining for o in orders if o.side is Side.SELL)
    rows = [
        (price, _demand(orders, price), _supply(orders, price))
        for price in sorted({o.price for o in orders if not o.is_market})
    ]
    volume = max((min(d, s) for _, d, s in rows), default=0)
    if volume == 0:
        return Clearing(0, 0, total_buy, total_sell)
    rows = [row for row in rows if min(row[1], row[2]) == volume]  # rule 1
    least = min(abs(d - s) for _, d, s in rows)
    rows = [row for row in rows if abs(row[1] - row[2]) == least]  # rule 2
    if all(d > s for _, d, s in rows):  # rule 3
        rows = [max(rows)]
    elif all(d < s for _, d, s in rows):
        rows = [min(rows)]
    if reference:  # rule 4
        nearest = min(abs(p - reference) for p, _, _ in rows)
        rows = [row for row in rows if abs(row[0] - reference) == nearest]
    price, demand, supply = min(rows)  # rule 5
    return Clearing(price, volume, max(demand - supply, 0), max(supply - demand, 0))


def _rank_key(o: Order) -> tuple[int, int, int]:
    """Allocation priority: MARKET first, then the better price, then the older order."""
    if o.is_market:
        return (0, 0, o.order_id)
    return (1, -o.price if o.side is Side.BUY else o.price, o.order_id)


def _eligible(o: Order, price: int) -> bool:
    if o.is_market:
        return True
    return o.price >= price if o.side is Side.BUY else o.price <= price


# ------------------------------------------------------------------------- the checks


def check_tick(
    before: dict[int, Order], reference: int, outputs: list[Output], after: dict[int, Order]
) -> None:
    """Everything one tick must do to the book ``before`` (order id -> resting order)."""
    orders = list(before.values())
    result = outputs[0].body
    assert isinstance(result, AuctionResult)
    clearing = Clearing(
        result.clearing_price, result.volume, result.buy_surplus, result.sell_surplus
    )
    assert result.volume == brute_force_volume(orders)
    assert clearing == brute_force_clearing(orders, reference)
    price = result.clearing_price

    filled: dict[int, int] = defaultdict(int)
    for fill in of(outputs, Fill):
        maker, taker = before[fill.maker_order_id], before[fill.taker_order_id]
        buy, sell = (maker, taker) if maker.side is Side.BUY else (taker, maker)
        assert (buy.side, sell.side) == (Side.BUY, Side.SELL)
        assert buy.account != sell.account, "an auction paired an account with itself"
        # The older order is the maker; every trade prints at the clearing price ...
        assert maker.order_id < taker.order_id
        assert (fill.maker_account, fill.taker_account, fill.taker_side) == (
            maker.account,
            taker.account,
            taker.side,
        )
        assert fill.price == price
        # ... which is no worse than either order's limit.
        assert buy.is_market or buy.price >= fill.price
        assert sell.is_market or sell.price <= fill.price
        filled[maker.order_id] += fill.quantity
        filled[taker.order_id] += fill.quantity
        assert fill.maker_remaining == maker.remaining - filled[maker.order_id]
        assert fill.taker_remaining == taker.remaining - filled[taker.order_id]
    assert sum(f.quantity for f in of(outputs, Fill)) == result.volume

    for side in Side:
        ranked = sorted((o for o in orders if o.side is side), key=_rank_key)
        for o in ranked:
            assert filled[o.order_id] <= o.remaining
            if not _eligible(o, price) or not result.volume:
                assert filled[o.order_id] == 0, f"order {o.order_id} traded beyond its limit"
        # Price-time priority: the filled lots of a side are a prefix of its ranking, so a
        # later order never fills while an earlier one at the same or better price is left
        # unfilled (in particular at the clearing price, on the surplus side).
        for earlier, later in pairwise(ranked):
            if filled[later.order_id]:
                assert filled[earlier.order_id] == earlier.remaining, (
                    f"order {later.order_id} filled before {earlier.order_id} was"
                )

    # What lived only for this auction (IOC, MARKET) and was not filled expires; nothing else.
    expired = {c.order_id: c for c in of(outputs, OrderCancelled)}
    for o in orders:
        left = o.remaining - filled[o.order_id]
        expires = o.is_market or o.time_in_force is TimeInForce.IOC
        if expires and left:
            assert expired[o.order_id].remaining_quantity == left
            assert expired[o.order_id].reason is CancelReason.AUCTION_UNFILLED
            assert o.order_id not in after
        elif left:
            assert o.order_id not in expired
            assert after[o.order_id].remaining == left
        else:
            assert o.order_id not in after
            assert o.order_id not in expired
    assert set(after) <= set(before)

    # Had the leftover book crossed, a larger volume would have existed.
    best_bid = max((o.price for o in after.values() if o.side is Side.BUY), default=None)
    best_ask = min((o.price for o in after.values() if o.side is Side.SELL), default=None)
    if best_bid is not None and best_ask is not None:
        assert best_bid < best_ask


def check_money(ex: Exchange, deposited: int) -> None:
    market_state = ex.state.markets[1]
    accounts = list(market_state.accounts.values())
    collateral = sum(a.collateral for a in accounts)
    realized = sum(a.realized_pnl for a in accounts)
    assert collateral + market_state.fee_balance - realized == deposited


def check_lots(history: list[Output], resting: dict[int, Order]) -> None:
    """Per order: accepted quantity = filled + cancelled remainder + resting remainder."""
    accepted = {o.order_id: o.quantity for o in of(history, OrderAccepted)}
    filled: dict[int, int] = defaultdict(int)
    for fill in of(history, Fill):
        filled[fill.maker_order_id] += fill.quantity
        filled[fill.taker_order_id] += fill.quantity
    cancelled: dict[int, int] = {}
    for cancel in of(history, OrderCancelled):
        assert cancel.order_id not in cancelled, f"order {cancel.order_id} cancelled twice"
        cancelled[cancel.order_id] = cancel.remaining_quantity
    assert set(filled) <= set(accepted)
    for order_id, quantity in accepted.items():
        assert not (order_id in cancelled and order_id in resting)
        left = cancelled.get(order_id, 0) + (
            resting[order_id].remaining if order_id in resting else 0
        )
        assert quantity == filled[order_id] + left, f"order {order_id} lost or gained lots"


# ------------------------------------------------------------------------------- scenarios


def _new_order(spec: OrderSpec, client_order_id: int) -> Input:
    who, side, kind, price, qty, stp = spec
    if kind == "market":
        return market_order(ACCOUNTS[who], side, qty, client_order_id=client_order_id, stp=stp)
    tif = {"gtc": GTC, "ioc": IOC, "post_only": POST_ONLY}[kind]
    return order(ACCOUNTS[who], side, price, qty, client_order_id=client_order_id, tif=tif, stp=stp)


def scenario_inputs(plan: list[tuple[int, list[OrderSpec]]]) -> list[Input]:
    """The opening inputs, then per round: a mark, the orders, a tick."""
    inputs = [market(1, matching_mode=MatchingMode.BATCH, auction_interval_ms=1_000)]
    for who in ACCOUNTS:
        inputs.extend(fund(who, 1))
    client_order_id = 0
    for mark_price, specs in plan:
        inputs.append(mark(1, mark_price))
        for spec in specs:
            client_order_id += 1
            inputs.append(_new_order(spec, client_order_id))
        inputs.append(wrap(AuctionTick(1)))
    return inputs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds)
def test_random_auctions_keep_their_promises(plan: list[tuple[int, list[OrderSpec]]]) -> None:
    inputs = scenario_inputs(plan)
    ex = Exchange()
    deposited = 0
    ticks = 0
    for event in inputs:
        book = ex.state.markets[1].book.orders if ex.state.markets else None
        before = dict(book.items()) if book is not None else {}
        market_state = ex.state.markets.get(1)
        outputs = ex.send(event)  # check_invariants runs inside
        if isinstance(event.body, Deposit):
            deposited += event.body.amount
        check_money(ex, deposited)
        if isinstance(event.body, AuctionTick):
            assert market_state is not None
            ticks += 1
            reference = market_state.mark_price or market_state.last_clearing_price
            after = dict(ex.state.markets[1].book.orders.items())
            check_tick(before, reference, outputs, after)
    assert ticks == len(plan)
    assert deposited == COMFORTABLE_COLLATERAL * len(ACCOUNTS)
    check_lots(ex.history, dict(ex.state.markets[1].book.orders.items()))

    # Determinism: the same inputs from the same state give the same outputs and state.
    state = initial_state()
    replayed: list[Output] = []
    for event in inputs:
        state, outputs = step(state, event)
        replayed.extend(outputs)
    assert replayed == ex.history
    assert state_hash(state) == state_hash(ex.state)


# Random books rarely tie on volume and surplus, so rules 4 and 5 seldom decide there.  These
# books are built to tie: for prices p1 < p2 < p3 and lots a >= 1, b >= 0,
#   bids  p3 x a,  p2 x b         asks  p1 x a,  p3 x b
#   p    D(p)    S(p)    V(p)  surplus
#   p1   a+b     a       a     +b
#   p2   a+b     a       a     +b
#   p3   a       a+b     a     -b
# (with b = 0, only p1 and p3 are candidates, both with surplus 0), so the mark decides.  Each
# level is cut into orders of random accounts and sizes, which arrive in a random order.


@settings(max_examples=100, deadline=None)
@given(
    st.lists(PRICES, min_size=3, max_size=3, unique=True).map(sorted),
    st.integers(1, 6),
    st.integers(0, 6),
    PRICES,
    st.data(),
)
def test_tied_books_are_decided_by_the_mark(
    prices: list[int], a: int, b: int, mark_price: int, data: st.DataObject
) -> None:
    p1, p2, p3 = prices
    levels = [(Side.BUY, p3, a), (Side.BUY, p2, b), (Side.SELL, p1, a), (Side.SELL, p3, b)]
    pieces: list[tuple[bytes, Side, int, int, TimeInForce]] = []
    for side, price, level_lots in levels:
        lots = level_lots
        while lots:
            piece = data.draw(st.integers(1, lots))
            who = data.draw(st.sampled_from((ALICE, BOB) if side is Side.BUY else (CAROL, DAVE)))
            pieces.append((who, side, price, piece, data.draw(st.sampled_from((GTC, IOC)))))
            lots -= piece
    ex = Exchange()
    ex.open_market(1, accounts=ACCOUNTS, matching_mode=MatchingMode.BATCH, auction_interval_ms=1)
    for number, (who, side, price, lots, tif) in enumerate(data.draw(st.permutations(pieces))):
        ex.send(order(who, side, price, lots, client_order_id=number + 1, tif=tif))
    ex.send(mark(1, mark_price))
    before = dict(ex.state.markets[1].book.orders.items())
    outputs = ex.send(wrap(AuctionTick(1)))
    check_tick(before, mark_price, outputs, dict(ex.state.markets[1].book.orders.items()))
    # The table above, by hand: rule 4 (closest to the mark), then rule 5 (lowest).
    candidates = [p1, p3] if b == 0 else [p1, p2, p3]
    nearest = min(abs(p - mark_price) for p in candidates)
    price = min(p for p in candidates if abs(p - mark_price) == nearest)
    surplus = (0, b) if price == p3 else (b, 0)
    assert outputs[0].body == AuctionResult(price, a, *surplus)


# ------------------------------------------------------------------- clear() on its own

levels = st.lists(st.tuples(st.integers(1, 12), st.integers(1, 9)), max_size=6)


@settings(max_examples=400, deadline=None)
@given(levels, levels, st.integers(0, 9), st.integers(0, 9), st.integers(0, 14))
def test_clear_matches_brute_force(
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    market_buy: int,
    market_sell: int,
    reference: int,
) -> None:
    # ``clear`` takes one (price, lots) per level; merge repeated prices the way a book would.
    bid_levels: dict[int, int] = defaultdict(int)
    ask_levels: dict[int, int] = defaultdict(int)
    for price, qty in bids:
        bid_levels[price] += qty
    for price, qty in asks:
        ask_levels[price] += qty
    orders = [_fake(Side.BUY, p, q) for p, q in bid_levels.items()]
    orders += [_fake(Side.SELL, p, q) for p, q in ask_levels.items()]
    if market_buy:
        orders.append(_fake(Side.BUY, 0, market_buy, is_market=True))
    if market_sell:
        orders.append(_fake(Side.SELL, 0, market_sell, is_market=True))
    clearing = clear(
        list(bid_levels.items()), list(ask_levels.items()), market_buy, market_sell, reference
    )
    assert clearing == brute_force_clearing(orders, reference)
    assert clearing.volume == brute_force_volume(orders)


def _fake(side: Side, price: int, qty: int, *, is_market: bool = False) -> Order:
    return Order(
        0,
        ALICE,
        0,
        side,
        price,
        qty,
        TimeInForce.GTC,
        SelfTradePrevention.CANCEL_TAKER,
        False,
        is_market,
    )
