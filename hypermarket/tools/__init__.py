"""Operator tools: client programs that speak the wire contract (CONTRACT.md) over NATS.

Each tool is one module with a ``register`` function that adds its sub-command to
``python -m hypermarket``: ``send`` (publish inputs), ``tail`` (follow the output stream),
``book`` (a live order book built from the output stream), ``markets`` (the ``MARKETS``
bucket) and ``demo`` (an engine, two markets and a scripted flow, end to end).

They are clients, not part of the engine: they run nats-py on plain asyncio (``asyncio.run``)
rather than Trio, and know the engine only through the contract, the configuration file and
the codecs of ``hypermarket.wire``.  What they share (the connection flags, where the server
and the subjects come from, connecting, the error an operator sees, reading the output
stream, rendering an output on one line) lives in ``connection``, ``outputs`` and ``render``,
so that every tool says the same thing the same way.
"""
