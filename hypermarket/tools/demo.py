"""``python -m hypermarket demo``: the whole system, end to end, in a few seconds.

What it does, printing each step as it happens:

1. starts the engine as a child (``engine_process``) with its embedded nats-server and every
   file under ``--data-dir`` (default: a new temporary folder, kept afterwards; a folder
   of an earlier demo is reused, any other non-empty one refused, since it may be a real
   engine's), reading the server's URL from the engine's log;
2. creates two markets through the ``MARKETS`` bucket, exactly as ``markets put`` does:
   BTC-PERP, continuous, and ETH-PERP, a batch auction cleared every second by the engine's
   own timer; it waits until the engine has applied both (their ``MarketUpdated``);
3. sets mark prices and funds two accounts, a maker and a taker, in both markets;
4. for ``--seconds`` (10), every ``CYCLE_S``: moves each mark by a random step, lets the maker
   re-quote three levels on each side around it and the taker cross the spread (IOC in the
   continuous market, GTC into the next auction of the batch one), while a second task
   follows the output stream and prints fills, auctions and rejects as they arrive, and the
   books (``book.BookView``) every ``BOOK_EVERY_S``;
5. stops the engine with SIGINT (its clean shutdown) and replays its write-ahead log through
   the pure core with ``python -m hypermarket fold wal DIR/wal/shard-0 --verify``, which
   recomputes every output the engine logged and compares them bit for bit.

The engine is started with ``run --config DIR/demo.yaml`` rather than ``run --data-dir DIR``:
the config is that data folder plus the metrics endpoint switched off, so that the demo
never collides with an engine already serving metrics on the default port, and the
``HYPERMARKET_NATS_*`` variables are removed from its environment so that it always runs
its own server.  The flow is seeded (``--seed``), so two runs send the same orders; the
times at which they arrive, and so the auctions they meet, differ.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Final, NamedTuple

from nats.aio.client import Client

from hypermarket.config import VARIABLES, load_config
from hypermarket.engine.runtime import bus_settings
from hypermarket.models import (
    AuctionResult,
    CancelAll,
    Deposit,
    Fill,
    Input,
    InputBody,
    MarketConfig,
    MarketUpdated,
    MatchingMode,
    NewOrder,
    OrderRejected,
    OrderType,
    PriceUpdate,
    Rejected,
    Side,
    TimeInForce,
)
from hypermarket.tools.arguments import add_tool, enum_name, parse_account, positive
from hypermarket.tools.book import BookView
from hypermarket.tools.client import Target, ToolError, connect, run_tool
from hypermarket.tools.engine_process import EngineProcess
from hypermarket.tools.markets import put_market
from hypermarket.tools.outputs import Delivery, end_of_stream, follow_outputs, output_subject
from hypermarket.tools.render import describe, lots, short_account
from hypermarket.tools.send import publish

MAKER: Final = parse_account("0xa11ce00000000000000000000000000000000001")
TAKER: Final = parse_account("0xb0b0000000000000000000000000000000000002")
COLLATERAL: Final = 10**12  # micro-USDC: 1,000,000 USDC per account and market
CYCLE_S: Final = 0.25
BOOK_EVERY_S: Final = 2.5
LEVELS: Final = 3  # the maker's quotes per side
APPLY_TIMEOUT_S: Final = 10.0


class DemoMarket(NamedTuple):
    """A market of the demo, the mark it starts at and its price step in ticks."""

    config: MarketConfig
    mark: int
    step: int


MARKETS: Final = (
    # $1 ticks, lots of 0.001 BTC: 1 tick x 1 lot = 1000 micro-USDC.
    DemoMarket(
        MarketConfig(
            market_id=1,
            symbol="BTC-PERP",
            contract_multiplier=1_000,
            maker_fee_bps=-1,
            taker_fee_bps=4,
            price_band_bps=500,
        ),
        65_000,
        1,
    ),
    # $0.01 ticks, lots of 0.01 ETH: 1 tick x 1 lot = 100 micro-USDC.
    DemoMarket(
        MarketConfig(
            market_id=2,
            symbol="ETH-PERP",
            contract_multiplier=100,
            maker_fee_bps=1,
            taker_fee_bps=4,
            price_band_bps=500,
            matching_mode=MatchingMode.BATCH,
            auction_interval_ms=1_000,
        ),
        350_000,
        5,
    ),
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the command line."""
    parser = add_tool(
        commands,
        "demo",
        "start an engine, two markets and a scripted maker and taker, then replay the WAL",
        "python -m hypermarket demo\npython -m hypermarket demo --seconds 30 --data-dir demo",
        connection=False,
    )
    parser.add_argument("--data-dir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--seconds", type=positive, default=10, help="how long to trade (10)")
    parser.add_argument("--seed", type=int, default=1, help="of the scripted flow (1)")
    parser.set_defaults(handler=lambda args: run_tool(demo(args)))


