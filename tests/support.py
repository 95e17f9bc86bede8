"""Scenario builders for the core tests: every test builds its inputs through these helpers.

Why one place: the core requires collateral and a mark price before an order rests or trades
(isolated margin).  Tests call ``fund(account, market_id)`` for every account that trades and
``market(...)`` for every market, so that a change of what trading needs changes ``fund`` (and
perhaps the market defaults) here, not two hundred scenarios.  ``Exchange`` runs inputs one
at a time through ``step`` and checks ``check_invariants`` after every step; ``run`` does the
same for a list.  The output pickers (``of``, ``one``, ``kinds``) select by output type, so a test
that looks at fills does not break when position updates start to follow them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import TypeVar

import msgspec

from hypermarket.core import State, check_invariants, initial_state, step
from hypermarket.models import (
    AmendOrder,
    BookDelta,
    CancelAll,
    CancelOrder,
    Deposit,
    Input,
    InputBody,
    MarketConfig,
    MarketStatus,
    NewOrder,
    OrderType,
    Output,
    OutputBody,
    PositionUpdate,
    PriceUpdate,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UpsertMarket,
    Withdraw,
)

BUY = Side.BUY
SELL = Side.SELL
LIMIT = OrderType.LIMIT
MARKET = OrderType.MARKET
GTC = TimeInForce.GTC
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
POST_ONLY = TimeInForce.POST_ONLY
CANCEL_TAKER = SelfTradePrevention.CANCEL_TAKER
CANCEL_MAKER = SelfTradePrevention.CANCEL_MAKER
CANCEL_BOTH = SelfTradePrevention.CANCEL_BOTH


def account(n: int) -> bytes:
    """A 20-byte EVM-style address made of the byte ``n``."""
    return bytes([n]) * 20


ALICE = account(0xA1)
BOB = account(0xB0)
CAROL = account(0xC0)
DAVE = account(0xD0)

# The mark price ``fund`` publishes: scenarios trade around it.
MARK_PRICE = 100
# The collateral ``fund`` deposits (10**9 USDC in micro-USDC): far above any scenario's margin.
COMFORTABLE_COLLATERAL = 10**15


def config(market_id: int = 1, **overrides: object) -> MarketConfig:
    """A valid market config (symbol derived from the id) with ``overrides`` applied."""
    base = MarketConfig(market_id=market_id, symbol=f"M{market_id}-PERP")
    return msgspec.structs.replace(base, **overrides) if overrides else base


def wrap(body: InputBody, *, request_id: int = 0, ts_ns: int = 0) -> Input:
    return Input(body, ts_ns=ts_ns, request_id=request_id)


def market(
    market_id: int = 1, *, revision: int = 1, request_id: int = 0, **overrides: object
) -> Input:
    """An ``UpsertMarket`` input creating or changing ``market_id``."""
    return wrap(UpsertMarket(config(market_id, **overrides), revision), request_id=request_id)


def set_status(
    market_id: int, status: MarketStatus, *, revision: int, **overrides: object
) -> Input:
    """An ``UpsertMarket`` that changes only the status (and ``overrides``) of a market."""
    return wrap(UpsertMarket(config(market_id, status=status, **overrides), revision))


def deposit(account_: bytes, market_id: int, amount: int) -> Input:
    """A ``Deposit`` of ``amount`` collateral units into ``account_``'s margin in ``market_id``."""
    return wrap(Deposit(account_, market_id, amount))


def withdraw(account_: bytes, market_id: int, amount: int) -> Input:
    """A ``Withdraw`` of ``amount`` collateral units from ``account_``'s margin in ``market_id``."""
    return wrap(Withdraw(account_, market_id, amount))


def margin_account(state: State, market_id: int, account_: bytes) -> tuple[int, int, int, int]:
    """``account_``'s isolated account in a market as (collateral, size, entry, realized).

    All zeros for an account the market has never seen.
    """
    found = state.markets[market_id].accounts.get(account_)
    if found is None:
        return (0, 0, 0, 0)
    return (found.collateral, found.size, found.entry_notional, found.realized_pnl)


def mark(market_id: int, price: int, index_price: int | None = None) -> Input:
    """A ``PriceUpdate`` setting the mark (and index, same unless told) price of a market."""
    return wrap(PriceUpdate(market_id, price, price if index_price is None else index_price))


