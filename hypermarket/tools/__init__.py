"""Operator tools: client programs that speak the wire contract (CONTRACT.md) over NATS.

Each tool is one module with a ``register`` function that adds its sub-command to
``python -m hypermarket``: ``send`` (publish inputs), ``tail`` (follow the output stream),
``book`` (a live order book built from the output stream), ``markets`` (the ``MARKETS``
bucket) and ``demo`` (an engine, two markets and a scripted flow, end to end).

They are clients, not part of the engine: they run nats-py on plain asyncio (``asyncio.run``)
rather than Trio, and know the engine only through the contract, the configuration file and
the codecs of ``hypermarket.wire``.  What they share lives in one place each, so that every
tool says the same thing the same way: ``client`` (the connection flags, where the server
and the subjects come from, connecting, the error an operator sees), ``arguments`` (reading
accounts and enums, ``--help`` with examples), ``outputs`` (reading the output stream),
``render`` (an output on one line) and ``engine_process`` (the engine as a child process,
for ``demo`` and the tests).
"""
