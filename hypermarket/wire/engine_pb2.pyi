from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_BUY: _ClassVar[Side]
    SIDE_SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_TYPE_UNSPECIFIED: _ClassVar[OrderType]
    ORDER_TYPE_LIMIT: _ClassVar[OrderType]
    ORDER_TYPE_MARKET: _ClassVar[OrderType]

class TimeInForce(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIME_IN_FORCE_UNSPECIFIED: _ClassVar[TimeInForce]
    TIME_IN_FORCE_GTC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_IOC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_FOK: _ClassVar[TimeInForce]
    TIME_IN_FORCE_POST_ONLY: _ClassVar[TimeInForce]

class SelfTradePrevention(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STP_UNSPECIFIED: _ClassVar[SelfTradePrevention]
    STP_CANCEL_TAKER: _ClassVar[SelfTradePrevention]
    STP_CANCEL_MAKER: _ClassVar[SelfTradePrevention]
    STP_CANCEL_BOTH: _ClassVar[SelfTradePrevention]

class MatchingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATCHING_MODE_UNSPECIFIED: _ClassVar[MatchingMode]
    MATCHING_MODE_CONTINUOUS: _ClassVar[MatchingMode]
    MATCHING_MODE_BATCH: _ClassVar[MatchingMode]

class MarginMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARGIN_MODE_UNSPECIFIED: _ClassVar[MarginMode]
    MARGIN_MODE_ISOLATED: _ClassVar[MarginMode]
    MARGIN_MODE_CROSS: _ClassVar[MarginMode]

class MarketStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKET_STATUS_UNSPECIFIED: _ClassVar[MarketStatus]
    MARKET_STATUS_ACTIVE: _ClassVar[MarketStatus]
    MARKET_STATUS_POST_ONLY: _ClassVar[MarketStatus]
    MARKET_STATUS_CANCEL_ONLY: _ClassVar[MarketStatus]
    MARKET_STATUS_HALTED: _ClassVar[MarketStatus]

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_MALFORMED_INPUT: _ClassVar[RejectReason]
    REJECT_REASON_WRONG_SHARD: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_MARKET: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_MARKET_CONFIG: _ClassVar[RejectReason]
    REJECT_REASON_MARKET_NOT_ACTIVE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_ORDER_TYPE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_PRICE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_QUANTITY: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_AMOUNT: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_ORDER: _ClassVar[RejectReason]
    REJECT_REASON_NOT_ORDER_OWNER: _ClassVar[RejectReason]
    REJECT_REASON_OVERFLOW: _ClassVar[RejectReason]
    REJECT_REASON_DUPLICATE_CLIENT_ORDER_ID: _ClassVar[RejectReason]
    REJECT_REASON_NO_MARK_PRICE: _ClassVar[RejectReason]
    REJECT_REASON_PRICE_OUT_OF_BAND: _ClassVar[RejectReason]
    REJECT_REASON_REDUCE_ONLY_WOULD_INCREASE: _ClassVar[RejectReason]
    REJECT_REASON_POSITION_LIMIT: _ClassVar[RejectReason]
    REJECT_REASON_INSUFFICIENT_COLLATERAL: _ClassVar[RejectReason]
    REJECT_REASON_INSUFFICIENT_MARGIN: _ClassVar[RejectReason]
    REJECT_REASON_POST_ONLY_WOULD_CROSS: _ClassVar[RejectReason]
    REJECT_REASON_FOK_NOT_FILLABLE: _ClassVar[RejectReason]
    REJECT_REASON_NOT_BATCH_MARKET: _ClassVar[RejectReason]

class CancelReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCEL_REASON_UNSPECIFIED: _ClassVar[CancelReason]
    CANCEL_REASON_USER: _ClassVar[CancelReason]
    CANCEL_REASON_IOC_REMAINDER: _ClassVar[CancelReason]
    CANCEL_REASON_FOK_UNFILLED: _ClassVar[CancelReason]
    CANCEL_REASON_SELF_TRADE: _ClassVar[CancelReason]
    CANCEL_REASON_MASS_CANCEL: _ClassVar[CancelReason]
    CANCEL_REASON_MARKET_HALTED: _ClassVar[CancelReason]
    CANCEL_REASON_AUCTION_UNFILLED: _ClassVar[CancelReason]
    CANCEL_REASON_REDUCE_ONLY: _ClassVar[CancelReason]
SIDE_UNSPECIFIED: Side
SIDE_BUY: Side
SIDE_SELL: Side
ORDER_TYPE_UNSPECIFIED: OrderType
ORDER_TYPE_LIMIT: OrderType
ORDER_TYPE_MARKET: OrderType
TIME_IN_FORCE_UNSPECIFIED: TimeInForce
TIME_IN_FORCE_GTC: TimeInForce
TIME_IN_FORCE_IOC: TimeInForce
TIME_IN_FORCE_FOK: TimeInForce
TIME_IN_FORCE_POST_ONLY: TimeInForce
STP_UNSPECIFIED: SelfTradePrevention
STP_CANCEL_TAKER: SelfTradePrevention
STP_CANCEL_MAKER: SelfTradePrevention
STP_CANCEL_BOTH: SelfTradePrevention
MATCHING_MODE_UNSPECIFIED: MatchingMode
MATCHING_MODE_CONTINUOUS: MatchingMode
MATCHING_MODE_BATCH: MatchingMode
MARGIN_MODE_UNSPECIFIED: MarginMode
MARGIN_MODE_ISOLATED: MarginMode
MARGIN_MODE_CROSS: MarginMode
MARKET_STATUS_UNSPECIFIED: MarketStatus
MARKET_STATUS_ACTIVE: MarketStatus
MARKET_STATUS_POST_ONLY: MarketStatus
MARKET_STATUS_CANCEL_ONLY: MarketStatus
MARKET_STATUS_HALTED: MarketStatus
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_MALFORMED_INPUT: RejectReason
REJECT_REASON_WRONG_SHARD: RejectReason
REJECT_REASON_UNKNOWN_MARKET: RejectReason
REJECT_REASON_INVALID_MARKET_CONFIG: RejectReason
REJECT_REASON_MARKET_NOT_ACTIVE: RejectReason
REJECT_REASON_INVALID_ORDER_TYPE: RejectReason
REJECT_REASON_INVALID_PRICE: RejectReason
REJECT_REASON_INVALID_QUANTITY: RejectReason
REJECT_REASON_INVALID_AMOUNT: RejectReason
REJECT_REASON_UNKNOWN_ORDER: RejectReason
REJECT_REASON_NOT_ORDER_OWNER: RejectReason
REJECT_REASON_OVERFLOW: RejectReason
REJECT_REASON_DUPLICATE_CLIENT_ORDER_ID: RejectReason
REJECT_REASON_NO_MARK_PRICE: RejectReason
REJECT_REASON_PRICE_OUT_OF_BAND: RejectReason
REJECT_REASON_REDUCE_ONLY_WOULD_INCREASE: RejectReason
REJECT_REASON_POSITION_LIMIT: RejectReason
REJECT_REASON_INSUFFICIENT_COLLATERAL: RejectReason
REJECT_REASON_INSUFFICIENT_MARGIN: RejectReason
REJECT_REASON_POST_ONLY_WOULD_CROSS: RejectReason
REJECT_REASON_FOK_NOT_FILLABLE: RejectReason
REJECT_REASON_NOT_BATCH_MARKET: RejectReason
CANCEL_REASON_UNSPECIFIED: CancelReason
CANCEL_REASON_USER: CancelReason
CANCEL_REASON_IOC_REMAINDER: CancelReason
CANCEL_REASON_FOK_UNFILLED: CancelReason
CANCEL_REASON_SELF_TRADE: CancelReason
CANCEL_REASON_MASS_CANCEL: CancelReason
CANCEL_REASON_MARKET_HALTED: CancelReason
CANCEL_REASON_AUCTION_UNFILLED: CancelReason
CANCEL_REASON_REDUCE_ONLY: CancelReason

class MarketConfig(_message.Message):
    __slots__ = ("market_id", "symbol", "contract_multiplier", "min_quantity", "max_quantity", "maker_fee_bps", "taker_fee_bps", "initial_margin_bps", "maintenance_margin_bps", "price_band_bps", "max_position", "matching_mode", "auction_interval_ms", "status", "margin_mode")
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    MIN_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAKER_FEE_BPS_FIELD_NUMBER: _ClassVar[int]
    TAKER_FEE_BPS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_MARGIN_BPS_FIELD_NUMBER: _ClassVar[int]
    MAINTENANCE_MARGIN_BPS_FIELD_NUMBER: _ClassVar[int]
    PRICE_BAND_BPS_FIELD_NUMBER: _ClassVar[int]
    MAX_POSITION_FIELD_NUMBER: _ClassVar[int]
    MATCHING_MODE_FIELD_NUMBER: _ClassVar[int]
    AUCTION_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MARGIN_MODE_FIELD_NUMBER: _ClassVar[int]
    market_id: int
    symbol: str
    contract_multiplier: int
    min_quantity: int
    max_quantity: int
    maker_fee_bps: int
    taker_fee_bps: int
    initial_margin_bps: int
    maintenance_margin_bps: int
    price_band_bps: int
    max_position: int
    matching_mode: MatchingMode
    auction_interval_ms: int
    status: MarketStatus
    margin_mode: MarginMode
    def __init__(self, market_id: _Optional[int] = ..., symbol: _Optional[str] = ..., contract_multiplier: _Optional[int] = ..., min_quantity: _Optional[int] = ..., max_quantity: _Optional[int] = ..., maker_fee_bps: _Optional[int] = ..., taker_fee_bps: _Optional[int] = ..., initial_margin_bps: _Optional[int] = ..., maintenance_margin_bps: _Optional[int] = ..., price_band_bps: _Optional[int] = ..., max_position: _Optional[int] = ..., matching_mode: _Optional[_Union[MatchingMode, str]] = ..., auction_interval_ms: _Optional[int] = ..., status: _Optional[_Union[MarketStatus, str]] = ..., margin_mode: _Optional[_Union[MarginMode, str]] = ...) -> None: ...

class NewOrder(_message.Message):
    __slots__ = ("market_id", "account", "client_order_id", "side", "order_type", "time_in_force", "price", "quantity", "reduce_only", "stp")
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REDUCE_ONLY_FIELD_NUMBER: _ClassVar[int]
    STP_FIELD_NUMBER: _ClassVar[int]
    market_id: int
    account: bytes
    client_order_id: int
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    reduce_only: bool
    stp: SelfTradePrevention
    def __init__(self, market_id: _Optional[int] = ..., account: _Optional[bytes] = ..., client_order_id: _Optional[int] = ..., side: _Optional[_Union[Side, str]] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., time_in_force: _Optional[_Union[TimeInForce, str]] = ..., price: _Optional[int] = ..., quantity: _Optional[int] = ..., reduce_only: _Optional[bool] = ..., stp: _Optional[_Union[SelfTradePrevention, str]] = ...) -> None: ...

class CancelOrder(_message.Message):
    __slots__ = ("market_id", "account", "order_id", "client_order_id")
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    market_id: int
    account: bytes
    order_id: int
    client_order_id: int
    def __init__(self, market_id: _Optional[int] = ..., account: _Optional[bytes] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ...) -> None: ...

class CancelAll(_message.Message):
    __slots__ = ("account", "market_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    market_id: int
    def __init__(self, account: _Optional[bytes] = ..., market_id: _Optional[int] = ...) -> None: ...

class AmendOrder(_message.Message):
    __slots__ = ("market_id", "account", "order_id", "client_order_id", "new_price", "new_quantity")
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_PRICE_FIELD_NUMBER: _ClassVar[int]
    NEW_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    market_id: int
    account: bytes
    order_id: int
    client_order_id: int
    new_price: int
    new_quantity: int
    def __init__(self, market_id: _Optional[int] = ..., account: _Optional[bytes] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ..., new_price: _Optional[int] = ..., new_quantity: _Optional[int] = ...) -> None: ...

class PriceUpdate(_message.Message):
    __slots__ = ("market_id", "mark_price", "index_price")
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    MARK_PRICE_FIELD_NUMBER: _ClassVar[int]
    INDEX_PRICE_FIELD_NUMBER: _ClassVar[int]
    market_id: int
    mark_price: int
    index_price: int
    def __init__(self, market_id: _Optional[int] = ..., mark_price: _Optional[int] = ..., index_price: _Optional[int] = ...) -> None: ...

class Deposit(_message.Message):
    __slots__ = ("account", "market_id", "amount")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    market_id: int
    amount: int
    def __init__(self, account: _Optional[bytes] = ..., market_id: _Optional[int] = ..., amount: _Optional[int] = ...) -> None: ...

class Withdraw(_message.Message):
    __slots__ = ("account", "market_id", "amount")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    market_id: int
    amount: int
    def __init__(self, account: _Optional[bytes] = ..., market_id: _Optional[int] = ..., amount: _Optional[int] = ...) -> None: ...

class UpsertMarket(_message.Message):
    __slots__ = ("config", "revision")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    config: MarketConfig
    revision: int
    def __init__(self, config: _Optional[_Union[MarketConfig, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class AuctionTick(_message.Message):
    __slots__ = ("market_id",)
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    market_id: int
    def __init__(self, market_id: _Optional[int] = ...) -> None: ...

class InputEvent(_message.Message):
    __slots__ = ("request_id", "new_order", "cancel_order", "cancel_all", "amend_order", "price_update", "deposit", "withdraw", "upsert_market", "auction_tick")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_ORDER_FIELD_NUMBER: _ClassVar[int]
    CANCEL_ORDER_FIELD_NUMBER: _ClassVar[int]
    CANCEL_ALL_FIELD_NUMBER: _ClassVar[int]
    AMEND_ORDER_FIELD_NUMBER: _ClassVar[int]
    PRICE_UPDATE_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAW_FIELD_NUMBER: _ClassVar[int]
    UPSERT_MARKET_FIELD_NUMBER: _ClassVar[int]
    AUCTION_TICK_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    new_order: NewOrder
    cancel_order: CancelOrder
    cancel_all: CancelAll
    amend_order: AmendOrder
    price_update: PriceUpdate
    deposit: Deposit
    withdraw: Withdraw
    upsert_market: UpsertMarket
    auction_tick: AuctionTick
    def __init__(self, request_id: _Optional[int] = ..., new_order: _Optional[_Union[NewOrder, _Mapping]] = ..., cancel_order: _Optional[_Union[CancelOrder, _Mapping]] = ..., cancel_all: _Optional[_Union[CancelAll, _Mapping]] = ..., amend_order: _Optional[_Union[AmendOrder, _Mapping]] = ..., price_update: _Optional[_Union[PriceUpdate, _Mapping]] = ..., deposit: _Optional[_Union[Deposit, _Mapping]] = ..., withdraw: _Optional[_Union[Withdraw, _Mapping]] = ..., upsert_market: _Optional[_Union[UpsertMarket, _Mapping]] = ..., auction_tick: _Optional[_Union[AuctionTick, _Mapping]] = ...) -> None: ...

class OrderAccepted(_message.Message):
    __slots__ = ("order_id", "client_order_id", "account", "side", "price", "quantity")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    client_order_id: int
    account: bytes
    side: Side
    price: int
    quantity: int
    def __init__(self, order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ..., account: _Optional[bytes] = ..., side: _Optional[_Union[Side, str]] = ..., price: _Optional[int] = ..., quantity: _Optional[int] = ...) -> None: ...

class OrderRejected(_message.Message):
    __slots__ = ("client_order_id", "account", "reason", "detail", "order_id")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    client_order_id: int
    account: bytes
    reason: RejectReason
    detail: str
    order_id: int
    def __init__(self, client_order_id: _Optional[int] = ..., account: _Optional[bytes] = ..., reason: _Optional[_Union[RejectReason, str]] = ..., detail: _Optional[str] = ..., order_id: _Optional[int] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("order_id", "client_order_id", "account", "remaining_quantity", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    client_order_id: int
    account: bytes
    remaining_quantity: int
    reason: CancelReason
    def __init__(self, order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ..., account: _Optional[bytes] = ..., remaining_quantity: _Optional[int] = ..., reason: _Optional[_Union[CancelReason, str]] = ...) -> None: ...

class OrderAmended(_message.Message):
    __slots__ = ("order_id", "client_order_id", "account", "price", "quantity", "kept_priority")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    KEPT_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    client_order_id: int
    account: bytes
    price: int
    quantity: int
    kept_priority: bool
    def __init__(self, order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ..., account: _Optional[bytes] = ..., price: _Optional[int] = ..., quantity: _Optional[int] = ..., kept_priority: _Optional[bool] = ...) -> None: ...

class Fill(_message.Message):
    __slots__ = ("maker_order_id", "taker_order_id", "maker_account", "taker_account", "price", "quantity", "taker_side", "maker_fee", "taker_fee", "maker_remaining", "taker_remaining")
    MAKER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TAKER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MAKER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TAKER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TAKER_SIDE_FIELD_NUMBER: _ClassVar[int]
    MAKER_FEE_FIELD_NUMBER: _ClassVar[int]
    TAKER_FEE_FIELD_NUMBER: _ClassVar[int]
    MAKER_REMAINING_FIELD_NUMBER: _ClassVar[int]
    TAKER_REMAINING_FIELD_NUMBER: _ClassVar[int]
    maker_order_id: int
    taker_order_id: int
    maker_account: bytes
    taker_account: bytes
    price: int
    quantity: int
    taker_side: Side
    maker_fee: int
    taker_fee: int
    maker_remaining: int
    taker_remaining: int
    def __init__(self, maker_order_id: _Optional[int] = ..., taker_order_id: _Optional[int] = ..., maker_account: _Optional[bytes] = ..., taker_account: _Optional[bytes] = ..., price: _Optional[int] = ..., quantity: _Optional[int] = ..., taker_side: _Optional[_Union[Side, str]] = ..., maker_fee: _Optional[int] = ..., taker_fee: _Optional[int] = ..., maker_remaining: _Optional[int] = ..., taker_remaining: _Optional[int] = ...) -> None: ...

class BookDelta(_message.Message):
    __slots__ = ("side", "price", "quantity", "order_count")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    side: Side
    price: int
    quantity: int
    order_count: int
    def __init__(self, side: _Optional[_Union[Side, str]] = ..., price: _Optional[int] = ..., quantity: _Optional[int] = ..., order_count: _Optional[int] = ...) -> None: ...

class PositionUpdate(_message.Message):
    __slots__ = ("account", "size", "entry_notional", "collateral", "realized_pnl")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    COLLATERAL_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    size: int
    entry_notional: int
    collateral: int
    realized_pnl: int
    def __init__(self, account: _Optional[bytes] = ..., size: _Optional[int] = ..., entry_notional: _Optional[int] = ..., collateral: _Optional[int] = ..., realized_pnl: _Optional[int] = ...) -> None: ...

class MarketUpdated(_message.Message):
    __slots__ = ("config", "revision")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    config: MarketConfig
    revision: int
    def __init__(self, config: _Optional[_Union[MarketConfig, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class AuctionResult(_message.Message):
    __slots__ = ("clearing_price", "volume", "buy_surplus", "sell_surplus")
    CLEARING_PRICE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    BUY_SURPLUS_FIELD_NUMBER: _ClassVar[int]
    SELL_SURPLUS_FIELD_NUMBER: _ClassVar[int]
    clearing_price: int
    volume: int
    buy_surplus: int
    sell_surplus: int
    def __init__(self, clearing_price: _Optional[int] = ..., volume: _Optional[int] = ..., buy_surplus: _Optional[int] = ..., sell_surplus: _Optional[int] = ...) -> None: ...

class CancelAllDone(_message.Message):
    __slots__ = ("account", "cancelled")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    cancelled: int
    def __init__(self, account: _Optional[bytes] = ..., cancelled: _Optional[int] = ...) -> None: ...

class Rejected(_message.Message):
    __slots__ = ("reason", "detail")
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    reason: RejectReason
    detail: str
    def __init__(self, reason: _Optional[_Union[RejectReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class OutputEvent(_message.Message):
    __slots__ = ("shard", "seq", "input_seq", "ts_ns", "market_id", "request_id", "order_accepted", "order_rejected", "order_cancelled", "order_amended", "fill", "book_delta", "position_update", "market_updated", "auction_result", "cancel_all_done", "rejected")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    INPUT_SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ORDER_REJECTED_FIELD_NUMBER: _ClassVar[int]
    ORDER_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    ORDER_AMENDED_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    BOOK_DELTA_FIELD_NUMBER: _ClassVar[int]
    POSITION_UPDATE_FIELD_NUMBER: _ClassVar[int]
    MARKET_UPDATED_FIELD_NUMBER: _ClassVar[int]
    AUCTION_RESULT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_ALL_DONE_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    shard: int
    seq: int
    input_seq: int
    ts_ns: int
    market_id: int
    request_id: int
    order_accepted: OrderAccepted
    order_rejected: OrderRejected
    order_cancelled: OrderCancelled
    order_amended: OrderAmended
    fill: Fill
    book_delta: BookDelta
    position_update: PositionUpdate
    market_updated: MarketUpdated
    auction_result: AuctionResult
    cancel_all_done: CancelAllDone
    rejected: Rejected
    def __init__(self, shard: _Optional[int] = ..., seq: _Optional[int] = ..., input_seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., market_id: _Optional[int] = ..., request_id: _Optional[int] = ..., order_accepted: _Optional[_Union[OrderAccepted, _Mapping]] = ..., order_rejected: _Optional[_Union[OrderRejected, _Mapping]] = ..., order_cancelled: _Optional[_Union[OrderCancelled, _Mapping]] = ..., order_amended: _Optional[_Union[OrderAmended, _Mapping]] = ..., fill: _Optional[_Union[Fill, _Mapping]] = ..., book_delta: _Optional[_Union[BookDelta, _Mapping]] = ..., position_update: _Optional[_Union[PositionUpdate, _Mapping]] = ..., market_updated: _Optional[_Union[MarketUpdated, _Mapping]] = ..., auction_result: _Optional[_Union[AuctionResult, _Mapping]] = ..., cancel_all_done: _Optional[_Union[CancelAllDone, _Mapping]] = ..., rejected: _Optional[_Union[Rejected, _Mapping]] = ...) -> None: ...

class OutputBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[OutputEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[OutputEvent, _Mapping]]] = ...) -> None: ...
