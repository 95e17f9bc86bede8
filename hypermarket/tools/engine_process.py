"""The engine as a child process: ``python -m hypermarket run``, started, awaited, stopped.

``demo`` runs the engine this way, and so do the tools' tests, so both see the engine
exactly as an operator starts it.  Its log (JSON lines on stderr) goes to a file, which
nothing has to keep draining, and is read back for two lines: ``embedded nats-server started
at <url>`` (when the engine runs its own server) and ``engine ready``.  ``stop`` sends
SIGINT, the engine's clean shutdown (finish the batch in hand, publish, snapshot, close),
and waits for the exit status.

The child gets its own session: a Ctrl-C at the terminal then reaches only the parent,
which stops the engine in order, rather than the engine and its embedded nats-server
receiving the signal at the same moment.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final

from hypermarket.tools.client import ToolError

READY: Final = re.compile(r"engine ready")
EMBEDDED_URL: Final = re.compile(r"embedded nats-server started at (nats://[\w.:\[\]-]+)")
_POLL_S: Final = 0.05


class EngineProcess:
    """One ``python -m hypermarket run`` child (see the module docstring)."""

    def __init__(
        self, run_args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.command = [sys.executable, "-m", "hypermarket", "run", *run_args]
        self.log_path = log_path
        self.env = None if env is None else dict(env)
        self.url: str | None = None  # the embedded server's, once the log has named it
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the engine and return once it logs ``engine ready``.

        Raises ``ToolError`` with the end of the log if it exits or is not ready in time.
        A restart appends to the same log and waits for a new ``engine ready``.
        """
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode("utf-8", errors="replace")
            found = EMBEDDED_URL.search(text)
            if found is not None:
                self.url = found.group(1)
            if READY.search(text):
                return
            code = self._process.poll()
            if code is not None:
                raise ToolError(
                    f"the engine exited with status {code} before it was ready; "
                    f"{self.log_path} ends with:\n{self.log_tail()}"
                )
            time.sleep(_POLL_S)
        self.stop()
        raise ToolError(
            f"the engine was not ready within {timeout_s} s; "
            f"{self.log_path} ends with:\n{self.log_tail()}"
        )

    def kill(self) -> None:
        """Crash it: SIGKILL, no chance to publish or snapshot (crash tests)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGINT, then wait; SIGKILL after ``timeout_s``.  The exit status (None: never ran)."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the engine's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> EngineProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
