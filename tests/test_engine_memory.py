"""The engine's shard loops, market watcher and restart, on the in-memory bus.

These run the real ``Engine.serve`` (WAL, snapshots, recovery, publication)
against ``MemoryBus``, which keeps JetStream's semantics in-process, so the
runtime's logic is checked fast and deterministically; the NATS-backed runs are
in the integration tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from hypermarket.bus.errors import BusError
from hypermarket.bus.memory import MemoryBus
from hypermarket.bus.protocol import OutputMessage
from hypermarket.engine.runtime import Engine
from hypermarket.models import (
    AuctionResult,
    Deposit,
    Fill,
    MarketUpdated,
    MatchingMode,
    OrderAccepted,
    PositionUpdate,
    Side,
)
from hypermarket.wire.market_json import market_to_json
from tests.engine_support import (
    ALICE,
    BOB,
    engine_config,
    funding,
    limit,
    market,
    send,
    stored_outputs,
    wait_for_outputs,
)


def clock() -> int:
    return 1_700_000_000_000_000_000


async def test_a_market_from_kv_trades_and_outputs_are_published(tmp_path: Path) -> None:
    bus = MemoryBus(clock)
    engine = Engine(engine_config(tmp_path))
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.serve, bus)
        await bus.kv_put("1", market_to_json(market(1)))
        market_outputs = await wait_for_outputs(bus, 0, 1)
        assert isinstance(market_outputs[0].body, MarketUpdated)
        await send(bus, 1, *funding(1, ALICE, BOB))
        await send(
            bus, 1, limit(1, ALICE, 1, Side.SELL, 101, 5), limit(1, BOB, 1, Side.BUY, 101, 3)
        )
        outputs = await wait_for_outputs(bus, 0, 10)
        fills = [o.body for o in outputs if isinstance(o.body, Fill)]
        assert [(f.price, f.quantity) for f in fills] == [(101, 3)]
        assert [o.seq for o in outputs] == list(range(1, len(outputs) + 1))
        engine.stop()


async def test_seed_markets_are_created_once_and_not_overwritten(tmp_path: Path) -> None:
    extra = "markets:\n  - market_id: 3\n    symbol: SEED-PERP\n"
    bus = MemoryBus(clock)
    for _ in range(2):
        engine = Engine(engine_config(tmp_path, extra))
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.serve, bus)
            await wait_for_outputs(bus, 0, 1)
            engine.stop()
    updates = [o for o in stored_outputs(bus, 0) if isinstance(o.body, MarketUpdated)]
    # The second start re-delivers the KV entry; the core ignores the same revision.
    assert len(updates) == 1


async def test_restart_resumes_without_losing_or_repeating(tmp_path: Path) -> None:
    bus = MemoryBus(clock)
    config = engine_config(tmp_path, "snapshots:\n  interval_inputs: 5\n")
    engine = Engine(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.serve, bus)
        await bus.kv_put("1", market_to_json(market(1)))
        await wait_for_outputs(bus, 0, 1)  # the watcher publishes the market asynchronously
        await send(bus, 1, *funding(1, ALICE, BOB))
        for i in range(1, 9):  # one by one, so that batches are small and snapshots many
            await send(bus, 1, limit(1, ALICE, i, Side.SELL, 100 + i, 1))
            await wait_for_outputs(bus, 0, 1 + 2 + 2 * i)
        before = await wait_for_outputs(bus, 0, 1 + 2 + 16)
        engine.stop()
    assert engine.loops[0].statistics().snapshots_written >= 2
    engine = Engine(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.serve, bus)
        await send(bus, 1, limit(1, BOB, 1, Side.BUY, 110, 3))
        after = await wait_for_outputs(bus, 0, len(before) + 1)
        await trio.sleep(0.1)
        engine.stop()
    outputs = stored_outputs(bus, 0)
    assert [o.seq for o in outputs] == list(range(1, len(outputs) + 1))
    accepted = [o.body for o in outputs if isinstance(o.body, OrderAccepted)]
    assert [a.order_id for a in accepted] == list(range(1, 10))
    assert [o.body for o in after if isinstance(o.body, Fill)][-1].price == 103


async def test_the_auction_timer_ticks_batch_markets(tmp_path: Path) -> None:
    bus = MemoryBus(clock)
    engine = Engine(engine_config(tmp_path))
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.serve, bus)
        batch = market(2, matching_mode=MatchingMode.BATCH, auction_interval_ms=20)
        await bus.kv_put("2", market_to_json(batch))
        with trio.fail_after(5):
            while not any(isinstance(o.body, AuctionResult) for o in stored_outputs(bus, 0)):
                await trio.sleep(0.01)
        engine.stop()


class GatedBus(MemoryBus):
    """A bus whose output stream stores only ``allowed`` publications (a slow server)."""

    def __init__(self) -> None:
        super().__init__(clock)
        self.allowed = 0
        self.calls = 0

    async def publish_outputs(self, shard: int, messages: list[OutputMessage]) -> None:
        while self.calls >= self.allowed:
            await trio.sleep(0.002)
        self.calls += 1
        await super().publish_outputs(shard, messages)


async def wait_for_input_seq(engine: Engine, seq: int) -> None:
    with trio.fail_after(5):
        while engine.loops[0].statistics().last_input_seq < seq:
            await trio.sleep(0.005)


async def test_the_loop_steps_on_while_outputs_are_stored_and_snapshots_wait_for_them(
    tmp_path: Path,
) -> None:
    bus = GatedBus()
    engine = Engine(engine_config(tmp_path, "snapshots:\n  interval_inputs: 2\n"))
    loop = engine.loops[0]
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.serve, bus)
        await bus.kv_put("1", market_to_json(market(1)))
        await wait_for_input_seq(engine, 1)
        # Input 1's outputs wait for the server; the loop steps the next input meanwhile.
        await send(bus, 1, Deposit(ALICE, 1, 10**12))
        await wait_for_input_seq(engine, 2)
        assert bus.outputs(0) == []
        # The server stores input 1's outputs; input 2's wait.  A snapshot is due
        # (2 inputs) but waits too: it would let go of the WAL that holds them.
        bus.allowed = 1
        await wait_for_outputs(bus, 0, 1)
        await trio.sleep(0.05)
        assert [o.input_seq for o in stored_outputs(bus, 0)] == [1]
        assert loop.statistics().snapshots_written == 0
        bus.allowed = 2
        with trio.fail_after(5):
            while loop.statistics().snapshots_written == 0:
                await trio.sleep(0.005)
        engine.stop()
    outputs = stored_outputs(bus, 0)
    assert [(o.seq, o.input_seq) for o in outputs] == [(1, 1), (2, 2)]
    assert isinstance(outputs[0].body, MarketUpdated)
    assert isinstance(outputs[1].body, PositionUpdate)


async def test_a_stop_waits_for_the_store_before_the_last_snapshot(tmp_path: Path) -> None:
    bus = GatedBus()
    engine = Engine(engine_config(tmp_path))
    loop = engine.loops[0]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.serve, bus)
            await bus.kv_put("1", market_to_json(market(1)))
            await wait_for_input_seq(engine, 1)
            engine.stop()
            await trio.sleep(0.05)
            # Stopping, but input 1's outputs are not stored yet: no final snapshot.
            assert bus.outputs(0) == []
            assert loop.statistics().snapshots_written == 0
            bus.allowed = 1
    assert [o.input_seq for o in stored_outputs(bus, 0)] == [1]
    assert loop.statistics().snapshots_written == 1


class BrokenOutputBus(MemoryBus):
    """A bus whose output stream refuses every publication (not a transient failure)."""

    async def publish_outputs(self, shard: int, messages: list[OutputMessage]) -> None:
        raise BusError("the output stream refused the messages")


async def test_a_failed_publication_stops_the_engine_with_the_bus_error(tmp_path: Path) -> None:
    bus = BrokenOutputBus(clock)
    engine = Engine(engine_config(tmp_path))
    with trio.fail_after(10), pytest.RaisesGroup(BusError, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.serve, bus)
            await bus.kv_put("1", market_to_json(market(1)))
            await send(bus, 1, *funding(1, ALICE, BOB))
            await trio.sleep_forever()
