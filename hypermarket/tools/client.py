"""What every tool shares as a NATS client: where the engine is, connecting, and failing clearly.

Theory of operation
-------------------
A tool needs three things from the engine's set-up: the NATS servers (and credentials), the
names (subject prefixes, streams, bucket) and ``shard_count``, since an input for market ``m``
goes to ``<input prefix>.<m % shard_count>``.  They come from the same configuration the
engine reads, through ``hypermarket.config`` (so the ``HYPERMARKET_NATS_*`` variables and
every validation rule apply unchanged) and ``engine.runtime.bus_settings``, the one place
that turns a ``Config`` into subjects and stream names.  The servers, first found wins:

1. ``--nats URL[,URL...]``, read as ``$HYPERMARKET_NATS_URLS`` would be, so the config's
   checks judge it (and credentials are not refused as meant for an embedded server);
2. ``$HYPERMARKET_NATS_URLS``, then ``nats.urls`` of ``--config FILE``;
3. the engine's embedded server: its fixed ``embedded_nats.port``, else the port written in
   ``<store_dir>/nats-server.conf`` by the last start (``run --data-dir data`` in the same
   folder needs no flag at all);
4. ``nats://127.0.0.1:4222``.

``--shard-count`` overrides the config's (default 1).  Where the URL came from is kept in
``Target.source`` so that "cannot reach NATS" can say which setting to fix.

Errors: everything an operator can fix (no server, no stream, a bad value) becomes a
``ToolError`` whose message names the problem and the next step; ``run_tool`` prints it on
one line and returns exit status 2, never a traceback.  nats-py failures escaping a
``connect`` block are turned into ``ToolError`` there, with the server's description.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from hypermarket.bus.embedded import CONFIG_NAME, HOST
from hypermarket.bus.nats import BusSettings, credential_options
from hypermarket.config import ConfigError, default_config, load_config
from hypermarket.config.schema import Config
from hypermarket.engine.runtime import bus_settings

DEFAULT_URL: Final = "nats://127.0.0.1:4222"
URLS_VARIABLE: Final = "HYPERMARKET_NATS_URLS"
START_ENGINE: Final = "start it with `python -m hypermarket run`"
# How the embedded server's config file names its listen address (bus.embedded.server_config).
_LISTEN_LINE: Final = re.compile(r'^listen:\s*"([^"]+)"', re.MULTILINE)


class ToolError(Exception):
    """A problem the operator can fix; the message names it and says what to do (exit 2)."""


class Target(msgspec.Struct, frozen=True):
    """Where a tool talks to: the bus settings of the engine's config, its shard count, and
    where the server URL came from (for error messages)."""

    settings: BusSettings
    shard_count: int
    source: str

    @property
    def url(self) -> str:
        """The server URLs as one string, as the operator would type them."""
        return ",".join(self.settings.servers)

    def shard_of(self, market_id: int) -> int:
        """The shard that owns ``market_id`` (CONTRACT.md: ``market_id % shard_count``)."""
        return market_id % self.shard_count

    def missing(self, what: str) -> ToolError:
        """The error for a stream or bucket the engine should have created but that is absent."""
        return ToolError(
            f"{what} does not exist on NATS at {self.url}: the engine creates it when it "
            f"starts, so {START_ENGINE} (or pass --config with the engine's config if it "
            "uses other names)"
        )


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """``--nats``, ``--config`` and ``--shard-count``, the same on every tool."""
    group = parser.add_argument_group("where the engine is")
    group.add_argument(
        "--nats",
        metavar="URL",
        help=f"NATS server(s), comma-separated (default: ${URLS_VARIABLE}, the config's "
        f"nats.urls, the engine's embedded server, else {DEFAULT_URL})",
    )
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the engine's YAML config: NATS servers and credentials, subject prefixes, "
        "stream and bucket names, shard_count",
    )
    group.add_argument(
        "--shard-count", type=int, metavar="N", help="the engine's shard count (default: 1)"
    )


def _embedded_url(config: Config) -> str | None:
    """The URL of the engine's embedded server, if its port can be known."""
    if config.embedded_nats.port:
        return f"nats://{HOST}:{config.embedded_nats.port}"
    try:
        text = (config.embedded_nats.store_dir / CONFIG_NAME).read_text(encoding="utf-8")
    except OSError:
        return None
    found = _LISTEN_LINE.search(text)
    return f"nats://{found.group(1)}" if found else None


def _servers(flag: str | None, config: Config, config_path: Path | None) -> tuple[list[str], str]:
    """The servers and where they came from, in the order of the module docstring."""
    if config.nats.urls:
        if flag is not None:
            return list(config.nats.urls), "--nats"
        if os.environ.get(URLS_VARIABLE):
            return list(config.nats.urls), URLS_VARIABLE
        return list(config.nats.urls), f"nats.urls of {config_path}"
    embedded = _embedded_url(config)
    if embedded is not None:
        return [embedded], f"the embedded server of {config.embedded_nats.store_dir}"
    return [DEFAULT_URL], "the default"


