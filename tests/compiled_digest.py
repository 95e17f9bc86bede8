"""Print, as JSON, digests of what the importable build of the core computes.

``tests/test_compiled.py`` runs this module in a process that imports a mypyc
build of the core and compares its digests with the interpreted core's: the
compiled core must give byte-identical outputs and state hashes.  The flows
cover every kind of input, risk, a BATCH market's auctions and the worked
examples of the docs.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import pkgutil
from pathlib import Path

import msgspec

import hypermarket
from hypermarket.cli.fold_inputs import fold_inputs, read_inputs
from hypermarket.compiled import core_build
from hypermarket.core import initial_state, step
from hypermarket.core.canonical import state_hash
from hypermarket.simulation.flow import FlowGenerator
from hypermarket.wire import encode_output

EXAMPLES = Path(__file__).parent / "examples"


def flow_digest(seed: int, events: int) -> str:
    """SHA-256 over every encoded output of a seeded flow, then the final state hash."""
    generator = FlowGenerator(seed, markets=3, initial_depth=300, batch_markets=1)
    state = initial_state()
    digest = hashlib.sha256()
    for _, inp in (*generator.setup(), *generator.events(events)):
        state, outputs = step(state, inp)
        for output in outputs:
            digest.update(encode_output(output))
    return f"{digest.hexdigest()} {state_hash(state)}"


def example_digest(path: Path) -> str:
    """The ``fold inputs`` JSON lines of a worked example, hashed, then its final state hash."""
    out = io.StringIO()
    state = fold_inputs(read_inputs(path, "jsonl"), out)
    return f"{hashlib.sha256(out.getvalue().encode()).hexdigest()} {state_hash(state)}"


CORE_PACKAGES = ("models", "matching", "risk", "core")


def struct_options() -> dict[str, str]:
    """Each record class of the core's packages with its class options (mypyc drops them)."""
    found = {}
    for package in CORE_PACKAGES:
        path = [str(Path(hypermarket.__file__).parent / package)]
        for info in sorted(pkgutil.iter_modules(path), key=lambda info: info.name):
            name = f"hypermarket.{package}.{info.name}"
            for value in vars(importlib.import_module(name)).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, msgspec.Struct)
                    and value.__module__ == name
                ):
                    options = value.__struct_config__
                    found[f"{name}.{value.__qualname__}"] = (
                        f"frozen={options.frozen} gc={options.gc} array_like={options.array_like}"
                    )
    return found


def digests() -> dict[str, str]:
    """The build that ran, a digest per flow and per worked example, the records' options."""
    found = {"build": core_build(), "flow": flow_digest(3, 20_000)}
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        found[path.name] = example_digest(path)
    return found | struct_options()


if __name__ == "__main__":
    print(json.dumps(digests()))
