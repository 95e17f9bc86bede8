"""``python -m hypermarket send``: publish inputs to the engine, as a gateway would.

Each kind of input has a sub-command whose flags are the fields of its message (CONTRACT.md,
"InputEvent"), and ``send file`` publishes a file of them.  An input for market ``m`` goes to
``<input prefix>.<m % shard_count>`` of the input stream as a JetStream publish; its
acknowledgement carries the stream sequence, which is printed: once an input has one, the
shard will apply it, in that order.  What the engine made of it is on the output stream
(``tail``), where every output of the input echoes its ``request_id``.

Ids.  ``--client-order-id`` and ``--request-id`` default to the current time in nanoseconds,
unique enough for a person typing commands; scripts should choose their own.

``cancel-all`` without ``--market`` means every market of the account: one ``CancelAll``
with market 0 goes to each shard, since a shard only knows its own markets.

``send file`` reads the format of ``fold inputs`` (canonical proto JSON lines with ``#``
comments, or ``.bin`` delimited binary).  Every input is decoded and encoded before the
first is sent, so a mistake anywhere sends nothing.  Then they go out in file order with up
to ``WINDOW`` acknowledgements outstanding (one connection's publishes reach the stream in
the order they were written), and a progress line every second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, NamedTuple

import nats.js.errors
from nats.aio.client import Client
from nats.js.api import PubAck

from hypermarket.cli import fold_inputs
from hypermarket.models import (
    AmendOrder,
    AuctionTick,
    CancelAll,
    CancelOrder,
    Deposit,
    Input,
    InputBody,
    Malformed,
    NewOrder,
    OrderType,
    PriceUpdate,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UpsertMarket,
    Withdraw,
)
from hypermarket.tools.arguments import add_enum_flag, add_tool, parse_account, positive
from hypermarket.tools.client import Target, ToolError, connect, resolve_target, run_tool
from hypermarket.wire import encode_input

WINDOW: Final = 256  # acknowledgements outstanding while sending a file
PROGRESS_EVERY_S: Final = 1.0

EXAMPLE_ACCOUNT = "0xa11ce00000000000000000000000000000000001"


class Published(NamedTuple):
    """Where an input went and the stream sequence JetStream gave it."""

    subject: str
    stream_seq: int


def _market_of(body: InputBody) -> int:
    """The market whose shard an input belongs to (0 for a ``CancelAll`` of every market)."""
    if isinstance(body, UpsertMarket):
        return body.config.market_id
    return body.market_id


def _encode(
    inputs: Sequence[Input], target: Target, shards: Sequence[int] | None
) -> list[tuple[str, bytes]]:
    """``(subject, bytes)`` of every input; ``ToolError`` for one the wire cannot carry."""
    encoded = []
    for number, inp in enumerate(inputs, 1):
        if isinstance(inp.body, Malformed):
            detail = inp.body.detail.rstrip(".")
            raise ToolError(f"input {number}: {detail}; nothing was sent")
        try:
            data = encode_input(inp)
        except ValueError as problem:
            raise ToolError(f"input {number}: {problem}; nothing was sent") from None
        shard = target.shard_of(_market_of(inp.body)) if shards is None else shards[number - 1]
        subject = target.settings.input_subject(shard)
        encoded.append((subject, data))
    return encoded


async def publish(
    client: Client,
    target: Target,
    inputs: Sequence[Input],
    progress: Callable[[int, int], None] | None = None,
    shards: Sequence[int] | None = None,
) -> list[Published]:
    """Publish ``inputs`` in order and wait for every acknowledgement.

    Each input goes to the shard of its market unless ``shards`` names one per input.

    ``progress(acknowledged, total)`` is called about once a second while sending takes
    longer than that, and once more at the end if it was called at all.  Raises ``ToolError``
    when no stream takes the subject (the engine never started here) or the stream that
    answers is not the configured input stream.
    """
    settings = target.settings
    encoded = _encode(inputs, target, shards)
    js = client.jetstream(timeout=settings.request_timeout_s, publish_async_max_pending=WINDOW)
    acks: list[asyncio.Future[PubAck]] = []
    reported = time.monotonic()
    shown = False
    try:
        for subject, data in encoded:
            ack = await js.publish_async(
                subject, data, wait_stall=settings.request_timeout_s, stream=settings.input_stream
            )
            if not acks:
                # The first answer shows whether the stream is there before sending the rest.
                await asyncio.wait_for(ack, settings.request_timeout_s)
            acks.append(ack)
            if progress is not None and time.monotonic() - reported >= PROGRESS_EVERY_S:
                reported, shown = time.monotonic(), True
                progress(len(acks) - js.publish_async_pending(), len(encoded))
        results = await asyncio.wait_for(asyncio.gather(*acks), settings.request_timeout_s)
    except nats.js.errors.NoStreamResponseError:
        raise target.missing(f"a stream for {encoded[0][0]}") from None
    except nats.js.errors.BadRequestError as failure:
        raise ToolError(
            f"{encoded[0][0]} is not stored by {settings.input_stream} ({failure.description}): "
            "pass --config with the engine's config"
        ) from None
    except (TimeoutError, nats.js.errors.TooManyStalledMsgsError):
        raise ToolError(
            f"NATS at {target.url} did not acknowledge the inputs within "
            f"{settings.request_timeout_s} s"
        ) from None
    if progress is not None and shown:
        progress(len(results), len(encoded))
    return [Published(subject, ack.seq) for (subject, _), ack in zip(encoded, results, strict=True)]


# --------------------------------------------------------------- inputs from flags


def _order_flags(parser: argparse.ArgumentParser) -> None:
    _market_flag(parser)
    _account_flag(parser)
    add_enum_flag(parser, "--side", Side, "which side", required=True)
    add_enum_flag(parser, "--type", OrderType, "order type", OrderType.LIMIT)
    add_enum_flag(parser, "--tif", TimeInForce, "time in force", TimeInForce.GTC)
    parser.add_argument(
        "--price", type=positive, metavar="TICKS", help="limit price (none for a market order)"
    )
    parser.add_argument("--qty", type=positive, required=True, metavar="LOTS", help="quantity")
    parser.add_argument(
        "--client-order-id", type=positive, metavar="N", help="default: the time in ns"
    )
    parser.add_argument("--reduce-only", action="store_true", help="may only shrink a position")
    add_enum_flag(
        parser,
        "--stp",
        SelfTradePrevention,
        "self-trade prevention",
        SelfTradePrevention.CANCEL_TAKER,
    )


def _order(args: argparse.Namespace) -> InputBody:
    if args.type is OrderType.LIMIT and args.price is None:
        raise ToolError("a limit order needs --price (in ticks); or use --type market")
    if args.type is OrderType.MARKET and args.price is not None:
        raise ToolError("a market order takes no --price")
    return NewOrder(
        market_id=args.market,
        account=args.account,
        client_order_id=args.client_order_id or time.time_ns(),
        side=args.side,
        order_type=args.type,
        time_in_force=args.tif,
        price=args.price or 0,
        quantity=args.qty,
        reduce_only=args.reduce_only,
        stp=args.stp,
    )


def _order_ref_flags(parser: argparse.ArgumentParser) -> None:
    _market_flag(parser)
    _account_flag(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--order-id", type=positive, metavar="N", help="the engine's order id")
    which.add_argument("--client-order-id", type=positive, metavar="N", help="or the client's")


def _cancel(args: argparse.Namespace) -> InputBody:
    return CancelOrder(args.market, args.account, args.order_id or 0, args.client_order_id or 0)


def _cancel_all_flags(parser: argparse.ArgumentParser) -> None:
    _account_flag(parser)
    parser.add_argument("--market", type=positive, metavar="ID", help="default: every market")


def _cancel_all(args: argparse.Namespace) -> InputBody:
    return CancelAll(args.account, args.market or 0)


def _amend_flags(parser: argparse.ArgumentParser) -> None:
    _order_ref_flags(parser)
    parser.add_argument("--price", type=positive, metavar="TICKS", help="new price")
    parser.add_argument("--qty", type=positive, metavar="LOTS", help="new open quantity")


def _amend(args: argparse.Namespace) -> InputBody:
    if args.price is None and args.qty is None:
        raise ToolError("send amend needs --price, --qty or both")
    order_id, client_order_id = args.order_id or 0, args.client_order_id or 0
    new_price, new_quantity = args.price or 0, args.qty or 0
    return AmendOrder(args.market, args.account, order_id, client_order_id, new_price, new_quantity)


def _money_flags(parser: argparse.ArgumentParser) -> None:
    _market_flag(parser)
    _account_flag(parser)
    parser.add_argument("--amount", type=positive, required=True, metavar="MICRO_USDC")


def _deposit(args: argparse.Namespace) -> InputBody:
    return Deposit(args.account, args.market, args.amount)


def _withdraw(args: argparse.Namespace) -> InputBody:
    return Withdraw(args.account, args.market, args.amount)


def _price_flags(parser: argparse.ArgumentParser) -> None:
    _market_flag(parser)
    parser.add_argument("--mark", type=positive, required=True, metavar="TICKS", help="mark price")
    parser.add_argument("--index", type=positive, metavar="TICKS", help="default: --mark")


def _price(args: argparse.Namespace) -> InputBody:
    return PriceUpdate(args.market, args.mark, args.index or args.mark)


def _tick(args: argparse.Namespace) -> InputBody:
    return AuctionTick(args.market)


def _market_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", type=positive, required=True, metavar="ID")


def _account_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account", type=parse_account, required=True, metavar="0x…", help="an EVM address"
    )


class _Kind(NamedTuple):
    """A ``send`` sub-command: its flags and how they become an input body."""

    summary: str
    example: str
    flags: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace], InputBody]


_KINDS: Final = {
    "order": _Kind(
        "place an order (NewOrder)",
        f"order --market 1 --account {EXAMPLE_ACCOUNT} --side buy --price 101 --qty 5",
        _order_flags,
        _order,
    ),
    "cancel": _Kind(
        "cancel one order (CancelOrder)",
        f"cancel --market 1 --account {EXAMPLE_ACCOUNT} --client-order-id 7",
        _order_ref_flags,
        _cancel,
    ),
    "cancel-all": _Kind(
        "cancel every order of an account (CancelAll)",
        f"cancel-all --account {EXAMPLE_ACCOUNT} --market 1",
        _cancel_all_flags,
        _cancel_all,
    ),
    "amend": _Kind(
        "change an order's price or quantity (AmendOrder)",
        f"amend --market 1 --account {EXAMPLE_ACCOUNT} --order-id 3 --qty 2",
        _amend_flags,
        _amend,
    ),
    "deposit": _Kind(
        "move collateral into an account's margin for a market (Deposit)",
        f"deposit --market 1 --account {EXAMPLE_ACCOUNT} --amount 1000000000",
        _money_flags,
        _deposit,
    ),
    "withdraw": _Kind(
        "move collateral out (Withdraw)",
        f"withdraw --market 1 --account {EXAMPLE_ACCOUNT} --amount 5000000",
        _money_flags,
        _withdraw,
    ),
    "price": _Kind(
        "set the mark and index price (PriceUpdate)",
        "price --market 1 --mark 100 --index 100",
        _price_flags,
        _price,
    ),
    "tick": _Kind(
        "clear a batch-auction market now (AuctionTick)",
        "tick --market 2",
        _market_flag,
        _tick,
    ),
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``send`` and its sub-commands to the command line."""
    send = add_tool(
        commands,
        "send",
        "publish inputs to the engine",
        "\n".join(f"python -m hypermarket send {kind.example}" for kind in _KINDS.values()),
        description="Publish inputs to the input stream and print their stream sequences; "
        "`python -m hypermarket send KIND --help` lists each kind's flags.",
        connection=False,
    )
    kinds = send.add_subparsers(dest="send_kind", required=True, metavar="KIND")
    for name, kind in _KINDS.items():
        parser = add_tool(kinds, name, kind.summary, f"python -m hypermarket send {kind.example}")
        kind.flags(parser)
        parser.add_argument(
            "--request-id", type=positive, metavar="N", help="echoed in the outputs (default: ns)"
        )
        parser.set_defaults(
            handler=lambda args, build=kind.build: run_tool(send_flags(args, build))
        )
    from_file = add_tool(
        kinds,
        "file",
        "publish every input of a file, in order",
        "python -m hypermarket send file orders.jsonl",
        description="Publish a file in the format of `fold inputs`: canonical proto JSON "
        "lines (# comments) or .bin delimited binary.  Nothing is sent if any input is bad.",
    )
    from_file.add_argument("file", type=Path, help="a .jsonl or .bin file of InputEvents")
    from_file.add_argument("--format", choices=fold_inputs.FORMATS, help="override the suffix")
    from_file.set_defaults(handler=lambda args: run_tool(send_file(args)))


