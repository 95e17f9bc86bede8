"""Reading a config file into a plain YAML mapping, or one line that says why it cannot be.

A file fails here only as a whole: it is missing or unreadable, not UTF-8, not YAML, empty, or
not a mapping at its top level.  YAML problems carry ``file:line:column`` (one-based, the way
editors jump to them).  Two traps of plain ``yaml.safe_load`` are closed:

* a key given twice in one mapping is an error, where PyYAML silently keeps the last one (a
  second ``nats:`` section would otherwise erase the first without a word);
* a scalar that its tag or its look promises but cannot deliver (``2024-02-30`` read as a
  date, ``!!int abc``, ``!!bool maybe``) makes PyYAML's constructors raise Python's own
  ``ValueError`` or ``KeyError``, without a position; they become YAML errors at the scalar.

Nesting deep enough to exhaust Python's stack (``[[[[...``) is reported as too deep rather
than escaping as ``RecursionError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

from hypermarket.config.errors import ConfigError

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys and locates every scalar it cannot read."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, OverflowError) as exc:  # from int(), date(), bool table
            tag = node.tag.rpartition(":")[2]  # tag:yaml.org,2002:timestamp -> timestamp
            problem = f"{node.value!r} is not a valid {tag} ({exc}); quote it to make it a string"
            raise ConstructorError(None, None, problem, node.start_mark) from exc

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        # Checked on the composed nodes, before any merge key ("<<") splices in other pairs:
        # those may override by design.  Keys compare as written (tag and text).
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                problem = f"duplicate key {key_node.value!r} (first given on line {seen[key]})"
                raise ComposerError(None, None, problem, key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return node


def _position(text: str, index: int) -> str:
    """``line:column`` (one-based) of character ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return f"{line}:{column}"


def _yaml_error(source: str, text: str, error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        line = f"{source}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {error.problem}"
        if error.context and error.context_mark is not None:
            context = error.context_mark
            line += f" ({error.context} at {context.line + 1}:{context.column + 1})"
        return line
    if isinstance(error, yaml.reader.ReaderError):
        where = _position(text, error.position)
        return f"{source}:{where}: invalid YAML: character #x{error.character:04x}: {error.reason}"
    return f"{source}: invalid YAML: {error}"


def read_document(path: Path) -> dict[Any, Any]:
    """The top-level mapping of the YAML file at ``path``; ConfigError with one line if none."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{source}: file does not exist"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read the file: {exc.strerror or exc}"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"]
        ) from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_error(source, text, exc)]) from None
    except RecursionError:
        raise ConfigError([f"{source}: invalid YAML: nested too deeply"]) from None
    if document is None:
        raise ConfigError(
            [f"{source}: the file is empty (no settings; run without --config for the defaults)"]
        )
    if not isinstance(document, dict):
        raise ConfigError(
            [f"{source}: the top level must be a mapping of keys to values, not {kind(document)}"]
        )
    return document


def kind(value: object) -> str:
    """How an operator would name the YAML value ``value``: "a string ('x')", "a list", "null"."""
    match value:
        case None:
            return "null"
        case bool():
            return str(value).lower()
        case int():
            return f"an integer ({value})"
        case float():
            return f"a number ({value})"
        case str():
            shown = value if len(value) <= 40 else value[:37] + "..."
            return f"a string ({shown!r})"
        case list():
            return "a list"
        case dict():
            return "a mapping"
        case _:
            return f"a {type(value).__name__} value"