class Tape:
    """Follows the outputs of the demo's markets: their books, counts, and lines to print."""

    def __init__(self, live_from: int) -> None:
        self.live_from = live_from  # outputs of earlier messages (an older demo) stay quiet
        self.started = time.monotonic()
        self.books = {m.config.market_id: BookView(m.config.market_id) for m in MARKETS}
        self.revisions: dict[int, int] = {}
        self.fills = dict.fromkeys(self.books, 0)
        self.volume = dict.fromkeys(self.books, 0)
        self.auctions = dict.fromkeys(self.books, 0)
        self.rejects = 0

    def take(self, delivery: Delivery) -> None:
        """Apply one message's outputs and print the fills, auctions and rejects among them."""
        live = delivery.stream_seq >= self.live_from
        for out in delivery.outputs:
            market_id = out.market_id
            book = self.books.get(market_id)
            if book is None:
                continue
            book.apply(out)
            body = out.body
            match body:
                case MarketUpdated():
                    self.revisions[market_id] = body.revision
                case Fill() if live:
                    self.fills[market_id] += 1
                    self.volume[market_id] += body.quantity
                    verb = "buys" if body.taker_side is Side.BUY else "sells"
                    self.say(market_id, f"fill {body.quantity} @ {body.price}, the taker {verb}")
                case AuctionResult() if live and body.volume:
                    self.auctions[market_id] += 1
                    self.say(
                        market_id, f"auction cleared {lots(body.volume)} @ {body.clearing_price}"
                    )
                case OrderRejected() | Rejected() if live:
                    self.rejects += 1
                    print(f"{self.clock()}  {describe(out, account=short_account)}", flush=True)

    def clock(self) -> str:
        """Seconds since the demo began trading."""
        return f"{time.monotonic() - self.started:5.1f} s"

    def say(self, market_id: int, text: str) -> None:
        print(f"{self.clock()}  {self.books[market_id].symbol:<9} {text}", flush=True)

    def applied(self, revisions: dict[int, int]) -> bool:
        """Whether the engine has published ``MarketUpdated`` at these revisions (or later)."""
        return all(self.revisions.get(m, 0) >= revision for m, revision in revisions.items())

    def show_books(self) -> None:
        for book in self.books.values():
            frame = book.render(LEVELS, trades=0)
            print("\n".join(f"{self.clock()}  {line}" for line in frame.splitlines()), flush=True)

    def summary(self) -> str:
        parts = [
            f"{self.books[m].symbol} {self.fills[m]} fills, {lots(self.volume[m])}"
            + (f", {self.auctions[m]} auctions" if self.auctions[m] else "")
            for m in self.books
        ]
        return f"summary: {'; '.join(parts)}; {self.rejects} rejected"


def _limit(
    ids: Iterator[int],
    account: bytes,
    market_id: int,
    side: Side,
    price: int,
    quantity: int,
    tif: TimeInForce,
) -> NewOrder:
    return NewOrder(market_id, account, next(ids), side, OrderType.LIMIT, tif, price, quantity)


