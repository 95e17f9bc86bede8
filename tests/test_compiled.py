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

from hypermarket.compiled import core_build
from tests.compiled_digest import digests

ROOT = Path(__file__).parent.parent


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
    modules: list[str] = load_setup().mypyc_modules()
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


CORE_TESTS = [
    "tests/test_core_orders.py",
    "tests/test_core_markets.py",
    "tests/test_risk_units.py",
    "tests/test_auction_core.py",
    "tests/test_auction_clearing.py",
    "tests/test_core_properties.py",
    "tests/test_risk_properties.py",
    "tests/test_core_stateful.py",
    "tests/test_examples.py",
    "tests/test_compiled.py::test_the_core_build_is_the_one_expected",
]
"""The core's own tests, run again against the compiled build (edge cases a flow never hits)."""


@pytest.fixture(scope="module")
def compiled_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the unpacked wheel built with ``HYPERMARKET_USE_MYPYC=1``."""
    scratch = tmp_path_factory.mktemp("compiled")
    source = scratch / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "hypermarket", source / "hypermarket", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = scratch / "wheels"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=False,
        env={**os.environ, "HYPERMARKET_USE_MYPYC": "1"},
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    installed = scratch / "installed"
    (wheel,) = wheels.glob("hypermarket-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    assert list((installed / "hypermarket" / "core").glob("__init__.*.so"))
    return installed


def compiled_env() -> dict[str, str]:
    """The environment of a child process that imports the compiled build.

    The child runs in the unpacked wheel's folder, which comes first on its
    ``sys.path``: the wheel's ``hypermarket`` shadows the source tree, and
    ``tests`` comes from ``PYTHONPATH``.
    """
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HYPERMARKET_EXPECT_BUILD": "compiled (mypyc)",
    }


def test_compiled_core_matches_the_interpreted_core(compiled_build: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "tests.compiled_digest"],
        cwd=compiled_build,
        env=compiled_env(),
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


def test_the_core_tests_pass_against_the_compiled_build(compiled_build: Path) -> None:
    # --import-mode=append keeps pytest from putting the source tree first on sys.path.
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=append",
            *(str(ROOT / test) for test in CORE_TESTS),
        ],
        cwd=compiled_build,
        env=compiled_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stdout[-4000:] + child.stderr[-2000:]
    assert " passed" in child.stdout


def test_the_core_build_is_the_one_expected() -> None:
    # Interpreted in the suite, compiled when the test above runs it against the wheel.
    assert core_build() == os.environ.get("HYPERMARKET_EXPECT_BUILD", "interpreted")


def load_setup() -> ModuleType:
    """``setup.py`` as a module (its ``setup()`` call runs only as ``__main__``)."""
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


def test_metadata_hooks_compile_nothing_even_with_the_variable() -> None:
    setup = load_setup()
    for command in ("egg_info", "dist_info"):
        assert setup.ext_modules({"HYPERMARKET_USE_MYPYC": "1"}, ["setup.py", command]) == []


def test_the_build_compiler_is_the_one_the_tests_use() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    build = [r for r in pyproject["build-system"]["requires"] if r.startswith("mypy")]
    dev = [r for r in pyproject["project"]["optional-dependencies"]["dev"] if r.startswith("mypy")]
    assert build == dev
    assert build[0].startswith("mypy==")
