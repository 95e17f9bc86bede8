"""``python -m hypermarket markets put|list|get``: the ``MARKETS`` bucket, where markets live.

The engine's market watcher turns every revision of key ``<market_id>`` into an
``UpsertMarket`` input, so writing the bucket is how an operator creates or changes a
market; the engine answers on the output stream with ``MarketUpdated`` (``tail --market
ID`` shows it).  ``put`` checks the config first, with the bucket's JSON codec
(``wire.market_json``: types, enum names, unknown fields) and the core's own rules
(``models.config_problem``), so a mistake is reported here in one line and never reaches
the engine.

``put`` takes a JSON file (the form ``get`` prints), a flag for every ``MarketConfig`` field,
or both: flags change the file's values.  A field named nowhere takes ``MarketConfig``'s
default, because a bucket value is a whole config, never a patch; so when the key already
exists, ``put`` prints every field that changes, and a forgotten one shows.  The write is a
compare-and-set against the revision just read: two operators cannot overwrite each other
unseen.  Writing the config a key already holds is skipped (it would only make the engine
apply the same config again).
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import nats.js.errors
from nats.aio.client import Client
from nats.js.kv import KeyValue

from hypermarket.models import MarketConfig, change_problem, config_problem
from hypermarket.tools.arguments import add_enum_flag, add_tool, enum_name
from hypermarket.tools.client import Target, ToolError, connect, resolve_target, run_tool
from hypermarket.wire.market_json import market_from_json, market_to_json

_FIELDS = msgspec.structs.fields(MarketConfig)

PUT_EXAMPLES = """
python -m hypermarket markets put --market-id 1 --symbol BTC-PERP --contract-multiplier 1000
python -m hypermarket markets put eth.json --status halted
python -m hypermarket markets put --market-id 2 --symbol ETH-PERP --matching-mode batch \\
    --auction-interval-ms 1000
"""


class Written(NamedTuple):
    """What ``put_market`` did: the key's revision now, and the config it replaced."""

    revision: int
    previous: MarketConfig | None
    changed: bool


async def _bucket(client: Client, target: Target) -> KeyValue:
    bucket = target.settings.markets_bucket
    try:
        return await client.jetstream().key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        raise target.missing(f"the KV bucket {bucket}") from None


def _read(value: bytes | None) -> MarketConfig | None:
    """The config in a bucket value; None when it cannot be read (written by hand)."""
    try:
        return market_from_json(value or b"")
    except ValueError:
        return None


async def put_market(client: Client, target: Target, config: MarketConfig) -> Written:
    """Validate ``config`` and write it under its key, unless the key holds it already.

    Raises ``ToolError`` naming the broken rule (nothing is written) or a concurrent write.
    """
    problem = config_problem(config)
    if problem is not None:
        raise ToolError(f"market {config.market_id} not written: {problem}")
    kv = await _bucket(client, target)
    key = str(config.market_id)
    value = market_to_json(config)
    try:
        entry = await kv.get(key)
    except nats.js.errors.KeyNotFoundError:
        return Written(await kv.create(key, value), None, True)
    previous = _read(entry.value)
    if previous == config:
        return Written(entry.revision or 0, previous, False)
    change = None if previous is None else change_problem(previous, config)
    if change is not None:
        raise ToolError(f"market {config.market_id} not written: {change}")
    try:
        revision = await kv.update(key, value, last=entry.revision)
    except nats.js.errors.KeyWrongLastSequenceError:
        raise ToolError(
            f"market {key} changed while this was written (someone else wrote it after "
            f"revision {entry.revision}): nothing written; `markets get {key}` shows it now"
        ) from None
    return Written(revision, previous, True)


def changes(previous: MarketConfig, config: MarketConfig) -> list[str]:
    """``name: old -> new`` for every field that differs."""
    return [
        f"{field.name}: {_shown(getattr(previous, field.name))} -> "
        f"{_shown(getattr(config, field.name))}"
        for field in _FIELDS
        if getattr(previous, field.name) != getattr(config, field.name)
    ]


def _shown(value: object) -> str:
    return enum_name(value) if isinstance(value, enum.Enum) else str(value)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def config_from(path: Path | None, args: argparse.Namespace) -> MarketConfig:
    """The config of ``put``: the file's fields, then the flags given, through the codec."""
    document: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_bytes())
        except OSError as problem:
            raise ToolError(f"{path}: {problem.strerror}") from None
        except ValueError as problem:
            raise ToolError(f"{path}: not JSON: {problem}") from None
        if not isinstance(loaded, dict):
            raise ToolError(f"{path}: a market config must be a JSON object")
        document = loaded
    for field in _FIELDS:
        value = getattr(args, field.name)
        if value is not None:
            document[field.name] = value.name if isinstance(value, enum.Enum) else value
    if not document:
        raise ToolError("markets put needs a FILE.json or the flags of a market (see --help)")
    try:
        return market_from_json(json.dumps(document).encode())
    except ValueError as problem:
        where = path if path is not None else "the flags"
        raise ToolError(f"{where}: {problem}; nothing written") from None


