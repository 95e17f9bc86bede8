"""Exactly once across crashes: SIGKILL at random points, and a NATS restart, change nothing.

A seeded flow of 20,000 inputs (orders, cancels, amends, price updates,
malformed bytes, other shards' orders…) is published to a real nats-server;
the engine runs as a separate process and is killed with SIGKILL at random
moments several times, restarted each time, until it has applied the last
input.  Then the output stream must equal, output for output, what the pure
core computes from the same inputs in one uninterrupted fold; the inputs the
engine logged must be exactly the stream's, each once and in order; and the
state hashes must match.  The second test restarts the nats-server mid-flow.
Each test prints its seed, so a failure can be replayed.
"""

from __future__ import annotations

import random
from pathlib import Path

import trio

from hypermarket.bus import BusSettings, open_nats_bus
from hypermarket.core import initial_state, state_hash, step
from hypermarket.models import CancelAll, CancelAllDone, Input, Output
from hypermarket.persistence import fold
from hypermarket.persistence.synthetic import order_flow
from hypermarket.persistence.wal_format import RecordKind
from hypermarket.persistence.wal_scan import records_from, scan_wal
from hypermarket.wire import decode_input, encode_input
from tests.engine_process import (
    engine_process,
    stored_output_events,
    wait_until,
)
from tests.engine_support import write_engine_config
from tests.nats_server import NatsServer

INPUTS = 20_000
SENTINEL = b"\xee" * 20


async def publish_flow(settings: BusSettings, payloads: list[bytes]) -> None:
    async with open_nats_bus(settings) as bus:
        await bus.ensure_streams()
        for payload in payloads:
            await bus.publish_input(0, payload)


def flow_payloads(seed: int) -> list[bytes]:
    """The seeded flow, then a CancelAll whose CancelAllDone marks the end."""
    payloads = [message.payload for message in order_flow(seed, INPUTS)]
    payloads.append(encode_input(Input(CancelAll(SENTINEL), 0, 424242)))
    return payloads


async def finished(url: str) -> bool:
    """Whether the sentinel's CancelAllDone is stored (the flow has mass cancels of its own)."""
    outputs = await stored_output_events(url, 0)
    if not outputs:
        return False
    last = outputs[-1].body
    return isinstance(last, CancelAllDone) and last.account == SENTINEL


def uninterrupted(wal_dir: Path, payloads: list[bytes]) -> tuple[list[Output], str]:
    """Check the logged inputs are the stream's, once each in order; fold them in one go."""
    scan = scan_wal(wal_dir)
    inputs = [r for r in records_from(scan.segments, 1) if r.kind is RecordKind.INPUT]
    assert [r.stream_seq for r in inputs] == list(range(1, len(payloads) + 1))
    assert [r.payload for r in inputs] == payloads
    state = initial_state()
    outputs: list[Output] = []
    for record in inputs:
        state, produced = step(state, decode_input(record.payload, record.ts_ns))
        outputs += produced
    return outputs, state_hash(state)


async def check_exactly_once(server: NatsServer, folder: Path, payloads: list[bytes]) -> None:
    wal_dir = folder / "data" / "wal" / "shard-0"
    expected, expected_hash = uninterrupted(wal_dir, payloads)
    stored = await stored_output_events(server.url, 0)
    assert len(stored) == len(expected)
    assert [o.seq for o in stored] == list(range(1, len(stored) + 1))
    assert stored == expected
    assert fold(wal_dir, verify=True).state_hash == expected_hash


async def test_sigkill_at_random_points_loses_and_repeats_nothing(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    payloads = flow_payloads(seed)
    with NatsServer(tmp_path / "nats") as server:
        await publish_flow(server.bus_settings(), payloads)
        config = write_engine_config(
            tmp_path, server.url, extra="snapshots:\n  interval_inputs: 1500\n"
        )
        engine = engine_process(config)
        for _ in range(4):
            await trio.to_thread.run_sync(engine.start)
            await trio.sleep(rng.uniform(0.05, 0.6))
            engine.kill()
        await trio.to_thread.run_sync(engine.start)
        try:
            await wait_until(lambda: finished(server.url), 120)
        finally:
            assert await trio.to_thread.run_sync(engine.stop) == 0, engine.log_tail()
        assert engine.starts == 5
        await check_exactly_once(server, tmp_path, payloads)


async def test_a_nats_restart_mid_flow_loses_and_repeats_nothing(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    payloads = flow_payloads(seed)
    with NatsServer(tmp_path / "nats") as server:
        await publish_flow(server.bus_settings(), payloads)
        config = write_engine_config(tmp_path, server.url)
        engine = engine_process(config)
        await trio.to_thread.run_sync(engine.start)
        try:
            await trio.sleep(random.Random(seed).uniform(0.1, 0.5))
            await trio.to_thread.run_sync(server.restart)
            await wait_until(lambda: finished(server.url), 120)
        finally:
            assert await trio.to_thread.run_sync(engine.stop) == 0, engine.log_tail()
        await check_exactly_once(server, tmp_path, payloads)
