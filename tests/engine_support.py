"""Helpers for tests that run the engine: configs in a temp folder, inputs, output waiting."""

from __future__ import annotations

from pathlib import Path

import trio

from hypermarket.bus.memory import MemoryBus
from hypermarket.bus.protocol import Bus
from hypermarket.config import load_config
from hypermarket.config.schema import Config
from hypermarket.models import (
    Deposit,
    Input,
    InputBody,
    MarketConfig,
    NewOrder,
    OrderType,
    Output,
    PriceUpdate,
    Side,
    TimeInForce,
)
from hypermarket.wire import encode_input, outputs_from_batch

ALICE = b"\xa1" * 20
BOB = b"\xb0" * 20


def write_engine_config(
    folder: Path,
    nats_url: str | None = None,
    *,
    shard_count: int = 1,
    extra: str = "",
    metrics_address: str = "",
) -> Path:
    """An engine config file: data under ``folder``, fsync per batch, metrics off by default.

    Without ``nats_url`` it names no server (the embedded one, or a bus the test gives).
    """
    nats = f"nats:\n  urls: ['{nats_url}']\n  reconnect_wait_s: 0.1\n" if nats_url else ""
    path = folder / "engine.yaml"
    path.write_text(
        f"data_dir: {folder / 'data'}\n"
        f"shard_count: {shard_count}\n"
        f"{nats}"
        f"metrics:\n  address: '{metrics_address}'\n"
        "log:\n  format: json\n" + extra,
        encoding="utf-8",
    )
    return path


def engine_config(
    tmp_path: Path, extra: str = "", shard_count: int = 1, metrics_address: str = ""
) -> Config:
    """The loaded config of ``write_engine_config`` with no server named."""
    path = write_engine_config(
        tmp_path, shard_count=shard_count, extra=extra, metrics_address=metrics_address
    )
    return load_config(path, environ={})


def market(market_id: int = 1, **overrides: object) -> MarketConfig:
    fields: dict[str, object] = {"market_id": market_id, "symbol": f"M{market_id}-PERP"}
    fields.update(overrides)
    return MarketConfig(**fields)  # type: ignore[arg-type]


def funding(market_id: int, *accounts: bytes, mark: int = 100) -> list[InputBody]:
    """A mark price and a large deposit for each account: enough to trade freely."""
    bodies: list[InputBody] = [PriceUpdate(market_id, mark, mark)]
    bodies += [Deposit(account, market_id, 10**12) for account in accounts]
    return bodies


def limit(
    market_id: int, account: bytes, client_id: int, side: Side, price: int, qty: int
) -> NewOrder:
    return NewOrder(
        market_id, account, client_id, side, OrderType.LIMIT, TimeInForce.GTC, price, qty
    )


async def send(bus: Bus, shard_count: int, *bodies: InputBody) -> None:
    """Publish inputs to their shard subjects, as a gateway would."""
    for number, body in enumerate(bodies, 1):
        market_id = getattr(body, "market_id", 0)
        await bus.publish_input(market_id % shard_count, encode_input(Input(body, 0, number)))


def stored_outputs(bus: MemoryBus, shard: int) -> list[Output]:
    """Every output of ``shard`` stored on the in-memory output stream, in order."""
    return [out for message in bus.outputs(shard) for out in outputs_from_batch(message.data)]


async def wait_for_outputs(
    bus: MemoryBus, shard: int, count: int, timeout: float = 10.0
) -> list[Output]:
    """Wait until at least ``count`` outputs of ``shard`` are stored; fail after ``timeout``."""
    with trio.fail_after(timeout):
        while len(outputs := stored_outputs(bus, shard)) < count:
            await trio.sleep(0.01)
    return outputs
