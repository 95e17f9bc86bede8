"""How fast JetStream messages reach Trio through each way of joining nats-py to Trio.

Theory of operation
-------------------
``run_bridge_bench`` starts a private nats-server (``sync_interval`` as given), stores N
inputs on ``clob.inputs.0`` once, and then consumes that same stream from sequence 1 in
each of these ways, one after another in one process:

* ``raw``: nats-py's ordered push consumer on plain asyncio, a callback counting messages
  (the ceiling: no Trio at all);
* ``thread``: the engine's path, ``NatsBus.consume`` (nats-py on its own asyncio thread,
  batches handed to Trio through ``bridge.Handoff``);
* ``guest``: Trio as a guest on the asyncio loop that runs nats-py
  (``trio.lowlevel.start_guest_run``), same ``OrderedFeed`` and ``Handoff``;
* ``trio-asyncio``: nats-py on trio-asyncio's loop inside ``trio.run``, same feed and
  handoff; measured only if ``trio_asyncio`` can be imported, and last, because importing
  it patches asyncio and slows plain asyncio down for the rest of the process.

Every Trio variant takes batches of at most ``batch_max`` and never waits to fill one, as a
shard does.  ``run_publish_bench`` compares ways of publishing a batch of outputs with
``Nats-Msg-Id`` so that it is known to be stored.  Figures go to stdout through
``format_results``; ``python -m hypermarket bench bridge`` is the command that runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.js.errors
import outcome
import trio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from hypermarket.bus.bridge import Handoff
from hypermarket.bus.embedded import (
    answers,
    find_nats_server,
    free_port,
    start_process,
    write_config,
)
from hypermarket.bus.feed import OrderedFeed
from hypermarket.bus.nats import (
    MSG_ID_HEADER,
    BusSettings,
    input_message,
    open_nats_bus,
)
from hypermarket.bus.protocol import InputMessage, OutputMessage

_SUBJECT = "clob.inputs.0"
_BUFFER = 8192
_HEARTBEAT_S = 5.0


class BenchResult(msgspec.Struct, frozen=True):
    """One way, one run: how many messages, how long, in how many batches (0: not batched)."""

    name: str
    messages: int
    seconds: float
    batches: int

    @property
    def per_second(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds


def format_results(title: str, results: list[BenchResult]) -> str:
    """A small table: one line per way, messages per second and mean batch size."""
    lines = [title]
    for result in results:
        batch = f"{result.messages / result.batches:8.1f}" if result.batches else "       -"
        lines.append(
            f"  {result.name:<34} {result.per_second:>12,.0f} msg/s   mean batch {batch}"
            f"   ({result.messages} in {result.seconds:.3f} s)"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def bench_server(store_dir: Path, sync_interval: str) -> Iterator[str]:
    """A private nats-server for a benchmark run (plain process; yields its URL)."""
    port = free_port()
    process = start_process(
        find_nats_server(), write_config(port, store_dir, sync_interval), store_dir
    )
    try:
        deadline = time.monotonic() + 10
        while not answers(port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the benchmark's nats-server did not start ({store_dir})")
            time.sleep(0.02)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


async def fill_inputs(url: str, payloads: Sequence[bytes]) -> None:
    """Load ``payloads`` into shard 0's input subject fast (core publishes, then wait)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        await js.stream_info("CLOB_INPUTS")
    except nats.js.errors.NotFoundError:
        await js.add_stream(
            StreamConfig(name="CLOB_INPUTS", subjects=["clob.inputs.>"], storage=StorageType.FILE)
        )
    before = (await js.stream_info("CLOB_INPUTS")).state.messages
    for payload in payloads:
        await nc.publish(_SUBJECT, payload)
    await nc.flush()
    while (await js.stream_info("CLOB_INPUTS")).state.messages < before + len(payloads):
        await asyncio.sleep(0.01)
    await nc.close()


