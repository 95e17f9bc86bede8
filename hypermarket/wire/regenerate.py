"""Regenerate ``engine_pb2.py`` and ``engine_pb2.pyi`` from ``proto/engine.proto``.

The generated code is committed (DESIGN.md: the codec is the official protobuf runtime, and a
clone must work without a compiler step), so it can go stale when the proto changes.  This
module is the one way to rebuild it, and ``tests/test_wire_generated.py`` runs it into a
temporary folder to prove the committed files are what the proto gives today.

Run from anywhere::

    python -m hypermarket.wire.regenerate            # rewrite the committed files
    python -m hypermarket.wire.regenerate OUT_DIR    # write them into OUT_DIR instead

It does what ``python -m grpc_tools.protoc -Iproto --python_out=hypermarket/wire
--pyi_out=hypermarket/wire proto/engine.proto`` does from the repository root (``COMMAND``),
with absolute paths, so the output is byte for byte the same wherever it is run from.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]  # grpcio-tools ships no stubs

WIRE_DIR = Path(__file__).resolve().parent
REPO_ROOT = WIRE_DIR.parent.parent
PROTO_DIR = REPO_ROOT / "proto"
PROTO_FILE = PROTO_DIR / "engine.proto"
GENERATED_FILES = ("engine_pb2.py", "engine_pb2.pyi")
COMMAND = (
    "python -m grpc_tools.protoc -Iproto --python_out=hypermarket/wire "
    "--pyi_out=hypermarket/wire proto/engine.proto"
)


def regenerate(out_dir: Path = WIRE_DIR) -> None:
    """Compile ``proto/engine.proto`` into ``out_dir``; raise RuntimeError if protoc fails."""
    status = protoc.main(
        [
            "grpc_tools.protoc",  # argv[0], ignored by protoc
            f"-I{PROTO_DIR}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            str(PROTO_FILE),
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status} (its message is above)")


def main(argv: list[str]) -> int:
    """Entry point: an optional output folder, else the package folder itself."""
    if len(argv) > 1:
        print(f"usage: python -m hypermarket.wire.regenerate [OUT_DIR]\n({COMMAND})")
        return 2
    regenerate(Path(argv[0]) if argv else WIRE_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
