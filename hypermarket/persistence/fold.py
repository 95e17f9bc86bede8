"""Replay as a fold: ``state = reduce(step, wal_inputs, snapshot_state)``, and verification.

Theory
------
The core is a pure function, so a shard's state after input ``n`` is the fold of ``step`` over
its logged inputs ``1..n``, or over ``s+1..n`` starting from a snapshot taken at ``s``.  Inputs
are replayed from their logged bytes exactly as the live shard consumed them:
``wire.decode_input(payload, ts_ns)`` then ``step``.  Undecodable bytes replay too (they
become the same ``Rejected`` output as live).

Verification recomputes every output and compares its encoding (``wire.encode_output``) with
the logged OUTPUT record of the same ``seq``, byte for byte.  Outputs are logged after the
inputs that caused them, so a recomputed output is always known before its logged copy is
read; the comparison streams, holding only the outputs of one batch.  The result names the
first output that differs (and the input that caused it), or a logged output the replay did
not produce.  Recomputed outputs past the last logged one are not a mismatch: a crash between
logging a batch and logging its outputs leaves exactly that, and ``recovery.recover`` appends
them.  Logged outputs at or below the starting state's ``output_seq`` came before the snapshot
and are not compared.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import msgspec

from hypermarket.core import State, state_hash, step
from hypermarket.models import Output
from hypermarket.persistence.errors import ReplayError
from hypermarket.persistence.snapshot import read_snapshot
from hypermarket.persistence.wal_format import Layout, Record, RecordKind
from hypermarket.persistence.wal_scan import TailCut, records_from, scan_wal
from hypermarket.wire import decode_input, encode_output


class OutputMismatch(msgspec.Struct, frozen=True):
    """The first output where the replay and the log disagree.

    ``recomputed`` is None when the log holds an output the replay did not produce; then
    ``input_seq`` is None too (the logged bytes are not trusted enough to read it from).
    """

    output_seq: int
    input_seq: int | None
    recomputed: bytes | None
    logged: bytes

    def describe(self) -> str:
        if self.recomputed is None:
            return f"output {self.output_seq} is logged but the replay did not produce it"
        first = next(
            (
                i
                for i, (a, b) in enumerate(zip(self.recomputed, self.logged, strict=False))
                if a != b
            ),
            min(len(self.recomputed), len(self.logged)),
        )
        return (
            f"output {self.output_seq} of input {self.input_seq} differs from the logged one "
            f"(first at byte {first}; recomputed {len(self.recomputed)} bytes, "
            f"logged {len(self.logged)})"
        )


class Verification(msgspec.Struct, frozen=True):
    """How the recomputed outputs compared with the logged ones."""

    checked: int
    mismatch: OutputMismatch | None
    unlogged: int

    @property
    def ok(self) -> bool:
        return self.mismatch is None


class FoldResult(msgspec.Struct, frozen=True):
    """The state a fold reached and what it checked on the way.

    ``unlogged_outputs`` are the recomputed outputs past the last logged one (verification
    only).  ``torn_tail`` is a torn tail the (read-only) scan found and did not replay past.
    """

    state: State
    state_hash: str
    last_input_seq: int
    last_stream_seq: int
    inputs_replayed: int
    verification: Verification | None
    unlogged_outputs: tuple[Output, ...] = ()
    snapshot: Path | None = None
    torn_tail: TailCut | None = None


def _compare(expected: Output | None, record: Record) -> OutputMismatch | None:
    if expected is None:
        return OutputMismatch(record.shard_seq, None, None, record.payload)
    recomputed = encode_output(expected)
    if expected.seq != record.shard_seq or recomputed != record.payload:
        return OutputMismatch(record.shard_seq, expected.input_seq, recomputed, record.payload)
    return None


def replay(
    records: Iterable[Record],
    start: State,
    start_stream_seq: int,
    *,
    source: Path,
    until: int | None = None,
    verify: bool = False,
) -> FoldResult:
    """Fold ``records`` (from input ``start.input_seq + 1`` on) into ``start``.

    Stops after input ``until`` when given.  With ``verify``, compares outputs as the module
    docstring says; the fold goes on after a mismatch (the state is still the fold of the
    inputs), comparing no more.  ``source`` names the WAL in errors.
    """
    state = start
    stream_seq = start_stream_seq
    limit = math.inf if until is None else until
    pending: deque[Output] = deque()
    mismatch: OutputMismatch | None = None
    checked = 0
    past_limit = False
    for record in records:
        if record.kind is RecordKind.INPUT:
            if record.shard_seq > limit:
                # Outputs of the inputs up to ``until`` may still follow in the same batch.
                if not verify or mismatch is not None or not pending:
                    break
                past_limit = True
                continue
            if record.shard_seq != state.input_seq + 1:
                raise ReplayError(
                    source, f"input {record.shard_seq} follows state at input {state.input_seq}"
                )
            state, outputs = step(state, decode_input(record.payload, record.ts_ns))
            stream_seq = record.stream_seq
            if verify and mismatch is None:
                pending.extend(outputs)
        elif verify and mismatch is None and record.shard_seq > start.output_seq:
            mismatch = _compare(pending.popleft() if pending else None, record)
            checked += mismatch is None
            if past_limit and (mismatch is not None or not pending):
                break
    unlogged = tuple(pending) if verify and mismatch is None else ()
    return FoldResult(
        state=state,
        state_hash=state_hash(state),
        last_input_seq=state.input_seq,
        last_stream_seq=stream_seq,
        inputs_replayed=state.input_seq - start.input_seq,
        verification=Verification(checked, mismatch, len(unlogged)) if verify else None,
        unlogged_outputs=unlogged,
    )


PROGRESS_EVERY = 4096


def _reporting(
    records: Iterable[Record], progress: Callable[[int, int], None], last_input_seq: int
) -> Iterator[Record]:
    """``records`` as they are, calling ``progress`` every ``PROGRESS_EVERY`` inputs and last."""
    for record in records:
        if record.kind is RecordKind.INPUT and record.shard_seq % PROGRESS_EVERY == 0:
            progress(record.shard_seq, last_input_seq)
        yield record
    progress(last_input_seq, last_input_seq)


def check_layout(state: State, layout: Layout, source: Path) -> None:
    """Refuse to fold a WAL into a state of another shard or layout."""
    if Layout.of(state) != layout:
        raise ReplayError(source, f"the state is of {Layout.of(state)}, the WAL of {layout}")


def fold(
    wal_dir: Path,
    snapshot: Path | None = None,
    until: int | None = None,
    verify: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> FoldResult:
    """Replay the WAL in ``wal_dir``, from ``snapshot`` if given, else from the shard's empty
    state; stop after input ``until`` if given; with ``verify``, check every logged output.
    ``progress``, if given, is called now and then with (input reached, last input logged).

    This is ``python -m hypermarket fold wal DIR [--snapshot FILE] [--until SEQ] [--verify]``.
    It only reads: a torn tail is reported in ``torn_tail`` and not replayed, not cut.
    Raises ``PersistenceError`` subclasses (file and offset) for damage, a pruned start, a
    snapshot of another shard or ahead of the WAL, or ``until`` before the snapshot.
    """
    scan = scan_wal(wal_dir)
    if scan.layout is None:
        raise ReplayError(wal_dir, "no WAL segments here")
    if snapshot is None:
        start, stream_seq = scan.layout.genesis(), 0
    else:
        loaded = read_snapshot(snapshot)
        start, stream_seq = loaded.state, loaded.header.last_stream_seq
        check_layout(start, scan.layout, snapshot)
        if start.input_seq > scan.last_input_seq:
            raise ReplayError(
                snapshot,
                f"the snapshot covers input {start.input_seq}, the WAL ends at "
                f"{scan.last_input_seq}",
            )
    if until is not None and until < start.input_seq:
        raise ReplayError(
            snapshot or wal_dir, f"--until {until} is before the start at input {start.input_seq}"
        )
    records = records_from(scan.segments, start.input_seq + 1)
    if progress is not None:
        records = _reporting(records, progress, scan.last_input_seq)
    result = replay(
        records,
        start,
        stream_seq,
        source=wal_dir,
        until=until,
        verify=verify,
    )
    return msgspec.structs.replace(result, snapshot=snapshot, torn_tail=scan.tail)


__all__ = ["FoldResult", "OutputMismatch", "Verification", "check_layout", "fold", "replay"]
