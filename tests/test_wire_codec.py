"""The codec turns every domain input and output into protobuf bytes and JSON and back without
loss, turns every kind of bad input into a ``Malformed`` body with the right reason and a
detail naming the field, never raises while decoding, prints output JSON that does not depend
on the process, and frames messages as protobuf does, surviving a torn stream: shown by
hypothesis round trips over in-range values, one hand-built message per failure, fuzzing, a
second interpreter with another PYTHONHASHSEED, and cutting a stream at every byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from hypermarket.models.enums import (
    CancelReason,
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
from hypermarket.wire import (
    decode_input,
    decode_input_json,
    encode_input,
    encode_output,
    input_to_json,
    output_from_bytes,
    output_to_json,
    read_delimited,
    write_delimited,
)
from hypermarket.wire import engine_pb2 as pb

REPO_ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ strategies (in-range values)

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)
UINT64 = st.integers(0, 2**64 - 1)
ACCOUNTS = st.binary(min_size=20, max_size=20)
TEXT = st.text(max_size=40)

configs = st.builds(
    MarketConfig,
    market_id=UINT32,
    symbol=TEXT,
    contract_multiplier=INT64,
    min_quantity=INT64,
    max_quantity=INT64,
    maker_fee_bps=INT32,
    taker_fee_bps=INT32,
    initial_margin_bps=INT32,
    maintenance_margin_bps=INT32,
    price_band_bps=INT32,
    max_position=INT64,
    matching_mode=st.sampled_from(MatchingMode),
    auction_interval_ms=UINT32,
    status=st.sampled_from(MarketStatus),
    margin_mode=st.sampled_from(MarginMode),
)

input_bodies: st.SearchStrategy[InputBody] = st.one_of(
    st.builds(
        NewOrder,
        market_id=UINT32,
        account=ACCOUNTS,
        client_order_id=UINT64,
        side=st.sampled_from(Side),
        order_type=st.sampled_from(OrderType),
        time_in_force=st.sampled_from(TimeInForce),
        price=INT64,
        quantity=INT64,
        reduce_only=st.booleans(),
        stp=st.sampled_from(SelfTradePrevention),
    ),
    st.builds(
        CancelOrder, market_id=UINT32, account=ACCOUNTS, order_id=UINT64, client_order_id=UINT64
    ),
    st.builds(CancelAll, account=ACCOUNTS, market_id=UINT32),
    st.builds(
        AmendOrder,
        market_id=UINT32,
        account=ACCOUNTS,
        order_id=UINT64,
        client_order_id=UINT64,
        new_price=INT64,
        new_quantity=INT64,
    ),
    st.builds(PriceUpdate, market_id=UINT32, mark_price=INT64, index_price=INT64),
    st.builds(Deposit, account=ACCOUNTS, market_id=UINT32, amount=INT64),
    st.builds(Withdraw, account=ACCOUNTS, market_id=UINT32, amount=INT64),
    st.builds(UpsertMarket, config=configs, revision=UINT64),
    st.builds(AuctionTick, market_id=UINT32),
)
inputs = st.builds(Input, body=input_bodies, ts_ns=UINT64, request_id=UINT64)

output_bodies: st.SearchStrategy[OutputBody] = st.one_of(
    st.builds(
        OrderAccepted,
        order_id=UINT64,
        client_order_id=UINT64,
        account=ACCOUNTS,
        side=st.sampled_from(Side),
        price=INT64,
        quantity=INT64,
    ),
    st.builds(
        OrderRejected,
        client_order_id=UINT64,
        account=ACCOUNTS,
        reason=st.sampled_from(RejectReason),
        detail=TEXT,
        order_id=UINT64,
    ),
    st.builds(
        OrderCancelled,
        order_id=UINT64,
        client_order_id=UINT64,
        account=ACCOUNTS,
        remaining_quantity=INT64,
        reason=st.sampled_from(CancelReason),
    ),
    st.builds(
        OrderAmended,
        order_id=UINT64,
        client_order_id=UINT64,
        account=ACCOUNTS,
        price=INT64,
        quantity=INT64,
        kept_priority=st.booleans(),
    ),
    st.builds(
        Fill,
        maker_order_id=UINT64,
        taker_order_id=UINT64,
        maker_account=ACCOUNTS,
        taker_account=ACCOUNTS,
        price=INT64,
        quantity=INT64,
        taker_side=st.sampled_from(Side),
        maker_fee=INT64,
        taker_fee=INT64,
        maker_remaining=INT64,
        taker_remaining=INT64,
    ),
    st.builds(
        BookDelta, side=st.sampled_from(Side), price=INT64, quantity=INT64, order_count=UINT32
    ),
    st.builds(
        PositionUpdate,
        account=ACCOUNTS,
        size=INT64,
        entry_notional=INT64,
        collateral=INT64,
        realized_pnl=INT64,
    ),
    st.builds(MarketUpdated, config=configs, revision=UINT64),
    st.builds(
        AuctionResult, clearing_price=INT64, volume=INT64, buy_surplus=INT64, sell_surplus=INT64
    ),
    st.builds(CancelAllDone, account=ACCOUNTS, cancelled=UINT64),
    st.builds(Rejected, reason=st.sampled_from(RejectReason), detail=TEXT),
)
outputs = st.builds(
    Output,
    shard=UINT32,
    seq=UINT64,
    input_seq=UINT64,
    ts_ns=UINT64,
    market_id=UINT32,
    request_id=UINT64,
    body=output_bodies,
)

# ------------------------------------------------------------------ one fixed sample per kind

ALICE = bytes(range(1, 21))
BOB = bytes(range(101, 121))
CONFIG = MarketConfig(
    market_id=7,
    symbol="BTC-PERP é",
    maker_fee_bps=-2,
    taker_fee_bps=5,
    matching_mode=MatchingMode.BATCH,
    auction_interval_ms=250,
    status=MarketStatus.POST_ONLY,
    margin_mode=MarginMode.CROSS,
)

SAMPLE_BODIES: list[InputBody] = [
    NewOrder(
        7,
        ALICE,
        11,
        Side.SELL,
        OrderType.LIMIT,
        TimeInForce.POST_ONLY,
        101,
        5,
        True,
        SelfTradePrevention.CANCEL_BOTH,
    ),
    CancelOrder(7, ALICE, order_id=3),
    CancelAll(ALICE),
    AmendOrder(7, ALICE, client_order_id=11, new_price=99, new_quantity=4),
    PriceUpdate(7, 100, -1),
    Deposit(ALICE, 7, 5_000_000),
    Withdraw(ALICE, 7, 1),
    UpsertMarket(CONFIG, 3),
    AuctionTick(7),
]
SAMPLE_OUTPUT_BODIES: list[OutputBody] = [
    OrderAccepted(9, 11, ALICE, Side.BUY, 101, 5),
    OrderRejected(11, ALICE, RejectReason.INSUFFICIENT_MARGIN, "needs 5 more", 9),
    OrderCancelled(9, 11, ALICE, 2, CancelReason.IOC_REMAINDER),
    OrderAmended(9, 11, ALICE, 100, 4, kept_priority=True),
    Fill(9, 10, ALICE, BOB, 100, 3, Side.SELL, -2, 5, 0, 2),
    BookDelta(Side.SELL, 100, 0, 0),
    PositionUpdate(BOB, -3, 300, 1_000_000, -7),
    MarketUpdated(CONFIG, 3),
    AuctionResult(100, 30, 4, 0),
    CancelAllDone(ALICE, 2),
    Rejected(RejectReason.INVALID_MARKET_CONFIG, "min_quantity must be at least 1"),
]
SAMPLE_OUTPUTS = [
    Output(1, seq, 5, 1_700_000_000_000_000_000, 7, 2**64 - 1, body)
    for seq, body in enumerate(SAMPLE_OUTPUT_BODIES, start=1)
]


def test_the_samples_cover_every_kind() -> None:
    assert {type(b) for b in SAMPLE_BODIES} == set(typing.get_args(InputBody)) - {Malformed}
    assert {type(o.body) for o in SAMPLE_OUTPUTS} == set(typing.get_args(OutputBody))


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("body", SAMPLE_BODIES, ids=lambda b: type(b).__name__)
def test_each_input_kind_round_trips(body: InputBody) -> None:
    inp = Input(body, ts_ns=17, request_id=42)
    assert decode_input(encode_input(inp), ts_ns=17) == inp
    assert decode_input_json(input_to_json(inp), ts_ns=17) == inp


@pytest.mark.parametrize("out", SAMPLE_OUTPUTS, ids=lambda o: type(o.body).__name__)
def test_each_output_kind_round_trips(out: Output) -> None:
    assert output_from_bytes(encode_output(out)) == out


@given(inputs)
def test_inputs_round_trip_through_bytes(inp: Input) -> None:
    # The event time is the stream's, carried beside the message, not in it.
    assert decode_input(encode_input(inp), inp.ts_ns) == inp


@given(inputs)
def test_inputs_round_trip_through_json(inp: Input) -> None:
    line = input_to_json(inp)
    assert "\n" not in line
    assert decode_input_json(line, inp.ts_ns) == inp
    assert decode_input_json(line.encode(), inp.ts_ns) == inp


@given(outputs)
def test_outputs_round_trip_through_bytes(out: Output) -> None:
    decoded = output_from_bytes(encode_output(out))
    assert decoded == out
    assert msgspec.msgpack.encode(decoded) == msgspec.msgpack.encode(out)  # enums, not ints


@given(outputs)
def test_output_json_is_the_canonical_mapping_of_the_bytes(out: Output) -> None:
    text = output_to_json(out)
    assert "\n" not in text
    assert text == output_to_json(out)
    parsed = json_format.Parse(text, pb.OutputEvent())
    assert parsed == pb.OutputEvent.FromString(encode_output(out))


def test_output_json_follows_the_proto3_mapping_with_zeros_printed() -> None:
    fill = next(o for o in SAMPLE_OUTPUTS if isinstance(o.body, Fill))
    assert json.loads(output_to_json(fill)) == {
        "shard": 1,
        "seq": "5",
        "inputSeq": "5",
        "tsNs": "1700000000000000000",
        "marketId": 7,
        "requestId": "18446744073709551615",
        "fill": {
            "makerOrderId": "9",
            "takerOrderId": "10",
            "makerAccount": "AQIDBAUGBwgJCgsMDQ4PEBESExQ=",
            "takerAccount": "ZWZnaGlqa2xtbm9wcXJzdHV2d3g=",
            "price": "100",
            "quantity": "3",
            "takerSide": "SIDE_SELL",
            "makerFee": "-2",
            "takerFee": "5",
            "makerRemaining": "0",
            "takerRemaining": "2",
        },
    }


def test_output_json_does_not_depend_on_the_hash_seed() -> None:
    here = [output_to_json(out) for out in SAMPLE_OUTPUTS]
    assert here == [output_to_json(out) for out in SAMPLE_OUTPUTS]
    program = (
        "import sys\n"
        "from hypermarket.wire import output_from_bytes, output_to_json\n"
        "for line in sys.stdin:\n"
        "    print(output_to_json(output_from_bytes(bytes.fromhex(line))))\n"
    )
    stdin = "".join(encode_output(out).hex() + "\n" for out in SAMPLE_OUTPUTS)
    for seed in ("1", "2", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", program],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=env,
            check=True,
        )
        assert done.stdout.splitlines() == here


# ------------------------------------------------------------------ binary failures


def _account_bytes(n: int) -> bytes:
    return bytes(range(n))


def _event(**kwargs: Any) -> bytes:
    """A binary InputEvent with request_id 5, built from raw field values (no codec involved)."""
    return pb.InputEvent(request_id=5, **kwargs).SerializeToString()


def _new_order(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "market_id": 7,
        "account": ALICE,
        "client_order_id": 11,
        "side": 1,
        "order_type": 1,
        "time_in_force": 1,
        "price": 100,
        "quantity": 2,
    }
    return _event(new_order={**fields, **changes})


def _assert_malformed(
    inp: Input,
    field: str,
    *,
    market_id: int = 7,
    request_id: int = 5,
    reason: RejectReason = RejectReason.MALFORMED_INPUT,
) -> None:
    assert isinstance(inp.body, Malformed), inp
    assert inp.body.reason is reason
    assert field in inp.body.detail
    assert (inp.body.market_id, inp.request_id) == (market_id, request_id)


def test_undecodable_bytes_are_malformed_and_keep_the_event_time() -> None:
    inp = decode_input(b"\xff\xff", ts_ns=99)
    _assert_malformed(inp, "InputEvent", market_id=0, request_id=0)
    assert inp.ts_ns == 99


def test_a_message_without_an_event_is_malformed() -> None:
    _assert_malformed(decode_input(_event()), "InputEvent.event", market_id=0)


def test_an_event_this_build_does_not_know_is_malformed() -> None:
    field_99_empty = b"\x9a\x06\x00"  # tag (99 << 3 | 2) as a varint, length 0
    _assert_malformed(decode_input(_event() + field_99_empty), "InputEvent.event", market_id=0)


@pytest.mark.parametrize("field", ["side", "order_type", "time_in_force", "stp"])
def test_an_unknown_enum_number_is_malformed(field: str) -> None:
    inp = decode_input(_new_order(**{field: 9}))
    _assert_malformed(inp, f"new_order.{field}")
    assert isinstance(inp.body, Malformed)
    assert inp.body.detail.endswith("got 9")


@pytest.mark.parametrize("field", ["side", "order_type", "time_in_force"])
def test_a_required_enum_left_unspecified_is_malformed(field: str) -> None:
    inp = decode_input(_new_order(**{field: 0}))
    _assert_malformed(inp, f"new_order.{field}")
    assert isinstance(inp.body, Malformed)
    assert inp.body.detail.endswith("got 0 (unspecified)")


def test_stp_unspecified_means_cancel_taker() -> None:
    body = decode_input(_new_order(stp=0)).body
    assert isinstance(body, NewOrder)
    assert body.stp is SelfTradePrevention.CANCEL_TAKER


def test_market_config_enums_unspecified_mean_the_domain_defaults() -> None:
    body = decode_input(_event(upsert_market={"config": {"market_id": 7}, "revision": 1})).body
    assert isinstance(body, UpsertMarket)
    assert body.config.matching_mode is MatchingMode.CONTINUOUS
    assert body.config.status is MarketStatus.ACTIVE
    assert body.config.margin_mode is MarginMode.ISOLATED


@pytest.mark.parametrize("field", ["matching_mode", "status", "margin_mode"])
def test_an_unknown_market_config_enum_is_malformed(field: str) -> None:
    inp = decode_input(_event(upsert_market={"config": {"market_id": 7, field: 9}}))
    _assert_malformed(inp, f"upsert_market.config.{field}")


def test_an_upsert_without_a_config_is_malformed() -> None:
    inp = decode_input(_event(upsert_market={"revision": 3}))
    _assert_malformed(inp, "upsert_market.config", market_id=0)


@pytest.mark.parametrize(
    "kind", ["new_order", "cancel_order", "cancel_all", "amend_order", "deposit", "withdraw"]
)
@pytest.mark.parametrize("length", [0, 3, 19, 21, 32])
def test_an_account_of_the_wrong_length_is_malformed(kind: str, length: int) -> None:
    if kind == "new_order":
        data = _new_order(account=_account_bytes(length))
    else:
        data = _event(**{kind: {"market_id": 7, "account": _account_bytes(length)}})
    inp = decode_input(data)
    _assert_malformed(inp, f"{kind}.account must be 20 bytes, got {length}")


def test_business_values_pass_through_for_the_core_to_judge() -> None:
    body = decode_input(_new_order(market_id=0, price=-5, quantity=0)).body
    assert isinstance(body, NewOrder)
    assert (body.market_id, body.price, body.quantity) == (0, -5, 0)
    config = decode_input(_event(upsert_market={"config": {"symbol": ""}})).body
    assert isinstance(config, UpsertMarket)
    assert config.config.contract_multiplier == 0  # the proto zero, not the domain default


def test_binary_varints_are_truncated_to_their_field_as_protobuf_specifies() -> None:
    too_wide = pb.UpsertMarket(revision=2**32 + 5).SerializeToString()[1:]  # the bare varint
    tick = b"\x08" + too_wide  # AuctionTick.market_id (uint32) = 2**32 + 5
    data = b"\x92\x01" + bytes([len(tick)]) + tick  # InputEvent.auction_tick
    assert decode_input(data).body == AuctionTick(market_id=5)


# ------------------------------------------------------------------ JSON failures

NEW_ORDER_JSON = {
    "marketId": 7,
    "account": "AQIDBAUGBwgJCgsMDQ4PEBESExQ=",
    "clientOrderId": "11",
    "side": "SIDE_BUY",
    "orderType": "ORDER_TYPE_LIMIT",
    "timeInForce": "TIME_IN_FORCE_GTC",
    "price": "100",
    "quantity": "2",
}


def _json_order(**changes: object) -> str:
    return json.dumps({"requestId": "5", "newOrder": {**NEW_ORDER_JSON, **changes}})


def test_a_valid_json_order_decodes() -> None:
    body = decode_input_json(_json_order()).body
    assert body == NewOrder(7, ALICE, 11, Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 100, 2)


def test_json_accepts_the_proto_field_names_too() -> None:
    line = json.dumps({"request_id": 5, "new_order": {**NEW_ORDER_JSON, "client_order_id": 11}})
    assert decode_input_json(line) == decode_input_json(_json_order())


def test_invalid_json_is_malformed() -> None:
    _assert_malformed(decode_input_json('{"newOrder": '), "JSON", market_id=0, request_id=0)


def test_json_that_is_not_an_object_is_malformed() -> None:
    _assert_malformed(decode_input_json("[1, 2]"), "not a JSON object", market_id=0, request_id=0)


def test_json_that_is_not_utf8_is_malformed() -> None:
    _assert_malformed(decode_input_json(b'{"x": "\xff"}'), "UTF-8", market_id=0, request_id=0)


def test_an_unknown_json_field_is_malformed() -> None:
    inp = decode_input_json(_json_order(colour="blue"))
    _assert_malformed(inp, '"colour"')
    assert isinstance(inp.body, Malformed)
    assert "\n" not in inp.body.detail


def test_a_duplicate_json_key_is_malformed() -> None:
    line = '{"requestId": "5", "auctionTick": {"marketId": 7, "marketId": 8}}'
    _assert_malformed(decode_input_json(line), "duplicate key", market_id=0, request_id=0)


def test_a_json_value_of_the_wrong_kind_is_malformed() -> None:
    _assert_malformed(decode_input_json(_json_order(price={"a": 1})), "price")


def test_an_unknown_json_enum_name_is_malformed_and_keeps_the_ids() -> None:
    _assert_malformed(decode_input_json(_json_order(side="SIDE_UP")), "side")


def test_an_unknown_json_enum_number_is_malformed_like_in_binary() -> None:
    _assert_malformed(decode_input_json(_json_order(side=9)), "new_order.side")


def test_a_json_enum_number_out_of_int32_is_malformed_not_overflow() -> None:
    _assert_malformed(decode_input_json(_json_order(side=2**40)), "side")


def test_a_json_account_of_the_wrong_length_is_malformed() -> None:
    _assert_malformed(decode_input_json(_json_order(account="AQID")), "new_order.account")


@pytest.mark.parametrize(
    ("line", "detail", "market_id", "request_id"),
    [
        (_json_order(price="9223372036854775808"), "new_order.price must fit in int64", 7, 5),
        (_json_order(price=2**63), "new_order.price must fit in int64", 7, 5),
        (_json_order(quantity=-(2**63) - 1), "new_order.quantity must fit in int64", 7, 5),
        (_json_order(price=1e30), "new_order.price must fit in int64", 7, 5),
        (_json_order(price="1e30"), "new_order.price must fit in int64", 7, 5),
        (_json_order(clientOrderId=-1), "new_order.client_order_id must fit in uint64", 7, 5),
        (
            _json_order(marketId=2**32),
            "new_order.market_id must fit in uint32, got 4294967296",
            0,
            5,
        ),
        (
            json.dumps({"requestId": str(2**64), "auctionTick": {"marketId": 7}}),
            "request_id must fit in uint64",
            7,
            0,
        ),
        (
            json.dumps(
                {"requestId": 5, "upsertMarket": {"config": {"marketId": 7, "makerFeeBps": 2**31}}}
            ),
            "upsert_market.config.maker_fee_bps must fit in int32",
            7,
            5,
        ),
        (
            json.dumps(
                {
                    "requestId": 5,
                    "upsert_market": {
                        "revision": -1,
                        "config": {"market_id": 7, "auction_interval_ms": -1},
                    },
                }
            ),
            "upsert_market.config.auction_interval_ms must fit in uint32",
            7,
            5,
        ),
    ],
)
def test_a_json_number_out_of_range_is_overflow_naming_the_field(
    line: str, detail: str, market_id: int, request_id: int
) -> None:
    _assert_malformed(
        decode_input_json(line),
        detail,
        market_id=market_id,
        request_id=request_id,
        reason=RejectReason.OVERFLOW,
    )


def test_a_json_line_both_malformed_and_out_of_range_is_malformed() -> None:
    _assert_malformed(decode_input_json(_json_order(price=2**63, side="NOPE")), "side")
    _assert_malformed(decode_input_json(_json_order(price=2**63, account="")), "account")
    _assert_malformed(
        decode_input_json(json.dumps({"requestId": 5, "upsertMarket": {"revision": 2**64}})),
        "upsert_market.config must be set",
        market_id=0,
    )


def test_a_json_integer_that_is_not_whole_is_malformed_not_overflow() -> None:
    _assert_malformed(decode_input_json(_json_order(price=1.5)), "price")
    _assert_malformed(decode_input_json(_json_order(price="1e400")), "price")
    _assert_malformed(decode_input_json(_json_order(price=" 1")), "price")


# ------------------------------------------------------------------ decoding never raises

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
FIELD_NAMES = st.sampled_from(
    ["requestId", "newOrder", "upsertMarket", "config", *NEW_ORDER_JSON, "revision", "marketId"]
)


@given(st.binary())
def test_decode_input_never_raises_on_any_bytes(data: bytes) -> None:
    assert isinstance(decode_input(data), Input)


@given(inputs, st.data())
def test_decode_input_never_raises_on_damaged_messages(inp: Input, data: st.DataObject) -> None:
    damaged = bytearray(encode_input(inp))
    damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(damaged)))
    assert isinstance(decode_input(bytes(damaged[:cut])), Input)


@given(st.text() | st.binary())
def test_decode_input_json_never_raises_on_any_text(line: str | bytes) -> None:
    assert isinstance(decode_input_json(line), Input)


@given(st.dictionaries(FIELD_NAMES, json_values | st.dictionaries(FIELD_NAMES, json_values)))
def test_decode_input_json_never_raises_on_odd_json(obj: dict[str, object]) -> None:
    assert isinstance(decode_input_json(json.dumps(obj)), Input)


def test_decode_input_json_never_raises_on_deep_nesting() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for line in (deep, f'{{"requestId": 1e30, "x": {deep}}}'):
        _assert_malformed(decode_input_json(line), "JSON", market_id=0, request_id=0)


# ------------------------------------------------------------------ encoding: trusted producers


def test_a_malformed_input_cannot_be_encoded() -> None:
    malformed = Input(Malformed(RejectReason.MALFORMED_INPUT, "bad"), 1, 2)
    with pytest.raises(ValueError, match="Malformed"):
        encode_input(malformed)
    with pytest.raises(ValueError, match="Malformed"):
        input_to_json(malformed)


def test_encoding_a_number_out_of_range_raises() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_input(Input(PriceUpdate(7, 2**63, 0)))
    with pytest.raises(ValueError, match="out of range"):
        encode_output(Output(1, -1, 1, 1, 7, 0, AuctionResult(1, 1, 0, 0)))


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff",
        pb.OutputEvent(seq=1).SerializeToString(),
        pb.OutputEvent(book_delta={"side": 9}).SerializeToString(),
        pb.OutputEvent(market_updated={"config": {"status": 9}}).SerializeToString(),
    ],
    ids=["undecodable", "no event", "unknown enum", "unknown config enum"],
)
def test_output_from_bytes_raises_value_error_on_bad_data(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"OutputEvent|enum|status"):
        output_from_bytes(data)


def test_a_market_config_output_from_before_a_field_existed_reads_with_its_default() -> None:
    data = pb.OutputEvent(market_updated={"config": {"market_id": 7}}).SerializeToString()
    body = output_from_bytes(data).body
    assert isinstance(body, MarketUpdated)
    assert body.config.margin_mode is MarginMode.ISOLATED


# ------------------------------------------------------------------ delimited framing


def _protobuf_varint(n: int) -> bytes:
    # UpsertMarket.revision is field 2, a uint64: its encoding is one tag byte, then the varint.
    return pb.UpsertMarket(revision=n).SerializeToString()[1:]


@given(st.lists(st.binary(max_size=300)))
def test_framing_round_trips(messages: list[bytes]) -> None:
    assert list(read_delimited(write_delimited(messages))) == messages


@pytest.mark.parametrize("length", [1, 127, 128, 300, 16_383, 16_384, 2**21])
def test_the_length_prefix_is_protobufs_varint(length: int) -> None:
    framed = write_delimited([b"x" * length])
    assert framed == _protobuf_varint(length) + b"x" * length


def test_empty_input_yields_nothing_and_empty_messages_survive() -> None:
    assert list(read_delimited(b"")) == []
    assert list(read_delimited(write_delimited([b"", b"a", b""]))) == [b"", b"a", b""]


RECORDS = [encode_input(Input(body, request_id=8)) for body in SAMPLE_BODIES]
STREAM = write_delimited(RECORDS)


def test_a_stream_cut_anywhere_yields_the_whole_records_then_the_tail() -> None:
    boundaries = [0]
    for record in RECORDS:
        boundaries.append(boundaries[-1] + len(write_delimited([record])))
    for cut in range(len(STREAM) + 1):
        whole = sum(1 for end in boundaries[1:] if end <= cut)
        chunks = list(read_delimited(STREAM[:cut]))
        assert chunks[:whole] == RECORDS[:whole]
        tail = STREAM[boundaries[whole] : cut]
        assert chunks[whole:] == ([tail] if tail else [])


def test_every_truncated_record_decodes_as_malformed() -> None:
    # What lets a fold go on past a torn file: the tail becomes a Rejected output, not a crash.
    for record in RECORDS:
        framed = write_delimited([record])
        for cut in range(1, len(framed)):
            (tail,) = read_delimited(framed[:cut])
            assert isinstance(decode_input(tail).body, Malformed), (record, cut)


@pytest.mark.parametrize(
    "damaged",
    [b"\x80", b"\xff\xff", b"\xff" * 11 + b"\x01abc"],
    ids=["cut-short", "cut-short-long", "longer-than-ten-bytes"],
)
def test_a_bad_length_varint_yields_the_rest_as_one_chunk(damaged: bytes) -> None:
    first = write_delimited([RECORDS[0]])
    assert list(read_delimited(first + damaged)) == [RECORDS[0], damaged]
