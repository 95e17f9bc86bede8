"""Enumerations of the domain, numbered exactly as in ``proto/engine.proto``.

Every enum here mirrors the proto enum of the same name value for value, so the
wire codec converts with ``Enum(int)`` and a test checks the two stay in step.
Zero is never a meaningful value on the wire (proto3 uses it for "unset"), so
the domain enums start at 1.

``RejectReason`` is listed in the order the core checks the conditions: when an
input breaks several rules, the reason reported is always the first one here
(TigerBeetle's fixed precedence), so the same bad input always gets the same
reason.
"""

from __future__ import annotations

import enum


class Side(enum.IntEnum):
    BUY = 1
    SELL = 2


class OrderType(enum.IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(enum.IntEnum):
    GTC = 1
    IOC = 2
    FOK = 3
    POST_ONLY = 4


class SelfTradePrevention(enum.IntEnum):
    """What happens when an order would trade with a resting order of its own account."""

    CANCEL_TAKER = 1
    CANCEL_MAKER = 2
    CANCEL_BOTH = 3


class MatchingMode(enum.IntEnum):
    CONTINUOUS = 1
    BATCH = 2


class MarginMode(enum.IntEnum):
    """How a market's accounts are margined; only ISOLATED is active (see ``risk.margin``)."""

    ISOLATED = 1
    CROSS = 2


class MarketStatus(enum.IntEnum):
    ACTIVE = 1
    POST_ONLY = 2
    CANCEL_ONLY = 3
    HALTED = 4


class RejectReason(enum.IntEnum):
    """Why an input failed, in the order the core checks them."""

    MALFORMED_INPUT = 1
    WRONG_SHARD = 2
    UNKNOWN_MARKET = 3
    INVALID_MARKET_CONFIG = 4
    MARKET_NOT_ACTIVE = 5
    INVALID_ORDER_TYPE = 6
    INVALID_PRICE = 7
    INVALID_QUANTITY = 8
    INVALID_AMOUNT = 9
    UNKNOWN_ORDER = 10
    NOT_ORDER_OWNER = 11
    OVERFLOW = 12
    DUPLICATE_CLIENT_ORDER_ID = 13
    NO_MARK_PRICE = 14
    PRICE_OUT_OF_BAND = 15
    REDUCE_ONLY_WOULD_INCREASE = 16
    POSITION_LIMIT = 17
    INSUFFICIENT_COLLATERAL = 18
    INSUFFICIENT_MARGIN = 19
    POST_ONLY_WOULD_CROSS = 20
    FOK_NOT_FILLABLE = 21
    NOT_BATCH_MARKET = 22


class CancelReason(enum.IntEnum):
    USER = 1
    IOC_REMAINDER = 2
    FOK_UNFILLED = 3
    SELF_TRADE = 4
    MASS_CANCEL = 5
    MARKET_HALTED = 6
    AUCTION_UNFILLED = 7
    REDUCE_ONLY = 8


# Members as module-level names.  On Python 3.11 an attribute of an Enum class
# (``Side.BUY``) goes through ``EnumType.__getattr__`` and costs about 90 ns,
# fifteen times a global name, and the core reads dozens per input: its hot
# paths use these names instead.
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST_ONLY = (
    TimeInForce.GTC,
    TimeInForce.IOC,
    TimeInForce.FOK,
    TimeInForce.POST_ONLY,
)
STP_CANCEL_TAKER, STP_CANCEL_MAKER = (
    SelfTradePrevention.CANCEL_TAKER,
    SelfTradePrevention.CANCEL_MAKER,
)
CONTINUOUS, BATCH = MatchingMode.CONTINUOUS, MatchingMode.BATCH
MARGIN_ISOLATED = MarginMode.ISOLATED
STATUS_ACTIVE, STATUS_POST_ONLY, STATUS_HALTED = (
    MarketStatus.ACTIVE,
    MarketStatus.POST_ONLY,
    MarketStatus.HALTED,
)
CANCEL_USER, CANCEL_IOC_REMAINDER = CancelReason.USER, CancelReason.IOC_REMAINDER
