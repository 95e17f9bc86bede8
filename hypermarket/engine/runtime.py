"""The running engine: one Trio nursery holding every long-lived task.

Theory of operation
-------------------
``Engine.run`` opens, in order and each as a context that closes on exit:
the embedded ``nats-server`` when the config names no NATS URL; the bus
(``bus.nats``), whose streams and bucket it creates or checks; the metrics
endpoint; then a nursery with one ``ShardLoop`` per owned shard (started with
``nursery.start``, so the engine is ready only once every shard has
recovered), the market watcher and the auction timer.

``Engine.stop`` (SIGINT or SIGTERM in ``python -m hypermarket run``) stops
the watcher and the timer, then asks every shard to finish the batch in hand,
publish, snapshot and close.  A failure anywhere (a disk error, a bus that
gave up) cancels the nursery and propagates: the process exits non-zero with
the reason and the next start recovers from the WAL, never applying an input
it could not log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import msgspec
import trio

from hypermarket.bus.embedded import open_embedded_nats
from hypermarket.bus.nats import BusSettings, open_nats_bus
from hypermarket.bus.protocol import Bus
from hypermarket.compiled import core_build
from hypermarket.config.schema import Config
from hypermarket.core import State
from hypermarket.engine.markets import run_auction_timer, watch_markets
from hypermarket.engine.shard import ShardLoop, ShardSettings, ShardStatistics
from hypermarket.observability.metrics import EngineMetrics, serve_metrics

logger = logging.getLogger(__name__)


def bus_settings(config: Config, servers: list[str]) -> BusSettings:
    """The bus's view of the config (``servers`` decided by the caller: embedded or given)."""
    nats, streams = config.nats, config.streams

    def path(value: Path | None) -> str | None:
        return None if value is None else str(value)

    tls = nats.tls
    return BusSettings(
        servers=servers,
        name=nats.name,
        user=nats.user,
        password=nats.password,
        token=nats.token,
        creds_file=path(nats.creds_file),
        nkeys_seed_file=path(nats.nkeys_seed_file),
        tls_ca_file=None if tls is None else path(tls.ca_file),
        tls_cert_file=None if tls is None else path(tls.cert_file),
        tls_key_file=None if tls is None else path(tls.key_file),
        connect_timeout_s=nats.connect_timeout_s,
        max_reconnect_attempts=nats.max_reconnect_attempts,
        reconnect_wait_s=nats.reconnect_wait_s,
        input_stream=streams.input_stream,
        input_subject_prefix=streams.input_subject_prefix,
        output_stream=streams.output_stream,
        output_subject_prefix=streams.output_subject_prefix,
        markets_bucket=streams.markets_bucket,
        duplicate_window_s=streams.duplicate_window_s,
        replicas=streams.replicas,
    )


def shard_settings(config: Config, shard: int) -> ShardSettings:
    """Where shard ``shard`` keeps its WAL and snapshots, and how it runs."""
    return ShardSettings(
        shard=shard,
        shard_count=config.shard_count,
        book_delta_depth=config.engine.book_delta_depth,
        wal_dir=config.wal.dir / f"shard-{shard}",
        snapshot_dir=config.snapshots.dir / f"shard-{shard}",
        fsync=config.wal.fsync,
        fsync_interval_ms=config.wal.fsync_interval_ms,
        segment_bytes=config.wal.segment_bytes,
        snapshot_interval=config.snapshots.interval_inputs,
        snapshots_kept=config.snapshots.keep,
        batch_max=config.engine.batch_max,
        check_invariants=config.engine.check_invariants,
    )


class EngineStatistics(msgspec.Struct, frozen=True):
    nats_url: str
    metrics_port: int | None
    shards: list[ShardStatistics]


class Engine:
    """The service ``python -m hypermarket run`` starts (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = EngineMetrics()
        self.loops = [
            ShardLoop(shard_settings(config, shard), self.metrics) for shard in config.shards
        ]
        self.nats_url = ""
        self.metrics_port: int | None = None
        self._services = trio.CancelScope()
        self._stop = trio.Event()

    def statistics(self) -> EngineStatistics:
        return EngineStatistics(
            self.nats_url, self.metrics_port, [loop.statistics() for loop in self.loops]
        )

    def stop(self) -> None:
        """Begin a clean shutdown (idempotent)."""
        self._stop.set()

    def states(self) -> list[State]:
        return [loop.state for loop in self.loops if loop.state is not None]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until ``stop``; report started once every shard has recovered."""
        async with self._open_bus() as bus:
            await self.serve(bus, task_status=task_status)

    async def serve(
        self, bus: Bus, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the shards, services and metrics endpoint on ``bus`` until ``stop``."""
        config = self.config
        with serve_metrics(self.metrics, config.metrics.endpoint) as port:
            self.metrics_port = port
            await self._serve_shards(bus, task_status)

    async def _serve_shards(self, bus: Bus, task_status: trio.TaskStatus[None]) -> None:
        config = self.config
        async with trio.open_nursery() as nursery:
            for loop in self.loops:
                await nursery.start(loop.run, bus)
            nursery.start_soon(self._run_services, bus)
            logger.info(
                "engine ready: shards %s of %d on %s, core %s",
                list(config.shards),
                config.shard_count,
                self.nats_url,
                core_build(),
            )
            task_status.started()
            await self._stop.wait()
            logger.info("stopping: finishing the batches in hand")
            self._services.cancel()
            for loop in self.loops:
                loop.request_stop()

    async def _run_services(self, bus: Bus) -> None:
        config = self.config
        with self._services:
            async with trio.open_nursery() as services:
                await services.start(
                    watch_markets,
                    bus,
                    config.shard_count,
                    frozenset(config.shards),
                    config.markets,
                )
                if config.engine.auction_timer:
                    services.start_soon(run_auction_timer, bus, self.states, config.shard_count)

    @asynccontextmanager
    async def _open_bus(self) -> AsyncIterator[Bus]:
        config = self.config
        async with AsyncExitStack() as stack:
            servers = list(config.nats.urls)
            if not servers:
                embedded = config.embedded_nats
                url = await stack.enter_async_context(
                    open_embedded_nats(embedded.store_dir, embedded.port, embedded.sync_interval)
                )
                servers = [url]
                logger.info("embedded nats-server started at %s", url)
            self.nats_url = ",".join(servers)
            bus = await stack.enter_async_context(open_nats_bus(bus_settings(config, servers)))
            await bus.ensure_streams()
            yield bus
