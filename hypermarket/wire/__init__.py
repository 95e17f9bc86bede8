"""The wire layer: protobuf bytes and JSON <-> domain types, and delimited framing.

``engine_pb2`` is generated from ``proto/engine.proto`` (``python -m
hypermarket.wire.regenerate``) and committed; everything else in the engine goes through the
functions re-exported here, so only this package knows the generated classes.
"""

from hypermarket.wire.codec import (
    decode_input,
    decode_input_json,
    encode_input,
    encode_output,
    encode_output_batch,
    input_to_json,
    output_from_bytes,
    output_to_json,
    outputs_from_batch,
)
from hypermarket.wire.framing import read_delimited, write_delimited

__all__ = [
    "decode_input",
    "decode_input_json",
    "encode_input",
    "encode_output",
    "encode_output_batch",
    "input_to_json",
    "output_from_bytes",
    "output_to_json",
    "outputs_from_batch",
    "read_delimited",
    "write_delimited",
]
