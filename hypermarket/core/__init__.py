"""The pure core: ``step(state, input) -> (state, outputs)``, the only way state changes.

Theory of operation
-------------------
A shard's state (``State``) is an immutable value.  ``step`` takes one decoded
input, numbers it (``input_seq``), dispatches on its kind with one ``match``,
and returns the new state with the outputs the input caused, numbered densely
per shard (``seq``).  It reads no clock, randomness, file, network or
environment: time arrives inside the input (``ts_ns``, the stream's timestamp).
Business failures are outputs (``OrderRejected``, ``Rejected``); an exception
out of ``step`` means a broken invariant, a bug, and the shard must stop.

=============  ==========================================================
input          handled by
=============  ==========================================================
NewOrder       ``orders.new_order``: check, match, rest or cancel
CancelOrder    ``orders.cancel_order``
CancelAll      ``orders.cancel_all``
AmendOrder     ``orders.amend_order``
UpsertMarket   ``markets.upsert_market``: create, change, halt a market
PriceUpdate    ``markets.price_update``: mark and index price
Deposit        ``collateral.move_collateral``: add isolated collateral
Withdraw       ``collateral.move_collateral``: take it out if margin allows
AuctionTick    ``auction.auction_tick``: clear a batch market at one price
Malformed      ``Rejected`` with the codec's reason and detail
=============  ==========================================================

Replay is a fold: ``functools.reduce`` of ``step`` over the logged inputs,
starting from a snapshot's state, reproduces every output bit for bit.
"""

from __future__ import annotations

from msgspec.structs import replace

from hypermarket.core.auction import auction_tick
from hypermarket.core.canonical import decode_state, encode_state, state_hash
from hypermarket.core.collateral import move_collateral
from hypermarket.core.emit import Emitter
from hypermarket.core.invariants import check_invariants
from hypermarket.core.markets import price_update, upsert_market
from hypermarket.core.orders import amend_order, cancel_all, cancel_order, new_order
from hypermarket.core.state import MarketState, State, initial_state
from hypermarket.models import (
    AmendOrder,
    AuctionTick,
    CancelAll,
    CancelOrder,
    Deposit,
    Input,
    Malformed,
    NewOrder,
    Output,
    PriceUpdate,
    Rejected,
    UpsertMarket,
    Withdraw,
)


def step(state: State, event: Input) -> tuple[State, list[Output]]:
    """Apply one input to ``state``; return the new state and the outputs, in contract order.

    ``state`` itself is never changed.  Every input, even a rejected or ignored
    one, advances ``input_seq`` by one.
    """
    input_seq = state.input_seq + 1
    out = Emitter(state.shard, state.output_seq, input_seq, event.ts_ns, event.request_id)
    match event.body:
        case NewOrder() as body:
            state = new_order(state, body, out)
        case CancelOrder() as body:
            state = cancel_order(state, body, out)
        case AmendOrder() as body:
            state = amend_order(state, body, out)
        case CancelAll() as body:
            state = cancel_all(state, body, out)
        case PriceUpdate() as body:
            state = price_update(state, body, out)
        case UpsertMarket() as body:
            state = upsert_market(state, body, out)
        case Deposit() | Withdraw() as body:
            state = move_collateral(state, body, out)
        case AuctionTick() as body:
            state = auction_tick(state, body, out)
        case Malformed() as body:
            out.emit(body.market_id, Rejected(body.reason, body.detail))
    if state.input_seq != input_seq or state.output_seq != out.seq:
        # Handlers that finish a market step set the counters themselves (one copy of the
        # state instead of two); the others, rejects and ignored inputs, are done here.
        state = replace(state, input_seq=input_seq, output_seq=out.seq)
    return state, out.outputs


__all__ = [
    "MarketState",
    "State",
    "check_invariants",
    "decode_state",
    "encode_state",
    "initial_state",
    "state_hash",
    "step",
]
