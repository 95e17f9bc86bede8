"""The tools fail the way an operator needs: NATS unreachable, credentials refused, a server
the engine never set up, a bad config, a bad flag or a demo folder that is not a demo's each
give one line naming the problem and the next step, and exit status 2, never a traceback
(checked on real processes for the unreachable server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hypermarket.bus.embedded import free_port
from tests.nats_server import NatsServer
from tests.tools_support import MAKER, run_cli

COMMANDS = (
    ("send", "price", "--market", "1", "--mark", "100"),
    ("tail",),
    ("book", "1", "--once"),
    ("markets", "list"),
)


def test_unreachable_nats_names_the_server_and_how_to_start_the_engine() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "hypermarket", *command, "--nats", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in COMMANDS
    ]
    for command, process in zip(COMMANDS, processes, strict=True):
        out, err = process.communicate(timeout=30)
        assert process.returncode == 2, (command, err)
        assert out == ""
        assert err.startswith(f"hypermarket: cannot reach NATS at {url} (--nats; "), err
        assert err.endswith(
            "is the engine running? start it with `python -m hypermarket run`, or name the "
            "server with --nats URL\n"
        )
        assert err.count("\n") == 1, err


def test_a_server_without_the_engine_streams_says_to_start_the_engine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with NatsServer(tmp_path) as server:
        expected = {
            ("send", "price", "--market", "1", "--mark", "100"): "a stream for clob.inputs.0",
            ("tail", "--last", "5"): "the output stream CLOB_OUTPUTS",
            ("book", "1", "--once"): "the output stream CLOB_OUTPUTS",
            ("markets", "get", "1"): "the KV bucket MARKETS",
        }
        for command, missing in expected.items():
            result = run_cli(capsys, *command, "--nats", server.url)
            assert result.code == 2, command
            assert result.err == (
                f"hypermarket: {missing} does not exist on NATS at {server.url}: the engine "
                "creates it when it starts, so start it with `python -m hypermarket run` (or "
                "pass --config with the engine's config if it uses other names)\n"
            )


def test_a_bad_config_file_is_reported_with_its_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("shard_count: 0\n", encoding="utf-8")
    result = run_cli(capsys, "tail", "--config", str(config))
    assert result.code == 2
    assert result.err.startswith(f"hypermarket: {config}: shard_count: ")


def test_bad_flags_are_refused_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    unused = f"nats://127.0.0.1:{free_port()}"  # nothing may try to connect
    order = ("send", "order", "--market", "1", "--nats", unused, "--qty", "1")
    with pytest.raises(SystemExit) as bad_account:
        run_cli(capsys, *order, "--side", "buy", "--price", "1", "--account", "0x12")
    assert bad_account.value.code == 2
    assert "'0x12' is not an account: write a 20-byte EVM address" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        run_cli(capsys, *order, "--side", "up", "--price", "1", "--account", MAKER)
    assert "argument --side: 'up' is not one of buy, sell" in capsys.readouterr().err

    no_price = run_cli(capsys, *order, "--side", "buy", "--account", MAKER)
    assert (no_price.code, no_price.err) == (
        2,
        "hypermarket: a limit order needs --price (in ticks); or use --type market\n",
    )


def test_demo_refuses_a_folder_that_is_not_a_demo(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "wal").mkdir()  # perhaps a real engine's data: no second engine on it
    result = run_cli(capsys, "demo", "--data-dir", str(tmp_path))
    assert result.code == 2
    assert result.err == (
        f"hypermarket: {tmp_path} holds files of something else than a demo: pass a new folder\n"
    )


def test_refused_credentials_are_named_as_such(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with NatsServer(tmp_path, extra_config="authorization { user: u, password: p }") as server:
        result = run_cli(capsys, "markets", "list", "--nats", server.url)
    assert result.code == 2
    assert result.err.startswith(f"hypermarket: NATS at {server.url} refused the credentials: ")
