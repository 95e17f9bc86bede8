"""The engine as a separate process, for tests that kill it, and reading streams back.

``EngineProcess`` runs ``python -m hypermarket run --config FILE`` with its log
in a file, waits for "engine ready", and stops it cleanly (SIGINT) or crashes
it (SIGKILL).  ``stored_output_events`` reads a shard's whole output stream
back through the bus's own raw JetStream access.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from hypermarket.models import Output
from hypermarket.wire import outputs_from_batch
from tests.nats_server import raw_jetstream

READY = "engine ready"


def write_engine_config(
    folder: Path, nats_url: str, *, shard_count: int = 1, extra: str = ""
) -> Path:
    """An engine config using ``nats_url``, data under ``folder``, no metrics server."""
    path = folder / "engine.yaml"
    path.write_text(
        f"data_dir: {folder / 'data'}\n"
        f"shard_count: {shard_count}\n"
        f"nats:\n  urls: ['{nats_url}']\n  reconnect_wait_s: 0.1\n"
        "metrics:\n  address: ''\n"
        "log:\n  format: json\n" + extra,
        encoding="utf-8",
    )
    return path


class EngineProcess:
    """One engine process on ``config`` (see the module docstring)."""

    def __init__(self, config: Path, shards: str | None = None) -> None:
        self.config = config
        self.shards = shards
        self.log = config.parent / f"engine-{shards or 'all'}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30.0) -> None:
        """Start the engine and wait until it has recovered every shard."""
        command = [sys.executable, "-m", "hypermarket", "run", "--config", str(self.config)]
        if self.shards is not None:
            command += ["--shards", self.shards]
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=dict(os.environ)
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while READY not in self.log.read_bytes()[offset:].decode(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the engine did not become ready:\n{self.tail()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """Crash it: SIGKILL, no chance to snapshot or flush anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT and wait; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def stored_output_events(url: str, shard: int, stream: str = "CLOB_OUTPUTS") -> list[Output]:
    """Every output stored for ``shard``, in stream order (decoded from each OutputBatch)."""
    outputs: list[Output] = []
    async with raw_jetstream(url) as (thread, js):
        info = await thread.run(js.stream_info, stream)
        if not info.state.messages:
            return outputs
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            message = await thread.run(js.get_msg, stream, sequence)
            if message.subject == f"clob.outputs.{shard}" and message.data is not None:
                outputs += outputs_from_batch(message.data)
    return outputs


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll an async predicate every 50 ms until it holds; fail after ``timeout`` seconds."""
    with trio.fail_after(timeout):
        while not await predicate():
            await trio.sleep(0.05)
