"""Conversion between protobuf (``proto/engine.proto``) and the domain types of ``models``.

Theory of operation
-------------------
The core trusts its types: a ``NewOrder`` it receives has a ``Side`` member in ``side``, a
20-byte ``account`` and integers that fit their proto fields.  This module is the edge where
outside bytes become domain values, so it is where those promises are checked, once, and
nowhere else (msgspec's "validate at the edge").  It checks only what a *type* can say.
Business rules (a positive price, a known market, a sane ``MarketConfig``) are the core's:
their rejects must be outputs in the deterministic log, so the codec passes such values
through untouched.

Decoding never raises.  A message that cannot be decoded still occupies its place in the
input stream and the WAL, so it becomes an ``Input`` whose body is ``Malformed``, which the
core answers with a ``Rejected`` output; the shard goes on.  The ``Malformed`` carries the
``market_id`` and the ``Input`` the ``request_id`` whenever they could be read (else 0), so
the client still hears back about its request.  What becomes what:

* ``MALFORMED_INPUT``: bytes that are not an ``InputEvent``; JSON that is not its canonical
  mapping (bad syntax, an unknown or duplicate field, a value of the wrong kind, an unknown
  enum name); no event in the oneof, or one this build does not know; an enum number the
  domain does not have (proto3 keeps unknown numbers instead of failing); a required enum
  left ``UNSPECIFIED`` (``side``, ``order_type``, ``time_in_force``); an account that is not
  exactly 20 bytes; an ``UpsertMarket`` without its ``config``.
* ``OVERFLOW``: a JSON number outside its field's range (``price`` 2**63 for an int64).  In
  binary there is nothing to detect: protobuf truncates a varint to the width of its field by
  specification, so a uint32 read from the wire always fits.  A message that is both
  malformed and out of range gets ``MALFORMED_INPUT`` (the precedence of ``RejectReason``).
* Defaults: ``UNSPECIFIED`` means the domain default where the domain has one: ``stp`` is
  ``CANCEL_TAKER``; in ``MarketConfig``, ``matching_mode`` is ``CONTINUOUS``, ``status`` is
  ``ACTIVE`` and ``margin_mode`` is ``ISOLATED``.  Scalars have no "unset" in proto3: an
  absent number is 0, and passes through like any other.

Every ``detail`` is a sentence naming the field by its proto path (``new_order.account``).

Encoding (``encode_input``, ``encode_output`` and their JSON forms) is for trusted producers:
the core, tools, tests and benchmarks.  It relies on every domain struct having exactly the
field names of its proto message (``tests/test_wire_schema.py`` checks it) and raises
``ValueError`` on what cannot be represented: a ``Malformed`` body, a number out of range.

Speed: decoding inputs and encoding outputs are on the hot path (one of each per message per
shard), so inputs are decoded by one explicit function per kind (direct attribute reads, enum
members from dicts, no reflection) and outputs are encoded by handing the struct's fields to
the generated constructor as a dict.  Decoding outputs and everything JSON serve tools and are
written for brevity instead.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar, cast

import msgspec
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from hypermarket.models.enums import (
    MarginMode,
    MarketStatus,
    MatchingMode,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from hypermarket.models.inputs import (
    AmendOrder,
    AuctionTick,
    CancelAll,
    CancelOrder,
    Deposit,
    Input,
    InputBody,
    Malformed,
    NewOrder,
    PriceUpdate,
    UpsertMarket,
    Withdraw,
)
from hypermarket.models.market import MarketConfig
from hypermarket.models.outputs import (
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
    OutputBody,
    PositionUpdate,
    Rejected,
)
from hypermarket.wire import engine_pb2 as pb
from hypermarket.wire.framing import varint

__all__ = [
    "decode_input",
    "decode_input_json",
    "encode_input",
    "encode_output",
    "input_to_json",
    "output_from_bytes",
    "output_to_json",
]

ACCOUNT_BYTES: Final = 20

E = TypeVar("E", bound=enum.IntEnum)


class _InvalidFieldError(ValueError):
    """A field breaks its type; the message says which.  Input decoding turns it into a
    ``Malformed`` detail; ``output_from_bytes`` lets it out as the ValueError it is."""


def _members(enum_type: type[E], default: E | None = None) -> dict[int, E]:
    """Wire number -> member; with a default, 0 (UNSPECIFIED) maps to it."""
    members = {member.value: member for member in enum_type}
    if default is not None:
        members[0] = default
    return members


_SIDE: Final = _members(Side)
_ORDER_TYPE: Final = _members(OrderType)
_TIME_IN_FORCE: Final = _members(TimeInForce)
_STP: Final = _members(SelfTradePrevention, SelfTradePrevention.CANCEL_TAKER)
_MATCHING_MODE: Final = _members(MatchingMode, MatchingMode.CONTINUOUS)
_MARKET_STATUS: Final = _members(MarketStatus, MarketStatus.ACTIVE)
_MARGIN_MODE: Final = _members(MarginMode, MarginMode.ISOLATED)


def _member(members: Mapping[int, E], number: int, path: str) -> E:
    member = members.get(number)
    if member is None:
        names = ", ".join(m.name for m in sorted(set(members.values())))
        unset = " (unspecified)" if number == 0 else ""
        raise _InvalidFieldError(f"{path} must be one of {names}, got {number}{unset}")
    return member


def _account(account: bytes, path: str) -> bytes:
    if len(account) != ACCOUNT_BYTES:
        raise _InvalidFieldError(f"{path} must be {ACCOUNT_BYTES} bytes, got {len(account)}")
    return account


# ------------------------------------------------------------------ decoding inputs
# One function per oneof member of InputEvent, each reading its sub-message field by field.


def _new_order(event: pb.InputEvent) -> NewOrder:
    m = event.new_order
    return NewOrder(
        market_id=m.market_id,
        account=_account(m.account, "new_order.account"),
        client_order_id=m.client_order_id,
        side=_member(_SIDE, m.side, "new_order.side"),
        order_type=_member(_ORDER_TYPE, m.order_type, "new_order.order_type"),
        time_in_force=_member(_TIME_IN_FORCE, m.time_in_force, "new_order.time_in_force"),
        price=m.price,
        quantity=m.quantity,
        reduce_only=m.reduce_only,
        stp=_member(_STP, m.stp, "new_order.stp"),
    )


def _cancel_order(event: pb.InputEvent) -> CancelOrder:
    m = event.cancel_order
    return CancelOrder(
        market_id=m.market_id,
        account=_account(m.account, "cancel_order.account"),
        order_id=m.order_id,
        client_order_id=m.client_order_id,
    )


def _cancel_all(event: pb.InputEvent) -> CancelAll:
    m = event.cancel_all
    return CancelAll(account=_account(m.account, "cancel_all.account"), market_id=m.market_id)


def _amend_order(event: pb.InputEvent) -> AmendOrder:
    m = event.amend_order
    return AmendOrder(
        market_id=m.market_id,
        account=_account(m.account, "amend_order.account"),
        order_id=m.order_id,
        client_order_id=m.client_order_id,
        new_price=m.new_price,
        new_quantity=m.new_quantity,
    )


def _price_update(event: pb.InputEvent) -> PriceUpdate:
    m = event.price_update
    return PriceUpdate(market_id=m.market_id, mark_price=m.mark_price, index_price=m.index_price)


def _deposit(event: pb.InputEvent) -> Deposit:
    m = event.deposit
    account = _account(m.account, "deposit.account")
    return Deposit(account=account, market_id=m.market_id, amount=m.amount)


def _withdraw(event: pb.InputEvent) -> Withdraw:
    m = event.withdraw
    account = _account(m.account, "withdraw.account")
    return Withdraw(account=account, market_id=m.market_id, amount=m.amount)


def _market_config(c: pb.MarketConfig, path: str) -> MarketConfig:
    """Shared by ``UpsertMarket`` and reading back ``MarketUpdated``: the same defaults apply."""
    return MarketConfig(
        market_id=c.market_id,
        symbol=c.symbol,
        contract_multiplier=c.contract_multiplier,
        min_quantity=c.min_quantity,
        max_quantity=c.max_quantity,
        maker_fee_bps=c.maker_fee_bps,
        taker_fee_bps=c.taker_fee_bps,
        initial_margin_bps=c.initial_margin_bps,
        maintenance_margin_bps=c.maintenance_margin_bps,
        price_band_bps=c.price_band_bps,
        max_position=c.max_position,
        matching_mode=_member(_MATCHING_MODE, c.matching_mode, f"{path}.matching_mode"),
        auction_interval_ms=c.auction_interval_ms,
        status=_member(_MARKET_STATUS, c.status, f"{path}.status"),
        margin_mode=_member(_MARGIN_MODE, c.margin_mode, f"{path}.margin_mode"),
    )


def _upsert_market(event: pb.InputEvent) -> UpsertMarket:
    m = event.upsert_market
    if not m.HasField("config"):
        raise _InvalidFieldError("upsert_market.config must be set")
    return UpsertMarket(_market_config(m.config, "upsert_market.config"), m.revision)


def _auction_tick(event: pb.InputEvent) -> AuctionTick:
    return AuctionTick(market_id=event.auction_tick.market_id)


_INPUT_DECODERS: Final[dict[str, Callable[[pb.InputEvent], InputBody]]] = {
    "new_order": _new_order,
    "cancel_order": _cancel_order,
    "cancel_all": _cancel_all,
    "amend_order": _amend_order,
    "price_update": _price_update,
    "deposit": _deposit,
    "withdraw": _withdraw,
    "upsert_market": _upsert_market,
    "auction_tick": _auction_tick,
}


def _malformed(
    detail: str,
    ts_ns: int,
    request_id: int = 0,
    market_id: int = 0,
    reason: RejectReason = RejectReason.MALFORMED_INPUT,
) -> Input:
    return Input(Malformed(reason, detail, market_id), ts_ns, request_id)


def _to_input(event: pb.InputEvent, ts_ns: int) -> Input:
    """Convert a parsed ``InputEvent``, checking what its types cannot say (see the docstring)."""
    kind = event.WhichOneof("event")
    decoder = None if kind is None else _INPUT_DECODERS.get(kind)
    if kind is None or decoder is None:
        detail = "InputEvent.event is not set (or is not one this engine knows)"
        return _malformed(detail, ts_ns, event.request_id)
    try:
        body = decoder(event)
    except _InvalidFieldError as invalid:
        message = getattr(event, kind)
        market = message.config if kind == "upsert_market" else message
        return _malformed(str(invalid), ts_ns, event.request_id, int(market.market_id))
    return Input(body, ts_ns, event.request_id)


def decode_input(data: bytes, ts_ns: int = 0) -> Input:
    """Decode one ``InputEvent``; never raises: bad bytes give a ``Malformed`` body.

    ``ts_ns`` is the event time the stream assigned (never the client's clock); it is not part
    of the message.
    """
    event = pb.InputEvent()
    try:
        event.ParseFromString(data)
    except DecodeError as error:
        return _malformed(f"not a protobuf InputEvent: {error}", ts_ns)
    return _to_input(event, ts_ns)


# ------------------------------------------------------------------ decoding JSON inputs

# (lowest, highest, name) of each integer field type the proto uses.
_INTEGER_RANGES: Final[dict[int, tuple[int, int, str]]] = {
    FieldDescriptor.TYPE_INT32: (-(1 << 31), (1 << 31) - 1, "int32"),
    FieldDescriptor.TYPE_INT64: (-(1 << 63), (1 << 63) - 1, "int64"),
    FieldDescriptor.TYPE_UINT32: (0, (1 << 32) - 1, "uint32"),
    FieldDescriptor.TYPE_UINT64: (0, (1 << 64) - 1, "uint64"),
}


def _json_integer(value: object) -> int | None:
    """The integer json_format reads from ``value`` (its ``_ConvertInteger`` rules), or None."""
    if isinstance(value, bool) or (isinstance(value, str) and " " in value):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # is_integer() rules out nan, inf
    if not isinstance(value, str):
        return None
    try:
        return int(value)  # exact, where float("9223372036854775808") would round
    except ValueError:
        pass
    try:
        number = float(value)  # "1e3" is an integer too
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _json_field(obj: object, name: str, json_name: str) -> object:
    """The value of a field in a JSON object, under its JSON or its proto name, else None."""
    if not isinstance(obj, dict):
        return None
    return obj.get(json_name, obj.get(name))


def _zero_out_of_range(obj: dict[str, object], message: Descriptor, prefix: str) -> list[str]:
    """Set every integer of ``obj`` that does not fit its field to 0; describe each one."""
    problems: list[str] = []
    for field in message.fields:
        key = field.json_name if field.json_name in obj else field.name
        value = obj.get(key)
        path = f"{prefix}{field.name}"
        if field.message_type is not None and isinstance(value, dict):
            problems += _zero_out_of_range(value, field.message_type, f"{path}.")
        elif field.type in _INTEGER_RANGES and (number := _json_integer(value)) is not None:
            lowest, highest, name = _INTEGER_RANGES[field.type]
            if not lowest <= number <= highest:
                obj[key] = 0
                problems.append(f"{path} must fit in {name}, got {number}")
    return problems


# The stubs type DESCRIPTOR as "python or upb descriptor"; under upb they are one class.
_INPUT_EVENT: Final = cast(Descriptor, pb.InputEvent.DESCRIPTOR)
_EVENT_FIELDS: Final = _INPUT_EVENT.oneofs_by_name["event"].fields


def _peek_ids(obj: object) -> tuple[int, int]:
    """``(request_id, market_id)`` of a JSON ``InputEvent`` that failed, where they can be read."""
    request_id = _json_integer(_json_field(obj, "request_id", "requestId"))
    market_id = None
    for field in _EVENT_FIELDS:
        body = _json_field(obj, field.name, field.json_name)
        if body is not None:
            if field.name == "upsert_market":
                body = _json_field(body, "config", "config")
            market_id = _json_integer(_json_field(body, "market_id", "marketId"))
            break
    return (
        request_id if request_id is not None and 0 <= request_id < 1 << 64 else 0,
        market_id if market_id is not None and 0 <= market_id < 1 << 32 else 0,
    )


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook`` refusing duplicate keys, as json_format does."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return obj


def _parse_error_detail(error: json_format.ParseError) -> str:
    # json_format appends the list of known fields on a second line: keep the sentence only.
    sentence = str(error).partition("\n")[0]
    return f"not a JSON InputEvent: {sentence}"


def _diagnose_json(text: str, error: json_format.ParseError, ts_ns: int) -> Input:
    """Say why json_format refused ``text``: OVERFLOW if out-of-range numbers are all that is
    wrong with it, else MALFORMED_INPUT with json_format's message.

    json_format names an out-of-range field only by its last name, and not at all inside a
    oneof, so the range check is redone here against the descriptors: every out-of-range
    integer is set to 0 and the result parsed again, so that anything else wrong is still
    found first.  This runs only after a failure, off the hot path.
    """
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        return _malformed(_parse_error_detail(error), ts_ns)
    if not isinstance(obj, dict):
        return _malformed("not a JSON InputEvent: the line is not a JSON object", ts_ns)
    request_id, market_id = _peek_ids(obj)
    problems = _zero_out_of_range(obj, _INPUT_EVENT, "")
    if problems:
        try:
            decoded = _to_input(json_format.Parse(json.dumps(obj), pb.InputEvent()), ts_ns)
        except json_format.ParseError as other:
            error = other
        else:
            if isinstance(decoded.body, Malformed):
                return decoded
            return _malformed(problems[0], ts_ns, request_id, market_id, RejectReason.OVERFLOW)
    return _malformed(_parse_error_detail(error), ts_ns, request_id, market_id)


def decode_input_json(line: str | bytes, ts_ns: int = 0) -> Input:
    """Decode one line of protobuf's canonical JSON for ``InputEvent``; never raises.

    Field names may be lowerCamelCase or the proto names, as the mapping allows.  Failures
    give a ``Malformed`` body as ``decode_input`` does, and ``OVERFLOW`` for a number that
    does not fit its field.
    """
    try:
        text = line if isinstance(line, str) else line.decode()
    except UnicodeDecodeError as error:
        return _malformed(f"not a JSON InputEvent: not UTF-8 ({error.reason})", ts_ns)
    try:
        event = json_format.Parse(text, pb.InputEvent())
    except json_format.ParseError as error:
        return _diagnose_json(text, error, ts_ns)
    return _to_input(event, ts_ns)


# ------------------------------------------------------------------ encoding

_INPUT_FIELDS: Final[dict[type[InputBody], str]] = {
    NewOrder: "new_order",
    CancelOrder: "cancel_order",
    CancelAll: "cancel_all",
    AmendOrder: "amend_order",
    PriceUpdate: "price_update",
    Deposit: "deposit",
    Withdraw: "withdraw",
    UpsertMarket: "upsert_market",
    AuctionTick: "auction_tick",
}

_OUTPUT_FIELDS: Final[dict[type[OutputBody], str]] = {
    OrderAccepted: "order_accepted",
    OrderRejected: "order_rejected",
    OrderCancelled: "order_cancelled",
    OrderAmended: "order_amended",
    Fill: "fill",
    BookDelta: "book_delta",
    PositionUpdate: "position_update",
    MarketUpdated: "market_updated",
    AuctionResult: "auction_result",
    CancelAllDone: "cancel_all_done",
    Rejected: "rejected",
}
_OUTPUT_TYPES: Final[dict[str, type[OutputBody]]] = {v: k for k, v in _OUTPUT_FIELDS.items()}


def _fields(body: msgspec.Struct) -> dict[str, Any]:
    """The struct as constructor arguments of its proto message (same names, enums are ints)."""
    fields = msgspec.structs.asdict(body)
    config = fields.get("config")
    if isinstance(config, MarketConfig):
        fields["config"] = msgspec.structs.asdict(config)
    return fields


def _input_event(inp: Input) -> pb.InputEvent:
    body = inp.body
    if isinstance(body, Malformed):
        raise ValueError("a Malformed input has no wire form: it is what undecodable bytes become")
    return pb.InputEvent(request_id=inp.request_id, **{_INPUT_FIELDS[type(body)]: _fields(body)})


def _output_event(out: Output) -> pb.OutputEvent:
    return pb.OutputEvent(
        shard=out.shard,
        seq=out.seq,
        input_seq=out.input_seq,
        ts_ns=out.ts_ns,
        market_id=out.market_id,
        request_id=out.request_id,
        **{_OUTPUT_FIELDS[type(out.body)]: _fields(out.body)},
    )


def _json_line(message: Message) -> str:
    """Canonical proto JSON on one line, zero-valued fields included.

    Keys come in field-number order, so equal messages give equal text in every
    process.  Zeros are printed (``always_print_fields_with_no_presence``)
    because a reader of the output stream should see ``"quantity":"0"`` on a
    level that left the book, not have to know that a missing key means 0; the
    oneof still shows only the member that is set.
    """
    return json.dumps(
        json_format.MessageToDict(message, always_print_fields_with_no_presence=True),
        separators=(",", ":"),
    )


def encode_input(inp: Input) -> bytes:
    """The ``InputEvent`` bytes of ``inp`` (``ts_ns`` is the stream's, so it is not included).

    Raises ValueError for a ``Malformed`` body or a number out of its field's range.
    """
    return _input_event(inp).SerializeToString()


def input_to_json(inp: Input) -> str:
    """``inp`` as one line of canonical proto JSON, the form ``decode_input_json`` reads."""
    return _json_line(_input_event(inp))


def encode_output(out: Output) -> bytes:
    """The ``OutputEvent`` bytes of ``out``; raises ValueError on a number out of range."""
    return _output_event(out).SerializeToString()


def output_to_json(out: Output) -> str:
    """``out`` as one line of canonical proto JSON (lowerCamelCase keys, 64-bit integers as
    strings, enums by name, bytes in base64, zero values left out), byte-identical for equal
    outputs whatever the process or its PYTHONHASHSEED."""
    return _json_line(_output_event(out))


def output_from_bytes(data: bytes) -> Output:
    """Read back an ``OutputEvent`` written by ``encode_output``.

    Unlike input decoding this raises ValueError on bad data: it reads the engine's own
    output, where bad data is a bug or damage that should stop the tool reading it.
    """
    event = pb.OutputEvent()
    try:
        event.ParseFromString(data)
    except DecodeError as error:
        raise ValueError(f"not a protobuf OutputEvent: {error}") from error
    kind = event.WhichOneof("event")
    if kind is None:
        raise ValueError("OutputEvent.event is not set (or is not one this build knows)")
    message = getattr(event, kind)
    body: OutputBody
    if kind == "market_updated":
        # An older engine's config lacks fields added since, which read as UNSPECIFIED.
        body = MarketUpdated(
            _market_config(message.config, "market_updated.config"), message.revision
        )
    else:
        # Field names agree (tests/test_wire_schema.py), so msgspec reads the attributes
        # directly; it raises ValidationError, a ValueError, on an unknown enum number.
        body = msgspec.convert(message, _OUTPUT_TYPES[kind], from_attributes=True)
    return Output(
        shard=event.shard,
        seq=event.seq,
        input_seq=event.input_seq,
        ts_ns=event.ts_ns,
        market_id=event.market_id,
        request_id=event.request_id,
        body=body,
    )


def encode_output_batch(encoded: Sequence[bytes]) -> bytes:
    """An ``OutputBatch`` of already encoded ``OutputEvent``s (one output-stream message).

    Field 1 of ``OutputBatch`` is ``repeated OutputEvent``: its wire form is each
    event's bytes behind tag 0x0A and a varint length, so the batch is framed
    here without building the message again.
    """
    parts: list[bytes] = []
    for event in encoded:
        parts.append(b"\x0a")
        parts.append(varint(len(event)))
        parts.append(event)
    return b"".join(parts)


def outputs_from_batch(data: bytes) -> list[Output]:
    """The outputs of one output-stream message; raises ValueError on bad data."""
    try:
        batch = pb.OutputBatch.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"not an OutputBatch: {exc}") from exc
    return [output_from_bytes(event.SerializeToString()) for event in batch.events]
