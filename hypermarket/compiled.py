"""Whether the pure core runs compiled (mypyc) or as Python bytecode.

A wheel built with ``HYPERMARKET_USE_MYPYC=1`` (``setup.py``) carries the
core's function modules as extension modules next to their sources; Python
imports the extension.  Benchmarks and the engine's start-up log say which one
runs, since the throughput differs by about 1.5x (``docs/performance.md``).
"""

from __future__ import annotations

import importlib.machinery

import hypermarket.core


def core_build() -> str:
    """``"compiled (mypyc)"`` or ``"interpreted"``, by the module ``step`` was loaded from."""
    origin = hypermarket.core.__file__ or ""
    if origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        return "compiled (mypyc)"
    return "interpreted"
