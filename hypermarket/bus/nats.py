"""``NatsBus``: the engine's ``Bus`` over NATS JetStream, through nats-py on its own thread.

Theory of operation
-------------------
nats-py runs on a plain asyncio loop in one dedicated thread (``bridge.AsyncioThread``);
its half of the bus is ``_Session``, which owns the connection and does every NATS call.
``NatsBus`` is the Trio half: each method is one crossing into the loop, and every crossing
carries a batch (``publish_outputs`` publishes a whole batch in one call; a consumer hands
Trio everything buffered at once).  ``bridge_bench`` measures this bridge against
trio-asyncio and Trio's guest mode.

Consuming.  A shard consumes ``<input prefix>.<shard>`` of the input stream through an
``feed.OrderedFeed``: a nats-py ordered push consumer (flow control, idle heartbeats, no
acks) started at the shard's next stream sequence, re-created at the sequence after the
last one handed over whenever the connection comes back, paused while the shard is behind.
The write-ahead log, not consumer acknowledgements, remembers how far a shard got, so the
consumers are ephemeral and cost nothing to drop.  The KV watch is the same machinery on
the bucket's stream (``$KV.<bucket>.>``), started at the newest entry of each key: when a
restarted server forgets the watch's consumer, the watch is re-created from the revision
after the last one it delivered.

Publishing outputs.  A batch goes out as core publishes, each with its ``Nats-Msg-Id``,
and only its last message is published with a JetStream acknowledgement.  One client
connection's messages reach a stream in order, so the acknowledgement of the last one
means every earlier one has been processed too: one round trip per batch, without polling.
What TCP ordering cannot cover is a reconnect in the middle of the batch (messages written
into the dying connection are lost while later ones arrive), so if the reconnect counter
moved, or the acknowledgement failed, the whole batch is published again with an
acknowledgement per message; the stream's duplicate window drops what was already stored.
``bridge_bench.run_publish_bench`` measures this against per-message acknowledgements.

Connection.  Reconnects are unlimited by default (nats-py gives up after 60), and
``error_cb``, ``disconnected_cb``, ``reconnected_cb`` and ``closed_cb`` log what happens:
nats-py drops a slow subscription's messages with nothing but an ``error_cb`` call.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from enum import Enum
from typing import Any, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
import trio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

from hypermarket.bus.bridge import AsyncioThread, Handoff, open_asyncio_thread
from hypermarket.bus.errors import BusError, StreamConfigError
from hypermarket.bus.feed import FeedStatistics, OrderedFeed
from hypermarket.bus.protocol import InputMessage, KvEntry, OutputMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")

MSG_ID_HEADER = "Nats-Msg-Id"
_KV_OPERATION_HEADER = "KV-Operation"
_KV_DELETIONS = ("DEL", "PURGE")
_MARKER_REASON_HEADER = "Nats-Marker-Reason"  # server-placed deletion markers (2.11+)

# Failures after which publishing again may succeed: the connection is down or coming back,
# or JetStream is (re)starting or electing a leader.
_TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    TimeoutError,
)
_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 5.0


class BusSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to reach NATS and which streams to use.  Times are in seconds.

    At most one way to authenticate: ``user``/``password``, ``token``, ``creds_file`` (a JWT
    and its nkey seed) or ``nkeys_seed_file`` (the ``nkeys`` extra of nats-py is a dependency).
    ``tls_ca_file`` verifies the server; ``tls_cert_file`` with ``tls_key_file`` is the client's
    certificate for mutual TLS.
    """

    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    name: str = "hypermarket"
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | None = None
    nkeys_seed_file: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    connect_timeout_s: float = 5.0
    initial_connect_timeout_s: float = 30.0  # give up start-up after this long without a server
    max_reconnect_attempts: int = -1  # unlimited
    reconnect_wait_s: float = 2.0
    request_timeout_s: float = 5.0  # JetStream API calls and acknowledgements
    input_stream: str = "CLOB_INPUTS"
    input_subject_prefix: str = "clob.inputs"
    output_stream: str = "CLOB_OUTPUTS"
    output_subject_prefix: str = "clob.outputs"
    markets_bucket: str = "MARKETS"
    duplicate_window_s: float = 120.0
    replicas: int = 1
    idle_heartbeat_s: float = 5.0  # of the ordered consumers; two missed ones re-create them
    consumer_buffer: int = 8192  # messages a consumer holds for a slow shard before it pauses

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.servers:
            problems.append("servers is empty")
        ways = [
            name
            for name, value in (
                ("user", self.user),
                ("token", self.token),
                ("creds_file", self.creds_file),
                ("nkeys_seed_file", self.nkeys_seed_file),
            )
            if value is not None
        ]
        if len(ways) > 1:
            problems.append(f"choose one way to authenticate, not {' and '.join(ways)}")
        if self.password is not None and self.user is None:
            problems.append("password is set without user")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            problems.append("tls_cert_file and tls_key_file go together")
        if not 1 <= self.replicas <= 5:
            problems.append(f"replicas must be 1 to 5, got {self.replicas}")
        if self.max_reconnect_attempts < -1:
            problems.append("max_reconnect_attempts must be -1 (unlimited) or more")
        for name in ("connect_timeout_s", "initial_connect_timeout_s", "request_timeout_s"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        if self.duplicate_window_s <= 0 or self.idle_heartbeat_s <= 0:
            problems.append("duplicate_window_s and idle_heartbeat_s must be positive")
        if self.reconnect_wait_s < 0:
            problems.append("reconnect_wait_s must not be negative")
        if self.consumer_buffer < 1:
            problems.append("consumer_buffer must be at least 1")
        if problems:
            raise ValueError("; ".join(problems))

    def input_subject(self, shard: int) -> str:
        """The subject of shard ``shard``'s inputs."""
        return f"{self.input_subject_prefix}.{shard}"

    def output_subject(self, shard: int) -> str:
        """The subject of shard ``shard``'s outputs."""
        return f"{self.output_subject_prefix}.{shard}"


def credential_options(settings: BusSettings) -> dict[str, Any]:
    """nats-py ``connect`` options for the credentials and TLS of ``settings``.

    The engine's bus and the operator tools connect with exactly these, so a
    config that works for one works for the other.
    """
    options: dict[str, Any] = {}
    if settings.user is not None:
        options["user"] = settings.user
        options["password"] = settings.password
    if settings.token is not None:
        options["token"] = settings.token
    if settings.creds_file is not None:
        options["user_credentials"] = settings.creds_file
    elif settings.nkeys_seed_file is not None:
        options["nkeys_seed"] = settings.nkeys_seed_file
    if settings.tls_ca_file is not None or settings.tls_cert_file is not None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.tls_ca_file)
        if settings.tls_cert_file is not None:
            context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
        options["tls"] = context
    return options


