"""The engine as operators run it: a separate process on a real nats-server the test starts.

Orders published by a plain nats-py client come back as fills on CLOB_OUTPUTS;
a market written to the KV bucket while the engine runs starts trading; a
clean restart resumes with nothing lost or repeated; two processes owning
disjoint shards produce together what the pure core computes.
"""

from __future__ import annotations

from pathlib import Path

import trio

from hypermarket.bus import open_nats_bus
from hypermarket.core import initial_state, step
from hypermarket.models import Fill, Input, MarketUpdated, Output, Side
from hypermarket.persistence.wal_format import RecordKind
from hypermarket.persistence.wal_scan import records_from, scan_wal
from hypermarket.wire import decode_input, encode_input
from hypermarket.wire.market_json import market_to_json
from tests.engine_process import (
    engine_process,
    stored_output_events,
    wait_until,
)
from tests.engine_support import ALICE, BOB, funding, limit, market, write_engine_config
from tests.nats_server import NatsServer, raw_jetstream


async def publish_raw(url: str, shard: int, *inputs: Input) -> None:
    """Publish inputs with a plain nats-py JetStream client, as a gateway would."""
    async with raw_jetstream(url) as (thread, js):
        for inp in inputs:
            await thread.run(js.publish, f"clob.inputs.{shard}", encode_input(inp))


def offline_outputs(wal_dir: Path, shard: int, shard_count: int) -> list[Output]:
    """What the pure core makes of the inputs the shard logged, folded from scratch."""
    scan = scan_wal(wal_dir)
    state = initial_state(shard, shard_count)
    outputs: list[Output] = []
    for record in records_from(scan.segments, 1):
        if record.kind is RecordKind.INPUT:
            state, produced = step(state, decode_input(record.payload, record.ts_ns))
            outputs += produced
    return outputs


async def test_orders_from_a_plain_client_fill_and_a_restart_loses_nothing(
    tmp_path: Path,
) -> None:
    with NatsServer(tmp_path / "nats") as server:
        config = write_engine_config(tmp_path, server.url)
        engine = engine_process(config)
        await trio.to_thread.run_sync(engine.start)
        try:
            async with open_nats_bus(server.bus_settings()) as bus:
                await bus.kv_put("1", market_to_json(market(1)))

            async def market_is_live() -> bool:
                outputs = await stored_output_events(server.url, 0)
                return any(isinstance(o.body, MarketUpdated) for o in outputs)

            await wait_until(market_is_live, 20)
            await publish_raw(
                server.url,
                0,
                *(Input(body) for body in funding(1, ALICE, BOB)),
                Input(limit(1, ALICE, 1, Side.SELL, 101, 5)),
                Input(limit(1, BOB, 1, Side.BUY, 102, 3)),
            )

            async def filled() -> bool:
                outputs = await stored_output_events(server.url, 0)
                return any(isinstance(o.body, Fill) for o in outputs)

            await wait_until(filled, 20)
            assert await trio.to_thread.run_sync(engine.stop) == 0
            # Inputs sent while the engine is down are applied after the restart.
            await publish_raw(server.url, 0, Input(limit(1, BOB, 2, Side.BUY, 101, 2)))
            await trio.to_thread.run_sync(engine.start)

            async def both_fills() -> bool:
                outputs = await stored_output_events(server.url, 0)
                return sum(isinstance(o.body, Fill) for o in outputs) == 2

            await wait_until(both_fills, 20)
        finally:
            await trio.to_thread.run_sync(engine.stop)
        outputs = await stored_output_events(server.url, 0)
    assert [o.seq for o in outputs] == list(range(1, len(outputs) + 1))
    assert outputs == offline_outputs(tmp_path / "data" / "wal" / "shard-0", 0, 1)
    fills = [o.body for o in outputs if isinstance(o.body, Fill)]
    assert [(f.price, f.quantity, f.taker_account) for f in fills] == [(101, 3, BOB), (101, 2, BOB)]


async def every_shard_has(url: str, kind: type, shards: tuple[int, ...] = (0, 1)) -> bool:
    """Whether every shard's output stream holds an output of ``kind``."""
    for shard in shards:
        outputs = await stored_output_events(url, shard)
        if not any(isinstance(output.body, kind) for output in outputs):
            return False
    return True


async def test_two_processes_with_disjoint_shards_do_what_one_core_does(tmp_path: Path) -> None:
    with NatsServer(tmp_path / "nats") as server:
        config = write_engine_config(tmp_path, server.url, shard_count=2)
        engines = [engine_process(config, "0"), engine_process(config, "1")]
        for engine in engines:
            await trio.to_thread.run_sync(engine.start)
        try:
            async with open_nats_bus(server.bus_settings()) as bus:
                for market_id in (1, 2):  # market 1 on shard 1, market 2 on shard 0
                    await bus.kv_put(str(market_id), market_to_json(market(market_id)))

            await wait_until(lambda: every_shard_has(server.url, MarketUpdated), 20)
            for market_id in (1, 2):
                shard = market_id % 2
                await publish_raw(
                    server.url,
                    shard,
                    *(Input(body) for body in funding(market_id, ALICE, BOB)),
                    Input(limit(market_id, ALICE, 1, Side.SELL, 100, 4)),
                    Input(limit(market_id, BOB, 1, Side.BUY, 100, 4)),
                    Input(limit(market_id, BOB, 2, Side.BUY, 99, 1)),
                )

            await wait_until(lambda: every_shard_has(server.url, Fill), 20)
        finally:
            for engine in engines:
                await trio.to_thread.run_sync(engine.stop)
        for shard in (0, 1):
            outputs = await stored_output_events(server.url, shard)
            wal = tmp_path / "data" / "wal" / f"shard-{shard}"
            assert outputs == offline_outputs(wal, shard, 2)
            assert {o.market_id for o in outputs} == {2 if shard == 0 else 1}
