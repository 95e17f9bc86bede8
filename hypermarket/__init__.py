"""Hypermarket: the off-chain core engine of a perpetual-futures exchange.

``hypermarket.core.step`` is the pure deterministic core; everything else is
the shell around it (wire codec, write-ahead log, NATS bus, Trio runtime, CLI).
"""

__version__ = "0.1.0"