def _cycle(
    market: DemoMarket, mark: int, rng: random.Random, ids: Iterator[int]
) -> list[InputBody]:
    """One cycle of one market: the new mark, the maker's quotes, perhaps a taker order."""
    market_id, step = market.config.market_id, market.step
    batch = market.config.matching_mode is MatchingMode.BATCH
    bodies: list[InputBody] = [PriceUpdate(market_id, mark, mark), CancelAll(MAKER, market_id)]
    for level in range(1, LEVELS + 1):
        for side, price in ((Side.BUY, mark - level * step), (Side.SELL, mark + level * step)):
            quantity = rng.randint(1, 5)
            bodies.append(_limit(ids, MAKER, market_id, side, price, quantity, TimeInForce.GTC))
    if batch:
        # Only the taker's newest order waits for the auction, so it never meets its own.
        bodies.append(CancelAll(TAKER, market_id))
    if rng.random() < 0.6:
        side = rng.choice((Side.BUY, Side.SELL))
        through = (LEVELS + 1) * step * (1 if side is Side.BUY else -1)
        tif = TimeInForce.GTC if batch else TimeInForce.IOC
        quantity = rng.randint(1, 4)
        bodies.append(_limit(ids, TAKER, market_id, side, mark + through, quantity, tif))
    return bodies


async def _until(
    condition: Callable[[], bool], follower: asyncio.Task[None], what: str, log: Path
) -> None:
    """Wait for ``condition``; ``ToolError`` after ``APPLY_TIMEOUT_S``, and the follower's
    own error if it failed meanwhile (the condition would never come true)."""
    deadline = time.monotonic() + APPLY_TIMEOUT_S
    while not condition():
        if follower.done():
            follower.result()
        if time.monotonic() > deadline:
            raise ToolError(f"{what} within {APPLY_TIMEOUT_S} s: see the engine's log {log}")
        await asyncio.sleep(0.05)


async def _follow(client: Client, target: Target, tape: Tape) -> None:
    async with follow_outputs(client, target, output_subject(target), 1) as deliveries:
        async for delivery in deliveries:
            tape.take(delivery)


async def _session(client: Client, target: Target, args: argparse.Namespace, log: Path) -> Tape:
    """Steps 2 to 4 of the module docstring; the tape of what happened."""
    tape = Tape(await end_of_stream(client, target, output_subject(target)) + 1)
    follower = asyncio.create_task(_follow(client, target, tape))
    try:
        revisions = {}
        for market in MARKETS:
            config = market.config
            written = await put_market(client, target, config)
            revisions[config.market_id] = written.revision
            mode = enum_name(config.matching_mode)
            if config.matching_mode is MatchingMode.BATCH:
                mode += f", an auction every {config.auction_interval_ms} ms"
            print(f"market {config.symbol} ({mode}) at revision {written.revision} of MARKETS")
        applied = "the engine did not apply the markets"
        await _until(lambda: tape.applied(revisions), follower, applied, log)
        print("  the engine applied both (MarketUpdated seen on the output stream)")
        funding: list[InputBody] = []
        for market in MARKETS:
            market_id = market.config.market_id
            funding.append(PriceUpdate(market_id, market.mark, market.mark))
            funding += [Deposit(account, market_id, COLLATERAL) for account in (MAKER, TAKER)]
        requests = itertools.count(1)
        await publish(client, target, [Input(body, 0, next(requests)) for body in funding])
        print(
            f"marks set; maker {short_account(MAKER)} and taker {short_account(TAKER)} funded "
            f"with {COLLATERAL // 10**6:,} USDC in each market"
        )
        print(
            f"trading for {args.seconds} s: the maker quotes {LEVELS} levels a side around the "
            "mark, the taker crosses the spread"
        )
        rng = random.Random(args.seed)
        # Client order ids need only be unique among an account's live orders; starting
        # from the clock keeps them so across demos that share a data folder.
        ids = itertools.count(time.time_ns())
        marks = {market.config.market_id: market.mark for market in MARKETS}
        tape.started = time.monotonic()
        next_books = tape.started + BOOK_EVERY_S
        while time.monotonic() - tape.started < args.seconds:
            bodies: list[InputBody] = []
            for market in MARKETS:
                market_id = market.config.market_id
                marks[market_id] += rng.choice((-1, 0, 1)) * market.step
                bodies += _cycle(market, marks[market_id], rng, ids)
            await publish(client, target, [Input(body, 0, next(requests)) for body in bodies])
            if time.monotonic() >= next_books:
                tape.show_books()
                next_books += BOOK_EVERY_S
            await asyncio.sleep(CYCLE_S)
        await asyncio.sleep(2 * CYCLE_S)  # let the last outputs arrive
        tape.show_books()
    finally:
        follower.cancel()
        with suppress(asyncio.CancelledError):
            await follower
    return tape


