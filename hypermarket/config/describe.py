"""The effective configuration as YAML, for ``python -m hypermarket config check FILE``.

What an operator needs to see is what the engine will do, not what the file says: every
default filled in, every path absolute, enums by name.  The output is itself a valid config
file that loads to the same ``Config``, except that secrets (``schema.SECRET_FIELDS``) are
printed as ``<redacted>``: this text ends up in terminals, tickets and logs.
"""

from __future__ import annotations

import enum
from pathlib import Path

import msgspec
import yaml

from hypermarket.config.schema import Config, shown

_HEADER = "# effective configuration: defaults filled in, paths absolute, secrets redacted\n"


def _plain(value: object, name: str = "") -> object:
    """``value`` as plain YAML data, in schema order."""
    match value:
        case msgspec.Struct():
            return {
                field: _plain(getattr(value, field), field) for field in value.__struct_fields__
            }
        case enum.Enum():
            return value.name
        case Path():
            return str(value)
        case tuple():
            return [_plain(item) for item in value]
    return shown(name, value)


def describe(config: Config) -> str:
    """``config`` as YAML, after one comment line, in schema order.

    ``load_config`` reads the text back to an equal ``Config`` unless a secret was set.
    """
    return _HEADER + yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)
