"""A market's configuration and the rules a configuration must satisfy.

A ``MarketConfig`` arrives in an ``UpsertMarket`` input (from the ``MARKETS``
KV bucket or the engine's seed list).  ``config_problem`` is the single place
that decides whether a configuration is acceptable; the core rejects a bad one
as a whole, and ``config/`` and the ``markets put`` tool call the same function
so that an operator hears about a mistake before it reaches the stream.
"""

from __future__ import annotations

import msgspec

from hypermarket.models.enums import MarginMode, MarketStatus, MatchingMode

BPS_DENOMINATOR = 10_000
INT64_MAX = (1 << 63) - 1
MAX_SYMBOL_LENGTH = 32


class MarketConfig(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Everything that defines a market; units as in CONTRACT.md (ticks, lots, bps)."""

    market_id: int
    symbol: str
    contract_multiplier: int = 1
    min_quantity: int = 1
    max_quantity: int = 0
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0
    initial_margin_bps: int = 1_000
    maintenance_margin_bps: int = 500
    price_band_bps: int = 0
    max_position: int = 0
    matching_mode: MatchingMode = MatchingMode.CONTINUOUS
    auction_interval_ms: int = 0
    status: MarketStatus = MarketStatus.ACTIVE
    margin_mode: MarginMode = MarginMode.ISOLATED


def config_problem(config: MarketConfig) -> str | None:
    """Return a sentence naming the first broken rule of ``config``, or None if it is valid.

    The rules are checked in field order, so the same bad config always gets the
    same answer.
    """
    checks: tuple[tuple[bool, str], ...] = (
        (config.market_id >= 1, "market_id must be at least 1 (0 means 'every market')"),
        (
            0 < len(config.symbol) <= MAX_SYMBOL_LENGTH and config.symbol.isprintable(),
            f"symbol must be 1 to {MAX_SYMBOL_LENGTH} printable characters",
        ),
        (config.contract_multiplier >= 1, "contract_multiplier must be at least 1"),
        (config.min_quantity >= 1, "min_quantity must be at least 1"),
        (
            config.max_quantity == 0 or config.max_quantity >= config.min_quantity,
            "max_quantity must be 0 (no limit) or at least min_quantity",
        ),
        (
            -BPS_DENOMINATOR <= config.maker_fee_bps <= BPS_DENOMINATOR,
            "maker_fee_bps must lie between -10000 and 10000",
        ),
        (
            -BPS_DENOMINATOR <= config.taker_fee_bps <= BPS_DENOMINATOR,
            "taker_fee_bps must lie between -10000 and 10000",
        ),
        (
            config.taker_fee_bps + config.maker_fee_bps >= 0,
            "taker_fee_bps must not be below minus maker_fee_bps (trades would cost the exchange)",
        ),
        (
            0 < config.initial_margin_bps <= BPS_DENOMINATOR,
            "initial_margin_bps must lie between 1 and 10000",
        ),
        (
            0 < config.maintenance_margin_bps < config.initial_margin_bps,
            "maintenance_margin_bps must be positive and below initial_margin_bps",
        ),
        (
            0 <= config.price_band_bps <= BPS_DENOMINATOR,
            "price_band_bps must lie between 0 (no band) and 10000",
        ),
        (config.max_position >= 0, "max_position must not be negative (0 means no limit)"),
        (
            config.matching_mode is MatchingMode.CONTINUOUS or config.auction_interval_ms > 0,
            "auction_interval_ms must be positive for a BATCH market",
        ),
        (config.auction_interval_ms >= 0, "auction_interval_ms must not be negative"),
        (
            config.margin_mode is MarginMode.ISOLATED,
            "margin_mode CROSS is not active in this engine version (use ISOLATED)",
        ),
    )
    for ok, problem in checks:
        if not ok:
            return problem
    return None


def change_problem(before: MarketConfig, after: MarketConfig) -> str | None:
    """Why a market running with ``before`` may not change to ``after``, or None.

    These rules are on top of ``config_problem`` (which ``after`` must pass
    too): the multiplier gives every open position and order its meaning, and
    leaving batch mode clears the book in a last auction, which only an
    ACTIVE market may run (a HALTED one cancels its orders instead).
    """
    if before.contract_multiplier != after.contract_multiplier:
        return "contract_multiplier of an existing market cannot change"
    leaves_batch = (
        before.matching_mode is MatchingMode.BATCH
        and after.matching_mode is MatchingMode.CONTINUOUS
    )
    if leaves_batch and after.status not in (MarketStatus.ACTIVE, MarketStatus.HALTED):
        return (
            "switching a BATCH market to CONTINUOUS clears its book in a last auction: "
            "do it with status ACTIVE (or HALTED, which cancels every order instead)"
        )
    return None