def _replay_wal(wal_dir: Path) -> bool:
    """Step 5: print and run ``fold wal --verify``; whether it verified."""
    print("replay the write-ahead log through the pure core, recomputing every logged output:")
    print(f"$ python -m hypermarket fold wal {wal_dir} --verify")
    command = [sys.executable, "-m", "hypermarket", "fold", "wal", str(wal_dir), "--verify"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in (result.stdout + result.stderr).splitlines():
        print(f"  {line}")
    if result.returncode == 0:
        print("verified: the replay reproduced every output the engine logged, bit for bit")
        return True
    print(f"fold wal --verify failed (exit status {result.returncode})")
    return False


async def demo(args: argparse.Namespace) -> int:
    """The whole demo (module docstring); 0 when trades happened and the WAL verified."""
    data_dir: Path = args.data_dir or Path(tempfile.mkdtemp(prefix="hypermarket-demo-"))
    data_dir = data_dir.absolute()
    config_path = data_dir / "demo.yaml"
    if data_dir.is_dir() and any(data_dir.iterdir()) and not config_path.exists():
        # Perhaps a real engine's folder: the demo would start a second engine on its WAL.
        raise ToolError(f"{data_dir} holds files of something else than a demo: pass a new folder")
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        f"data_dir: {json.dumps(str(data_dir))}\nmetrics:\n  address: ''\nlog:\n  format: json\n",
        encoding="utf-8",
    )
    config = load_config(config_path, environ={})
    own_server = {key: value for key, value in os.environ.items() if key not in VARIABLES}
    engine = EngineProcess(["--config", str(config_path)], data_dir / "engine.log", own_server)
    print(f"hypermarket demo: everything goes under {data_dir}")
    print(f"$ python -m hypermarket run --config {config_path}")
    started = time.monotonic()
    engine.start()  # blocking is fine: nothing else runs yet
    # The engine runs in its own session, so no signal reaches it but ours: SIGTERM, like
    # Ctrl-C, cancels the demo, whose ``finally`` then stops the engine cleanly.
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        if engine.url is None:
            raise ToolError(f"the engine did not log its server's URL: see {engine.log_path}")
        print(
            f"  engine ready in {time.monotonic() - started:.1f} s, its embedded NATS at "
            f"{engine.url} (log: {engine.log_path})"
        )
        target = Target(bus_settings(config, [engine.url]), config.shard_count, "the demo engine")
        async with connect(target, "demo") as client:
            tape = await _session(client, target, args, engine.log_path)
    finally:
        print("stopping the engine with SIGINT (finish the batch, publish, snapshot, close)")
        status = engine.stop()  # blocking is fine: the flow has ended
        print(f"  engine exit status {status}")
    print(tape.summary())
    verified = _replay_wal(config.wal.dir / "shard-0")
    traded = sum(tape.fills.values()) > 0
    return 0 if verified and traded and status == 0 else 1
