"""Tuning of Python's cyclic garbage collector for a long-lived engine.

The core allocates many short-lived persistent nodes, none of which can form
reference cycles (they are msgspec ``Struct(gc=False)`` records and immutable
maps).  Python's collector still walks the whole tracked heap on every full
collection, and full collections come more often as the heap grows; with a
snapshot or a test keeping old states alive, DESIGN.md measured throughput
falling fivefold.  So, after start-up and after a snapshot is loaded, the
engine moves everything alive into the permanent generation (``gc.freeze``)
and raises the thresholds so that young collections stay cheap and full ones
rare.  ``bench core`` reports both settings side by side.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 50
OLD_THRESHOLD = 100


def tune_gc() -> None:
    """Collect once, freeze the surviving heap, and make collections rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def default_gc() -> None:
    """Python's own settings (for comparisons): nothing frozen, default thresholds."""
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
