"""Finding the market an input names, and putting a changed market back.

Every market-scoped input first finds its market: a market id that this shard
does not own is ``WRONG_SHARD`` (``market_id % shard_count != shard``), one it
owns but does not know is ``UNKNOWN_MARKET``.
"""

from __future__ import annotations

from msgspec.structs import replace

from hypermarket.core.state import MarketState, State
from hypermarket.models import RejectReason


def locate(state: State, market_id: int) -> MarketState | tuple[RejectReason, str]:
    """The market ``market_id`` of this shard, or why an input naming it must be rejected."""
    if market_id % state.shard_count != state.shard:
        return (
            RejectReason.WRONG_SHARD,
            f"market {market_id} belongs to shard {market_id % state.shard_count}, "
            f"not {state.shard}",
        )
    market = state.markets.get(market_id)
    if market is None:
        return RejectReason.UNKNOWN_MARKET, f"market {market_id} does not exist"
    return market


def with_market(state: State, market: MarketState) -> State:
    """``state`` with ``market`` replacing the market of the same id."""
    return replace(state, markets=state.markets.set(market.config.market_id, market))
