"""What the running engine does when the disk fails, and what it shows an operator.

A failing fsync (the disk, not a bug) must stop the engine before the input it
could not log is applied or answered, and ``run`` must exit 1 naming the
reason.  The metrics endpoint must serve the engine's metrics, and the JSON
log lines must carry shard and sequence.  The disk failure is simulated by
making ``os.fsync`` raise EIO, exactly as a dying disk reports it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
import urllib.request
from pathlib import Path

import pytest
import trio

from hypermarket.bus.memory import MemoryBus
from hypermarket.cli.run import run
from hypermarket.config import load_config
from hypermarket.engine.runtime import Engine
from hypermarket.models import Side
from hypermarket.observability.logs import JsonFormatter
from hypermarket.persistence import DurabilityError
from hypermarket.tools.engine_process import EngineProcess
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
    write_engine_config,
)
from tests.nats_server import NatsServer


def failing_fsync(fd: int) -> None:
    raise OSError(errno.EIO, os.strerror(errno.EIO))


async def test_a_failed_fsync_stops_the_shard_before_the_input_is_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = MemoryBus()
    engine = Engine(engine_config(tmp_path))
    with pytest.RaisesGroup(DurabilityError, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.serve, bus)
            await bus.kv_put("1", market_to_json(market(1)))
            before = len(await wait_for_outputs(bus, 0, 1))
            monkeypatch.setattr(os, "fsync", failing_fsync)
            await send(bus, 1, *funding(1, ALICE))
            await trio.sleep(5)  # the shard must fail long before this
    assert len(stored_outputs(bus, 0)) == before
    assert engine.loops[0].statistics().last_input_seq == 1


def test_run_exits_1_naming_the_disk_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with NatsServer(tmp_path / "nats") as server:
        config_path = write_engine_config(
            tmp_path, server.url, extra="markets:\n  - market_id: 1\n    symbol: M1-PERP\n"
        )
        config = load_config(config_path, environ={})
        monkeypatch.setattr(os, "fsync", failing_fsync)
        assert run(config) == 1
    critical = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and '"CRITICAL"' in line
    ]
    assert len(critical) == 1
    assert critical[0]["msg"].startswith("engine stopped: ")
    assert "fsync failed: Input/output error" in critical[0]["msg"]


async def test_metrics_are_served_and_count_what_happened(tmp_path: Path) -> None:
    bus = MemoryBus()
    config = engine_config(tmp_path, metrics_address="127.0.0.1:0")
    engine = Engine(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.serve, bus)
        await bus.kv_put("1", market_to_json(market(1)))
        await wait_for_outputs(bus, 0, 1)
        await send(bus, 1, *funding(1, ALICE, BOB))
        await send(bus, 1, limit(1, ALICE, 1, Side.SELL, 100, 2))
        await send(bus, 1, limit(1, BOB, 1, Side.BUY, 100, 2))
        await wait_for_outputs(bus, 0, 1 + 2 + 2 + 5)
        engine.stop()
    assert engine.metrics_port is not None
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in engine.metrics.registry.collect()
        for sample in family.samples
    }
    assert samples[("hypermarket_fills_total", (("shard", "0"),))] == 1
    assert samples[("hypermarket_inputs_total", (("shard", "0"),))] == 6
    assert samples[("hypermarket_resting_orders", (("market", "1"), ("shard", "0")))] == 0


async def test_the_metrics_endpoint_answers_over_http(tmp_path: Path) -> None:
    bus = MemoryBus()
    engine = Engine(engine_config(tmp_path, metrics_address="127.0.0.1:0"))
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.serve, bus)
        port = engine.metrics_port
        assert port is not None
        body = await trio.to_thread.run_sync(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        )
        engine.stop()
    assert b"hypermarket_inputs_total" in body or b"hypermarket_inputs" in body


def test_json_log_lines_carry_shard_and_sequence() -> None:
    record = logging.LogRecord("hypermarket.engine", logging.INFO, __file__, 1, "applied", (), None)
    record.shard = 3
    record.seq = 42
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["msg"], entry["shard"], entry["seq"], entry["level"]) == (
        "applied",
        3,
        42,
        "INFO",
    )


def test_an_engine_killed_with_sigkill_takes_its_embedded_server_with_it(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nmetrics:\n  address: ''\n", encoding="utf-8")
    engine = EngineProcess(["--config", str(config)], tmp_path / "engine.log")
    engine.start()
    pid = int((tmp_path / "data" / "nats" / "nats-server.pid").read_text())
    os.kill(pid, 0)  # the embedded server runs
    engine.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"nats-server {pid} outlived its engine")
