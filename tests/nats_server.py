"""A private nats-server for tests: free port, JetStream in a temporary folder, restartable.

Tests that need NATS import ``NatsServer`` from here (``with NatsServer(tmp_path) as server``).  The
server is started exactly as the engine's embedded server is (``hypermarket.bus.embedded``:
same binary lookup, config file, readiness probe), but driven by the test: ``stop`` is a
clean SIGTERM shutdown, ``kill`` a crash (SIGKILL), ``start`` after either brings it back on
the same port with the same store, so clients reconnect to the same URL and find their
streams.  It never uses 127.0.0.1:4222, which may be a machine-wide server.

The methods block (a start takes tens of milliseconds); call them from Trio tests directly
or through ``trio.to_thread.run_sync`` when other tasks must keep running meanwhile.

``raw_jetstream`` gives a Trio test a plain nats-py JetStream context on the bus's own
bridge, to look at streams behind the bus's back or to break them on purpose.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

import nats
import pytest
from nats.js import JetStreamContext

from hypermarket.bus.bridge import AsyncioThread, open_asyncio_thread
from hypermarket.bus.embedded import (
    LOG_NAME,
    answers,
    find_nats_server,
    free_port,
    log_tail,
    start_process,
    write_config,
)
from hypermarket.bus.nats import BusSettings

_READY_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


class NatsServer:
    """One nats-server process with JetStream under ``store_dir`` (see the module docstring).

    ``extra_config`` is raw server config appended to the generated file, e.g. an
    ``authorization { user: u, password: p }`` block.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        extra_config: str = "",
        sync_interval: str = "always",
    ) -> None:
        self.store_dir = store_dir
        self.port = free_port() if port is None else port
        if self.port == 4222:
            raise ValueError("4222 is the machine's own server; tests use a private port")
        self.config = write_config(self.port, store_dir, sync_interval, extra_config)
        self._binary = find_nats_server()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>``."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The running process id, None when stopped."""
        return self._process.pid if self.running else None  # type: ignore[union-attr]

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers; fails with the log tail otherwise."""
        if self.running:
            raise RuntimeError("the server is already running")
        self._process = start_process(self._binary, self.config, self.store_dir)
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline and self._process.poll() is None:
            if answers(self.port):
                return
            time.sleep(0.01)
        self.kill()
        pytest.fail(
            f"nats-server on port {self.port} did not start; {self.store_dir / LOG_NAME}:\n"
            + log_tail(self.store_dir),
            pytrace=False,
        )

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), waiting for the process to exit."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """A crash (SIGKILL): no chance to flush anything."""
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        """Stop cleanly and start again: same port, same store."""
        self.stop()
        self.start()

    def _end(self, signum: int) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def bus_settings(self, **overrides: object) -> BusSettings:
        """Settings for a bus on this server, tuned for tests: reconnect after 0.1 s."""
        fields: dict[str, object] = {"servers": [self.url], "reconnect_wait_s": 0.1}
        fields.update(overrides)
        return BusSettings(**fields)  # type: ignore[arg-type]

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log, for failure messages."""
        return log_tail(self.store_dir, lines)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@asynccontextmanager
async def raw_jetstream(url: str) -> AsyncIterator[tuple[AsyncioThread, JetStreamContext]]:
    """A nats-py connection on an asyncio thread; call it with ``await thread.run(js.x, ...)``."""
    async with open_asyncio_thread("test-raw-nats") as thread:
        nc = await thread.run(nats.connect, url)
        try:
            yield thread, nc.jetstream()
        finally:
            await thread.run(nc.close)
