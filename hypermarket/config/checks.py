"""The rules a type cannot state: several fields together, files on disk, names NATS accepts.

``check`` is called by the walk (``convert``) on every struct it built, with the struct's key
path; it yields the problems of that struct alone, so a mistake in one section never hides the
problems of another.  Rules live elsewhere when they have an owner: a seed market is judged by
``models.config_problem`` (the one place market rules live) and must encode on the wire
(``wire.encode_input``, which knows the width of every proto field).

``label`` turns a key path into what the operator should look for: the path itself, or the
environment variable that supplied the value (``environment``), so a message about a conflict
names both origins.

Files the engine will read later (credentials, TLS material) are opened now: a missing
certificate should stop ``config check``, not the engine's first reconnect at 3 a.m.
"""

from __future__ import annotations

import re
import stat
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from hypermarket.config.errors import Problem
from hypermarket.config.schema import (
    Config,
    EmbeddedNatsConfig,
    MetricsConfig,
    NatsConfig,
    StreamsConfig,
    TlsConfig,
    split_address,
)
from hypermarket.models import Input, MarketConfig, UpsertMarket, config_problem
from hypermarket.wire import encode_input

Label = Callable[[str], str]

# The kinds of NATS credentials, each a tuple of the keys that make it up.
_CREDENTIALS: Final = (("user", "password"), ("token",), ("nkeys_seed_file",), ("creds_file",))
_URL_SCHEMES: Final = ("nats", "tls", "ws", "wss")
# nats-server parses sync_interval with Go's time.ParseDuration.
_DURATION: Final = re.compile(r"(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+")
# JetStream refuses these in stream names; KV bucket names are stricter still.
_STREAM_NAME: Final = re.compile(r"[^\s.*>/\\]+")
_BUCKET_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_SUBJECT_TOKEN: Final = re.compile(r"[^\s.*>]+")


def file_problem(path: Path) -> str | None:
    """Why the engine could not read the file ``path``, or None if it can.

    Only regular files pass: nats-py reads credentials again on every reconnect, which a pipe
    cannot serve, and opening a FIFO here would block the loader.
    """
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            return f"is a directory, not a file: {path}"
        if not stat.S_ISREG(mode):
            return f"is not a regular file: {path}"
        with path.open("rb"):
            pass
    except FileNotFoundError:
        return f"file does not exist: {path}"
    except PermissionError:
        return f"file is not readable (permission denied): {path}"
    except OSError as exc:
        return f"cannot read file: {path} ({exc.strerror})"
    return None


def _files(section: msgspec.Struct, names: tuple[str, ...], where: str) -> Iterator[Problem]:
    for name in names:
        path = getattr(section, name)
        if path is not None and (reason := file_problem(path)) is not None:
            yield Problem(f"{where}.{name}", reason)


