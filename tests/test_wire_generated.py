"""The committed ``engine_pb2.py``/``.pyi`` are exactly what ``proto/engine.proto`` compiles to
today: the test runs ``hypermarket.wire.regenerate`` into a temporary folder and compares bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hypermarket.wire import regenerate


def test_committed_code_is_what_the_proto_compiles_to(tmp_path: Path) -> None:
    regenerate.regenerate(tmp_path)
    stale = [
        name
        for name in regenerate.GENERATED_FILES
        if (tmp_path / name).read_bytes() != (regenerate.WIRE_DIR / name).read_bytes()
    ]
    assert not stale, (
        f"hypermarket/wire/{' and '.join(stale)} is stale against proto/engine.proto: run "
        f"`python -m hypermarket.wire.regenerate` (same as `{regenerate.COMMAND}` from the "
        "repository root) and commit the result"
    )


def test_the_command_line_writes_into_the_folder_it_is_given(tmp_path: Path) -> None:
    assert regenerate.main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(regenerate.GENERATED_FILES)


def test_the_command_line_refuses_extra_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert regenerate.main(["a", "b"]) == 2
    assert "usage" in capsys.readouterr().out


def test_a_protoc_failure_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="protoc failed"):
        regenerate.regenerate(tmp_path / "does-not-exist")
