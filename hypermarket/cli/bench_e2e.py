"""``python -m hypermarket bench e2e``: the engine through a real JetStream, against bare nats-py.

One run, one private nats-server, three measurements:

1. **raw**: the seeded flow (``simulation.flow``) is loaded into shard 0's
   input subject, and a bare nats-py ordered consumer (no Trio, no engine)
   reads it all: the ceiling.
2. **throughput**: the engine (in this process: the NATS bus, a shard loop with
   WAL fsync per batch, ``step``, publication) starts on that stream and
   applies every input; inputs/s is the flow's size over the time from start to
   the last output stored.
3. **latency**: with the engine caught up, more inputs are published one by
   one at a fixed rate; each input's end-to-end latency is the output stream's
   timestamp of its last output minus the input stream's timestamp of the input
   (both the server's clock), reported as p50 and p99.

Beside them, the same engine applies the same flow from the in-memory bus
(``bus.memory``: no NATS, no second thread): what the shell costs around
``step`` by itself, so that the share of the NATS client is visible.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import nats
import trio

from hypermarket.bus.bridge_bench import bench_server, fill_inputs, raw_consume
from hypermarket.bus.memory import MemoryBus
from hypermarket.bus.nats import BusSettings, open_nats_bus
from hypermarket.bus.protocol import Bus
from hypermarket.config import load_config
from hypermarket.core import initial_state, step
from hypermarket.engine.runtime import Engine, bus_settings
from hypermarket.engine.shard import message_id
from hypermarket.models import Input
from hypermarket.simulation.flow import FlowGenerator
from hypermarket.wire import encode_input, outputs_from_batch


class E2EResult(msgspec.Struct, frozen=True):
    inputs: int
    raw_per_second: float
    memory_per_second: float
    engine_per_second: float
    latency_inputs: int
    latency_rate: int
    p50_ms: float
    p99_ms: float


def _output_counts(loaded: Sequence[Input], paced: Sequence[Input]) -> tuple[int, int]:
    """The last output seq after ``loaded``, and after ``paced`` too (timestamps change none)."""
    state = initial_state()
    for inp in loaded:
        state, _ = step(state, inp)
    after_loaded = state.output_seq
    for inp in paced:
        state, _ = step(state, inp)
    return after_loaded, state.output_seq


def _config(folder: Path, url: str | None, batch_max: int) -> Path:
    path = folder / "bench.yaml"
    server = f"nats:\n  urls: ['{url}']\n" if url else ""
    path.write_text(
        f"data_dir: {folder / 'data'}\n"
        f"{server}"
        f"engine:\n  batch_max: {batch_max}\n"
        "metrics:\n  address: ''\n"
        "log:\n  format: text\n  level: WARNING\n",
        encoding="utf-8",
    )
    return path


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _latencies(url: str, since_seq: int) -> list[float]:
    """Per input: output stream time of its last output minus its input stream time (ms)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info("CLOB_OUTPUTS")
    last_by_input: dict[int, float] = {}
    for sequence in range(since_seq + 1, info.state.last_seq + 1):
        message = await js.get_msg("CLOB_OUTPUTS", sequence)
        assert message.time is not None
        assert message.data is not None
        stored_ns = int(message.time.timestamp() * 1_000_000) * 1_000
        for output in outputs_from_batch(message.data):
            last_by_input[output.input_seq] = (stored_ns - output.ts_ns) / 1e6
    await nc.close()
    return list(last_by_input.values())


async def _stored(bus: Bus, last_seq: int) -> None:
    """Wait until the output of seq ``last_seq`` is stored (its message id names it)."""
    while await bus.last_output_id(0) != message_id(0, last_seq):
        await trio.sleep(0.002)


async def _measure(
    url: str, folder: Path, batch_max: int, outputs: tuple[int, int], paced: list[bytes], rate: int
) -> tuple[float, int]:
    """Seconds until the loaded flow's outputs are stored; then publish ``paced`` at ``rate``.

    Returns the seconds and the output stream's last sequence before the paced inputs.
    """
    config = load_config(_config(folder, url, batch_max), environ={})
    engine = Engine(config)
    async with open_nats_bus(bus_settings(config, [url])) as bus, trio.open_nursery() as nursery:
        await bus.ensure_streams()
        started = time.perf_counter()
        await nursery.start(engine.serve, bus)
        await _stored(bus, outputs[0])
        seconds = time.perf_counter() - started
        before = await trio.to_thread.run_sync(asyncio.run, _output_stream_last_seq(url))
        for payload in paced:
            await bus.publish_input(0, payload)
            await trio.sleep(1 / rate)
        await _stored(bus, outputs[1])
        engine.stop()
    return seconds, before


async def _memory_seconds(
    folder: Path, batch_max: int, payloads: list[bytes], last_output: int
) -> float:
    """Seconds until the engine has stored output ``last_output`` of ``payloads`` in memory."""
    bus = MemoryBus()
    for payload in payloads:
        await bus.publish_input(0, payload)
    engine = Engine(load_config(_config(folder, None, batch_max), environ={}))
    async with trio.open_nursery() as nursery:
        started = time.perf_counter()
        await nursery.start(engine.serve, bus)
        await _stored(bus, last_output)
        seconds = time.perf_counter() - started
        engine.stop()
    return seconds


async def _create_streams(url: str) -> None:
    """The engine's streams, as the engine makes them, before the flow is loaded."""
    async with open_nats_bus(BusSettings(servers=[url])) as bus:
        await bus.ensure_streams()


async def _output_stream_last_seq(url: str) -> int:
    nc = await nats.connect(url)
    info = await nc.jetstream().stream_info("CLOB_OUTPUTS")
    await nc.close()
    return int(info.state.last_seq)


def run_e2e(
    events: int, seed: int, sync_interval: str, batch_max: int, paced: int, rate: int
) -> E2EResult:
    """The three measurements of the module docstring, in one run."""
    generator = FlowGenerator(seed, markets=4)
    loaded_inputs = [inp for _, inp in (*generator.setup(), *generator.events(events))]
    paced_inputs = [inp for _, inp in generator.events(paced)]
    outputs = _output_counts(loaded_inputs, paced_inputs)
    payloads = [encode_input(inp) for inp in loaded_inputs]
    with tempfile.TemporaryDirectory(prefix="hypermarket-e2e-") as scratch:
        (Path(scratch) / "memory").mkdir()
        memory_seconds = trio.run(
            _memory_seconds, Path(scratch) / "memory", batch_max, payloads, outputs[0]
        )
        folder = Path(scratch) / "nats-run"
        (folder / "nats").mkdir(parents=True)
        with bench_server(folder / "nats", sync_interval) as url:
            trio.run(_create_streams, url)
            asyncio.run(fill_inputs(url, payloads))
            raw = asyncio.run(raw_consume(url, len(loaded_inputs)))
            seconds, before = trio.run(
                _measure,
                url,
                folder,
                batch_max,
                outputs,
                [encode_input(inp) for inp in paced_inputs],
                rate,
            )
            latencies = asyncio.run(_latencies(url, before))
    return E2EResult(
        inputs=len(loaded_inputs),
        raw_per_second=raw.per_second,
        memory_per_second=len(loaded_inputs) / memory_seconds,
        engine_per_second=len(loaded_inputs) / seconds,
        latency_inputs=len(latencies),
        latency_rate=rate,
        p50_ms=_percentile(latencies, 0.5),
        p99_ms=_percentile(latencies, 0.99),
    )


def format_e2e(result: E2EResult) -> str:
    share = 100 * result.engine_per_second / result.raw_per_second
    return "\n".join(
        [
            f"  raw nats-py ordered consumer   {result.raw_per_second:>10,.0f} msg/s",
            f"  engine on the in-memory bus    {result.memory_per_second:>10,.0f} inputs/s"
            "   (WAL + step + publish, no NATS)",
            f"  engine (WAL + step + publish)  {result.engine_per_second:>10,.0f} inputs/s"
            f"   ({share:.0f} % of raw; {result.inputs} inputs)",
            f"  end-to-end latency at {result.latency_rate} inputs/s: "
            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms "
            f"({result.latency_inputs} inputs)",
        ]
    )