def _url_problem(url: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what raises on a bad one
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in _URL_SCHEMES or not parts.hostname:
        schemes = ", ".join(_URL_SCHEMES)
        return f"{url!r} is not a NATS server URL such as nats://host:4222 ({schemes})"
    if parts.username is not None:
        return (
            f"{url!r} carries credentials; set them as nats.user and nats.password "
            "(or token) instead, where they are checked and kept out of logs"
        )
    return None


def _together(
    section: msgspec.Struct, pair: tuple[str, str], where: str, label: Label, why: str
) -> Iterator[Problem]:
    """A problem if just one of the two keys of ``pair`` is set: they only work together."""
    first, second = (getattr(section, name) is not None for name in pair)
    if first != second:
        present, missing = pair if first else pair[::-1]
        yield Problem(f"{where}.{present}", f"is set without {label(f'{where}.{missing}')}; {why}")


def _nats(nats: NatsConfig, where: str, label: Label) -> Iterator[Problem]:
    def key(name: str) -> str:
        return f"{where}.{name}"

    yield from _together(nats, ("user", "password"), where, label, "both are needed")
    given = [
        "+".join(label(key(name)) for name in method if getattr(nats, name) is not None)
        for method in _CREDENTIALS
        if any(getattr(nats, name) is not None for name in method)
    ]
    if len(given) > 1:
        methods = ", ".join("+".join(method) for method in _CREDENTIALS)
        yield Problem(where, f"conflicting credentials {' and '.join(given)}; use one of {methods}")
    yield from _files(nats, ("nkeys_seed_file", "creds_file"), where)
    for index, url in enumerate(nats.urls):
        if (reason := _url_problem(url)) is not None:
            yield Problem(f"{key('urls')}[{index}]", reason)
    if nats.embedded:
        for name in (*(name for method in _CREDENTIALS for name in method), "tls"):
            if getattr(nats, name) is not None:
                yield Problem(
                    key(name),
                    f"is set, but {key('urls')} is empty: the engine then starts its embedded "
                    "server, which takes no credentials or TLS",
                )


def _tls(tls: TlsConfig, where: str, label: Label) -> Iterator[Problem]:
    why = "mutual TLS needs the certificate and its key"
    yield from _together(tls, ("cert_file", "key_file"), where, label, why)
    yield from _files(tls, ("ca_file", "cert_file", "key_file"), where)


def _embedded(embedded: EmbeddedNatsConfig, where: str) -> Iterator[Problem]:
    interval = embedded.sync_interval
    if interval != "always" and not _DURATION.fullmatch(interval):
        yield Problem(
            f"{where}.sync_interval",
            f"must be 'always' or a duration such as '2m' or '10s', got {interval!r}",
        )


def _valid(name: str, pattern: re.Pattern[str]) -> bool:
    return pattern.fullmatch(name) is not None and name.isprintable()


def _streams(streams: StreamsConfig, where: str) -> Iterator[Problem]:
    def key(name: str) -> str:
        return f"{where}.{name}"

    stream = "stream name (no spaces, '.', '*', '>', '/' or '\\')"
    names = (
        ("input_stream", _STREAM_NAME, stream),
        ("output_stream", _STREAM_NAME, stream),
        ("markets_bucket", _BUCKET_NAME, "bucket name (letters, digits, '-' and '_')"),
    )
    for name, pattern, what in names:
        value = getattr(streams, name)
        if not _valid(value, pattern):
            yield Problem(key(name), f"{value!r} is not a valid {what}")
    if streams.input_stream == streams.output_stream:
        yield Problem(key("output_stream"), f"is the same stream as {key('input_stream')}")
    for name in ("input_subject_prefix", "output_subject_prefix"):
        value = getattr(streams, name)
        if not all(_valid(token, _SUBJECT_TOKEN) for token in value.split(".")):
            yield Problem(
                key(name),
                f"{value!r} is not a subject prefix (tokens joined by '.', no spaces or wildcards)",
            )
    inputs = streams.input_subject_prefix.split(".")
    outputs = streams.output_subject_prefix.split(".")
    shorter = min(len(inputs), len(outputs))
    if inputs[:shorter] == outputs[:shorter]:
        yield Problem(
            key("output_subject_prefix"),
            f"overlaps {key('input_subject_prefix')}; two streams cannot share subjects",
        )


def _market(market: MarketConfig, where: str) -> Iterator[Problem]:
    problem = config_problem(market)
    if problem is None:
        try:
            encode_input(Input(UpsertMarket(market, revision=0)))
        except ValueError as exc:  # a number wider than its proto field
            problem = f"does not fit the wire format ({exc})"
    if problem is not None:
        yield Problem(f"{where} (market_id {market.market_id})", problem)


def _config(config: Config) -> Iterator[Problem]:
    if not config.shards:
        yield Problem("shards", "lists no shard; leave the key out to own every shard")
    first: dict[int, int] = {}
    for index, shard in enumerate(config.shards):
        if shard >= config.shard_count:
            yield Problem(
                f"shards[{index}]", f"{shard} is not below shard_count {config.shard_count}"
            )
        elif first.setdefault(shard, index) != index:
            yield Problem(
                f"shards[{index}]", f"{shard} is listed twice (also shards[{first[shard]}])"
            )
    defined: dict[int, int] = {}
    for index, market in enumerate(config.markets):
        market_id = market.market_id
        if defined.setdefault(market_id, index) != index:
            yield Problem(
                f"markets[{index}] (market_id {market_id})",
                f"market_id {market_id} is already defined by markets[{defined[market_id]}]",
            )
    if config.nats.embedded and config.streams.replicas > 1:
        yield Problem(
            "streams.replicas",
            "must be 1 while nats.urls is empty: the embedded server is a single node",
        )


def check(value: msgspec.Struct, where: str, label: Label) -> Iterator[Problem]:
    """The problems of the struct ``value`` found at key path ``where``, beyond its types."""
    match value:
        case Config():
            yield from _config(value)
        case NatsConfig():
            yield from _nats(value, where, label)
        case TlsConfig():
            yield from _tls(value, where, label)
        case EmbeddedNatsConfig():
            yield from _embedded(value, where)
        case StreamsConfig():
            yield from _streams(value, where)
        case MetricsConfig() if value.address:
            try:
                split_address(value.address)
            except ValueError as exc:
                yield Problem(f"{where}.address", str(exc))
        case MarketConfig():
            yield from _market(value, where)
