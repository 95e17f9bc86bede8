"""Same inputs, same outputs: the core is deterministic across processes, encodings and map orders.

* A seeded flow (``tests.support.generated_flow``) is folded in fresh Python subprocesses with
  different ``PYTHONHASHSEED`` values; every process prints a digest of all its outputs and the
  final ``state_hash``, and all must agree with each other and with this process.
* ``decode_state(encode_state(s))`` gives back an equal state: same hash, identical bytes when
  encoded again, and the same outputs and hash when the rest of the flow is folded from it.
* States that mean the same but whose persistent maps were built in a different insertion
  order (markets created in another order; every map of a state rebuilt in a shuffled order)
  hash the same and produce the same outputs from then on.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from immutables import Map

import hypermarket
from hypermarket.core import (
    State,
    check_invariants,
    decode_state,
    encode_state,
    initial_state,
    state_hash,
    step,
)
from hypermarket.models import Input, Output
from tests.support import SELL, account, cancel_all, generated_flow, market, order, run

TESTS_PARENT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(hypermarket.__file__).resolve().parent.parent
FLOW_SEED = 20_260_101
FLOW_EVENTS = 1_500
DEPTH = 5

T = TypeVar("T")
Shuffle = Callable[[list[Any]], None]

# Run in a fresh interpreter: import the same hypermarket and tests.support as this process.
FOLD_PROGRAM = """
import hashlib, sys
sys.path[:0] = [{package_root!r}, {tests_parent!r}]
import msgspec
from hypermarket.core import initial_state, state_hash, step
from tests.support import generated_flow
state = initial_state(0, 1, {depth})
outputs = []
for event in generated_flow({seed}, {events}):
    state, produced = step(state, event)
    outputs.extend(produced)
