"""Consumed messages for the WAL benchmark and the persistence tests, and a miniature shard loop.

The order flow itself is the project's seeded generator (``simulation.flow.FlowGenerator``:
markets opened and funded, passive depth, crossing and market orders, cancels, amends, price
moves).  What a WAL must also survive is mixed in here: undecodable bytes (logged raw, replayed
into the same ``Rejected`` output), orders for a market of another shard (or, with one shard,
a market that does not exist), mass cancels, withdrawals, and market status changes (a halt
cancels every resting order).  Each message is encoded with ``wire.encode_input`` as a gateway
would, and numbered with stream sequences that leave gaps (other shards' messages share the
stream) and increasing event times.  Everything is a pure function of the seed.

``drive`` is the durability order of a shard loop and nothing more: log a batch, apply it,
log its outputs.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from itertools import islice

from hypermarket.core import State, step
from hypermarket.models import (
    CancelAll,
    Input,
    InputBody,
    MarketConfig,
    MarketStatus,
    NewOrder,
    OrderType,
    Side,
    TimeInForce,
    UpsertMarket,
    Withdraw,
)
from hypermarket.persistence.wal import Wal
from hypermarket.persistence.wal_format import Consumed
from hypermarket.simulation.flow import FlowGenerator
from hypermarket.wire import decode_input, encode_input

FIRST_TS_NS = 1_700_000_000_000_000_000
EXTRAS_SHARE = 0.12


class _Extras:
    """The inputs the order flow does not make, drawn with the flow's markets and accounts."""

    def __init__(self, rng: random.Random, generator: FlowGenerator, foreign_market: int) -> None:
        self.rng = rng
        self.generator = generator
        self.foreign_market = foreign_market
        self.revisions = dict.fromkeys(generator.market_ids, 1)

    def body(self) -> InputBody | None:
        """One extra input; None stands for undecodable bytes."""
        rng = self.rng
        market_id = rng.choice(self.generator.market_ids)
        account = rng.choice(self.generator.accounts)
        roll = rng.random()
        if roll < 0.3:
            return None
        if roll < 0.55:
            return CancelAll(account=account, market_id=rng.choice((0, market_id)))
        if roll < 0.75:
            return Withdraw(account, market_id, rng.randint(1, 10**6))
        if roll < 0.85:
            self.revisions[market_id] += 1
            status = rng.choices(
                (MarketStatus.ACTIVE, MarketStatus.POST_ONLY, MarketStatus.HALTED), (6, 1, 1)
            )[0]
            config = MarketConfig(market_id=market_id, symbol=f"SIM{market_id}-PERP", status=status)
            return UpsertMarket(config, self.revisions[market_id])
        return NewOrder(
            market_id=self.foreign_market,
            account=account,
            client_order_id=rng.randint(1, 10**6),
            side=rng.choice((Side.BUY, Side.SELL)),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            price=self.generator.mids[market_id],
            quantity=1,
        )


def _frame(bodies: Iterable[InputBody | None], rng: random.Random) -> list[Consumed]:
    """Encode ``bodies`` (None: random bytes) as consumed messages numbered by the stream."""
    messages = []
    stream_seq, ts_ns = 1, FIRST_TS_NS
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


def order_flow(
    seed: int, count: int, *, shard: int = 0, shard_count: int = 1, markets: int = 2
) -> list[Consumed]:
    """``count`` messages for shard ``shard`` of ``shard_count``: the flow's set-up (opening and
    funding ``markets`` markets, a little depth) as far as ``count`` allows, then its mix with
    the extras of the module docstring."""
    rng = random.Random(seed)
    market_ids = [shard + shard_count * k for k in range(1, markets + 1)]
    generator = FlowGenerator(
        rng.randrange(1 << 32), market_ids=market_ids, accounts=6, spread_ticks=10, initial_depth=2
    )
    # Another shard's market, or with one shard a market that is never created.
    foreign = shard + shard_count * (markets + 1) + (1 if shard_count > 1 else 0)
    extras = _Extras(rng, generator, foreign)
    bodies: list[InputBody | None] = [inp.body for _, inp in islice(generator.setup(), count)]
    events = generator.events(count)
    while len(bodies) < count:
        bodies.append(extras.body() if rng.random() < EXTRAS_SHARE else next(events)[1].body)
    return _frame(bodies, rng)


def resting_flow(orders: int, *, levels: int = 1_000) -> list[Consumed]:
    """One market opened for 100 funded accounts, then ``orders`` passive GTC orders over
    ``levels`` prices a side: they never cross, so folding gives exactly ``orders`` resting
    orders (the snapshot benchmark's book)."""
    generator = FlowGenerator(0, markets=1, spread_ticks=levels, initial_depth=orders)
    return _frame((inp.body for _, inp in generator.setup()), random.Random(0))


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


__all__ = ["drive", "order_flow", "random_batches", "resting_flow"]
