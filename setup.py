"""Build hook: compile the pure core with mypyc when ``HYPERMARKET_USE_MYPYC=1``.

Everything else about the package is in ``pyproject.toml``.  Without the
variable the build is pure Python, which is what an editable development
install wants: a compiled module next to its source would shadow every later
edit of that source, so an editable build with the variable set is refused.
Deployments build a wheel with the variable set (``docs/operations.md``); the
modules compiled are ``[tool.hypermarket] mypyc`` in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from setuptools import setup

EDITABLE_COMMANDS = ("editable_wheel", "develop")
"""What setuptools runs for ``pip install -e`` (PEP 660) and for ``setup.py develop``."""

BUILD_COMMANDS = ("bdist_wheel", "build", "build_ext")
"""The commands that build extension modules.  A PEP 517 build also runs this file for its
metadata (``egg_info``, ``dist_info``); compiling there would run mypy for nothing."""


def mypyc_modules() -> list[str]:
    """The source files to compile: ``[tool.hypermarket] mypyc`` of ``pyproject.toml``."""
    pyproject = tomllib.loads(Path(__file__).with_name("pyproject.toml").read_text("utf-8"))
    modules: list[str] = pyproject["tool"]["hypermarket"]["mypyc"]
    return modules


def ext_modules(environ: Mapping[str, str], argv: Sequence[str]) -> list[Any]:
    """The extension modules to build: none, or the mypyc-compiled core."""
    if environ.get("HYPERMARKET_USE_MYPYC", "0") != "1":
        return []
    if any(command in argv for command in EDITABLE_COMMANDS):
        raise SystemExit(
            "HYPERMARKET_USE_MYPYC=1 cannot build an editable install: the compiled modules "
            "would shadow their sources. Build a wheel (pip wheel / pip install .) instead."
        )
    if not any(command in argv for command in BUILD_COMMANDS):
        return []
    from mypyc.build import mypycify  # noqa: PLC0415  (only a compiled build needs mypy)

    return list(mypycify(mypyc_modules(), opt_level="3"))


if __name__ == "__main__":  # setuptools runs this file as __main__
    setup(ext_modules=ext_modules(os.environ, sys.argv))
