"""Hypermarket, the core engine of a perpetual-futures exchange: `python -m hypermarket COMMAND`.

Each command lives in its own module; this one only parses arguments, so
``--help`` at every level lists what exists.  Errors an operator can fix (a
missing file, a bad flag value) print one line naming the problem and exit
with status 2; a bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hypermarket.cli import bench_core, durability, fold_inputs, run
from hypermarket.compiled import core_build
from hypermarket.config import ConfigError, describe, load_config
from hypermarket.persistence import PersistenceError
from hypermarket.tools import book, demo, markets, send, tail


class UsageError(Exception):
    """A mistake in how the command was called or what it was given."""


def _fold_inputs(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        fmt = args.format or fold_inputs.guess_format(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    inputs = fold_inputs.read_inputs(path, fmt)
    if args.outputs is None:
        state = fold_inputs.fold_inputs(inputs, sys.stdout)
        print(fold_inputs.summary(state), file=sys.stderr)
    else:
        with args.outputs.open("w", encoding="utf-8", newline="\n") as out:
            state = fold_inputs.fold_inputs(inputs, out)
        print(fold_inputs.summary(state))
    return 0


def _bench_core(args: argparse.Namespace) -> int:
    print(
        f"bench core: seed {args.seed}, {args.events} events, {args.markets} markets "
        f"({args.batch_markets} BATCH; mix: hypermarket/simulation/flow.py), "
        f"fastest of {args.repeat} runs; core {core_build()}"
    )
    for gc_mode in args.gc:
        result = bench_core.run_pass(
            args.seed, args.events, args.markets, gc_mode, args.batch_markets, args.repeat
        )
        print(bench_core.format_pass(result), flush=True)
    for orders in args.auction_orders:
        resting, volume, seconds = bench_core.auction_clearing(orders, args.seed)
        print(
            f"auction: {resting} resting orders, {volume} lots traded, "
            f"cleared in {seconds * 1000:.1f} ms",
            flush=True,
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    config = run.resolve_config(args.config, args.data_dir, args.shards)
    return run.run(config)


def _bench_bridge(args: argparse.Namespace) -> int:
    from hypermarket.bus import bridge_bench  # noqa: PLC0415 - only this command needs it

    print(
        f"bench bridge: {args.messages} messages, batches of {args.batch_max}, "
        f"server sync_interval {args.sync_interval}",
        flush=True,
    )
    publishing = bridge_bench.run_publish_bench(sync_interval=args.sync_interval)
    print(bridge_bench.format_results("publishing outputs (messages/s stored)", publishing))
    bridges = bridge_bench.run_bridge_bench(
        args.messages, args.batch_max, sync_interval=args.sync_interval
    )
    print(bridge_bench.format_results("consuming into Trio (messages/s)", bridges))
    return 0


def _bench_e2e(args: argparse.Namespace) -> int:
    from hypermarket.cli import bench_e2e  # noqa: PLC0415 - only this command needs it

    print(
        f"bench e2e: seed {args.seed}, {args.events} events, server sync_interval "
        f"{args.sync_interval}, batch_max {args.batch_max}; core {core_build()}",
        flush=True,
    )
    result = bench_e2e.run_e2e(
        args.events, args.seed, args.sync_interval, args.batch_max, args.paced, args.rate
    )
    print(bench_e2e.format_e2e(result))
    return 0


def _config_check(args: argparse.Namespace) -> int:
    print(describe(load_config(args.file)), end="")
    return 0


def _add_run_and_config(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("run", help="run the engine until SIGINT or SIGTERM")
    serve.add_argument("--config", type=Path, help="YAML config (default: embedded NATS, 1 shard)")
    serve.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="without --config: where data goes"
    )
    serve.add_argument("--shards", help="the shards this process owns, e.g. 0,2 (default: all)")
    serve.set_defaults(handler=_run)

    config = commands.add_parser("config", help="check a configuration file")
    config_kinds = config.add_subparsers(dest="config_kind", required=True)
    check = config_kinds.add_parser("check", help="validate FILE and print the effective config")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_config_check)


def _add_fold_and_snapshot(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fold = commands.add_parser("fold", help="replay inputs through the pure core")
    fold_kinds = fold.add_subparsers(dest="fold_kind", required=True)
    inputs = fold_kinds.add_parser("inputs", help="fold a file of InputEvents (the simulator)")
    inputs.add_argument("file", type=Path, help="a .jsonl or .bin file of InputEvents")
    inputs.add_argument("--outputs", type=Path, help="write outputs here instead of stdout")
    inputs.add_argument("--format", choices=fold_inputs.FORMATS, help="override the suffix")
    inputs.set_defaults(handler=_fold_inputs)
    wal = fold_kinds.add_parser("wal", help="rebuild a shard's state from its write-ahead log")
    wal.add_argument("dir", type=Path, help="the shard's WAL folder")
    wal.add_argument("--snapshot", type=Path, help="start from this snapshot file")
    wal.add_argument("--until", type=int, help="stop after this shard input sequence")
    wal.add_argument(
        "--verify", action="store_true", help="recompute every logged output; exit 1 on a diff"
    )
    wal.set_defaults(handler=lambda a: durability.fold_wal(a.dir, a.snapshot, a.until, a.verify))

    snapshot = commands.add_parser("snapshot", help="look into snapshot files")
    snapshot_kinds = snapshot.add_subparsers(dest="snapshot_kind", required=True)
    inspect = snapshot_kinds.add_parser("inspect", help="header, markets, orders, accounts")
    inspect.add_argument("file", type=Path)
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(handler=lambda a: durability.snapshot_inspect(a.file, a.json))
    diff = snapshot_kinds.add_parser("diff", help="what differs between two snapshots")
    diff.add_argument("first", type=Path)
    diff.add_argument("second", type=Path)
    diff.set_defaults(handler=lambda a: durability.snapshot_diff(a.first, a.second))


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser("bench", help="measure the engine")
    bench_kinds = bench.add_subparsers(dest="bench_kind", required=True)
    core = bench_kinds.add_parser("core", help="throughput and latency of step() alone")
    core.add_argument("--events", type=int, default=100_000)
    core.add_argument("--seed", type=int, default=1)
    core.add_argument("--markets", type=int, default=4)
    core.add_argument("--repeat", type=int, default=3, help="report the fastest of these runs")
    core.add_argument(
        "--batch-markets", type=int, default=1, help="how many of the markets are BATCH"
    )
    core.add_argument(
        "--auction-orders",
        type=int,
        nargs="*",
        default=[10_000, 100_000],
        help="time one auction over books of these sizes",
    )
    core.add_argument("--gc", nargs="+", choices=("default", "tuned"), default=["default", "tuned"])
    core.set_defaults(handler=_bench_core)
    bridge = bench_kinds.add_parser(
        "bridge", help="nats-py into Trio: thread bridge vs guest mode vs trio-asyncio"
    )
    bridge.add_argument("--messages", type=int, default=100_000)
    bridge.add_argument("--batch-max", type=int, default=256)
    bridge.add_argument("--sync-interval", default="always", help="the test server's setting")
    bridge.set_defaults(handler=_bench_bridge)
    e2e = bench_kinds.add_parser("e2e", help="through JetStream and the engine, vs raw nats-py")
    e2e.add_argument("--events", type=int, default=50_000)
    e2e.add_argument("--seed", type=int, default=1)
    e2e.add_argument("--sync-interval", default="always", help="the test server's setting")
    e2e.add_argument("--batch-max", type=int, default=512)
    e2e.add_argument("--paced", type=int, default=2_000, help="inputs of the latency phase")
    e2e.add_argument("--rate", type=int, default=500, help="inputs/s of the latency phase")
    e2e.set_defaults(handler=_bench_e2e)
    wal_bench = bench_kinds.add_parser("wal", help="WAL appends, recovery and snapshot figures")
    wal_bench.add_argument("--dir", type=Path, help="where to write (default: a temp folder)")
    wal_bench.add_argument("--records", type=int, default=20_000)
    wal_bench.add_argument("--resting-orders", type=int, default=1_000_000)
    wal_bench.set_defaults(
        handler=lambda a: durability.bench_wal(a.dir, a.records, a.resting_orders)
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hypermarket", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_and_config(commands)
    _add_fold_and_snapshot(commands)
    _add_bench(commands)
    # The operator tools (hypermarket/tools/): each adds its own sub-command.
    for tool in (send, tail, book, markets, demo):
        tool.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (UsageError, PersistenceError, ConfigError) as exc:
        print(f"hypermarket: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
