"""Helpers of the operator tools' tests: a real engine on a private NATS, and the CLI in-process.

``running_engine`` starts a private nats-server (``tests/nats_server.py``) and, on it, the
engine as an operator would (``python -m hypermarket run --config FILE``, through
``tools.engine_process``) with two seed markets, and waits until the engine has applied
them, so a test can trade at once.  ``run_cli`` runs one command of the CLI in this
process, as ``main`` would, and returns its status and what it printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from hypermarket.cli.main import main
from hypermarket.config import VARIABLES
from hypermarket.tools.engine_process import EngineProcess
from tests.nats_server import NatsServer

MAKER = "0xa11ce00000000000000000000000000000000001"
TAKER = "0xb0b0000000000000000000000000000000000002"
SEED_MARKETS = (1, 2)


class RunningEngine(NamedTuple):
    url: str
    config: Path
    data_dir: Path


class Result(NamedTuple):
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """Run ``python -m hypermarket *argv`` in this process; what it returned and printed."""
    capsys.readouterr()  # start from nothing
    code = main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def engine_config(folder: Path, url: str) -> Path:
    """A config for an engine on ``url`` with every file under ``folder`` and no metrics."""
    markets = "".join(f"  - {{market_id: {m}, symbol: M{m}-PERP}}\n" for m in SEED_MARKETS)
    path = folder / "engine.yaml"
    path.write_text(
        f"data_dir: {folder / 'data'}\n"
        f"nats:\n  urls: [{url}]\n"
        "metrics:\n  address: ''\n"
        "log:\n  format: json\n"
        f"markets:\n{markets}",
        encoding="utf-8",
    )
    return path


@contextmanager
def running_engine(folder: Path) -> Iterator[RunningEngine]:
    """A nats-server and an engine on it, seed markets applied; both stopped on exit."""
    environment = {key: value for key, value in os.environ.items() if key not in VARIABLES}
    with NatsServer(folder / "nats") as server:
        config = engine_config(folder, server.url)
        engine = EngineProcess(["--config", str(config)], folder / "engine.log", environment)
        with engine:
            # The watcher creates the seed markets just after "engine ready"; their
            # MarketUpdated outputs are the first two of the stream.
            count = str(len(SEED_MARKETS))
            arguments = ["tail", "--nats", server.url, "--from-start", "--count", count]
            if main([*arguments, "--timeout", "10"]) != 0:
                pytest.fail(f"the seed markets were not applied:\n{engine.log_tail()}")
            yield RunningEngine(server.url, config, folder / "data")
            status = engine.stop()
        assert status == 0, f"the engine stopped with status {status}:\n{engine.log_tail()}"