def fund(account_: bytes, market_id: int) -> list[Input]:
    """Inputs that let ``account_`` trade comfortably in ``market_id`` (isolated margin).

    A ``Deposit`` of ``COMFORTABLE_COLLATERAL`` and a ``PriceUpdate`` at ``MARK_PRICE`` (risk
    refuses orders before a market has a mark price).  Scenarios trade a few lots around
    ``MARK_PRICE``, so no margin check comes near refusing them.
    """
    return [deposit(account_, market_id, COMFORTABLE_COLLATERAL), mark(market_id, MARK_PRICE)]


def order(
    account_: bytes,
    side: Side,
    price: int,
    quantity: int,
    *,
    market_id: int = 1,
    client_order_id: int = 0,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER,
    reduce_only: bool = False,
    request_id: int = 0,
    ts_ns: int = 0,
) -> Input:
    """A ``NewOrder`` input (LIMIT GTC unless told otherwise)."""
    return wrap(
        NewOrder(
            market_id=market_id,
            account=account_,
            client_order_id=client_order_id,
            side=side,
            order_type=order_type,
            time_in_force=tif,
            price=price,
            quantity=quantity,
            reduce_only=reduce_only,
            stp=stp,
        ),
        request_id=request_id,
        ts_ns=ts_ns,
    )


def market_order(
    account_: bytes,
    side: Side,
    quantity: int,
    *,
    tif: TimeInForce = TimeInForce.IOC,
    market_id: int = 1,
    client_order_id: int = 0,
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER,
    request_id: int = 0,
) -> Input:
    """A MARKET order (price 0), IOC unless told otherwise."""
    return order(
        account_,
        side,
        0,
        quantity,
        market_id=market_id,
        client_order_id=client_order_id,
        order_type=OrderType.MARKET,
        tif=tif,
        stp=stp,
        request_id=request_id,
    )


def cancel(
    account_: bytes,
    *,
    order_id: int = 0,
    client_order_id: int = 0,
    market_id: int = 1,
    request_id: int = 0,
) -> Input:
    return wrap(CancelOrder(market_id, account_, order_id, client_order_id), request_id=request_id)


def cancel_all(account_: bytes, market_id: int = 0, *, request_id: int = 0) -> Input:
    return wrap(CancelAll(account_, market_id), request_id=request_id)


def amend(
    account_: bytes,
    *,
    order_id: int = 0,
    client_order_id: int = 0,
    new_price: int = 0,
    new_quantity: int = 0,
    market_id: int = 1,
    request_id: int = 0,
) -> Input:
    return wrap(
        AmendOrder(market_id, account_, order_id, client_order_id, new_price, new_quantity),
        request_id=request_id,
    )


class Exchange:
    """One shard driven input by input; invariants are checked after every step.

    ``send`` returns the outputs of one input; ``history`` keeps every output so far.
    """

    def __init__(
        self, *, shard: int = 0, shard_count: int = 1, depth: int = 20, state: State | None = None
    ) -> None:
        self.state = state if state is not None else initial_state(shard, shard_count, depth)
        check_invariants(self.state)
        self.history: list[Output] = []

    def send(self, event: Input) -> list[Output]:
        self.state, outputs = step(self.state, event)
        check_invariants(self.state)
        self.history.extend(outputs)
        return outputs

    def feed(self, events: Iterable[Input]) -> list[Output]:
        outputs: list[Output] = []
        for event in events:
            outputs.extend(self.send(event))
        return outputs

    def open_market(
        self,
        market_id: int = 1,
        accounts: Sequence[bytes] = (ALICE, BOB, CAROL),
        **overrides: object,
    ) -> list[Output]:
        """Create ``market_id`` (revision 1) and fund ``accounts`` in it."""
        outputs = self.send(wrap(UpsertMarket(config(market_id, **overrides), 1)))
        for who in accounts:
            outputs.extend(self.feed(fund(who, market_id)))
        return outputs

    def levels(self, side: Side, market_id: int = 1) -> list[tuple[int, int, int]]:
        """Every level of a side as (price, total quantity, order count), best first."""
        return book_levels(self.state, market_id, side)

    def queue(self, side: Side, price: int, market_id: int = 1) -> list[tuple[int, int]]:
        """The orders at one level as (order id, remaining), in time priority."""
        book = self.state.markets[market_id].book
        level = book.side(side).levels.get(price)
        if level is None:
            return []
        return [(oid, book.orders[oid].remaining) for oid in level.order_ids]


def run(
    events: Iterable[Input], *, shard: int = 0, shard_count: int = 1, depth: int = 20
) -> tuple[State, list[Output]]:
    """Fold ``events`` from an empty shard, checking invariants after every step."""
    exchange = Exchange(shard=shard, shard_count=shard_count, depth=depth)
    outputs = exchange.feed(events)
    return exchange.state, outputs


