"""The engine as a separate process for tests, and reading its streams back.

``engine_process`` gives the tools' ``EngineProcess`` (``python -m hypermarket
run --config FILE``, log in a file, ready on "engine ready", SIGINT to stop,
SIGKILL to crash) for a test config; ``stored_output_events`` reads a shard's
whole output stream back through the bus's own raw JetStream access.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from hypermarket.models import Output
from hypermarket.tools.engine_process import EngineProcess
from hypermarket.wire import outputs_from_batch
from tests.nats_server import raw_jetstream


def engine_process(config: Path, shards: str | None = None) -> EngineProcess:
    """The engine on ``config`` (owning ``shards``, default all), logging beside the config."""
    run_args = ["--config", str(config)] + ([] if shards is None else ["--shards", shards])
    return EngineProcess(run_args, config.parent / f"engine-{shards or 'all'}.log")


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
