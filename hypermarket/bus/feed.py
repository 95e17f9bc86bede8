"""A resumable ordered consumer: one JetStream subject, in stream order, from a sequence on.

Theory of operation
-------------------
An ``OrderedFeed`` lives on the asyncio loop of the NATS bridge and fills a ``Handoff`` that
one Trio task empties.  It keeps one number, ``next_seq``: the stream sequence of the next
message it has not handed over.  Everything else is disposable: the feed subscribes with a
nats-py *ordered* push consumer (an ephemeral, flow-controlled, ack-free consumer that nats-py
re-creates from the last sequence it saw when it notices a gap or two missed heartbeats)
starting at ``next_seq`` and filtered on the subject, and whenever in doubt it drops that
subscription and subscribes again at ``next_seq``.  Delivery is therefore exactly the
subject's messages with sequence >= the start, in order, each once: a message whose
sequence is below ``next_seq`` (a redelivery after a re-subscription) is skipped.

The feed re-subscribes

* after the connection was re-established (``restart``, wired to nats-py's
  ``reconnected_cb``).  A restarted server has forgotten the ephemeral consumer; nats-py
  would notice only after two missed idle heartbeats and then retries consumer creation
  every two heartbeats, so doing it at once shortens the gap to the reconnect itself;
* after it paused for backpressure (``resume``).

Backpressure, and why the feed pauses instead of leaning on flow control.  With a callback
subscription nats-py answers a JetStream flow-control request as soon as the message before
it has *arrived* in the client (``get_js_delivered`` counts received messages), not when the
callback has handled it, so the server never slows down for a slow callback.  Messages would
pile up in the subscription's pending queue and, at its limit, be dropped with only a
``SlowConsumerError`` on ``error_cb``, *after* the ordered consumer had already counted them
as seen: a silent gap.  So the feed subscribes with unlimited pending limits (nothing is ever
dropped), its callback never blocks, and when the ``Handoff`` reports it full the feed
ignores further deliveries and drops the subscription; when the Trio side has drained the
buffer to half, ``resume`` subscribes again at ``next_seq``.  What the server had sent in the
meantime is discarded and fetched again.  A shard slower than its stream thus costs one
consumer creation (about a millisecond) per half buffer, and the memory held is about one
buffer.

Before each subscription the feed checks that the stream still reaches ``next_seq - 1``.
A stream whose last sequence is below what was already consumed has lost acknowledged
messages (a server that ran without ``sync_interval: always`` and crashed) or was
re-created; new messages would reuse sequence numbers the write-ahead log already holds,
so the feed fails with ``StreamBehindError`` instead of going on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from hypermarket.bus.bridge import Handoff
from hypermarket.bus.errors import BusError, StreamBehindError

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 5.0


def stream_position(reply: str) -> tuple[int, int]:
    """The stream sequence and the stream's timestamp in ns of a JetStream delivery.

    Parsed from the reply subject, ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.
    <ts>.<pending>`` or the form with domain and account hash after ``ACK``.  nats-py's
    ``msg.metadata`` turns the timestamp into a ``datetime`` through a float, which keeps only
    microseconds; the event time of an input must be the stream's exact nanoseconds.
    """
    tokens = reply.split(".")
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5]), int(tokens[7])
    if len(tokens) >= 11 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[7]), int(tokens[9])
    raise BusError(f"not a JetStream delivery: reply subject {reply!r}")


class FeedStatistics:
    """Counters of a feed (or a sum of feeds), written on the asyncio thread, read from Trio."""

    def __init__(self) -> None:
        self.subscriptions = 0
        self.pauses = 0
        self.failed_subscriptions = 0

    def add(self, other: FeedStatistics) -> None:
        """Add ``other``'s counters to these."""
        self.subscriptions += other.subscriptions
        self.pauses += other.pauses
        self.failed_subscriptions += other.failed_subscriptions


