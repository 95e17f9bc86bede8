"""Whatever a config file or the environment holds, loading either returns a ``Config`` (which
``describe`` prints as YAML that loads back to it) or raises ``ConfigError`` whose every line
names the file or a variable: never another exception.
Hypothesis writes three kinds of junk to a file and loads it: arbitrary text and bytes, YAML
documents built from the real key names with values of every YAML type (so the junk gets past
the parser into the schema walk and the checks), and example.yaml with random edits.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import msgspec.inspect as mi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypermarket.config import VARIABLES, Config, ConfigError, describe, load_config

EXAMPLE = (Path(__file__).resolve().parent.parent / "config" / "example.yaml").read_text("utf-8")


def _names(info: mi.Type) -> set[str]:
    match info:
        case mi.StructType():
            return {f.name for f in info.fields}.union(*(_names(f.type) for f in info.fields))
        case mi.UnionType():
            return set().union(*(_names(t) for t in info.types))
        case mi.VarTupleType():
            return _names(info.item_type)
    return set()


KEY_NAMES = sorted(_names(mi.type_info(Config)))
WORDS = [*KEY_NAMES, "nats://a:4222", "always", "batch", "CONTINUOUS", "ACTIVE", "", "~", "."]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEY_NAMES) | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=40,
)
environments = st.dictionaries(
    st.sampled_from(sorted(VARIABLES)), st.sampled_from(WORDS) | st.text()
)


@st.composite
def edited_example(draw: st.DrawFn) -> str:
    text = EXAMPLE
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 20))
        insert = draw(st.text(alphabet=string.printable, max_size=10))
        text = text[:at] + insert + text[at + cut :]
    return text


@pytest.fixture(scope="module")
def file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "x.yaml"


def outcome(file: Path, environ: dict[str, str]) -> Config | ConfigError:
    try:
        return load_config(file, environ)
    except ConfigError as error:
        return error


def assert_loads_or_explains(file: Path, environ: dict[str, str]) -> None:
    """Loading ``file`` explains its failure line by line, or gives a config that ``describe``
    prints as YAML which loads back to it (unless a secret was set: describe redacts those)."""
    result = outcome(file, environ)
    if isinstance(result, ConfigError):
        assert result.lines
        origins = (str(file), *VARIABLES)
        assert all(line.startswith(origins) for line in result.lines), result.lines
    elif result.nats.password is None and result.nats.token is None:
        effective = file.with_name("effective.yaml")
        effective.write_text(describe(result), encoding="utf-8")
        assert load_config(effective, environ) == result


# File I/O makes timings noisy; the default number of examples keeps the suite quick.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary() | st.text().map(lambda text: text.encode("utf-8")), environ=environments)
def test_junk_bytes(file: Path, data: bytes, environ: dict[str, str]) -> None:
    file.write_bytes(data)
    assert_loads_or_explains(file, environ)


@FUZZ
@given(document=st.dictionaries(st.sampled_from(KEY_NAMES), documents), environ=environments)
def test_junk_documents(file: Path, document: dict[str, Any], environ: dict[str, str]) -> None:
    file.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert_loads_or_explains(file, environ)


@FUZZ
@given(text=edited_example(), environ=environments)
def test_edited_example(file: Path, text: str, environ: dict[str, str]) -> None:
    file.write_text(text, encoding="utf-8")
    assert_loads_or_explains(file, environ)
