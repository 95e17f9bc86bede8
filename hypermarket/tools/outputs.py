"""Reading the output stream: how ``tail``, ``book`` and ``demo`` see what the engine did.

Each message of the output stream is an ``OutputBatch``: consecutive outputs of one shard
in ``seq`` order, of one input or of several (docs/protocol.md; where a message ends means
nothing, so readers work per output).  ``follow_outputs`` reads a subject of the stream
with an ordered consumer: a nats-py push consumer that the client re-creates by itself
after a gap or a reconnect, without acks and without any state on the server worth
keeping, which suits a viewer that can always start again.  It starts at a stream sequence
(1 replays everything) or, with ``None``, at whatever arrives next.

``end_of_stream`` is the stream sequence of the newest message on a subject at the moment
of asking: a viewer that wants "everything up to now" (``book --once``, ``tail --last``)
reads until it has seen that sequence.

A message that does not decode (an engine newer than this tool may add output kinds) is
reported on stderr and delivered with no outputs rather than ending the view.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import NamedTuple

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from hypermarket.models import Output
from hypermarket.tools.client import Target
from hypermarket.wire import outputs_from_batch


class Delivery(NamedTuple):
    """One message of the output stream: its stream sequence and the outputs it carries."""

    stream_seq: int
    outputs: list[Output]


def output_subject(target: Target, market_id: int | None = None) -> str:
    """The subject of ``market_id``'s outputs (its shard's), or of every shard's with None."""
    if market_id is None:
        return f"{target.settings.output_subject_prefix}.>"
    return target.settings.output_subject(target.shard_of(market_id))


async def end_of_stream(client: Client, target: Target, subject: str) -> int:
    """The stream sequence of the newest message on ``subject``, 0 if there is none yet."""
    js = client.jetstream()
    stream = target.settings.output_stream
    try:
        await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        raise target.missing(f"the output stream {stream}") from None
    try:
        last = await js.get_last_msg(stream, subject)
    except nats.js.errors.NotFoundError:
        return 0
    return int(last.seq or 0)


async def _deliveries(subscription: JetStreamContext.PushSubscription) -> AsyncIterator[Delivery]:
    async for msg in subscription.messages:
        seq = int(msg.metadata.sequence.stream)
        try:
            outputs = outputs_from_batch(msg.data)
        except ValueError as problem:
            print(f"hypermarket: output message {seq} skipped: {problem}", file=sys.stderr)
            outputs = []  # still delivered: a reader waiting for ``seq`` must see it pass
        yield Delivery(seq, outputs)


@asynccontextmanager
async def follow_outputs(
    client: Client, target: Target, subject: str, start_seq: int | None
) -> AsyncIterator[AsyncIterator[Delivery]]:
    """The messages of ``subject`` in stream order from ``start_seq`` (None: only new ones)."""
    stream = target.settings.output_stream
    if start_seq is None:
        policy, config = DeliverPolicy.NEW, None
    else:
        policy, config = DeliverPolicy.BY_START_SEQUENCE, ConsumerConfig(opt_start_seq=start_seq)
    try:
        subscription = await client.jetstream().subscribe(
            subject, stream=stream, ordered_consumer=True, deliver_policy=policy, config=config
        )
    except nats.js.errors.NotFoundError:
        raise target.missing(f"the output stream {stream}") from None
    try:
        yield _deliveries(subscription)
    finally:
        with suppress(nats.errors.Error):
            await subscription.unsubscribe()
