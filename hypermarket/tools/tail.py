"""``python -m hypermarket tail``: follow the output stream, one line per output.

Every message of the output stream holds one or more outputs; ``tail`` prints each output
on its own line, readable (``render.describe``) or as canonical proto JSON
(``--json``, the form ``fold inputs`` writes, so the two can be compared with ``diff``).
Filters apply per output: ``--market`` keeps that market's outputs (and reads only its
shard's subject), ``--account`` keeps outputs that name the account as owner, maker or
taker, ``--request-id`` those caused by the input that carried it (``send`` prints it).

Where it starts: by default with what arrives next; ``--from-start`` replays the whole
stream; ``--last N`` first prints the latest N outputs that pass the filters among the last
N messages of the stream, then follows.  Each message holds at least one output, so with
one shard and no filter that is exactly the latest N outputs; with several shards,
``--market`` reads one shard's subject, whose share of those N messages is smaller.
``--count N`` exits after N printed outputs and ``--timeout S`` after S seconds, which makes
``tail`` usable from scripts and tests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing

import msgspec

from hypermarket.models import Output
from hypermarket.tools.arguments import add_tool, parse_account, positive
from hypermarket.tools.client import connect, resolve_target, run_tool
from hypermarket.tools.outputs import Delivery, end_of_stream, follow_outputs, output_subject
from hypermarket.tools.render import describe
from hypermarket.wire import output_to_json

EXAMPLES = """
python -m hypermarket tail
python -m hypermarket tail --market 1 --last 20
python -m hypermarket tail --account 0xa11ce00000000000000000000000000000000001 --from-start
python -m hypermarket tail --from-start --request-id 1732000000000000000 --json
python -m hypermarket tail --json --count 1 --timeout 10
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tail`` to the command line."""
    parser = add_tool(
        commands,
        "tail",
        "follow the engine's outputs, one line each",
        EXAMPLES,
        description="Follow the output stream and print each output on one line (accounts "
        "in 0x hex, enums by name, prices in ticks, quantities in lots, money in micro-USDC) "
        "or as canonical JSON.  Filters apply per output.  Starts with what arrives next "
        "unless --from-start or --last says otherwise.",
    )
    parser.add_argument("--market", type=positive, metavar="ID", help="only this market")
    parser.add_argument(
        "--account", type=parse_account, metavar="0x…", help="only outputs naming this account"
    )
    parser.add_argument(
        "--request-id", type=positive, metavar="N", help="only the outputs of this request"
    )
    parser.add_argument("--json", action="store_true", help="canonical proto JSON lines")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from-start", action="store_true", help="replay the whole stream first")
    start.add_argument("--last", type=positive, metavar="N", help="begin with the latest N")
    parser.add_argument("--count", type=positive, metavar="N", help="exit after N outputs")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="exit after S seconds (status 1 if short of --count)",
    )
    parser.set_defaults(handler=lambda args: run_tool(tail(args)))


def wanted(
    market_id: int | None, account: bytes | None, request_id: int | None
) -> Callable[[Output], bool]:
    """The per-output filter of ``--market``, ``--account`` and ``--request-id``."""

    def keep(out: Output) -> bool:
        if market_id is not None and out.market_id != market_id:
            return False
        if request_id is not None and out.request_id != request_id:
            return False
        # Accounts are the only bytes fields of the outputs (owner, maker, taker).
        return account is None or account in msgspec.structs.astuple(out.body)

    return keep


async def selected(
    deliveries: AsyncIterator[Delivery], keep: Callable[[Output], bool], last: int, end: int
) -> AsyncGenerator[Output, None]:
    """The outputs to print, in order: from messages up to stream sequence ``end`` only the
    last ``last`` kept ones (``--last``), then every kept one."""
    backlog: deque[Output] | None = deque(maxlen=last) if end else None
    async for delivery in deliveries:
        kept = [out for out in delivery.outputs if keep(out)]
        if backlog is None:
            for out in kept:
                yield out
            continue
        backlog.extend(kept)
        if delivery.stream_seq >= end:
            for out in backlog:
                yield out
            backlog = None


async def tail(args: argparse.Namespace) -> int:
    """Print outputs until ``--count``, ``--timeout`` or Ctrl-C."""
    target = resolve_target(args)
    show = output_to_json if args.json else describe
    keep = wanted(args.market, args.account, args.request_id)
    subject = output_subject(target, args.market)
    printed = 0
    async with connect(target, "tail") as client:
        end = 0
        start: int | None = 1 if args.from_start else None
        if args.last is not None:
            end = await end_of_stream(client, target, subject)
            start = max(1, end - args.last + 1) if end else None
        try:
            async with (
                asyncio.timeout(args.timeout) as deadline,
                follow_outputs(client, target, subject, start) as deliveries,
                aclosing(selected(deliveries, keep, args.last or 0, end)) as outputs,
            ):
                async for out in outputs:
                    print(show(out), flush=True)
                    printed += 1
                    if printed == args.count:
                        return 0
        except TimeoutError:
            if not deadline.expired():
                raise  # nats-py's, not ours: ``connect`` reports it
            print(f"hypermarket tail: {printed} outputs in {args.timeout} s", file=sys.stderr)
    return 1 if args.count is not None else 0
