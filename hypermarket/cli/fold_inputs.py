"""``python -m hypermarket fold inputs FILE``: the offline simulator.

Folds a file of ``InputEvent``s through ``step`` from an empty single-shard
state and writes every ``OutputEvent`` as one line of protobuf's canonical JSON
mapping.  Formats: JSON lines (``.jsonl``, one ``InputEvent`` per line, blank
lines and lines starting with ``#`` skipped) or varint-length-delimited binary
(``.bin``), guessed from the suffix unless ``--format`` says.  A line or record
that cannot be decoded becomes a ``Rejected`` output and the fold goes on.

Every input gets event time 0: time in the core only orders things, and a
file of inputs has no stream to stamp it.  The same file always gives
byte-identical output, whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from hypermarket.core import State, initial_state, state_hash, step
from hypermarket.models import Input
from hypermarket.wire import decode_input, decode_input_json, output_to_json, read_delimited

FORMATS = ("jsonl", "binary")


def guess_format(path: Path) -> str:
    """``jsonl`` for ``.jsonl``/``.json``, ``binary`` for ``.bin``; else a clear error."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix == ".bin":
        return "binary"
    raise ValueError(f"{path}: cannot tell the format from suffix {suffix!r}; pass --format")


def read_inputs(path: Path, fmt: str) -> Iterator[Input]:
    """Decode every input of ``path``; undecodable ones arrive as ``Malformed`` bodies."""
    if fmt == "jsonl":
        with path.open("rb") as lines:
            for raw in lines:
                stripped = raw.strip()
                if stripped and not stripped.startswith(b"#"):
                    yield decode_input_json(stripped)
    else:
        for record in read_delimited(path.read_bytes()):
            yield decode_input(record)


def fold_inputs(inputs: Iterator[Input], out: TextIO, state: State | None = None) -> State:
    """Step every input from ``state`` (default: an empty single shard), writing JSON outputs."""
    current = initial_state() if state is None else state
    for inp in inputs:
        current, outputs = step(current, inp)
        for output in outputs:
            out.write(output_to_json(output))
            out.write("\n")
    return current


def summary(state: State) -> str:
    return f"inputs {state.input_seq} outputs {state.output_seq} state_hash {state_hash(state)}"
