"""Engine configuration: a YAML file turned into frozen, typed, checked values.

Theory of operation
-------------------
A configuration is checked once, at the edge, and the engine trusts it afterwards: every
section is a frozen msgspec ``Struct`` (``schema``) holding absolute paths, enum members and
numbers within bounds, and a ``Config`` exists only if nothing was wrong.  Loading is a
pipeline of small steps, each of which can only add problems:

1. ``document``: bytes -> text -> YAML -> one mapping.  A file that fails here fails as a
   whole (missing, unreadable, not UTF-8, invalid YAML with ``file:line:column``, a duplicate
   key, empty, not a mapping): one line, nothing more to say.
2. ``environment``: ``HYPERMARKET_NATS_*`` variables overwrite ``nats`` keys and remember
   which key paths they supplied, so problems with those values name the variable.
3. ``convert``: a walk of the schema types the mapping field by field, reporting unknown keys
   (with a did-you-mean), wrong types, out-of-bound values and missing keys, and fills in the
   defaults, including those derived from other keys (``schema.DERIVED``).
4. ``checks``: rules over several fields and the outside world, run on every struct the walk
   could build: conflicting credentials, unreadable certificates, shards out of range,
   invalid names, and each seed market judged by ``models.config_problem``, the single place
   market rules live.

All problems of steps 2 to 4 are collected and raised together as one ``ConfigError``, one
line per problem (``file: key.path: reason``), so an operator fixes a file in one round.
``describe`` prints the effective configuration back as YAML.

What is deliberately not here: starting servers, creating folders, or reading the contents of
credential files beyond checking that they can be opened.  Those belong to the engine.
"""

from hypermarket.config.describe import describe
from hypermarket.config.environment import VARIABLES
from hypermarket.config.errors import ConfigError
from hypermarket.config.loader import default_config, load_config
from hypermarket.config.schema import (
    Config,
    EmbeddedNatsConfig,
    EngineConfig,
    LogConfig,
    LogLevel,
    MetricsConfig,
    NatsConfig,
    SnapshotsConfig,
    StreamsConfig,
    TlsConfig,
    WalConfig,
)

__all__ = [
    "VARIABLES",
    "Config",
    "ConfigError",
    "EmbeddedNatsConfig",
    "EngineConfig",
    "LogConfig",
    "LogLevel",
    "MetricsConfig",
    "NatsConfig",
    "SnapshotsConfig",
    "StreamsConfig",
    "TlsConfig",
    "WalConfig",
    "default_config",
    "describe",
    "load_config",
]