async def send_flags(
    args: argparse.Namespace, build: Callable[[argparse.Namespace], InputBody]
) -> int:
    """Publish the input the flags describe and print its stream sequence."""
    target = resolve_target(args)
    body = build(args)
    if isinstance(body, CancelAll) and body.market_id == 0:
        # Market 0 means every market of the shard that receives it: one per shard.
        shards = list(range(target.shard_count))
    else:
        shards = [target.shard_of(_market_of(body))]
    request_id = args.request_id or time.time_ns()
    client_id = getattr(body, "client_order_id", 0)
    order = f", client_order_id {client_id}" if client_id else ""
    async with connect(target, "send") as client:
        inputs = [Input(body, 0, request_id)] * len(shards)
        published = await publish(client, target, inputs, shards=shards)
    for subject, stream_seq in published:
        print(f"{subject}: stream seq {stream_seq}, request_id {request_id}{order}")
    return 0


def _progress_line(started: float) -> Callable[[int, int], None]:
    """Progress on stderr: one line rewritten in place on a terminal, else a line each call."""
    terminal = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        end = "\r" if terminal and done < total else "\n"
        print(f"sent {done} of {total} ({rate:,.0f}/s)", end=end, file=sys.stderr, flush=True)

    return show


async def send_file(args: argparse.Namespace) -> int:
    """Publish every input of a file, in order, after checking them all."""
    path: Path = args.file
    if not path.is_file():
        raise ToolError(f"{path}: no such file")
    try:
        fmt = args.format or fold_inputs.guess_format(path)
    except ValueError as problem:
        raise ToolError(str(problem)) from None
    target = resolve_target(args)
    inputs = list(fold_inputs.read_inputs(path, fmt))
    if not inputs:
        raise ToolError(f"{path}: holds no input")
    started = time.monotonic()
    async with connect(target, "send") as client:
        try:
            published = await publish(client, target, inputs, _progress_line(started))
        except ToolError as problem:
            raise ToolError(f"{path}: {problem}") from None
    seqs = [stream_seq for _, stream_seq in published]
    print(
        f"published {len(published)} inputs from {path}: stream seq {seqs[0]} to {seqs[-1]} "
        f"in {time.monotonic() - started:.2f} s"
    )
    return 0
