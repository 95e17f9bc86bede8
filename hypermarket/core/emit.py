"""Numbering outputs while a step produces them."""

from __future__ import annotations

from hypermarket.models import Output, OutputBody


class Emitter:
    """Collects the outputs of one input, numbering them densely from the shard's last ``seq``.

    Local to one call of ``step``; never shared.
    """

    __slots__ = ("input_seq", "outputs", "request_id", "seq", "shard", "ts_ns")

    def __init__(self, shard: int, last_seq: int, input_seq: int, ts_ns: int, request_id: int):
        self.shard = shard
        self.seq = last_seq
        self.input_seq = input_seq
        self.ts_ns = ts_ns
        self.request_id = request_id
        self.outputs: list[Output] = []

    def emit(self, market_id: int, body: OutputBody) -> None:
        self.seq += 1
        self.outputs.append(
            Output(
                self.shard, self.seq, self.input_seq, self.ts_ns, market_id, self.request_id, body
            )
        )
