"""``python -m hypermarket book MARKET``: one market's book and last trades, from the outputs.

The engine publishes a ``BookDelta`` for every price level that changes inside its
published depth, carrying the level's total after the change (0: the level is gone), and
CONTRACT.md promises that applying a market's deltas in ``seq`` order holds exactly the
engine's top ``book_delta_depth`` levels.  So the view needs no snapshot and no access to
the engine: it replays the market's shard subject from the start of the output stream
(``BookDelta``, ``Fill``, ``AuctionResult`` and ``MarketUpdated`` of that market) and then
follows it.  ``BookView`` is that fold, kept apart from NATS so ``demo`` can use it too.

Drawing: a frame is drawn only once the replay has reached what was the end of the stream
when the view started (a long history is not animated; a replay that takes more than a
second reports how far it got on stderr), then at most ``REDRAW_HZ`` times a second when
something changed.  On a terminal the screen is cleared and the frame drawn in
place with ANSI codes (no curses); elsewhere each frame is printed after the last one.
``--once`` prints the book as of the end of the stream and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Final, NamedTuple

from hypermarket.models import (
    AuctionResult,
    BookDelta,
    Fill,
    MarketConfig,
    MarketUpdated,
    Output,
    Side,
)
from hypermarket.tools.arguments import add_tool, enum_name, positive
from hypermarket.tools.client import connect, resolve_target, run_tool
from hypermarket.tools.outputs import Delivery, end_of_stream, follow_outputs, output_subject
from hypermarket.tools.render import lots

REDRAW_HZ: Final = 10
CLEAR_SCREEN: Final = "\x1b[H\x1b[2J"


class Level(NamedTuple):
    """A price level as the deltas give it: total lots and number of orders."""

    quantity: int
    orders: int


class Trade(NamedTuple):
    ts_ns: int
    taker_side: Side
    quantity: int
    price: int


class BookView:
    """The top of one market's book and its last trades, as its outputs describe them."""

    def __init__(self, market_id: int, trades_kept: int = 10) -> None:
        self.market_id = market_id
        self.config: MarketConfig | None = None
        self.levels: dict[Side, dict[int, Level]] = {Side.BUY: {}, Side.SELL: {}}
        self.trades: deque[Trade] = deque(maxlen=trades_kept)
        self.auction: AuctionResult | None = None
        self.last_output = ""  # "<shard>:<seq>" of the market's newest output

    def apply(self, out: Output) -> bool:
        """Take one output into the view; whether it changed what ``render`` shows."""
        if out.market_id != self.market_id:
            return False
        self.last_output = f"{out.shard}:{out.seq}"
        body = out.body
        match body:
            case BookDelta():
                side = self.levels[body.side]
                if body.quantity:
                    side[body.price] = Level(body.quantity, body.order_count)
                else:
                    side.pop(body.price, None)
            case Fill():
                self.trades.appendleft(Trade(out.ts_ns, body.taker_side, body.quantity, body.price))
            case AuctionResult():
                self.auction = body
            case MarketUpdated():
                self.config = body.config
            case _:
                return False
        return True

    @property
    def symbol(self) -> str:
        """The market's symbol, once a ``MarketUpdated`` has named it."""
        return self.config.symbol if self.config is not None else f"market {self.market_id}"

    def title(self) -> str:
        """``BTC-PERP (market 1, continuous, active)``."""
        config = self.config
        if config is None:
            return f"market {self.market_id} (no MarketUpdated seen)"
        mode, status = enum_name(config.matching_mode), enum_name(config.status)
        return f"{config.symbol} (market {self.market_id}, {mode}, {status})"

    def render(self, depth: int, trades: int | None = None) -> str:
        """The ladder (asks above bids, best prices in the middle) and the last trades."""
        asks = sorted(self.levels[Side.SELL].items())[:depth]
        bids = sorted(self.levels[Side.BUY].items(), reverse=True)[:depth]
        as_of = f" as of output {self.last_output}" if self.last_output else ""
        lines = [f"{self.title()}{as_of}", f"{'':5} {'price':>12} {'qty':>10} {'orders':>7}"]
        lines += [_level("ask", price, level) for price, level in reversed(asks)]
        if asks and bids:
            # A batch market's book may cross between auctions: the next one clears it.
            spread = asks[0][0] - bids[0][0]
            gap = f"spread {spread}" if spread > 0 else f"crossed {-spread}"
            lines.append(f"{'':5} {gap:>12}")
        elif not asks and not bids:
            lines.append(f"{'':5} {'(empty)':>12}")
        lines += [_level("bid", price, level) for price, level in bids]
        if self.auction is not None:
            auction = self.auction
            lines.append(f"last auction: {lots(auction.volume)} @ {auction.clearing_price}")
        shown = list(self.trades)[:trades]
        if shown:
            lines.append("last trades:")
            lines += [
                f"  {_clock(trade.ts_ns)}  {enum_name(trade.taker_side):<4} "
                f"{trade.quantity:>8} @ {trade.price}"
                for trade in shown
            ]
        return "\n".join(lines)


