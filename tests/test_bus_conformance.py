"""MemoryBus and NatsBus keep the same Bus semantics: the same assertions run against both.

Each test is parametrized over the in-memory bus and a NatsBus on a private nats-server
(``tests/nats_server.py``); what the engine relies on (ordering, start sequences, batch
bounds, output deduplication, the last output id, KV revisions and the watch) must hold
for both, so simulations on the memory bus say something about production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from hypermarket.bus import Bus, InputMessage, KvEntry, MemoryBus, OutputMessage, open_nats_bus
from tests.nats_server import NatsServer

WAIT_S = 10.0


@pytest.fixture(params=["memory", "nats"])
async def bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bus]:
    if request.param == "memory":
        yield MemoryBus()
        return
    with NatsServer(tmp_path / "nats") as server:
        async with open_nats_bus(server.bus_settings()) as nats_bus:
            await nats_bus.ensure_streams()
            yield nats_bus


async def take_inputs(
    batches: AsyncIterator[list[InputMessage]], count: int
) -> list[list[InputMessage]]:
    """Batches until ``count`` inputs arrived; fails with what did arrive after ``WAIT_S``."""
    got: list[list[InputMessage]] = []
    with trio.move_on_after(WAIT_S) as scope:
        async for batch in batches:
            got.append(batch)
            if sum(map(len, got)) >= count:
                return got
    assert not scope.cancelled_caught
    pytest.fail(f"{sum(map(len, got))} of {count} inputs arrived within {WAIT_S} s: {got}")


async def take_entries(entries: AsyncIterator[KvEntry], count: int) -> list[KvEntry]:
    """The next ``count`` watch entries; fails with what did arrive after ``WAIT_S``."""
    got: list[KvEntry] = []
    with trio.move_on_after(WAIT_S):
        async for entry in entries:
            got.append(entry)
            if len(got) == count:
                return got
    pytest.fail(f"{len(got)} of {count} KV entries arrived within {WAIT_S} s: {got}")


async def test_consume_from_a_start_sequence_gets_exactly_the_shards_inputs_in_order(
    bus: Bus,
) -> None:
    published: dict[int, list[int]] = {0: [], 1: []}
    for n in range(30):
        shard = 1 if n % 3 == 0 else 0
        published[shard].append(await bus.publish_input(shard, b"input %d" % n))
    everything = published[0] + published[1]
    assert sorted(everything) == list(range(1, 31)), "stream sequences are dense per stream"

    start = published[0][5]
    async with bus.consume(0, start, 4) as batches:
        got = await take_inputs(batches, len(published[0]) - 5)
    assert all(1 <= len(batch) <= 4 for batch in got)
    flat = [message for batch in got for message in batch]
    assert [message.stream_seq for message in flat] == published[0][5:]
    assert [message.data for message in flat] == [
        b"input %d" % (seq - 1) for seq in published[0][5:]
    ]
    stamps = [message.ts_ns for message in flat]
    assert stamps == sorted(stamps)


async def test_a_consumer_hands_over_new_inputs_at_once_without_filling_a_batch(bus: Bus) -> None:
    async with bus.consume(2, 1, 100) as batches:
        for n in range(3):
            seq = await bus.publish_input(2, b"live %d" % n)
            with trio.fail_after(WAIT_S):
                batch = await anext(batches)
            assert [(message.stream_seq, message.data) for message in batch] == [
                (seq, b"live %d" % n)
            ]


async def test_outputs_are_deduplicated_by_msg_id_and_the_last_id_is_known(bus: Bus) -> None:
    assert await bus.last_output_id(0) is None
    await bus.publish_outputs(0, [OutputMessage(f"0:{n}", b"out %d" % n) for n in (1, 2, 3)])
    assert await bus.last_output_id(0) == "0:3"
    # Republishing stored ids (here in reverse order) stores nothing: the last id stays.
    await bus.publish_outputs(0, [OutputMessage("0:3", b"out 3"), OutputMessage("0:2", b"out 2")])
    assert await bus.last_output_id(0) == "0:3"
    await bus.publish_outputs(0, [OutputMessage("0:3", b"out 3"), OutputMessage("0:4", b"out 4")])
    assert await bus.last_output_id(0) == "0:4"
    await bus.publish_outputs(0, [])
    assert await bus.last_output_id(0) == "0:4"
    assert await bus.last_output_id(1) is None


async def test_kv_create_put_and_watch_give_current_values_then_changes_with_revisions(
    bus: Bus,
) -> None:
    first = await bus.kv_create("1", b"a")
    assert first is not None
    assert await bus.kv_create("1", b"b") is None
    second = await bus.kv_put("2", b"x")
    third = await bus.kv_put("1", b"c")
    assert first < second < third

    async with bus.kv_watch() as entries:
        assert await take_entries(entries, 2) == [
            KvEntry("2", second, b"x"),
            KvEntry("1", third, b"c"),
        ]
        fourth = await bus.kv_put("3", b"d")
        assert await take_entries(entries, 1) == [KvEntry("3", fourth, b"d")]
        fifth = await bus.kv_put("1", b"e")
        assert await take_entries(entries, 1) == [KvEntry("1", fifth, b"e")]
