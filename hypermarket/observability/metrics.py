"""Prometheus metrics of the engine, and the HTTP endpoint that serves them.

Every metric lives in one ``CollectorRegistry`` per engine (not the global
one), so tests can run several engines in one process.  Shard loops update
them once per batch, never per output: counting outputs by kind goes through a
``Counter`` of the batch and one ``inc`` per kind.

=====================================  =========================================
metric                                 meaning
=====================================  =========================================
hypermarket_inputs_total               inputs applied, per shard
hypermarket_outputs_total              outputs produced, per shard and kind
hypermarket_rejects_total              rejects, per shard and reason
hypermarket_fills_total                fills, per shard
hypermarket_batch_size                 inputs per batch
hypermarket_step_seconds               time in ``step`` per input
hypermarket_end_to_end_seconds         stream timestamp of an input to its
                                       outputs being stored in the output stream
hypermarket_wal_fsync_seconds          appending and fsyncing one batch of inputs
hypermarket_consumer_lag_seconds       now minus the stream time of the last input
                                       applied
hypermarket_last_input_seq             the shard's input sequence
hypermarket_resting_orders             per market
hypermarket_best_bid / _best_ask       per market, ticks (0 = empty side)
=====================================  =========================================
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from hypermarket.core import State
from hypermarket.models import Fill, OrderRejected, Output, Rejected

_LATENCY_BUCKETS = (
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5,
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class EngineMetrics:
    """The engine's metrics, registered in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.inputs = Counter("hypermarket_inputs", "Inputs applied", ["shard"], registry=r)
        self.outputs = Counter(
            "hypermarket_outputs", "Outputs produced", ["shard", "kind"], registry=r
        )
        self.rejects = Counter(
            "hypermarket_rejects", "Inputs rejected", ["shard", "reason"], registry=r
        )
        self.fills = Counter("hypermarket_fills", "Fills", ["shard"], registry=r)
        self.batch_size = Histogram(
            "hypermarket_batch_size", "Inputs per batch", ["shard"], buckets=_BATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.step_seconds = Histogram(
            "hypermarket_step_seconds", "Time in step() per input", ["shard"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.end_to_end_seconds = Histogram(
            "hypermarket_end_to_end_seconds", "Stream timestamp to outputs stored", ["shard"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.wal_fsync_seconds = Histogram(
            "hypermarket_wal_fsync_seconds", "Append and fsync of one input batch", ["shard"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.consumer_lag_seconds = Gauge(
            "hypermarket_consumer_lag_seconds", "Now minus the last applied input's stream time",
            ["shard"], registry=r,
        )  # fmt: skip
        self.last_input_seq = Gauge(
            "hypermarket_last_input_seq", "Shard input sequence", ["shard"], registry=r
        )
        self.resting_orders = Gauge(
            "hypermarket_resting_orders", "Resting orders", ["shard", "market"], registry=r
        )
        self.best_bid = Gauge("hypermarket_best_bid", "Best bid, ticks", ["market"], registry=r)
        self.best_ask = Gauge("hypermarket_best_ask", "Best ask, ticks", ["market"], registry=r)

    def record_outputs(self, shard: int, outputs: list[Output]) -> None:
        """Count one batch's outputs by kind, rejects by reason, and fills."""
        label = str(shard)
        kinds = Tally(type(output.body) for output in outputs)
        for kind, count in kinds.items():
            self.outputs.labels(label, kind.__name__).inc(count)
        if kinds[OrderRejected] or kinds[Rejected]:
            reasons = Tally(
                output.body.reason.name
                for output in outputs
                if isinstance(output.body, OrderRejected | Rejected)
            )
            for reason, count in reasons.items():
                self.rejects.labels(label, reason).inc(count)
        if kinds[Fill]:
            self.fills.labels(label).inc(kinds[Fill])

    def record_books(self, shard: int, state: State) -> None:
        """Resting orders and best prices of every market of the shard."""
        for market_id, market in state.markets.items():
            book = market.book
            self.resting_orders.labels(str(shard), str(market_id)).set(len(book.orders))
            self.best_bid.labels(str(market_id)).set(book.bids.prices[0] if book.bids.prices else 0)
            self.best_ask.labels(str(market_id)).set(book.asks.prices[0] if book.asks.prices else 0)


@contextmanager
def serve_metrics(metrics: EngineMetrics, endpoint: tuple[str, int] | None) -> Iterator[int | None]:
    """Serve ``metrics`` on ``(host, port)`` for the duration; yields the bound port.

    No endpoint (``MetricsConfig.endpoint`` of an empty address) serves nothing
    and yields None.  prometheus-client serves from its own thread; leaving the
    block shuts it down, so nothing outlives the engine.
    """
    if endpoint is None:
        yield None
        return
    host, port = endpoint
    server: WSGIServer
    thread: threading.Thread
    server, thread = start_http_server(port, host, metrics.registry)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
