"""NatsBus against real nats-server processes: streams, dedup, timestamps, backpressure, restarts.

Every test starts its own server on a free port with JetStream in a temporary folder
(``tests/nats_server.py``), and some stop, crash and restart it mid-flow.  The server runs
with ``sync_interval: always``, as the embedded one does, so a SIGKILL loses nothing that
was acknowledged; what is checked is that the bus neither skips nor repeats anything across
the restart.  Waits are bounded and fail with what did arrive.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import nats.js.api
import nkeys  # type: ignore[import-untyped]
import pytest
import trio
import trustme

from hypermarket.bus import (
    BusError,
    BusSettings,
    InputMessage,
    KvEntry,
    NatsBus,
    OutputMessage,
    StreamBehindError,
    StreamConfigError,
    open_nats_bus,
)
from tests.nats_server import NatsServer, raw_jetstream

WAIT_S = 10.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats") as running:
        yield running


async def collect(batches: AsyncIterator[list[InputMessage]], count: int) -> list[InputMessage]:
    """Inputs until ``count`` arrived; fails with how many did within ``WAIT_S``."""
    got: list[InputMessage] = []
    with trio.move_on_after(WAIT_S):
        async for batch in batches:
            got.extend(batch)
            if len(got) >= count:
                return got
    pytest.fail(f"{len(got)} of {count} inputs arrived within {WAIT_S} s")


async def test_ensure_streams_creates_the_streams_and_bucket_and_accepts_them_again(
    server: NatsServer,
) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        await bus.ensure_streams()
        await bus.ensure_streams()
    async with raw_jetstream(server.url) as (thread, js):
        inputs = (await thread.run(js.stream_info, "CLOB_INPUTS")).config
        outputs = (await thread.run(js.stream_info, "CLOB_OUTPUTS")).config
        bucket = (await thread.run(js.stream_info, "KV_MARKETS")).config
    assert inputs.subjects == ["clob.inputs.>"]
    assert (inputs.deny_delete, inputs.deny_purge) == (True, True)
    assert inputs.storage == nats.js.api.StorageType.FILE
    assert outputs.subjects == ["clob.outputs.>"]
    assert outputs.duplicate_window == 120.0
    assert outputs.storage == nats.js.api.StorageType.FILE
    assert bucket.storage == nats.js.api.StorageType.FILE


async def test_ensure_streams_refuses_a_stream_with_an_incompatible_config(
    server: NatsServer,
) -> None:
    async with raw_jetstream(server.url) as (thread, js):
        await thread.run(
            js.add_stream,
            nats.js.api.StreamConfig(name="CLOB_INPUTS", subjects=["clob.inputs.>"]),
        )
    async with open_nats_bus(server.bus_settings()) as bus:
        with pytest.raises(StreamConfigError) as raised:
            await bus.ensure_streams()
    message = str(raised.value)
    assert "CLOB_INPUTS" in message
    assert "deny_purge is False, expected True" in message
    assert "storage is 'memory', expected 'file'" not in message  # the default is file


async def test_a_republished_output_is_stored_once(server: NatsServer) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        await bus.ensure_streams()
        batch = [OutputMessage(f"0:{n}", b"out %d" % n) for n in range(1, 6)]
        await bus.publish_outputs(0, batch)
        await bus.publish_outputs(0, [*batch[2:], OutputMessage("0:6", b"out 6")])
        assert await bus.last_output_id(0) == "0:6"
    async with raw_jetstream(server.url) as (thread, js):
        info = await thread.run(js.stream_info, "CLOB_OUTPUTS", "clob.outputs.>")
    assert info.state.subjects == {"clob.outputs.0": 6}


async def test_an_input_carries_the_streams_own_timestamp_to_the_nanosecond(
    server: NatsServer,
) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        await bus.ensure_streams()
        for n in range(10):
            await bus.publish_input(3, b"%d" % n)
        async with bus.consume(3, 1, 100) as batches:
            got = await collect(batches, 10)
    async with raw_jetstream(server.url) as (thread, js):
        stored = [await thread.run(js.get_msg, "CLOB_INPUTS", m.stream_seq) for m in got]
    for message, raw in zip(got, stored, strict=True):
        seconds, nanoseconds = divmod(message.ts_ns, 1_000_000_000)
        as_datetime = datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(
            microsecond=nanoseconds // 1000
        )
        assert as_datetime == raw.time  # nats-py keeps microseconds only
    assert any(message.ts_ns % 1000 for message in got), "nanoseconds were lost"


async def test_a_shard_slower_than_its_stream_pauses_the_consumer_and_loses_nothing(
    server: NatsServer,
) -> None:
    async with open_nats_bus(server.bus_settings(consumer_buffer=50)) as bus:
        await bus.ensure_streams()
        expected = [await bus.publish_input(0, b"%d" % n) for n in range(500)]
        got: list[InputMessage] = []
        async with bus.consume(0, 1, 10) as batches:
            with trio.move_on_after(WAIT_S):
                async for batch in batches:
                    assert len(batch) <= 10
                    got.extend(batch)
                    if len(got) >= len(expected):
                        break
                    await trio.sleep(0.001)  # the shard is busy
            pauses = bus.statistics().consumer_pauses
    assert [message.stream_seq for message in got] == expected
    assert pauses > 0, "the consumer never had to pause: the test proves nothing"


async def test_a_server_crash_mid_consumption_loses_nothing_and_repeats_nothing(
    server: NatsServer,
) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        await bus.ensure_streams()
        expected: list[int] = []

        async def publish() -> None:
            for n in range(300):
                if n == 150:
                    await trio.to_thread.run_sync(server.kill)
                    await trio.to_thread.run_sync(server.start)
                seq = await bus.publish_input(n % 2, b"%d" % n)
                if n % 2 == 0:
                    expected.append(seq)

        async with bus.consume(0, 1, 32) as batches, trio.open_nursery() as nursery:
            nursery.start_soon(publish)
            got = await collect(batches, 150)
        statistics = bus.statistics()
    assert [message.stream_seq for message in got] == expected
    assert [message.data for message in got] == [b"%d" % n for n in range(0, 300, 2)]
    assert statistics.reconnects == 1
    assert statistics.consumer_subscriptions >= 2, "the consumer was not re-created"


async def test_the_kv_watch_recreates_itself_after_a_server_restart(server: NatsServer) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        await bus.ensure_streams()
        first = await bus.kv_put("1", b"a")
        async with bus.kv_watch() as entries:
            with trio.fail_after(WAIT_S):
                assert await anext(entries) == KvEntry("1", first, b"a")
            await trio.to_thread.run_sync(server.restart)
            second = await bus.kv_put("2", b"b")
            await bus.kv_delete("1")
            with trio.fail_after(WAIT_S):
                assert await anext(entries) == KvEntry("2", second, b"b")
                deleted = await anext(entries)
            assert (deleted.key, deleted.value) == ("1", None)
            assert deleted.revision > second


async def test_outputs_published_during_an_outage_are_stored_once_the_server_is_back(
    server: NatsServer,
) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        await bus.ensure_streams()
        await bus.publish_outputs(1, [OutputMessage("1:1", b"before")])
        await trio.to_thread.run_sync(server.stop)
        batch = [OutputMessage(f"1:{n}", b"during %d" % n) for n in range(2, 50)]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bus.publish_outputs, 1, batch)
            await trio.sleep(0.3)
            await trio.to_thread.run_sync(server.start)
        assert await bus.last_output_id(1) == "1:49"
        assert bus.statistics().republished_batches >= 1
    async with raw_jetstream(server.url) as (thread, js):
        info = await thread.run(js.stream_info, "CLOB_OUTPUTS", "clob.outputs.>")
    assert info.state.subjects == {"clob.outputs.1": 49}


async def test_consuming_past_the_end_of_the_stream_is_refused(server: NatsServer) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        await bus.ensure_streams()
        for n in range(3):
            await bus.publish_input(0, b"%d" % n)
        async with bus.consume(0, 4, 10):
            pass  # the next sequence after the end is fine
        with pytest.raises(StreamBehindError, match="ends at sequence 3 but sequence 4"):
            async with bus.consume(0, 5, 10):
                pass


@pytest.mark.parametrize(
    ("server_auth", "good", "bad"),
    [
        (
            'authorization { user: "engine", password: "s3cret" }',
            {"user": "engine", "password": "s3cret"},
            {"user": "engine", "password": "wrong"},
        ),
        ('authorization { token: "t0ken" }', {"token": "t0ken"}, {"token": "wrong"}),
    ],
    ids=["user-password", "token"],
)
async def test_credentials_open_the_server_and_wrong_ones_fail_clearly(
    tmp_path: Path, server_auth: str, good: dict[str, str], bad: dict[str, str]
) -> None:
    with NatsServer(tmp_path / "nats", extra_config=server_auth) as server:
        async with open_nats_bus(server.bus_settings(**good)) as bus:
            await bus.ensure_streams()
            assert await bus.publish_input(0, b"authorized") == 1
        with pytest.raises(BusError, match="cannot connect to NATS"):
            async with open_nats_bus(server.bus_settings(initial_connect_timeout_s=1.0, **bad)):
                pass


async def test_an_nkeys_seed_file_authenticates(tmp_path: Path) -> None:
    seed = nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(seed).public_key.decode()
    (tmp_path / "user.nk").write_bytes(seed)
    server_auth = f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}'
    with NatsServer(tmp_path / "nats", extra_config=server_auth) as server:
        settings = server.bus_settings(nkeys_seed_file=str(tmp_path / "user.nk"))
        async with open_nats_bus(settings) as bus:
            await bus.ensure_streams()
            assert await bus.publish_input(0, b"signed in with an nkey") == 1
        with pytest.raises(BusError, match="cannot connect to NATS"):
            async with open_nats_bus(server.bus_settings(initial_connect_timeout_s=1.0)):
                pass


def test_settings_reject_contradictions_with_every_problem_named() -> None:
    with pytest.raises(ValueError, match="choose one way to authenticate, not user and token"):
        BusSettings(user="u", password="p", token="t")
    with pytest.raises(msgspec.ValidationError, match="replicas must be 1 to 5"):
        msgspec.convert({"replicas": 7, "tls_cert_file": "c"}, BusSettings)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"server": ["nats://x"]}, BusSettings)


async def test_statistics_are_a_frozen_record_of_what_happened(server: NatsServer) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        assert isinstance(bus, NatsBus)
        statistics = bus.statistics()
    assert statistics.connected
    assert (statistics.reconnects, statistics.slow_consumer_drops) == (0, 0)
    with pytest.raises(AttributeError):
        statistics.reconnects = 1  # type: ignore[misc]


async def test_consuming_a_stream_that_does_not_exist_names_it(server: NatsServer) -> None:
    async with open_nats_bus(server.bus_settings()) as bus:
        with pytest.raises(BusError, match="no stream CLOB_INPUTS"):
            async with bus.consume(0, 1, 10):
                pass


def make_certificates(folder: Path) -> None:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    for name, identity in (("server", "127.0.0.1"), ("client", "hypermarket-engine")):
        issued = ca.issue_cert(identity)
        issued.private_key_pem.write_to_path(str(folder / f"{name}-key.pem"))
        issued.cert_chain_pems[0].write_to_path(str(folder / f"{name}.pem"))


async def test_mutual_tls_connects_with_the_client_certificate_and_fails_without(
    tmp_path: Path,
) -> None:
    make_certificates(tmp_path)
    tls = (
        f'tls {{ cert_file: "{tmp_path}/server.pem", key_file: "{tmp_path}/server-key.pem",'
        f' ca_file: "{tmp_path}/ca.pem", verify: true, timeout: 2 }}'
    )
    with NatsServer(tmp_path / "nats", extra_config=tls) as server:
        settings = server.bus_settings(
            tls_ca_file=str(tmp_path / "ca.pem"),
            tls_cert_file=str(tmp_path / "client.pem"),
            tls_key_file=str(tmp_path / "client-key.pem"),
        )
        async with open_nats_bus(settings) as bus:
            await bus.ensure_streams()
            assert await bus.publish_input(0, b"over tls") == 1
        without_certificate = server.bus_settings(
            tls_ca_file=str(tmp_path / "ca.pem"), initial_connect_timeout_s=1.0
        )
        with pytest.raises(BusError, match="cannot connect to NATS"):
            async with open_nats_bus(without_certificate):
                pass
