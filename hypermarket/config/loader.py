"""The two ways to get a ``Config``: from a file, or the defaults of ``run`` without one.

Both go through the same pipeline, so the defaults are the schema's and nothing else:
read the document (``document``), apply the environment (``environment``), type and check
it (``convert`` with ``checks``), and raise one ``ConfigError`` listing every problem.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hypermarket.config.checks import check
from hypermarket.config.convert import convert
from hypermarket.config.document import read_document
from hypermarket.config.environment import apply_environment
from hypermarket.config.errors import ConfigError, Problem
from hypermarket.config.schema import Config


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration in the YAML file at ``path``, with ``environ``'s overrides applied.

    ``environ`` defaults to the process environment; tests pass a dict.  Relative paths in
    the file (and in the variables) resolve against the file's directory, whatever the
    current directory.  Raises ``ConfigError`` naming the file (or the variable), the key
    path and the reason of every problem; anything else escaping is a bug.
    """
    document = read_document(path)
    return _build(document, str(path), path.parent.absolute(), environ)


def default_config(data_dir: Path, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration ``run`` uses without ``--config``: the schema's defaults.

    That is the embedded nats-server, one shard, no seed markets, and every folder under
    ``data_dir`` (relative to the current directory).  The ``HYPERMARKET_NATS_*`` variables
    of ``environ`` (default: the process environment) still apply, so a server named there
    is used instead of the embedded one.
    """
    return _build({"data_dir": str(data_dir)}, "default configuration", Path.cwd(), environ)


def _build(
    document: dict[Any, Any], source: str, base_dir: Path, environ: Mapping[str, str] | None
) -> Config:
    overrides = apply_environment(document, os.environ if environ is None else environ)
    config, problems = convert(
        overrides.document, base_dir, functools.partial(check, label=overrides.label)
    )
    problems = overrides.problems + problems
    if problems:
        raise ConfigError([_line(source, problem, overrides.label) for problem in problems])
    assert config is not None, "the walk failed to build a config without saying why"
    return config


def _line(source: str, problem: Problem, label: Callable[[str], str]) -> str:
    """``problem`` as the operator reads it: under its variable if the environment gave the
    value, else under the file (``source``) and the key path."""
    where, reason = problem
    if label(where) != where:
        return f"{label(where)}: {reason}"
    return f"{source}: {where}: {reason}" if where else f"{source}: {reason}"
