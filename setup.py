"""Build hook: compile the pure core with mypyc when ``HYPERMARKET_USE_MYPYC=1``.

Everything else about the package is in ``pyproject.toml``.  Without the
variable the build is pure Python, which is what an editable development
install wants: a compiled module next to its source would shadow every later
edit of that source.  Deployments build a wheel with the variable set
(``docs/operations.md``); the modules compiled are ``[tool.hypermarket]
mypyc`` in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from setuptools import setup


def _ext_modules() -> list[Any]:
    if os.environ.get("HYPERMARKET_USE_MYPYC", "0") != "1":
        return []
    from mypyc.build import mypycify  # noqa: PLC0415  (only a compiled build needs mypy)

    pyproject = tomllib.loads(Path(__file__).with_name("pyproject.toml").read_text("utf-8"))
    return list(mypycify(pyproject["tool"]["hypermarket"]["mypyc"], opt_level="3"))


setup(ext_modules=_ext_modules())