print(hashlib.sha256(msgspec.msgpack.encode(outputs)).hexdigest(), state_hash(state))
"""


def fold(state: State, events: Iterable[Input]) -> tuple[State, list[Output]]:
    outputs: list[Output] = []
    for event in events:
        state, produced = step(state, event)
        outputs.extend(produced)
    return state, outputs


def digest(outputs: list[Output]) -> str:
    return hashlib.sha256(msgspec.msgpack.encode(outputs)).hexdigest()


def test_outputs_and_state_hash_agree_across_hash_seeds() -> None:
    program = FOLD_PROGRAM.format(
        package_root=str(PACKAGE_ROOT),
        tests_parent=str(TESTS_PARENT),
        depth=DEPTH,
        seed=FLOW_SEED,
        events=FLOW_EVENTS,
    )
    results = set()
    for hash_seed in ("0", "1", "4242", "random"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", program],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        results.add(done.stdout.strip())
    state, outputs = fold(initial_state(0, 1, DEPTH), generated_flow(FLOW_SEED, FLOW_EVENTS))
    assert results == {f"{digest(outputs)} {state_hash(state)}"}


def test_the_generated_flow_exercises_the_book() -> None:
    """Guard for the test above: the flow trades, rests, cancels and amends."""
    state, outputs = run(generated_flow(FLOW_SEED, FLOW_EVENTS), depth=DEPTH)
    kinds = {type(o.body).__name__ for o in outputs}
    assert {"Fill", "OrderAmended", "OrderCancelled", "BookDelta", "PositionUpdate"} <= kinds
    assert sum(len(m.book.orders) for m in state.markets.values()) > 0


@pytest.mark.parametrize("cut", [0, 37, 400, 1_100, FLOW_EVENTS])
def test_encode_decode_round_trip_continues_identically(cut: int) -> None:
    events = generated_flow(FLOW_SEED + 1, FLOW_EVENTS)
    head, tail = events[:cut], events[cut:]
    state, _ = fold(initial_state(0, 1, DEPTH), head)
    encoded = encode_state(state)
    decoded = decode_state(encoded)
    check_invariants(decoded)
    assert state_hash(decoded) == state_hash(state)
    assert encode_state(decoded) == encoded
    assert decoded == state
    original_end, original_outputs = fold(state, tail)
    decoded_end, decoded_outputs = fold(decoded, tail)
    assert decoded_outputs == original_outputs
    assert state_hash(decoded_end) == state_hash(original_end)


def test_decode_rejects_bytes_that_are_not_a_state() -> None:
    with pytest.raises(ValueError, match="not a canonical state encoding"):
        decode_state(b"\x93\x01\x02")


def test_markets_created_in_any_order_hash_and_behave_the_same() -> None:
    market_ids = list(range(1, 41))
    rng = random.Random(5)
    states = []
    for _ in range(4):
        rng.shuffle(market_ids)
        state, _ = run([market(market_id) for market_id in market_ids])
        states.append(state)
    assert len({state_hash(s) for s in states}) == 1
    assert len({encode_state(s) for s in states}) == 1
    # A cancel-all walks every market: its outputs must not follow the map's order.
    probe = cancel_all(b"\x01" * 20)
    assert len({digest(step(s, probe)[1]) for s in states}) == 1


def reshuffled(value: T, shuffle: Shuffle) -> T:
    """``value`` with every persistent map inside it rebuilt in a shuffled insertion order.

    Walks msgspec structs generically, so it needs no knowledge of the state's layout.
    """
    if isinstance(value, Map):
        pairs = [(key, reshuffled(item, shuffle)) for key, item in value.items()]
        shuffle(pairs)
        rebuilt: Map[Any, Any] = Map()
        for key, item in pairs:
            rebuilt = rebuilt.set(key, item)
        return cast(T, rebuilt)
    if isinstance(value, msgspec.Struct):
        fields = {
            name: reshuffled(getattr(value, name), shuffle) for name in value.__struct_fields__
        }
        return msgspec.structs.replace(value, **fields)
    return value


# Keys whose 32-bit HAMT hashes collide: ``immutables.Map`` keeps colliding keys in insertion
# order, so maps holding them iterate differently when built in another order.  Client order ids
# are uint64 and prices int64 on the wire, so such keys are legal input.
COLLIDING_CLIENT_IDS = (9, 2**32 + 8)
COLLIDING_PRICES = (2**33 + 5, 2**32 + 6)


def test_colliding_keys_make_insertion_order_visible() -> None:
    """Why the next test can fail at all: equal maps, different iteration orders."""
    for a, b in (COLLIDING_CLIENT_IDS, COLLIDING_PRICES):
        forward = Map({a: 1}).set(b, 2)
        backward = Map({b: 2}).set(a, 1)
        assert forward == backward
        assert list(forward.keys()) != list(backward.keys())


def colliding_orders() -> list[Input]:
    """Sells far above the mark (margin is no issue) under colliding client ids and prices."""
    who = account(3)
    return [
        order(who, SELL, price, 1, market_id=1, client_order_id=cid)
        for cid, price in zip(COLLIDING_CLIENT_IDS, COLLIDING_PRICES, strict=True)
    ]


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(100, 1_000), shuffle_seed=st.integers(0, 2**32))
def test_maps_built_in_another_insertion_order_hash_and_behave_the_same(
    cut: int, shuffle_seed: int
) -> None:
    events = generated_flow(FLOW_SEED + 2, 1_100)
    state, _ = fold(initial_state(0, 1, DEPTH), [*events[:cut], *colliding_orders()])
    rng = random.Random(shuffle_seed)
    other = reshuffled(state, rng.shuffle)
    check_invariants(other)
    assert other == state
    assert state_hash(other) == state_hash(state)
    assert encode_state(other) == encode_state(state)
    end, outputs = fold(state, events[cut:])
    other_end, other_outputs = fold(other, events[cut:])
    assert other_outputs == outputs
    assert state_hash(other_end) == state_hash(end)
