"""The pure core imports nothing from the shell: checked on the source, module by module.

DESIGN.md: ``models``, ``matching``, ``risk`` and ``core`` import nothing from
``bus``, ``engine``, ``persistence``, ``config``, ``observability``, ``cli``,
trio, nats or the OS.  This walks every ``import`` of those packages' modules
with ``ast`` and fails naming the file and the forbidden module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hypermarket"
PURE = ("models", "matching", "risk", "core")
FORBIDDEN_PREFIXES = (
    "hypermarket.bus",
    "hypermarket.engine",
    "hypermarket.persistence",
    "hypermarket.config",
    "hypermarket.observability",
    "hypermarket.cli",
    "hypermarket.wire",
    "trio",
    "nats",
    "asyncio",
    "os",
    "sys",
    "time",
    "datetime",
    "random",
    "uuid",
    "socket",
    "threading",
    "logging",
    "pathlib",
    "io",
    "subprocess",
)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.append(node.module)
    return names


def _pure_modules() -> list[Path]:
    return sorted(p for package in PURE for p in (PACKAGE / package).rglob("*.py"))


def test_the_pure_packages_exist() -> None:
    assert len(_pure_modules()) >= 10


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_imports_nothing_from_the_shell(path: Path) -> None:
    bad = [
        name
        for name in _imports(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN_PREFIXES)
    ]
    assert not bad, f"{path}: imports {bad}, which the pure core must not"


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom trio import sleep\nfrom hypermarket.models import Side\n")
    assert _imports(sample) == ["os", "trio", "hypermarket.models"]
