"""``python -m hypermarket run``: the engine as a service, until SIGINT or SIGTERM.

The first signal starts a clean shutdown (finish the batch in hand, publish,
snapshot, close); a second one cancels at once, which is still safe: the next
start recovers from the WAL.  A configuration mistake, a disk failure or a
bus that cannot be reached ends the process with status 1 and one log line
saying why.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import msgspec
import trio

from hypermarket.bus.embedded import EmbeddedServerError
from hypermarket.bus.errors import BusError
from hypermarket.config import ConfigError, default_config, load_config
from hypermarket.config.schema import Config
from hypermarket.engine.runtime import Engine
from hypermarket.observability.logs import configure_logging
from hypermarket.persistence import PersistenceError

logger = logging.getLogger("hypermarket.run")


def parse_shards(text: str, shard_count: int) -> tuple[int, ...]:
    """``"0,2"`` -> (0, 2); raises ``ConfigError`` naming the flag for anything else."""
    try:
        shards = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise ConfigError([f"--shards: {text!r} is not a comma-separated list of shards"]) from None
    bad = [shard for shard in shards if not 0 <= shard < shard_count]
    if not shards or bad:
        raise ConfigError([f"--shards: each shard must lie in 0..{shard_count - 1}, got {text!r}"])
    return shards


def resolve_config(config_path: Path | None, data_dir: Path, shards: str | None) -> Config:
    config = default_config(data_dir) if config_path is None else load_config(config_path)
    if shards is not None:
        config = msgspec.structs.replace(config, shards=parse_shards(shards, config.shard_count))
    return config


async def _watch_signals(engine: Engine, scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        count = 0
        async for received in signals:
            count += 1
            if count == 1:
                logger.info("%s: stopping cleanly", signal.Signals(received).name)
                engine.stop()
            else:
                logger.warning("second signal: stopping now")
                scope.cancel()


async def _serve(engine: Engine) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, engine, nursery.cancel_scope)
        await engine.run()
        nursery.cancel_scope.cancel()


FATAL = (PersistenceError, BusError, EmbeddedServerError, OSError)


def run(config: Config) -> int:
    """Run the engine; the process's exit status."""
    configure_logging(config.log.format, config.log.level)
    engine = Engine(config)
    status = 0
    try:
        trio.run(_serve, engine)
    except* FATAL as group:
        for exc in _leaves(group):
            logger.critical("engine stopped: %s", exc)
        status = 1
    return status


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside a (nested) exception group."""
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves
