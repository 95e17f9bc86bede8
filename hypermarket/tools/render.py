"""One output as one line a person can read; ``tail`` prints these, and ``demo`` too.

A line is ``<shard>:<seq> m<market> <Kind> <key fields>``, ending with ``req <request_id>``
when the input carried one, so it can be matched with what ``send`` printed.  Accounts are
0x hex (paste them into ``send``), enums lower-case names, numbers as on the wire: prices in
ticks, quantities in lots, money in micro-USDC.  ``--json`` in ``tail`` gives the canonical
JSON line instead, for programs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import assert_never

from hypermarket.models import (
    AuctionResult,
    BookDelta,
    CancelAllDone,
    Fill,
    MarketUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    Output,
    PositionUpdate,
    Rejected,
)
from hypermarket.tools.arguments import enum_name, format_account


def lots(quantity: int) -> str:
    """``1 lot``, ``3 lots``."""
    return f"{quantity} lot" if quantity == 1 else f"{quantity} lots"


def short_account(account: bytes) -> str:
    """``0xa11c…0001``: enough to tell the accounts of a demo apart on a narrow terminal."""
    text = format_account(account)
    return f"{text[:6]}…{text[-4:]}"


def describe(out: Output, *, account: Callable[[bytes], str] = format_account) -> str:
    """``out`` on one line (see the module docstring); ``account`` formats the accounts."""
    body = out.body
    match body:
        case OrderAccepted():
            detail = (
                f"order {body.order_id} client {body.client_order_id} {account(body.account)} "
                f"{enum_name(body.side)} {body.quantity} @ {body.price}"
            )
        case OrderRejected():
            order = f" order {body.order_id}" if body.order_id else ""
            detail = (
                f"client {body.client_order_id}{order} {account(body.account)} "
                f"{enum_name(body.reason)}: {body.detail}"
            )
        case OrderCancelled():
            detail = (
                f"order {body.order_id} client {body.client_order_id} {account(body.account)} "
                f"{body.remaining_quantity} left, {enum_name(body.reason)}"
            )
        case OrderAmended():
            priority = "kept" if body.kept_priority else "lost"
            detail = (
                f"order {body.order_id} client {body.client_order_id} {account(body.account)} "
                f"now {body.quantity} @ {body.price}, priority {priority}"
            )
        case Fill():
            detail = (
                f"{body.quantity} @ {body.price} taker {enum_name(body.taker_side)} "
                f"order {body.taker_order_id} {account(body.taker_account)} "
                f"maker order {body.maker_order_id} {account(body.maker_account)} "
                f"fees taker {body.taker_fee} maker {body.maker_fee} "
                f"left taker {body.taker_remaining} maker {body.maker_remaining}"
            )
        case BookDelta():
            level = f"{body.quantity} in {body.order_count} orders" if body.quantity else "gone"
            detail = f"{enum_name(body.side)} {body.price}: {level}"
        case PositionUpdate():
            detail = (
                f"{account(body.account)} size {body.size} entry notional "
                f"{body.entry_notional} collateral {body.collateral} "
                f"realized pnl {body.realized_pnl}"
            )
        case MarketUpdated():
            config = body.config
            detail = (
                f"{config.symbol} revision {body.revision} {enum_name(config.matching_mode)} "
                f"{enum_name(config.status)}"
            )
        case AuctionResult():
            detail = (
                f"{lots(body.volume)} @ {body.clearing_price} surplus buy {body.buy_surplus} "
                f"sell {body.sell_surplus}"
            )
        case CancelAllDone():
            detail = f"{account(body.account)} {body.cancelled} cancelled"
        case Rejected():
            detail = f"{enum_name(body.reason)}: {body.detail}"
        case _:
            assert_never(body)
    request = f"  req {out.request_id}" if out.request_id else ""
    head = f"{out.shard}:{out.seq}"
    return f"{head:<9} m{out.market_id:<4} {type(body).__name__:<15} {detail}{request}"
