"""The mypyc build of the core behaves exactly like the Python source.

A deployment runs the wheel built with ``HYPERMARKET_USE_MYPYC=1``; the suite
otherwise runs the interpreted source.  This builds that wheel for real (the
same ``setup.py``, no network: ``--no-build-isolation``), imports its
extension modules in a child process, and checks that the outputs and state
hashes of a long seeded flow and of every worked example are byte-identical.
It also keeps msgspec Structs out of the compiled modules: mypyc drops a
Struct's class options, so a frozen record there would silently turn mutable.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.compiled_digest import digests

ROOT = Path(__file__).parent.parent


def compiled_modules() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    modules: list[str] = pyproject["tool"]["hypermarket"]["mypyc"]
    return modules


def defines_struct(path: Path) -> list[str]:
    """Names of the classes in ``path`` with a base spelled ``Struct`` or ``*.Struct``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if name == "Struct":
                    found.append(node.name)
    return found


def test_no_compiled_module_defines_a_struct() -> None:
    modules = compiled_modules()
    assert "hypermarket/core/__init__.py" in modules
    offenders = {module: defines_struct(ROOT / module) for module in modules}
    assert {module: names for module, names in offenders.items() if names} == {}


def test_the_struct_check_sees_structs() -> None:
    assert defines_struct(ROOT / "hypermarket/matching/records.py") == [
        "Level",
        "SideBook",
        "AccountOrders",
        "Book",
        "Trade",
        "MatchResult",
        "Clearing",
        "Candidate",
    ]


def test_compiled_core_matches_the_interpreted_core(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "hypermarket", source / "hypermarket", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        env={**os.environ, "HYPERMARKET_USE_MYPYC": "1"},
        capture_output=True,
    )
    installed = tmp_path / "installed"
    (wheel,) = wheels.glob("hypermarket-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    assert list((installed / "hypermarket" / "core").glob("__init__.*.so"))

    # The child's working directory comes first on its sys.path: the wheel's
    # ``hypermarket`` shadows the source tree, ``tests`` comes from PYTHONPATH.
    child = subprocess.run(
        [sys.executable, "-m", "tests.compiled_digest"],
        cwd=installed,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    compiled = json.loads(child.stdout)
    interpreted = digests()
    assert interpreted["build"] == "interpreted"
    assert compiled["build"] == "compiled (mypyc)"
    assert {k: v for k, v in compiled.items() if k != "build"} == {
        k: v for k, v in interpreted.items() if k != "build"
    }


def load_setup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hypermarket_setup", ROOT / "setup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_build_without_the_variable_compiles_nothing() -> None:
    setup = load_setup()
    assert setup.ext_modules({}, ["setup.py", "bdist_wheel"]) == []
    assert setup.ext_modules({"HYPERMARKET_USE_MYPYC": "0"}, ["setup.py", "bdist_wheel"]) == []


def test_an_editable_compiled_build_is_refused_with_the_reason() -> None:
    setup = load_setup()
    with pytest.raises(SystemExit, match="cannot build an editable install"):
        setup.ext_modules({"HYPERMARKET_USE_MYPYC": "1"}, ["setup.py", "editable_wheel"])