async def put(args: argparse.Namespace) -> int:
    """``markets put``: validate, write, report the revision and what changed."""
    config = config_from(args.file, args)
    target = resolve_target(args)
    async with connect(target, "markets") as client:
        written = await put_market(client, target, config)
    name = f"market {config.market_id} ({config.symbol})"
    bucket = target.settings.markets_bucket
    if not written.changed:
        print(f"{name} already holds this config at revision {written.revision}: nothing written")
        return 0
    print(f"{name} written to {bucket} at revision {written.revision}")
    if written.previous is not None:
        for line in changes(written.previous, config):
            print(f"  {line}")
    return 0


async def list_markets(args: argparse.Namespace) -> int:
    """``markets list``: one line per market, in market id order."""
    target = resolve_target(args)
    async with connect(target, "markets") as client:
        kv = await _bucket(client, target)
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            keys = []
        entries = [await kv.get(key) for key in sorted(keys, key=lambda k: (len(k), k))]
    if not entries:
        print(f"no markets in {target.settings.markets_bucket}: create one with markets put")
        return 0
    print(
        f"{'id':>5} {'symbol':<12} {'mode':<10} {'status':<11} {'mult':>8} {'fees m/t':>9} "
        f"{'IM/MM bps':>10} {'band':>5} {'rev':>5}"
    )
    for entry in entries:
        config = _read(entry.value)
        if config is None:
            print(f"{entry.key:>5} (unreadable value: `markets get {entry.key}` shows it)")
            continue
        fees = f"{config.maker_fee_bps}/{config.taker_fee_bps}"
        margins = f"{config.initial_margin_bps}/{config.maintenance_margin_bps}"
        print(
            f"{config.market_id:>5} {config.symbol:<12} {enum_name(config.matching_mode):<10} "
            f"{enum_name(config.status):<11} {config.contract_multiplier:>8} {fees:>9} "
            f"{margins:>10} {config.price_band_bps:>5} {entry.revision:>5}"
        )
    return 0


async def get(args: argparse.Namespace) -> int:
    """``markets get ID``: the stored JSON on stdout (ready for ``put``), the revision on stderr."""
    target = resolve_target(args)
    async with connect(target, "markets") as client:
        kv = await _bucket(client, target)
        try:
            entry = await kv.get(str(args.market_id))
        except nats.js.errors.KeyNotFoundError:
            raise ToolError(
                f"market {args.market_id} is not in {target.settings.markets_bucket} "
                "(`markets list` shows those that are)"
            ) from None
    value = entry.value or b""
    try:
        print(json.dumps(json.loads(value), indent=2))
    except ValueError:
        print(value.decode(errors="replace"))
    print(f"market {args.market_id}: revision {entry.revision}", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``markets put|list|get`` to the command line."""
    markets = add_tool(
        commands,
        "markets",
        "create, change and show markets (the MARKETS bucket)",
        "python -m hypermarket markets list\n" + PUT_EXAMPLES.strip(),
        connection=False,
    )
    actions = markets.add_subparsers(dest="markets_action", required=True, metavar="ACTION")
    put_parser = add_tool(
        actions,
        "put",
        "validate a market config and write it",
        PUT_EXAMPLES,
        description="Validate a market config (the core's rules) and write it to the MARKETS "
        "bucket; the engine applies it and publishes MarketUpdated.  Fields named neither in "
        "FILE nor by a flag take their defaults.",
    )
    put_parser.add_argument("file", type=Path, nargs="?", help="a JSON MarketConfig")
    fields = put_parser.add_argument_group("MarketConfig fields (CONTRACT.md; override FILE)")
    for field in _FIELDS:
        default = "" if field.required else f" (default: {_shown(field.default)})"
        if isinstance(field.type, type) and issubclass(field.type, enum.Enum):
            add_enum_flag(fields, _flag(field.name), field.type, field.name + default)
        else:
            kind = str if field.type is str else int
            fields.add_argument(_flag(field.name), type=kind, help=field.name + default)
    put_parser.set_defaults(handler=lambda args: run_tool(put(args)))

    lister = add_tool(actions, "list", "one line per market", "python -m hypermarket markets list")
    lister.set_defaults(handler=lambda args: run_tool(list_markets(args)))

    getter = add_tool(
        actions,
        "get",
        "print a market's config as JSON",
        "python -m hypermarket markets get 1 > btc.json",
    )
    getter.add_argument("market_id", type=int, metavar="ID")
    getter.set_defaults(handler=lambda args: run_tool(get(args)))
