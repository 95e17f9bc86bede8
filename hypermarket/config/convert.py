"""Typing a YAML mapping against the schema, collecting every problem with its key path.

Why a walk of our own instead of ``msgspec.convert``: convert stops at the first error, names
fields as ``$.nats.url``, cannot suggest the key that was meant, reads enums by number where
operators write names (``matching_mode: CONTINUOUS``), and knows nothing of paths relative to
the file.  The walk reads the schema through ``msgspec.inspect.type_info``, so the structs in
``schema`` stay the single definition of every key, type, bound and default.

Rules of the walk:

* Every mapping is typed field by field in schema order; a field that fails is reported and
  the walk goes on, so one run reports every problem.  A struct whose fields all converted is
  built and handed to ``check`` (the rules that involve several fields); one that did not is
  not built, and nothing that depends on it is checked.
* Unknown keys are reported with a suggestion: the closest sibling key (``difflib``), else a
  key of the same name in another section (``fsync`` -> ``wal.fsync``).
* A section key with nothing under it (``engine:`` with every line commented out) stands for
  an empty section, i.e. its defaults.  An absent section is built from its defaults too, so
  the defaults of its fields that depend on other keys (``schema.DERIVED``) are filled in.
* Integers are YAML integers only (``true`` is not 1), and must fit in 64 bits, because every
  number ends up in a 64-bit field of NATS, protobuf or a snapshot.  Numbers (``float``) accept
  integers.  Enums are written by member name, literals by value.
* A path is a non-empty string; a relative one, default included, resolves against
  ``base_dir`` (the directory of the config file).  ``~`` is refused rather than expanded:
  the home directory of a service account is rarely the one the operator has in mind.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from hypermarket.config.document import kind
from hypermarket.config.errors import Problem
from hypermarket.config.schema import DERIVED, Config
from hypermarket.models import INT64_MAX

Check = Callable[[msgspec.Struct, str], Iterable[Problem]]


class _Failed:
    """Marks a value that could not be typed; its problem is already recorded."""


FAILED: Final = _Failed()

_EXPECTED: Final[dict[type[mi.Type], str]] = {
    mi.IntType: "an integer",
    mi.FloatType: "a number",
    mi.BoolType: "true or false",
    mi.StrType: "a string",
    mi.CustomType: "a path",
    mi.VarTupleType: "a list",
    mi.StructType: "a mapping",
}
_QUOTE_HINT: Final = " (put it in quotes to make it a string)"


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _section_keys(info: mi.StructType, where: str) -> Iterable[str]:
    """Every key path of the sections under ``info``, for suggestions across sections."""
    for field in info.fields:
        path = _key(where, field.name)
        yield path
        section = _section(field.type)
        if section is not None:
            yield from _section_keys(section, path)


def _section(info: mi.Type) -> mi.StructType | None:
    """The struct of a section-typed field (optional or not), else None."""
    if isinstance(info, mi.UnionType):
        return next((t for t in info.types if isinstance(t, mi.StructType)), None)
    return info if isinstance(info, mi.StructType) else None


def _struct_info(cls: type[msgspec.Struct]) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


_ROOT: Final = _struct_info(Config)
_ALL_KEYS: Final = tuple(_section_keys(_ROOT, ""))


def _suggestion(key: object, fields: list[str], where: str) -> str:
    if not isinstance(key, str):
        return ""
    close = difflib.get_close_matches(key, fields, n=1)
    if close:
        return f" (did you mean '{_key(where, close[0])}'?)"
    elsewhere = [path for path in _ALL_KEYS if path.rpartition(".")[2] == key]
    return f" (did you mean '{elsewhere[0]}'?)" if elsewhere else ""


def _choices(value: object, choices: Iterable[str]) -> str:
    """Reason for a value outside a fixed set, with the member that was probably meant."""
    names = list(choices)
    reason = f"must be one of {', '.join(names)}; got {kind(value)}"
    if isinstance(value, str):
        upper = {name.upper(): name for name in names}
        close = difflib.get_close_matches(value.upper(), list(upper), n=1)
        if close:
            reason += f" (did you mean '{upper[close[0]]}'?)"
    return reason


def _bounds(info: mi.IntType | mi.FloatType, number: int | float) -> str | None:
    if info.ge is not None and number < info.ge:
        return f"must be at least {info.ge}, got {number}"
    if info.gt is not None and number <= info.gt:
        return f"must be greater than {info.gt}, got {number}"
    if info.le is not None and number > info.le:
        return f"must be at most {info.le}, got {number}"
    if info.lt is not None and number >= info.lt:
        return f"must be below {info.lt}, got {number}"
    return None


class _Walk:
    """One walk over one document: the problems found so far and the typed top-level values."""

    def __init__(self, base_dir: Path, check: Check) -> None:
        self.base_dir = base_dir
        self.check = check
        self.problems: list[Problem] = []
        self.root: dict[str, object] = {}  # typed top-level values, for derived defaults

    def fail(self, where: str, reason: str) -> _Failed:
        self.problems.append(Problem(where, reason))
        return FAILED

    def struct(self, value: object, info: mi.StructType, where: str) -> object:
        if not isinstance(value, dict):
            return self.fail(where, f"expected a mapping, got {kind(value)}")
        names = [field.name for field in info.fields]
        for key in value:
            if key not in names:
                hint = _suggestion(key, names, where)
                self.problems.append(Problem("", f"unknown key '{_key(where, str(key))}'{hint}"))
        typed: dict[str, Any] = {}
        for field in info.fields:
            path = _key(where, field.name)
            if field.name in value:
                raw = value[field.name]
                if raw is None and isinstance(field.type, mi.StructType):
                    raw = {}
                item = self.value(raw, field.type, path)
            else:
                item = self.absent(info, field, where)
            if isinstance(item, _Failed):
                continue
            typed[field.name] = item
            if not where:
                self.root[field.name] = item
        if len(typed) < len(info.fields):
            return FAILED
        built: msgspec.Struct = info.cls(**typed)
        self.problems.extend(self.check(built, where))
        return built

    def absent(self, info: mi.StructType, field: mi.Field, where: str) -> object:
        derived = DERIVED.get((info.cls, field.name))
        if derived is not None:
            source = self.root.get(derived.source, FAILED)
            # A source that failed has its own problem; the default just cannot be computed.
            return source if isinstance(source, _Failed) else derived.compute(source)
        if isinstance(field.type, mi.StructType):
            return self.struct({}, field.type, _key(where, field.name))
        if field.required:
            return self.fail(where, f"missing required key '{field.name}'")
        default = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
        return self.resolve(default) if isinstance(default, Path) else default

    def value(self, value: object, info: mi.Type, where: str) -> object:
        match info:
            case mi.StructType():
                return self.struct(value, info, where)
            case mi.UnionType():  # the schema's only unions are "X | None"
                if value is None:
                    return None
                (inner,) = (t for t in info.types if not isinstance(t, mi.NoneType))
                return self.value(value, inner, where)
            case mi.VarTupleType():
                if not isinstance(value, list):
                    return self.wrong_type(value, info, where)
                items = [
                    self.value(v, info.item_type, f"{where}[{i}]") for i, v in enumerate(value)
                ]
                return FAILED if any(isinstance(v, _Failed) for v in items) else tuple(items)
            case mi.LiteralType():
                if value in info.values:
                    return value
                return self.fail(where, _choices(value, map(str, info.values)))
            case mi.EnumType():
                members: dict[str, enum.Enum] = dict(info.cls.__members__)
                if isinstance(value, str) and value in members:
                    return members[value]
                return self.fail(where, _choices(value, members))
            case mi.CustomType() if info.cls is Path:
                return self.path(value, info, where)
            case mi.IntType() | mi.FloatType() | mi.BoolType() | mi.StrType():
                return self.scalar(value, info, where)
        raise TypeError(f"{where}: the schema type {info} has no YAML form")  # a schema bug

    def wrong_type(self, value: object, info: mi.Type, where: str) -> _Failed:
        expected = _EXPECTED[type(info)]
        yaml_scalar = isinstance(value, bool | int | float | datetime.date)  # YAML typed it
        hint = _QUOTE_HINT if expected in ("a string", "a path") and yaml_scalar else ""
        return self.fail(where, f"expected {expected}, got {kind(value)}{hint}")

    def scalar(self, value: object, info: mi.Type, where: str) -> object:
        match info, value:
            case mi.BoolType(), bool():
                return value
            case mi.IntType(), int() if not isinstance(value, bool):
                if not -INT64_MAX - 1 <= value <= INT64_MAX:
                    return self.fail(where, f"{value} does not fit in 64 bits")
                reason = _bounds(info, value)
                return value if reason is None else self.fail(where, reason)
            case mi.FloatType(), int() | float() if not isinstance(value, bool):
                try:
                    number = float(value)
                except OverflowError:  # an integer beyond any float
                    number = math.inf
                if not math.isfinite(number):
                    return self.fail(where, f"must be a finite number, got {value}")
                reason = _bounds(info, value)  # the value as written, in the message
                return number if reason is None else self.fail(where, reason)
            case mi.StrType(), str():
                if info.min_length and len(value) < info.min_length:
                    return self.fail(where, "must not be empty")
                return value
        return self.wrong_type(value, info, where)

    def path(self, value: object, info: mi.Type, where: str) -> object:
        if not isinstance(value, str):
            return self.wrong_type(value, info, where)
        if not value:
            return self.fail(where, "must not be empty")
        if "\0" in value:
            return self.fail(where, "contains a NUL character")
        if value.startswith("~"):
            return self.fail(where, f"'~' is not expanded here; write the full path ({value!r})")
        return self.resolve(Path(value))

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path


def convert(
    document: dict[Any, Any], base_dir: Path, check: Check
) -> tuple[Config | None, list[Problem]]:
    """Type ``document`` as a ``Config``; relative paths resolve against absolute ``base_dir``.

    Returns the config (None if it could not be built) and every problem found, type
    problems and ``check``'s alike, in schema order.  The config is only usable if there is
    no problem: a struct is built as soon as its types are right, even if a check fails.
    """
    walk = _Walk(base_dir, check)
    config = walk.struct(document, _ROOT, "")
    return (config if isinstance(config, Config) else None), walk.problems
