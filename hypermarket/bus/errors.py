"""Failures of the bus that the engine must not ride over: each one stops a shard or start-up."""

from __future__ import annotations


class BusError(Exception):
    """The bus cannot do what was asked, and retrying will not help."""


class StreamConfigError(BusError):
    """A stream or bucket exists with a configuration the engine cannot work with."""

    def __init__(self, stream: str, differences: list[str]) -> None:
        self.stream = stream
        self.differences = differences
        super().__init__(
            f"stream {stream} exists with an incompatible configuration: "
            + "; ".join(differences)
            + " (change the stream, or the bus settings, by hand: the engine never rewrites it)"
        )


class StreamBehindError(BusError):
    """The stream ends before a sequence that was already consumed: it lost messages."""

    def __init__(self, stream: str, consumed_seq: int, last_seq: int) -> None:
        self.stream = stream
        self.consumed_seq = consumed_seq
        self.last_seq = last_seq
        super().__init__(
            f"stream {stream} ends at sequence {last_seq} but sequence {consumed_seq} was "
            "already consumed: the stream lost acknowledged messages or was re-created; "
            "new messages would reuse consumed sequence numbers, so consumption stops"
        )