def book_levels(
    state: State, market_id: int, side: Side, depth: int | None = None
) -> list[tuple[int, int, int]]:
    """Levels of one side as (price, quantity, order count), best first, at most ``depth``."""
    side_book = state.markets[market_id].book.side(side)
    n = len(side_book.prices) if depth is None else depth
    levels = side_book.levels
    return [
        (price, levels[price].quantity, len(levels[price].order_ids))
        for price in side_book.prices[:n]
    ]


B = TypeVar("B", bound=OutputBody)


def of(outputs: Iterable[Output], kind: type[B]) -> list[B]:
    """The bodies of ``outputs`` of type ``kind``, in output order."""
    return [o.body for o in outputs if isinstance(o.body, kind)]


def one(outputs: Iterable[Output], kind: type[B]) -> B:
    """The single body of type ``kind`` (fails the test if there are none or several)."""
    found = of(outputs, kind)
    assert len(found) == 1, f"expected one {kind.__name__}, got {found}"
    return found[0]


def kinds(outputs: Iterable[Output]) -> list[str]:
    """Output type names in order, without ``PositionUpdate``s (risk's business, not matching's).

    e.g. ['OrderAccepted', 'Fill', 'BookDelta'].
    """
    return [type(o.body).__name__ for o in outputs if not isinstance(o.body, PositionUpdate)]


def all_kinds(outputs: Iterable[Output]) -> list[str]:
    """Every output type name in order."""
    return [type(o.body).__name__ for o in outputs]


def deltas(outputs: Iterable[Output]) -> list[tuple[Side, int, int, int]]:
    """Book deltas as (side, price, quantity, order count), in output order."""
    return [(d.side, d.price, d.quantity, d.order_count) for d in of(outputs, BookDelta)]


class DeltaReplica:
    """What a client holds by applying ``BookDelta`` outputs in ``seq`` order, per market."""

    def __init__(self) -> None:
        self.books: dict[int, dict[Side, dict[int, tuple[int, int]]]] = {}

    def apply(self, outputs: Iterable[Output]) -> None:
        for output in outputs:
            body = output.body
            if not isinstance(body, BookDelta):
                continue
            side = self.books.setdefault(output.market_id, {BUY: {}, SELL: {}})[body.side]
            if body.quantity == 0:
                assert body.price in side, f"delta removes unknown level {body}"
                del side[body.price]
            else:
                side[body.price] = (body.quantity, body.order_count)

    def levels(self, market_id: int, side: Side) -> list[tuple[int, int, int]]:
        held = self.books.get(market_id, {BUY: {}, SELL: {}})[side]
        prices = sorted(held, reverse=side is BUY)
        return [(p, *held[p]) for p in prices]


__all__ = [
    "ALICE",
    "BOB",
    "BUY",
    "CANCEL_BOTH",
    "CANCEL_MAKER",
    "CANCEL_TAKER",
    "CAROL",
    "DAVE",
    "FOK",
    "GTC",
    "IOC",
    "LIMIT",
    "MARKET",
    "POST_ONLY",
    "SELL",
    "DeltaReplica",
    "Exchange",
    "account",
    "all_kinds",
    "amend",
    "book_levels",
    "cancel",
    "cancel_all",
    "check_delta_outputs",
    "config",
    "deltas",
    "deposit",
    "fund",
    "generated_flow",
    "kinds",
    "margin_account",
    "mark",
    "market",
    "market_order",
    "of",
    "one",
    "order",
    "run",
    "set_status",
    "withdraw",
    "wrap",
]