class BusStatistics(msgspec.Struct, frozen=True):
    """What the bus has been through since it opened (the metrics read this)."""

    connected: bool
    disconnects: int
    reconnects: int
    errors: int
    slow_consumer_drops: int
    republished_batches: int
    consumers: int
    consumer_subscriptions: int
    consumer_pauses: int
    consumer_failed_subscriptions: int


def input_message(msg: Msg, seq: int, ts_ns: int) -> InputMessage:
    """The ``InputMessage`` of a delivery of the input stream (a feed's converter)."""
    return InputMessage(seq, ts_ns, msg.data)


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


def _differences(actual: StreamConfig, wanted: StreamConfig, fields: tuple[str, ...]) -> list[str]:
    found = []
    for field in fields:
        have, want = _plain(getattr(actual, field)), _plain(getattr(wanted, field))
        if field == "subjects":
            have, want = sorted(have or []), sorted(want or [])  # type: ignore[call-overload]
        if have != want:
            found.append(f"{field} is {have!r}, expected {want!r}")
    return found


class _Session:
    """The asyncio half: the connection, the streams, the feeds.  Every method runs on the loop."""

    def __init__(self, settings: BusSettings) -> None:
        self.settings = settings
        self.nc = Client()
        self._js: JetStreamContext | None = None
        self._kv: KeyValue | None = None
        self.feeds: set[OrderedFeed[Any]] = set()
        self.retired = FeedStatistics()  # the counters of feeds that have stopped
        self.closing = False
        self.disconnects = 0
        self.errors = 0
        self.slow_consumer_drops = 0
        self.republished_batches = 0

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "connect() first"
        return self._js

    async def connect(self) -> None:
        settings = self.settings
        options: dict[str, Any] = {
            "servers": settings.servers,
            "name": settings.name,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "closed_cb": self._on_closed,
            "connect_timeout": settings.connect_timeout_s,
            "reconnect_time_wait": settings.reconnect_wait_s,
            "max_reconnect_attempts": settings.max_reconnect_attempts,
            "allow_reconnect": True,
        }
        options.update(credential_options(settings))
        try:
            await asyncio.wait_for(self.nc.connect(**options), settings.initial_connect_timeout_s)
        except (TimeoutError, nats.errors.Error, OSError) as failure:
            await self.nc.close()
            raise BusError(
                f"cannot connect to NATS at {', '.join(settings.servers)} "
                f"within {settings.initial_connect_timeout_s} s: {failure!r} "
                "(the log has every attempt's error)"
            ) from failure
        self._js = self.nc.jetstream(timeout=settings.request_timeout_s)
        logger.info("connected to NATS at %s", _netloc(self.nc))

    async def close(self) -> None:
        self.closing = True
        for feed in list(self.feeds):
            await self.stop_feed(feed)
        await self.nc.close()

    # -- connection events -------------------------------------------------------------

    async def _on_error(self, error: Exception) -> None:
        if isinstance(error, nats.errors.SlowConsumerError):
            self.slow_consumer_drops += 1
            count = self.slow_consumer_drops
            if count & (count - 1) == 0:  # 1, 2, 4, 8, ...: loud but not a flood
                logger.error(
                    "NATS slow consumer on %s: a message was dropped (%d so far)",
                    error.subject,
                    count,
                )
            return
        self.errors += 1
        logger.warning("NATS error: %r", error)

    async def _on_disconnected(self) -> None:
        if self.closing:
            return
        self.disconnects += 1
        logger.warning("disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        logger.warning(
            "reconnected to NATS at %s; re-creating %d consumers",
            _netloc(self.nc),
            len(self.feeds),
        )
        for feed in self.feeds:
            feed.restart()

    async def _on_closed(self) -> None:
        logger.info("NATS connection closed")

    # -- streams ------------------------------------------------------------------------

    async def ensure_streams(self) -> None:
        settings = self.settings
        common: dict[str, Any] = {
            "retention": RetentionPolicy.LIMITS,
            "storage": StorageType.FILE,
            "num_replicas": settings.replicas,
            "duplicate_window": settings.duplicate_window_s,
        }
        inputs = StreamConfig(
            name=settings.input_stream,
            subjects=[f"{settings.input_subject_prefix}.>"],
            deny_delete=True,
            deny_purge=True,
            **common,
        )
        outputs = StreamConfig(
            name=settings.output_stream,
            subjects=[f"{settings.output_subject_prefix}.>"],
            **common,
        )
        checked = ("subjects", "retention", "storage", "num_replicas", "duplicate_window")
        await self._ensure_stream(inputs, (*checked, "deny_delete", "deny_purge"))
        await self._ensure_stream(outputs, checked)
        await self._ensure_bucket()

    async def _ensure_stream(self, wanted: StreamConfig, fields: tuple[str, ...]) -> None:
        assert wanted.name is not None
        try:
            info = await self.js.stream_info(wanted.name)
        except nats.js.errors.NotFoundError:
            await self.js.add_stream(wanted)
            logger.info("created stream %s", wanted.name)
            return
        differences = _differences(info.config, wanted, fields)
        if differences:
            raise StreamConfigError(wanted.name, differences)

    async def _ensure_bucket(self) -> None:
        settings = self.settings
        try:
            self._kv = await self.js.key_value(settings.markets_bucket)
        except nats.js.errors.BucketNotFoundError:
            self._kv = await self.js.create_key_value(
                bucket=settings.markets_bucket,
                storage=StorageType.FILE,
                replicas=settings.replicas,
            )
            logger.info("created KV bucket %s", settings.markets_bucket)
            return
        info = await self.js.stream_info(_bucket_stream(settings.markets_bucket))
        wanted = StreamConfig(storage=StorageType.FILE, num_replicas=settings.replicas)
        differences = _differences(info.config, wanted, ("storage", "num_replicas"))
        if differences:
            raise StreamConfigError(_bucket_stream(settings.markets_bucket), differences)

    async def bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.js.key_value(self.settings.markets_bucket)
        return self._kv

    # -- feeds ----------------------------------------------------------------------------

    async def start_feed(self, feed: OrderedFeed[Any]) -> None:
        await feed.start()
        self.feeds.add(feed)

    async def stop_feed(self, feed: OrderedFeed[Any]) -> None:
        self.feeds.discard(feed)
        await feed.stop()
        self.retired.add(feed.statistics)

    # -- publishing -----------------------------------------------------------------------

    async def publish_outputs(self, subject: str, messages: list[OutputMessage]) -> None:
        reconnects = self.nc.stats["reconnects"]
        try:
            for message in messages[:-1]:
                await self.nc.publish(
                    subject, message.data, headers={MSG_ID_HEADER: message.msg_id}
                )
            last = messages[-1]
            await self.js.publish(
                subject,
                last.data,
                headers={MSG_ID_HEADER: last.msg_id},
                stream=self.settings.output_stream,
            )
        except _TRANSIENT as failure:
            logger.warning("publishing %d outputs on %s: %r", len(messages), subject, failure)
        else:
            if self.nc.stats["reconnects"] == reconnects:
                return
        self.republished_batches += 1
        await self._publish_each_acked(subject, messages)

    async def _publish_each_acked(self, subject: str, messages: list[OutputMessage]) -> None:
        """Publish every message with its own acknowledgement until all are acknowledged."""
        delay = _RETRY_FIRST_S
        while True:
            results = await asyncio.gather(
                *(
                    self.js.publish(
                        subject,
                        message.data,
                        headers={MSG_ID_HEADER: message.msg_id},
                        stream=self.settings.output_stream,
                    )
                    for message in messages
                ),
                return_exceptions=True,
            )
            failures = [result for result in results if isinstance(result, BaseException)]
            if not failures:
                return
            permanent = [failure for failure in failures if not isinstance(failure, _TRANSIENT)]
            if permanent:
                raise permanent[0]
            logger.warning(
                "publishing %d outputs on %s: %d not acknowledged (%r); retrying in %.2f s",
                len(messages),
                subject,
                len(failures),
                failures[0],
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def last_msg_id(self, stream: str, subject: str) -> str | None:
        # Not a direct get: that may be answered by a replica that lags the leader.
        try:
            msg = await self.js.get_last_msg(stream, subject)
        except nats.js.errors.NotFoundError:
            return None
        headers = msg.headers or {}
        msg_id = headers.get(MSG_ID_HEADER)
        return str(msg_id) if msg_id is not None else None

    async def publish_input(self, subject: str, data: bytes) -> int:
        ack = await self.js.publish(subject, data, stream=self.settings.input_stream)
        return int(ack.seq)

    # -- markets bucket -------------------------------------------------------------------

    async def kv_create(self, key: str, value: bytes) -> int | None:
        kv = await self.bucket()
        try:
            return int(await kv.create(key, value))
        except nats.js.errors.KeyWrongLastSequenceError:
            return None

    async def kv_put(self, key: str, value: bytes) -> int:
        kv = await self.bucket()
        return int(await kv.put(key, value))

    async def kv_delete(self, key: str) -> None:
        kv = await self.bucket()
        await kv.delete(key)


def _netloc(nc: Client) -> str:
    url = nc.connected_url
    return str(url.netloc) if url is not None else "?"


def _bucket_stream(bucket: str) -> str:
    return f"KV_{bucket}"


def _kv_entry(prefix: str) -> Callable[[Msg, int, int], KvEntry]:
    def convert(msg: Msg, seq: int, ts_ns: int) -> KvEntry:
        headers = msg.headers or {}
        deleted = (
            headers.get(_KV_OPERATION_HEADER) in _KV_DELETIONS or _MARKER_REASON_HEADER in headers
        )
        return KvEntry(msg.subject[len(prefix) :], seq, None if deleted else msg.data)

    return convert


async def _batches(handoff: Handoff[T], batch_max: int) -> AsyncIterator[list[T]]:
    while True:
        yield await handoff.take(batch_max)


async def _entries(handoff: Handoff[T], batch_max: int) -> AsyncIterator[T]:
    while True:
        for item in await handoff.take(batch_max):
            yield item


class NatsBus:
    """The ``Bus`` over JetStream (see the module docstring); open it with ``open_nats_bus``."""

    def __init__(self, settings: BusSettings, thread: AsyncioThread, session: _Session) -> None:
        self._settings = settings
        self._thread = thread
        self._session = session

    @property
    def settings(self) -> BusSettings:
        """The settings the bus was opened with."""
        return self._settings

    def statistics(self) -> BusStatistics:
        """A snapshot of the counters (read without crossing into the loop)."""
        session = self._session
        totals = FeedStatistics()
        totals.add(session.retired)
        for feed in list(session.feeds):
            totals.add(feed.statistics)
        return BusStatistics(
            connected=session.nc.is_connected,
            disconnects=session.disconnects,
            reconnects=int(session.nc.stats["reconnects"]),
            errors=session.errors,
            slow_consumer_drops=session.slow_consumer_drops,
            republished_batches=session.republished_batches,
            consumers=len(session.feeds),
            consumer_subscriptions=totals.subscriptions,
            consumer_pauses=totals.pauses,
            consumer_failed_subscriptions=totals.failed_subscriptions,
        )

    async def ensure_streams(self) -> None:
        """Create the input and output streams and the markets bucket, or check them.

        An existing stream must have the configured subjects, file storage, limits retention,
        the replicas and duplicate window of the settings, and (inputs) ``deny_delete`` and
        ``deny_purge``; otherwise ``StreamConfigError`` lists every difference.  The engine
        never changes an existing stream.
        """
        await self._thread.run(self._session.ensure_streams)

    @asynccontextmanager
    async def _open_feed(
        self,
        stream: str,
        subject: str,
        next_seq: int | None,
        convert: Callable[[Msg, int, int], T],
        capacity: int,
    ) -> AsyncIterator[Handoff[T]]:
        def on_drained() -> None:
            self._thread.call_soon(feed.resume)

        handoff: Handoff[T] = Handoff(trio.lowlevel.current_trio_token(), capacity, on_drained)
        feed = OrderedFeed(
            self._session.js,
            stream,
            subject,
            next_seq,
            convert,
            handoff,
            self._settings.idle_heartbeat_s,
        )
        await self._thread.run(self._session.start_feed, feed)
        try:
            yield handoff
        finally:
            with trio.CancelScope(shield=True):
                await self._thread.run(self._session.stop_feed, feed)

    @asynccontextmanager
    async def consume(
        self, shard: int, start_seq: int, batch_max: int
    ) -> AsyncIterator[AsyncIterator[list[InputMessage]]]:
        """Batches of shard ``shard``'s inputs from stream sequence ``start_seq`` on, in order.

        A batch holds at most ``batch_max`` messages and is handed over as soon as any are
        there.  Iterating raises ``StreamBehindError`` if the stream ends before
        ``start_seq - 1`` (now or after a server restart): it lost messages.
        """
        settings = self._settings
        async with self._open_feed(
            settings.input_stream,
            settings.input_subject(shard),
            max(start_seq, 1),
            input_message,
            max(settings.consumer_buffer, batch_max),
        ) as handoff:
            yield _batches(handoff, batch_max)

    async def publish_outputs(self, shard: int, messages: list[OutputMessage]) -> None:
        """Store ``messages`` on the shard's output subject; returns when all are stored.

        A message whose ``msg_id`` the stream stored within its duplicate window is dropped
        by the stream.  Transient failures (a reconnect, a leader election) are retried
        until the batch is stored; anything else raises.
        """
        if messages:
            subject = self._settings.output_subject(shard)
            await self._thread.run(self._session.publish_outputs, subject, messages)

    async def last_output_id(self, shard: int) -> str | None:
        """The ``Nats-Msg-Id`` of the newest stored output of ``shard``, read from the leader."""
        return await self._thread.run(
            self._session.last_msg_id,
            self._settings.output_stream,
            self._settings.output_subject(shard),
        )

    async def publish_input(self, shard: int, data: bytes) -> int:
        """Append one input to the shard's input subject; returns its stream sequence."""
        return await self._thread.run(
            self._session.publish_input, self._settings.input_subject(shard), data
        )

    async def kv_create(self, key: str, value: bytes) -> int | None:
        """Create ``key`` unless it holds a value; the new revision, or None if it existed."""
        return await self._thread.run(self._session.kv_create, key, value)

    async def kv_put(self, key: str, value: bytes) -> int:
        """Write ``key``; returns the new revision."""
        return await self._thread.run(self._session.kv_put, key, value)

    async def kv_delete(self, key: str) -> None:
        """Delete ``key`` (a watch sees an entry with value None); not part of ``Bus``."""
        await self._thread.run(self._session.kv_delete, key)

    @asynccontextmanager
    async def kv_watch(self) -> AsyncIterator[AsyncIterator[KvEntry]]:
        """Every current entry of the markets bucket, then every change, in revision order.

        Deleted keys come with value None.  After a reconnect the watch resumes at the
        revision after the last one it delivered.
        """
        bucket = self._settings.markets_bucket
        prefix = f"$KV.{bucket}."
        capacity = self._settings.consumer_buffer
        async with self._open_feed(
            _bucket_stream(bucket), f"{prefix}>", None, _kv_entry(prefix), capacity
        ) as handoff:
            yield _entries(handoff, capacity)


@asynccontextmanager
async def open_nats_bus(settings: BusSettings) -> AsyncIterator[NatsBus]:
    """A connected ``NatsBus``; on exit its consumers stop and the connection closes.

    Raises ``BusError`` if no server answers within ``settings.initial_connect_timeout_s``.
    Once connected, the bus reconnects by itself (unlimited by default).
    """
    async with open_asyncio_thread("hypermarket-nats") as thread:
        session = _Session(settings)
        await thread.run(session.connect)
        try:
            yield NatsBus(settings, thread, session)
        finally:
            with trio.CancelScope(shield=True):
                await thread.run(session.close)
