"""The JSON form of a ``MarketConfig``, as the ``MARKETS`` key-value bucket stores it.

CONTRACT.md: the value under key ``<market_id>`` is a JSON object with the
field names of ``MarketConfig``.  Enum fields are written by member name
(``"matching_mode": "BATCH"``, ``"status": "HALTED"``) because operators
write and read these by hand; every number is a JSON integer.  Fields left
out take ``MarketConfig``'s defaults.  Decoding checks types and names only;
the market rules are ``models.config_problem``'s.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import msgspec

from hypermarket.models import MarketConfig

_FIELDS = {field.name: field for field in msgspec.structs.fields(MarketConfig)}


def market_to_json(config: MarketConfig) -> bytes:
    """The bucket value of ``config``: one JSON object, keys in field order."""
    plain: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(config, name)
        plain[name] = value.name if isinstance(value, enum.Enum) else value
    return json.dumps(plain, separators=(",", ":")).encode()


def market_from_json(data: bytes) -> MarketConfig:
    """Read a bucket value; raises ``ValueError`` naming the field and what is wrong."""
    try:
        plain = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(plain, dict):
        raise ValueError("a market config must be a JSON object")
    unknown = sorted(set(plain) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    for name, value in plain.items():
        kind = _FIELDS[name].type
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            names = [member.name for member in kind]
            if value not in names:
                raise ValueError(f"{name}: {value!r} is not one of {', '.join(names)}")
            plain[name] = kind[value]
        elif isinstance(value, bool) or (kind is int and not isinstance(value, int)):
            raise ValueError(f"{name}: expected an integer, got {value!r}")
    try:
        return msgspec.convert(plain, MarketConfig)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from exc
