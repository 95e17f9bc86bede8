"""Synthetic consumed messages and a miniature shard loop, for the WAL benchmark and the tests.

``order_flow`` makes what a shard's input subject could carry: market creation (``UpsertMarket``,
a mark price and a deposit for every account), then limit and market orders of every time in
force, cancels by order id and by client id, mass cancels, amends, price updates, deposits and
withdrawals, status changes, orders for another shard's market, and undecodable bytes, each
encoded with ``wire.encode_input`` as a gateway would and numbered with increasing stream
sequences and event times.  It is a pure function of the
``random.Random`` it is given, so a seed reproduces a flow.

``drive`` is the durability order of a shard loop and nothing more: log a batch, apply it,
log its outputs.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import msgspec

from hypermarket.core import State, step
from hypermarket.models import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Deposit,
    Input,
    InputBody,
    MarketConfig,
    MarketStatus,
    NewOrder,
    OrderType,
    PriceUpdate,
    Side,
    TimeInForce,
    UpsertMarket,
    Withdraw,
)
from hypermarket.persistence.wal import Wal
from hypermarket.persistence.wal_format import Consumed
from hypermarket.wire import decode_input, encode_input

ACCOUNTS = tuple(bytes([n]) * 20 for n in range(1, 7))
MID_PRICE = 1_000
FUNDING = 10_000_000
FIRST_TS_NS = 1_700_000_000_000_000_000


def market_config(market_id: int, status: MarketStatus = MarketStatus.ACTIVE) -> MarketConfig:
    return MarketConfig(market_id=market_id, symbol=f"M{market_id}-PERP", status=status)


class _Flow:
    """The generator's memory: markets, revisions, client ids handed out, a rough order id."""

    def __init__(self, rng: random.Random, market_ids: list[int], foreign_market: int) -> None:
        self.rng = rng
        self.market_ids = market_ids
        self.foreign_market = foreign_market
        self.revisions = dict.fromkeys(market_ids, 1)
        self.client_ids: list[tuple[int, bytes, int]] = []
        self.next_client_id = 1
        self.orders_sent = 0

    def new_order(self) -> NewOrder:
        rng = self.rng
        market_order = rng.random() < 0.15
        if market_order:
            order_type, tif, price = (
                OrderType.MARKET,
                rng.choice((TimeInForce.IOC, TimeInForce.FOK)),
                0,
            )
        else:
            order_type, price = OrderType.LIMIT, MID_PRICE + rng.randint(-20, 20)
            tif = rng.choices(
                (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY),
                (70, 10, 5, 15),
            )[0]
        market_id = rng.choice(self.market_ids)
        account = rng.choice(ACCOUNTS)
        client_id = self.next_client_id
        self.next_client_id += 1
        self.orders_sent += 1
        self.client_ids.append((market_id, account, client_id))
        return NewOrder(
            market_id=market_id,
            account=account,
            client_order_id=client_id,
            side=rng.choice((Side.BUY, Side.SELL)),
            order_type=order_type,
            time_in_force=tif,
            price=price,
            quantity=rng.randint(1, 10),
        )

    def cancel(self) -> CancelOrder:
        rng = self.rng
        if self.client_ids and rng.random() < 0.7:
            market_id, account, client_id = rng.choice(self.client_ids[-50:])
            return CancelOrder(market_id=market_id, account=account, client_order_id=client_id)
        return CancelOrder(
            market_id=rng.choice(self.market_ids),
            account=rng.choice(ACCOUNTS),
            order_id=rng.randint(1, self.orders_sent + 1),
        )

    def amend(self) -> AmendOrder:
        rng = self.rng
        market_id, account, client_id = (
            rng.choice(self.client_ids[-50:])
            if self.client_ids
            else (self.market_ids[0], ACCOUNTS[0], 1)
        )
        return AmendOrder(
            market_id=market_id,
            account=account,
            client_order_id=client_id,
            new_price=rng.choice((0, MID_PRICE + rng.randint(-20, 20))),
            new_quantity=rng.randint(0, 10),
        )

    def status_change(self) -> UpsertMarket:
        market_id = self.rng.choice(self.market_ids)
        self.revisions[market_id] += 1
        status = self.rng.choices(
            (MarketStatus.ACTIVE, MarketStatus.POST_ONLY, MarketStatus.HALTED), (6, 2, 1)
        )[0]
        return UpsertMarket(market_config(market_id, status), self.revisions[market_id])

    def body(self) -> InputBody | None:
        """One random input; None stands for undecodable bytes.  Orders for ``foreign_market`` are
        another shard's (or, with one shard, an unknown market's)."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.55:
            return self.new_order()
        if roll < 0.78:
            return self.cancel()
        if roll < 0.84:
            return self.amend()
        if roll < 0.87:
            return CancelAll(
                account=rng.choice(ACCOUNTS), market_id=rng.choice((0, *self.market_ids))
            )
        if roll < 0.90:
            return PriceUpdate(
                rng.choice(self.market_ids), MID_PRICE + rng.randint(-5, 5), MID_PRICE
            )
        if roll < 0.92:
            move = rng.choice((Deposit, Withdraw))
            return move(rng.choice(ACCOUNTS), rng.choice(self.market_ids), rng.randint(1, FUNDING))
        if roll < 0.94:
            return self.status_change()
        if roll < 0.97:
            return msgspec.structs.replace(self.new_order(), market_id=self.foreign_market)
        return None


def _opening(
    market_id: int, accounts: Sequence[bytes], price: int, funding: int
) -> list[InputBody]:
    """What opens a market for trading: create it, give it a mark price, fund the accounts."""
    return [
        UpsertMarket(market_config(market_id), 1),
        PriceUpdate(market_id, price, price),
        *(Deposit(account, market_id, funding) for account in accounts),
    ]


def order_flow(
    rng: random.Random,
    count: int,
    *,
    shard: int = 0,
    shard_count: int = 1,
    markets: int = 2,
    first_stream_seq: int = 1,
) -> list[Consumed]:
    """``count`` messages for shard ``shard`` of ``shard_count``: first what opens each market
    (as many of those as ``count`` allows), then a random mix (see the module docstring).

    Stream sequences start at ``first_stream_seq`` and leave random gaps, as other shards'
    messages would in a shared stream.
    """
    market_ids = [shard + shard_count * k for k in range(1, markets + 1)]
    # Another shard's market, or with one shard a market that is never created.
    foreign = shard + shard_count * (markets + 1) + (1 if shard_count > 1 else 0)
    flow = _Flow(rng, market_ids, foreign)
    opening = [
        body
        for market_id in market_ids
        for body in _opening(market_id, ACCOUNTS, MID_PRICE, FUNDING)
    ]
    bodies: list[InputBody | None] = list(opening[:count])
    bodies += [flow.body() for _ in range(count - len(bodies))]
    messages = []
    stream_seq, ts_ns = first_stream_seq, FIRST_TS_NS
    for request_id, body in enumerate(bodies, start=1):
        payload = (
            rng.randbytes(rng.randint(1, 12))
            if body is None
            else encode_input(Input(body, request_id=request_id))
        )
        messages.append(Consumed(stream_seq, ts_ns, payload))
        stream_seq += rng.randint(1, 3)
        ts_ns += rng.randint(1, 1_000_000)
    return messages


def resting_flow(orders: int, *, market_id: int = 1, levels: int = 1_000) -> list[Consumed]:
    """A market opened for 1,000 funded accounts, then ``orders`` GTC limit orders that never
    cross: bids below the mid price, asks above it, over ``levels`` prices a side.  Folding it
    gives a state with exactly ``orders`` resting orders (the snapshot benchmark's book)."""
    accounts = [n.to_bytes(20, "big") for n in range(1, 1_001)]
    mid = MID_PRICE * 10
    bodies = _opening(market_id, accounts, mid, 1 << 50)
    for n in range(orders):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        offset = 1 + (n // 2) % levels
        bodies.append(
            NewOrder(
                market_id=market_id,
                account=accounts[n % len(accounts)],
                client_order_id=n + 1,
                side=side,
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.GTC,
                price=mid - offset if side is Side.BUY else mid + offset,
                quantity=1 + n % 7,
            )
        )
    return [
        Consumed(seq, FIRST_TS_NS + seq, encode_input(Input(body, request_id=seq)))
        for seq, body in enumerate(bodies, start=1)
    ]


def random_batches(
    messages: Sequence[Consumed], rng: random.Random, max_size: int
) -> list[Sequence[Consumed]]:
    """``messages`` cut into consecutive batches of 1 to ``max_size``."""
    batches: list[Sequence[Consumed]] = []
    start = 0
    while start < len(messages):
        size = rng.randint(1, max_size)
        batches.append(messages[start : start + size])
        start += size
    return batches


def drive(wal: Wal, state: State, batches: Iterable[Sequence[Consumed]]) -> State:
    """Run ``batches`` through a shard in the durability order: log the inputs, apply them,
    log their outputs.  Returns the state after the last batch."""
    for batch in batches:
        wal.append_inputs(batch)
        outputs = []
        for message in batch:
            state, produced = step(state, decode_input(message.payload, message.ts_ns))
            outputs += produced
        wal.append_outputs(outputs)
    return state


__all__ = [
    "ACCOUNTS",
    "drive",
    "market_config",
    "order_flow",
    "random_batches",
    "resting_flow",
]
