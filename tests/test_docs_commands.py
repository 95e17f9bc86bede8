"""Every command block marked ``runnable`` in README.md and docs/ runs and exits 0.

A fenced block whose info string is ``sh runnable`` holds commands meant to be
copied as they are; each line (``\\`` continues a line, ``#`` starts a comment)
runs from the repository's root with ``python`` meaning this interpreter.
Commands that need a running NATS server or take minutes are in plain ``sh``
blocks and are exercised by their own tests (tools, engine, benchmarks).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```sh runnable\n(.*?)^```", re.MULTILINE | re.DOTALL)


def runnable_commands() -> list[tuple[str, str]]:
    """(document, command) for every command in a runnable block."""
    found: list[tuple[str, str]] = []
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in BLOCK.findall(document.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():
                command = line.split(" #", 1)[0].strip()
                if command and not command.startswith("#"):
                    found.append((document.name, command))
    return found


def test_the_docs_have_runnable_blocks() -> None:
    documents = {document for document, _ in runnable_commands()}
    assert {"README.md", "risk.md", "auction.md"} <= documents


@pytest.mark.parametrize(("document", "command"), runnable_commands())
def test_the_command_runs(document: str, command: str) -> None:
    words = shlex.split(command)
    if words[0] == "python":
        words[0] = sys.executable
    done = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{document}: `{command}` failed:\n{done.stderr[-2000:]}"