def resolve_target(args: argparse.Namespace) -> Target:
    """The ``Target`` of a tool's connection flags; ``ToolError`` names a bad flag or config."""
    config_path: Path | None = args.config
    # --nats goes in as the variable would, so the config's checks see the servers (and
    # know that credentials are not meant for an embedded server).
    environ = dict(os.environ)
    if args.nats is not None:
        environ[URLS_VARIABLE] = args.nats
    try:
        if config_path is None:
            config = default_config(Path("data"), environ)
        else:
            config = load_config(config_path, environ)
    except ConfigError as problem:
        text = str(problem)
        if args.nats is not None:
            text = text.replace(URLS_VARIABLE, "--nats")
        raise ToolError(text) from None
    servers, source = _servers(args.nats, config, config_path)
    shard_count = config.shard_count if args.shard_count is None else args.shard_count
    if shard_count < 1:
        raise ToolError(f"--shard-count must be at least 1, got {shard_count}")
    try:
        settings = bus_settings(config, servers)
    except ValueError as problem:
        raise ToolError(f"cannot use these NATS settings: {problem}") from None
    return Target(settings, shard_count, source)


def _options(settings: BusSettings, tool: str) -> dict[str, Any]:
    """nats-py ``connect`` options of ``settings``: credentials and TLS as the engine uses them."""
    options: dict[str, Any] = {
        "servers": settings.servers,
        "name": f"hypermarket-{tool}",
        "connect_timeout": settings.connect_timeout_s,
        "reconnect_time_wait": settings.reconnect_wait_s,
        "max_reconnect_attempts": -1,  # the first connection is bounded by ``connect``
    }
    options.update(credential_options(settings))
    return options


def _refused_credentials(failure: Exception) -> bool:
    # nats-py reports the server's -ERR 'Authorization Violation' as a plain Error.
    return isinstance(failure, nats.errors.AuthorizationError) or (
        "authorization violation" in str(failure).lower()
    )


def _explain(failure: BaseException) -> str:
    """A nats-py exception as a phrase: the server's description when it gave one."""
    description = getattr(failure, "description", None)
    return str(description or failure or type(failure).__name__)


@asynccontextmanager
async def connect(target: Target, tool: str) -> AsyncIterator[Client]:
    """A connection to ``target``; closed on exit.

    The first connection is given ``connect_timeout_s`` (2 s by default): a tool should say
    quickly that nothing answers.  Once connected, reconnects are unlimited, so a ``tail``
    survives an engine restart; each loss is reported on stderr.  A nats-py error escaping
    the block becomes a ``ToolError`` naming the server.
    """
    failures: list[Exception] = []
    connected = False

    async def on_error(failure: Exception) -> None:
        # Without an error callback nats-py logs each failure with its traceback.
        failures.append(failure)

    async def on_disconnected() -> None:
        if connected and not client.is_closed:
            print(f"hypermarket {tool}: lost NATS at {target.url}; reconnecting", file=sys.stderr)

    async def on_reconnected() -> None:
        print(f"hypermarket {tool}: reconnected to NATS at {target.url}", file=sys.stderr)

    client = Client()
    options = _options(target.settings, tool)
    try:
        await asyncio.wait_for(
            client.connect(
                **options,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            ),
            target.settings.connect_timeout_s,
        )
    except (TimeoutError, nats.errors.Error, OSError) as failure:
        await client.close()
        if any(_refused_credentials(seen) for seen in failures):
            raise ToolError(
                f"NATS at {target.url} refused the credentials: check those of the config "
                "(nats.user and nats.password, nats.token, nats.creds_file, "
                "nats.nkeys_seed_file) or of the HYPERMARKET_NATS_* variables"
            ) from None
        reason = _explain(failures[-1] if failures else failure)
        raise ToolError(
            f"cannot reach NATS at {target.url} ({target.source}; {reason}): is the engine "
            f"running? {START_ENGINE}, or name the server with --nats URL"
        ) from None
    connected = True
    try:
        yield client
    except nats.js.errors.ServiceUnavailableError:
        raise ToolError(
            f"JetStream does not answer on NATS at {target.url}: is the server run with "
            "JetStream enabled (nats-server -js), or is its cluster still electing a leader?"
        ) from None
    except nats.errors.Error as failure:
        raise ToolError(f"NATS at {target.url}: {_explain(failure)}") from None
    finally:
        await client.close()


def run_tool(main: Coroutine[Any, Any, int]) -> int:
    """Run a tool's coroutine on a fresh asyncio loop; its exit status.

    ``ToolError`` prints ``hypermarket: <reason>`` and gives 2; an interruption gives 130;
    a closed pipe (``tail | head``) ends the tool without complaint.
    """
    try:
        return asyncio.run(main)
    except ToolError as problem:
        print(f"hypermarket: {problem}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM in ``demo``
        return 130
    except BrokenPipeError:
        # The interpreter would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