def _level(name: str, price: int, level: Level) -> str:
    return f"{name:<5} {price:>12} {level.quantity:>10} {level.orders:>7}"


def _clock(ts_ns: int) -> str:
    """The stream's time of an output as ``HH:MM:SS.mmm`` UTC."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) + f".{ns // 1_000_000:03d}"


EXAMPLES = """
python -m hypermarket book 1
python -m hypermarket book 1 --depth 5 --once
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``book`` to the command line."""
    parser = add_tool(
        commands,
        "book",
        "a live view of one market's book",
        EXAMPLES,
        description="Show the top of a market's book (quantity and order count per level) "
        "and its last trades, built only from the output stream: the market's shard is "
        "replayed from the start, then followed and redrawn in place.",
    )
    parser.add_argument("market", type=positive, metavar="MARKET", help="the market id")
    parser.add_argument("--depth", type=positive, default=10, help="levels per side (10)")
    parser.add_argument("--trades", type=positive, default=10, help="last trades shown (10)")
    parser.add_argument("--once", action="store_true", help="print the book now and exit")
    parser.set_defaults(handler=lambda args: run_tool(book(args)))


async def book(args: argparse.Namespace) -> int:
    """Replay the market's shard subject, then print once or keep redrawing until Ctrl-C."""
    target = resolve_target(args)
    view = BookView(args.market, args.trades)
    subject = output_subject(target, args.market)
    async with connect(target, "book") as client:
        end = await end_of_stream(client, target, subject)
        async with follow_outputs(client, target, subject, 1) as deliveries:
            if end:
                await _replay(view, deliveries, end)
            if args.once:
                print(view.render(args.depth))
                return 0
            await _live(view, args.depth, deliveries)
    return 0


async def _replay(view: BookView, deliveries: AsyncIterator[Delivery], end: int) -> None:
    """Apply every delivery up to stream sequence ``end``, saying how far a long replay got."""
    report_at = time.monotonic() + 1
    async for delivery in deliveries:
        for out in delivery.outputs:
            view.apply(out)
        if delivery.stream_seq >= end:
            return
        if time.monotonic() >= report_at:
            report_at += 1
            at = f"at stream sequence {delivery.stream_seq} of {end}"
            print(f"hypermarket book: replaying the output stream, {at}", file=sys.stderr)


async def _live(view: BookView, depth: int, deliveries: AsyncIterator[Delivery]) -> None:
    """Draw the view now, then again after every delivery that changed it."""
    dirty = asyncio.Event()
    dirty.set()
    async with asyncio.TaskGroup() as tasks:
        drawer = tasks.create_task(_draw(view, depth, dirty))
        async for delivery in deliveries:
            changed = False
            for out in delivery.outputs:
                changed = view.apply(out) or changed
            if changed:
                dirty.set()
        drawer.cancel()


async def _draw(view: BookView, depth: int, dirty: asyncio.Event) -> None:
    """Redraw whenever ``dirty`` is set, at most ``REDRAW_HZ`` times a second."""
    terminal = sys.stdout.isatty()
    while True:
        await dirty.wait()
        dirty.clear()
        frame = view.render(depth)
        print(CLEAR_SCREEN + frame if terminal else frame + "\n", flush=True)
        await asyncio.sleep(1 / REDRAW_HZ)