class OrderedFeed(Generic[T]):
    """One subject of one stream, from ``next_seq`` on, into a ``Handoff`` (module docstring).

    ``next_seq`` None means "the newest message of each subject first" (a KV watch's
    initial values), after which the feed continues in stream order like any other.
    ``convert`` builds the handed-over item from the message, its stream sequence and its
    timestamp in ns.  All methods run on the asyncio loop.
    """

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        subject: str,
        next_seq: int | None,
        convert: Callable[[Msg, int, int], T],
        handoff: Handoff[T],
        idle_heartbeat_s: float,
    ) -> None:
        self._js = js
        self._stream = stream
        self._subject = subject
        self._next_seq = next_seq
        self._convert = convert
        self._handoff = handoff
        self._idle_heartbeat_s = idle_heartbeat_s
        self._sub: JetStreamContext.PushSubscription | None = None
        self._generation = 0
        self._paused = False
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.statistics = FeedStatistics()

    @property
    def name(self) -> str:
        """The stream and subject, for logs."""
        return f"{self._stream}:{self._subject}"

    async def start(self) -> None:
        """Subscribe (a failure raises here, to the caller) and start supervising."""
        try:
            self._sub = await self._subscribe()
        except nats.js.errors.NotFoundError as failure:
            raise BusError(f"feed {self.name}: no stream {self._stream}") from failure
        self._task = asyncio.create_task(self._supervise(), name=f"feed {self.name}")

    async def stop(self) -> None:
        """Stop supervising and drop the subscription."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._drop()

    def restart(self) -> None:
        """Subscribe again at ``next_seq`` (after a reconnect)."""
        self._kick.set()

    def resume(self) -> None:
        """The consumer drained the buffer: subscribe again if paused."""
        self._paused = False
        self._kick.set()

    async def _supervise(self) -> None:
        try:
            while True:
                await self._kick.wait()
                self._kick.clear()
                await self._drop()
                await self._subscribe_until_done()
        except BusError as failure:
            self._handoff.fail(failure)
        except Exception as failure:  # a bug: hand it to the consumer rather than hang
            logger.exception("feed %s stopped", self.name)
            self._handoff.fail(failure)

    async def _subscribe_until_done(self) -> None:
        """Subscribe, retrying transient failures with capped backoff, unless paused."""
        delay = _RETRY_FIRST_S
        while not self._paused and self._sub is None:
            try:
                self._sub = await self._subscribe()
            except nats.js.errors.NotFoundError as failure:
                raise BusError(f"feed {self.name}: no stream {self._stream}") from failure
            except (TimeoutError, nats.errors.Error, OSError) as failure:
                self.statistics.failed_subscriptions += 1
                logger.warning(
                    "feed %s: subscribing at sequence %s failed (%r); retrying in %.2f s",
                    self.name,
                    self._next_seq,
                    failure,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)

    async def _drop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is None:
            return
        try:
            await sub.unsubscribe()
        except nats.errors.Error as failure:
            # Closed or reconnecting connection, subscription already gone: the server
            # forgets an ephemeral consumer without interest by itself.
            logger.debug("feed %s: unsubscribe: %r", self.name, failure)

    async def _subscribe(self) -> JetStreamContext.PushSubscription:
        next_seq = self._next_seq
        if next_seq is not None:
            info = await self._js.stream_info(self._stream)
            if info.state.last_seq < next_seq - 1:
                raise StreamBehindError(self._stream, next_seq - 1, info.state.last_seq)
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(next_seq, 1)
            )
        else:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT)
        self._generation += 1
        sub = await self._js.subscribe(
            self._subject,
            stream=self._stream,
            cb=self._callback(self._generation),
            config=config,
            ordered_consumer=True,
            idle_heartbeat=self._idle_heartbeat_s,
            # Unlimited: nats-py drops on overflow after counting the message as seen.
            pending_msgs_limit=0,
            pending_bytes_limit=0,
        )
        self.statistics.subscriptions += 1
        logger.debug("feed %s: subscribed at %s", self.name, next_seq)
        return sub

    def _callback(self, generation: int) -> Callable[[Msg], Any]:
        async def on_message(msg: Msg) -> None:
            if generation != self._generation or self._paused:
                return  # a superseded subscription, or paused: fetched again later
            seq, ts_ns = stream_position(msg.reply)
            if self._next_seq is not None and seq < self._next_seq:
                return  # already handed over before a re-subscription
            self._next_seq = seq + 1
            if not self._handoff.put(self._convert(msg, seq, ts_ns)):
                self._paused = True
                self.statistics.pauses += 1
                self._kick.set()

        return on_message
