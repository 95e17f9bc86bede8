"""The typed configuration: one frozen msgspec ``Struct`` per section of the YAML file.

The classes are the schema.  The loader (``convert``) walks them to type a YAML document, so a
field's Python type, its ``msgspec.Meta`` bounds and its default are the whole definition of an
option: there is no second list of keys or limits to keep in step.  Every struct is frozen,
forbids unknown fields and takes keyword arguments only (msgspec does not inherit
``kw_only``, hence no common base class).  A loaded ``Config`` holds absolute paths only and is
what the engine receives; the file syntax is described for operators in
``config/example.yaml``.

Four defaults depend on other settings and are therefore not msgspec defaults: ``shards`` (every
shard of ``shard_count``) and the three folders under ``data_dir``.  ``DERIVED`` lists them;
the loader fills them in, so a ``Config`` never holds "unset".  The msgspec defaults of whole
sections (``nats: NatsConfig = NatsConfig()``) serve code that builds a config directly; the
loader builds an absent section from an empty mapping instead, through the same walk.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final, Literal, NamedTuple

import msgspec

from hypermarket.core.state import DEFAULT_BOOK_DELTA_DEPTH
from hypermarket.models import MarketConfig
from hypermarket.persistence.wal import DEFAULT_SEGMENT_BYTES, FsyncMode
from hypermarket.persistence.wal_format import SEGMENT_HEADER_BYTES

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65_535)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Name = Annotated[str, msgspec.Meta(min_length=1)]

SECRET_FIELDS: Final = frozenset({"password", "token"})
REDACTED: Final = "<redacted>"


def shown(name: str, value: object) -> object:
    """``value`` as it may appear in a repr or a printout: secrets are replaced by a marker."""
    return REDACTED if name in SECRET_FIELDS and value is not None else value


class TlsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """TLS towards NATS: ``ca_file`` to trust a private CA; ``cert_file`` with ``key_file``
    for mutual TLS.  An empty section means TLS with the system's trusted CAs."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class NatsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where and how to connect; ``urls`` empty means "start the embedded server".

    At most one kind of credential is set (user with password, token, nkeys seed, creds
    file); the checks enforce it.  nats-py gives up reconnecting after 60 attempts unless
    told otherwise, so the default here is -1, unlimited: the engine should outlive an outage.
    """

    urls: tuple[str, ...] = ()
    name: Name = "hypermarket"
    user: str | None = None
    password: str | None = None
    token: str | None = None
    nkeys_seed_file: Path | None = None
    creds_file: Path | None = None
    tls: TlsConfig | None = None
    connect_timeout_s: Seconds = 2.0
    max_reconnect_attempts: Annotated[int, msgspec.Meta(ge=-1)] = -1
    reconnect_wait_s: Seconds = 2.0

    @property
    def embedded(self) -> bool:
        """True when the engine must start its own nats-server (no URL configured)."""
        return not self.urls

    def __repr__(self) -> str:
        # A repr reaches logs and tracebacks; a password must not.
        fields = (f"{name}={shown(name, getattr(self, name))!r}" for name in self.__struct_fields__)
        return f"NatsConfig({', '.join(fields)})"


class EmbeddedNatsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The nats-server child process used when ``nats.urls`` is empty (development, tests).

    ``sync_interval`` is nats-server's own option: "always" fsyncs every write before the
    acknowledgement, the only setting under which an acknowledged input survives a power cut.
    """

    port: Port = 0
    store_dir: Path
    sync_interval: Name = "always"


class StreamsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Names of the JetStream streams, subjects and KV bucket (CONTRACT.md, "Subjects")."""

    input_stream: Name = "CLOB_INPUTS"
    input_subject_prefix: Name = "clob.inputs"
    output_stream: Name = "CLOB_OUTPUTS"
    output_subject_prefix: Name = "clob.outputs"
    markets_bucket: Name = "MARKETS"
    duplicate_window_s: Positive = 120
    replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1


class WalConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The write-ahead log of each shard; the fields are ``persistence.Wal.open``'s."""

    dir: Path
    fsync: FsyncMode = "batch"
    fsync_interval_ms: Positive = 10
    segment_bytes: Annotated[int, msgspec.Meta(gt=SEGMENT_HEADER_BYTES)] = DEFAULT_SEGMENT_BYTES


class SnapshotsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """When each shard writes a snapshot, and how many it keeps."""

    dir: Path
    interval_inputs: Positive = 100_000
    keep: Positive = 3


class EngineConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The shard loops: batch size, book depth published, and the run-time switches."""

    batch_max: Positive = 512
    book_delta_depth: Positive = DEFAULT_BOOK_DELTA_DEPTH
    check_invariants: bool = False
    auction_timer: bool = True


def split_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``"host:port"`` (IPv6 hosts in brackets); ValueError says why not."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65_535:
        raise ValueError(f"{address!r} is not host:port with a port from 0 to 65535")
    if not host.strip("[]"):
        raise ValueError(f"{address!r} names no host (0.0.0.0:{port} listens on every interface)")
    return host.strip("[]"), int(port)


class MetricsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The Prometheus endpoint; an empty ``address`` switches it off."""

    address: str = "127.0.0.1:9464"

    @property
    def endpoint(self) -> tuple[str, int] | None:
        """``(host, port)`` to serve metrics on, or None when metrics are off."""
        return split_address(self.address) if self.address else None


class LogLevel(enum.StrEnum):
    """Names of ``logging`` levels; each member is the ``str`` that ``logging`` takes.

    An enum rather than a ``Literal`` because msgspec keeps a Literal's values sorted, and an
    error message should list the levels by severity.
    """

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class LogConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Structured logs on stderr: one JSON object per line, or text for a terminal."""

    format: Literal["json", "text"] = "json"
    level: LogLevel = LogLevel.INFO


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything one engine process needs.

    ``data_dir`` and ``shard_count`` come first because other defaults derive from them
    (``DERIVED``), and the loader types fields in this order.  ``shards`` are the shards this
    process owns; every market with ``market_id % shard_count`` in it is served here.
    ``markets`` are seeded into the ``MARKETS`` bucket; each passed ``config_problem``.
    """

    data_dir: Path = Path("data")
    shard_count: Positive = 1
    shards: tuple[NonNegative, ...]
    nats: NatsConfig = NatsConfig()
    embedded_nats: EmbeddedNatsConfig
    streams: StreamsConfig = StreamsConfig()
    markets: tuple[MarketConfig, ...] = ()
    wal: WalConfig
    snapshots: SnapshotsConfig
    engine: EngineConfig = EngineConfig()
    metrics: MetricsConfig = MetricsConfig()
    log: LogConfig = LogConfig()


class Derived(NamedTuple):
    """A default computed from the value of the top-level key ``source``."""

    source: str
    compute: Callable[[Any], object]


DERIVED: Final[dict[tuple[type[msgspec.Struct], str], Derived]] = {
    (Config, "shards"): Derived("shard_count", lambda count: tuple(range(count))),
    (EmbeddedNatsConfig, "store_dir"): Derived("data_dir", lambda data_dir: data_dir / "nats"),
    (WalConfig, "dir"): Derived("data_dir", lambda data_dir: data_dir / "wal"),
    (SnapshotsConfig, "dir"): Derived("data_dir", lambda data_dir: data_dir / "snapshots"),
}
