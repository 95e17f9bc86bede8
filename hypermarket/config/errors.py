"""What a configuration mistake is, before and after it is written for the operator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Problem(NamedTuple):
    """One mistake: where it is and why it is one.

    ``where`` is a key path as the operator would write it (``nats.tls.ca_file``,
    ``shards[2]``, ``markets[1] (market_id 3)``), or "" for the document as a whole.
    ``reason`` is a phrase that reads after ``where: ``.
    """

    where: str
    reason: str


class ConfigError(Exception):
    """The configuration cannot be used; the message says every reason found, one per line.

    Each line names its origin and then the problem: ``config/x.yaml: shards[2]: 7 is not
    below shard_count 4``, ``config/x.yaml: unknown key 'nats.url' (did you mean
    'nats.urls'?)``, ``config/x.yaml:3:5: invalid YAML: ...``, or, for a value that came
    from the environment, the variable: ``HYPERMARKET_NATS_CREDS_FILE: file does not exist:
    /x``.  A file that cannot be read or parsed gives exactly one line; otherwise every
    problem the loader finds is listed, in the order of the schema, so one run shows them all.
    ``lines`` holds the same lines for callers that want them separately.
    """

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = tuple(lines)
        super().__init__("\n".join(self.lines))