def check_delta_outputs(before: State, after: State, outputs: Sequence[Output]) -> None:
    """Assert the book deltas of one step follow CONTRACT.md and ``matching.deltas``.

    Per market, the deltas form one contiguous run, bids before asks, each side best price
    first, each price at most once; each names a price in the old or the new top ``depth``;
    quantity 0 exactly for prices that left the view; any other delta carries the level's
    new total and order count.
    """
    depth = after.book_delta_depth
    runs: list[tuple[int, list[BookDelta]]] = []
    previous_was_delta = False
    for output in outputs:
        body = output.body
        if isinstance(body, BookDelta):
            if previous_was_delta and runs[-1][0] == output.market_id:
                runs[-1][1].append(body)
            else:
                runs.append((output.market_id, [body]))
        previous_was_delta = isinstance(body, BookDelta)
    seen_markets = [market_id for market_id, _ in runs]
    assert len(seen_markets) == len(set(seen_markets)), f"deltas of a market split: {outputs}"
    for market_id, run in runs:
        keys = [(d.side, d.price if d.side is Side.SELL else -d.price) for d in run]
        assert keys == sorted(keys), f"deltas not bids first, best first: {run}"
        assert len(set(keys)) == len(keys), f"a level published twice: {run}"
        for delta in run:
            old_top = before.markets[market_id].book.side(delta.side).prices[:depth]
            new_side = after.markets[market_id].book.side(delta.side)
            new_top = new_side.prices[:depth]
            assert delta.price in old_top or delta.price in new_top, f"delta out of view {delta}"
            if delta.price in new_top:
                level = new_side.levels[delta.price]
                assert (delta.quantity, delta.order_count) == (level.quantity, len(level.order_ids))
            else:
                assert (delta.quantity, delta.order_count) == (0, 0), delta


def generated_flow(seed: int, n_events: int, market_ids: Sequence[int] = (1, 2, 3)) -> list[Input]:
    """A seeded, varied input flow for one shard (of one): a pure function of its arguments.

    Markets are created and every account funded first; then new orders of every type, time
    in force and STP mode around a mark of 100, cancels and amends (mostly of an account's
    recent orders by client order id, sometimes by a guessed order id), cancel-alls (one
    market or all), price updates, deposits and withdrawals, and status changes (HALTED
    included) with rising revisions.  Twelve accounts, so that maps keyed by account hold
    enough keys for their iteration order to depend on hashing.  ``random.Random(seed)`` does
    not depend on ``PYTHONHASHSEED``.
    """
    rng = random.Random(seed)
    accounts = [account(n) for n in range(1, 13)]
    events: list[Input] = []
    revisions = dict.fromkeys(market_ids, 1)
    for market_id in market_ids:
        events.append(market(market_id, taker_fee_bps=5, maker_fee_bps=-2))
        for who in accounts:
            events.extend(fund(who, market_id))
    issued = 0
    recent: list[tuple[bytes, int, int]] = []  # (account, market, client order id)
    statuses = [MarketStatus.ACTIVE] * 7 + list(MarketStatus)
    for _ in range(n_events):
        market_id = rng.choice(market_ids)
        who = rng.choice(accounts)
        roll = rng.random()
        if roll < 0.55:
            issued += 1
            side = rng.choice((Side.BUY, Side.SELL))
            is_market = rng.random() < 0.08
            tifs = (IOC, FOK) if is_market else (GTC, GTC, GTC, IOC, FOK, POST_ONLY)
            price = 0 if is_market else 100 + rng.randint(-2, 5) * (1 if side is SELL else -1)
            client_order_id = rng.randint(1, 40)
            recent = [*recent[-40:], (who, market_id, client_order_id)]
            events.append(
                order(who, side, price, rng.randint(1, 10), market_id=market_id,
                      client_order_id=client_order_id, tif=rng.choice(tifs),
                      order_type=MARKET if is_market else LIMIT,
                      stp=rng.choice(tuple(SelfTradePrevention)))
            )  # fmt: skip
        elif roll < 0.82 and recent:
            who, market_id, client_order_id = rng.choice(recent)
            by = {"client_order_id": client_order_id}
            if rng.random() < 0.2:
                by = {"order_id": rng.randint(1, issued + 2)}
            if roll < 0.70:
                events.append(cancel(who, market_id=market_id, **by))
            else:
                events.append(
                    amend(who, market_id=market_id, new_price=rng.choice((0, 0, 96, 99, 100, 103)),
                          new_quantity=rng.choice((0, 1, 3, 12)), **by)
                )  # fmt: skip
        elif roll < 0.86:
            events.append(cancel_all(who, rng.choice((0, market_id))))
        elif roll < 0.91:
            events.append(mark(market_id, rng.randint(95, 105), rng.randint(95, 105)))
        elif roll < 0.97:
            amount = rng.randint(1, 10**6)
            move = Deposit if rng.random() < 0.5 else Withdraw
            events.append(wrap(move(who, market_id, amount)))
        else:
            revisions[market_id] += 1
            events.append(
                set_status(market_id, rng.choice(statuses), revision=revisions[market_id],
                           taker_fee_bps=5, maker_fee_bps=-2)
            )  # fmt: skip
    return [
        msgspec.structs.replace(event, request_id=n, ts_ns=1_700_000_000_000_000_000 + n * 1_000)
        for n, event in enumerate(events, 1)
    ]
