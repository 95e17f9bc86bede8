"""The message bus: what the engine needs from JetStream (``protocol``) and who provides it.

``memory.MemoryBus`` is in-process (tests, simulation); ``nats.NatsBus`` is NATS JetStream
through nats-py on a thread of its own (``bridge``); ``embedded`` runs a local nats-server
for development and tests.
"""

from hypermarket.bus.embedded import EmbeddedServerError, open_embedded_nats
from hypermarket.bus.errors import BusError, StreamBehindError, StreamConfigError
from hypermarket.bus.memory import MemoryBus
from hypermarket.bus.nats import BusSettings, BusStatistics, NatsBus, open_nats_bus
from hypermarket.bus.protocol import Bus, InputMessage, KvEntry, OutputMessage

__all__ = [
    "Bus",
    "BusError",
    "BusSettings",
    "BusStatistics",
    "EmbeddedServerError",
    "InputMessage",
    "KvEntry",
    "MemoryBus",
    "NatsBus",
    "OutputMessage",
    "StreamBehindError",
    "StreamConfigError",
    "open_embedded_nats",
    "open_nats_bus",
]
