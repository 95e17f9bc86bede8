"""Environment variables that override a file's NATS servers and credentials.

Why these and no others: the servers and the secrets are what differ between deployments of
one config file, and secrets belong in the environment (or files it points to), not in a file
that is copied around and printed by ``config check``.

Rules:

* Each variable overrides one key of ``nats`` (``VARIABLES``), key by key: a file can name
  ``user`` and let ``HYPERMARKET_NATS_PASSWORD`` supply the password.  An override never
  silently removes another key, so a file token plus an environment user is a conflict,
  reported with both origins.
* An empty variable counts as unset (container tools pass unset variables as empty).
* ``HYPERMARKET_NATS_URLS`` is comma-separated; an empty entry is a mistake.
* Values are typed and checked exactly like the file's (a relative path resolves against the
  config file's directory); a problem with one of them names the variable, not the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from hypermarket.config.errors import Problem

VARIABLES: Final = {
    "HYPERMARKET_NATS_URLS": "urls",
    "HYPERMARKET_NATS_USER": "user",
    "HYPERMARKET_NATS_PASSWORD": "password",
    "HYPERMARKET_NATS_TOKEN": "token",
    "HYPERMARKET_NATS_CREDS_FILE": "creds_file",
    "HYPERMARKET_NATS_NKEYS_SEED_FILE": "nkeys_seed_file",
}


class Overrides(NamedTuple):
    """A document with the environment applied, and where each overridden value came from."""

    document: dict[Any, Any]
    origins: Mapping[str, str]  # key path ("nats.urls") -> variable name
    problems: list[Problem]

    def label(self, where: str) -> str:
        """The variable that supplied the value at key path ``where``, else ``where`` itself."""
        for path, variable in self.origins.items():
            if where == path or where.startswith(f"{path}["):
                return variable
        return where


def apply_environment(document: dict[Any, Any], environ: Mapping[str, str]) -> Overrides:
    """``document`` with the set ``VARIABLES`` of ``environ`` written over its ``nats`` keys.

    ``document`` itself is left unchanged.  If its ``nats`` is neither a mapping nor empty,
    the walk reports that and the environment is not applied.
    """
    nats = document.get("nats")
    if nats is not None and not isinstance(nats, dict):
        return Overrides(document, {}, [])
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    problems: list[Problem] = []
    for variable, key in VARIABLES.items():
        text = environ.get(variable, "")
        if not text:
            continue
        origins[f"nats.{key}"] = variable
        if key == "urls":
            urls = [url.strip() for url in text.split(",")]
            values[key] = [url for url in urls if url]
            if not all(urls):
                problems.append(Problem("nats.urls", f"has an empty entry ({text!r})"))
        else:
            values[key] = text
    if not values:
        return Overrides(document, {}, [])
    return Overrides({**document, "nats": {**(nats or {}), **values}}, origins, problems)
