"""The market watcher and the auction timer: the two inputs the engine publishes itself.

Both go through the input stream, never around it, so every state change is
in the WAL and a second process reading the same stream reaches the same
state (DESIGN.md, "one source of truth").

The **watcher** first creates the config's seed markets in the ``MARKETS``
bucket when their key is absent (an operator's later change is never
overwritten by a restart), then follows the bucket: every revision of a key
whose market this process owns becomes an ``UpsertMarket`` input carrying the
KV revision, published to the market's shard subject.  A watch re-delivers
current entries after a restart; the revision kept in the state makes that
harmless.  A value that is not a valid market JSON is logged with its key and
revision and skipped (``markets put`` validates before writing, so only a
hand-written value can be bad).

The **auction timer** publishes an ``AuctionTick`` for each BATCH market of
the owned shards every ``auction_interval_ms``, reading the markets from the
shard loops' current states.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import trio

from hypermarket.bus.protocol import Bus
from hypermarket.core import State
from hypermarket.models import AuctionTick, Input, MarketConfig, MatchingMode, UpsertMarket
from hypermarket.wire import encode_input
from hypermarket.wire.market_json import market_from_json, market_to_json

logger = logging.getLogger(__name__)

TIMER_RESOLUTION_S = 0.01


async def watch_markets(
    bus: Bus,
    shard_count: int,
    owned: frozenset[int],
    seeds: Sequence[MarketConfig],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Create the seed markets once, then turn every bucket revision into an input."""
    for seed in seeds:
        revision = await bus.kv_create(str(seed.market_id), market_to_json(seed))
        if revision is not None:
            logger.info("seed market %d created at revision %d", seed.market_id, revision)
    async with bus.kv_watch() as entries:
        task_status.started()
        async for entry in entries:
            if entry.value is None:
                logger.warning(
                    "market key %s deleted at revision %d: a deletion changes nothing, "
                    "set status HALTED to stop a market",
                    entry.key,
                    entry.revision,
                )
                continue
            try:
                config = market_from_json(entry.value)
            except ValueError as exc:
                logger.error(
                    "market key %s revision %d skipped: %s", entry.key, entry.revision, exc
                )
                continue
            shard = config.market_id % shard_count
            if shard in owned:
                body = UpsertMarket(config, entry.revision)
                await bus.publish_input(shard, encode_input(Input(body)))


async def run_auction_timer(
    bus: Bus, states: Callable[[], Sequence[State]], shard_count: int
) -> None:
    """Publish an ``AuctionTick`` for every BATCH market when its interval has passed."""
    due: dict[int, float] = {}
    while True:
        now = time.monotonic()
        for state in states():
            for market_id, market in state.markets.items():
                config = market.config
                if config.matching_mode is not MatchingMode.BATCH:
                    due.pop(market_id, None)
                    continue
                interval = config.auction_interval_ms / 1000
                next_tick = due.setdefault(market_id, now + interval)
                if now >= next_tick:
                    due[market_id] = next_tick + interval * max(
                        1, math.ceil((now - next_tick) / interval)
                    )
                    tick = encode_input(Input(AuctionTick(market_id)))
                    await bus.publish_input(market_id % shard_count, tick)
        await trio.sleep(TIMER_RESOLUTION_S)