async def raw_consume(url: str, messages: int) -> BenchResult:
    """The bare nats-py rate: an ordered consumer counting ``messages`` of shard 0, no Trio."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    done = asyncio.get_running_loop().create_future()
    count = 0

    async def on_message(msg: Msg) -> None:
        nonlocal count
        count += 1
        if count == messages:
            done.set_result(None)

    started = time.perf_counter()
    sub = await js.subscribe(
        _SUBJECT, cb=on_message, ordered_consumer=True, pending_msgs_limit=0, pending_bytes_limit=0
    )
    await done
    seconds = time.perf_counter() - started
    await sub.unsubscribe()
    await nc.close()
    return BenchResult("raw nats-py, no Trio", messages, seconds, 0)


async def _thread(url: str, messages: int, batch_max: int) -> BenchResult:
    async with open_nats_bus(BusSettings(servers=[url])) as bus:
        started = time.perf_counter()
        count = batches = 0
        async with bus.consume(0, 1, batch_max) as stream:
            async for batch in stream:
                count += len(batch)
                batches += 1
                if count >= messages:
                    break
        seconds = time.perf_counter() - started
    return BenchResult("thread (NatsBus.consume)", count, seconds, batches)


async def _drain(handoff: Handoff[InputMessage], messages: int, batch_max: int) -> int:
    count = batches = 0
    while count < messages:
        count += len(await handoff.take(batch_max))
        batches += 1
    return batches


def _feed(
    js: JetStreamContext,
    handoff: Handoff[InputMessage],
) -> OrderedFeed[InputMessage]:
    return OrderedFeed(js, "CLOB_INPUTS", _SUBJECT, 1, input_message, handoff, _HEARTBEAT_S)


async def _guest(url: str, messages: int, batch_max: int) -> BenchResult:
    loop = asyncio.get_running_loop()
    nc = await nats.connect(url)
    js = nc.jetstream()
    feeds: list[OrderedFeed[InputMessage]] = []
    finished: asyncio.Future[outcome.Outcome[tuple[float, int]]] = loop.create_future()

    async def trio_main() -> tuple[float, int]:
        token = trio.lowlevel.current_trio_token()

        def on_drained() -> None:
            loop.call_soon_threadsafe(feeds[0].resume)

        handoff: Handoff[InputMessage] = Handoff(token, _BUFFER, on_drained)
        feeds.append(_feed(js, handoff))
        started = time.perf_counter()
        subscribed = trio.Event()

        def start() -> None:
            task = asyncio.ensure_future(feeds[0].start())
            task.add_done_callback(lambda _: token.run_sync_soon(subscribed.set))

        loop.call_soon_threadsafe(start)
        await subscribed.wait()
        batches = await _drain(handoff, messages, batch_max)
        return time.perf_counter() - started, batches

    trio.lowlevel.start_guest_run(
        trio_main,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=finished.set_result,
    )
    seconds, batches = (await finished).unwrap()
    await feeds[0].stop()
    await nc.close()
    return BenchResult("guest (Trio guest on asyncio)", messages, seconds, batches)


async def _trio_asyncio(url: str, messages: int, batch_max: int) -> BenchResult:
    import trio_asyncio  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415

    aio: Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]
    aio = trio_asyncio.aio_as_trio
    async with trio_asyncio.open_loop() as loop:
        nc: Client = await aio(nats.connect)(url)

        def on_drained() -> None:
            loop.call_soon(feed.resume)

        handoff: Handoff[InputMessage] = Handoff(
            trio.lowlevel.current_trio_token(), _BUFFER, on_drained
        )
        feed = _feed(nc.jetstream(), handoff)
        started = time.perf_counter()
        await aio(feed.start)()
        batches = await _drain(handoff, messages, batch_max)
        seconds = time.perf_counter() - started
        await aio(feed.stop)()
        await aio(nc.close)()
    return BenchResult("trio-asyncio", messages, seconds, batches)


def run_bridge_bench(
    messages: int = 100_000,
    batch_max: int = 256,
    payload_bytes: int = 64,
    sync_interval: str = "always",
) -> list[BenchResult]:
    """Messages/s into Trio through each bridge, on one stream of ``messages`` inputs.

    trio-asyncio runs last and only if importable (it is not a dependency of the engine).
    Once imported, trio-asyncio makes ``asyncio.run`` itself run inside Trio, so the raw
    and guest measurements cannot be repeated in the same process: run this once per
    process (the CLI does).
    """
    if "trio_asyncio" in sys.modules:
        raise RuntimeError(
            "trio_asyncio is already imported in this process; asyncio.run now runs inside "
            "Trio and Trio's guest mode cannot start: run the bridge bench in a fresh process"
        )
    with (
        tempfile.TemporaryDirectory(prefix="hypermarket-bench-") as folder,
        bench_server(Path(folder), sync_interval) as url,
    ):
        asyncio.run(fill_inputs(url, [b"x" * payload_bytes] * messages))
        results = [
            asyncio.run(raw_consume(url, messages)),
            trio.run(_thread, url, messages, batch_max),
            asyncio.run(_guest(url, messages, batch_max)),
        ]
        if importlib.util.find_spec("trio_asyncio") is not None:
            results.append(trio.run(_trio_asyncio, url, messages, batch_max))
    return results


async def _publish_strategies(
    url: str, messages: int, batch: int, payload_bytes: int
) -> list[BenchResult]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(
            name="CLOB_OUTPUTS",
            subjects=["clob.outputs.>"],
            storage=StorageType.FILE,
            duplicate_window=120,
        )
    )
    payload = b"x" * payload_bytes

    def headers(name: str, n: int) -> dict[str, str]:
        return {MSG_ID_HEADER: f"{name}:{n}"}

    async def acked_each(subject: str, first: int) -> None:
        await asyncio.gather(
            *(
                js.publish(subject, payload, headers=headers(subject, n))
                for n in range(first, first + batch)
            )
        )

    async def publish_async(subject: str, first: int) -> None:
        futures = [
            await js.publish_async(subject, payload, headers=headers(subject, n))
            for n in range(first, first + batch)
        ]
        await asyncio.gather(*futures)

    async def poll_last(subject: str, first: int) -> None:
        for n in range(first, first + batch):
            await nc.publish(subject, payload, headers=headers(subject, n))
        await nc.flush()
        want = f"{subject}:{first + batch - 1}"
        while True:  # the stream stores asynchronously after the flush: poll until it has all
            try:
                stored = await js.get_last_msg("CLOB_OUTPUTS", subject)
            except nats.js.errors.NotFoundError:
                continue  # nothing of the subject stored yet (the first batch)
            if (stored.headers or {}).get(MSG_ID_HEADER) == want:
                return

    async def acked_last(subject: str, first: int) -> None:
        for n in range(first, first + batch - 1):
            await nc.publish(subject, payload, headers=headers(subject, n))
        last = first + batch - 1
        await js.publish(subject, payload, headers=headers(subject, last))

    ways = [
        ("acked each (gather js.publish)", acked_each),
        ("acked each (js.publish_async)", publish_async),
        ("core + flush + poll get_last_msg", poll_last),
        ("core + acked last (chosen)", acked_last),
    ]
    results = []
    for index, (name, way) in enumerate(ways):
        subject = f"clob.outputs.{index}"
        started = time.perf_counter()
        for first in range(0, messages, batch):
            await way(subject, first)
        results.append(
            BenchResult(name, messages, time.perf_counter() - started, messages // batch)
        )
    await nc.close()
    return results


async def _publish_through_bus(
    url: str, messages: int, batch: int, payload_bytes: int
) -> BenchResult:
    async with open_nats_bus(BusSettings(servers=[url])) as bus:
        payload = b"x" * payload_bytes
        started = time.perf_counter()
        for first in range(0, messages, batch):
            outputs = [OutputMessage(f"bus:{n}", payload) for n in range(first, first + batch)]
            await bus.publish_outputs(9, outputs)
        seconds = time.perf_counter() - started
    return BenchResult("NatsBus.publish_outputs from Trio", messages, seconds, messages // batch)


def run_publish_bench(
    messages: int = 25_600,
    batch: int = 256,
    payload_bytes: int = 64,
    sync_interval: str = "always",
) -> list[BenchResult]:
    """Messages/s stored with ``Nats-Msg-Id`` by each way of publishing a batch of outputs."""
    messages -= messages % batch
    with (
        tempfile.TemporaryDirectory(prefix="hypermarket-bench-") as folder,
        bench_server(Path(folder), sync_interval) as url,
    ):
        results = asyncio.run(_publish_strategies(url, messages, batch, payload_bytes))
        results.append(trio.run(_publish_through_bus, url, messages, batch, payload_bytes))
    return results
