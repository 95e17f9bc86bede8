"""The domain types of ``hypermarket.models`` and ``proto/engine.proto`` agree, which the codec
relies on (enums convert by number, structs by field name): checked by walking the generated
descriptors against the domain enums and structs, in both directions."""

from __future__ import annotations

import enum
import inspect
import typing

import msgspec
import pytest

from hypermarket.models import enums
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
from hypermarket.models.inputs import Input, InputBody, Malformed
from hypermarket.models.market import MarketConfig
from hypermarket.models.outputs import Output, OutputBody
from hypermarket.wire import engine_pb2 as pb

ENUM_PREFIXES: dict[type[enum.IntEnum], str] = {
    Side: "SIDE_",
    OrderType: "ORDER_TYPE_",
    TimeInForce: "TIME_IN_FORCE_",
    SelfTradePrevention: "STP_",
    MatchingMode: "MATCHING_MODE_",
    MarketStatus: "MARKET_STATUS_",
    MarginMode: "MARGIN_MODE_",
    RejectReason: "REJECT_REASON_",
    CancelReason: "CANCEL_REASON_",
}

INPUT_TYPES = [t for t in typing.get_args(InputBody) if t is not Malformed]
OUTPUT_TYPES = list(typing.get_args(OutputBody))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_every_enum_of_the_domain_and_the_proto_is_listed_here() -> None:
    domain = {
        obj
        for _, obj in inspect.getmembers(enums, inspect.isclass)
        if issubclass(obj, enum.IntEnum) and obj.__module__ == enums.__name__
    }
    assert domain == set(ENUM_PREFIXES)
    assert set(pb.DESCRIPTOR.enum_types_by_name) == {e.__name__ for e in ENUM_PREFIXES}


@pytest.mark.parametrize("enum_type", ENUM_PREFIXES, ids=lambda e: e.__name__)
def test_domain_enum_matches_the_proto_enum_value_for_value(enum_type: type[enum.IntEnum]) -> None:
    prefix = ENUM_PREFIXES[enum_type]
    proto = pb.DESCRIPTOR.enum_types_by_name[enum_type.__name__]
    wire = {value.name: value.number for value in proto.values}
    assert wire.pop(f"{prefix}UNSPECIFIED") == 0
    domain = {f"{prefix}{member.name}": member.value for member in enum_type}
    missing_from_proto = {name: n for name, n in domain.items() if wire.get(name) != n}
    missing_from_domain = {name: n for name, n in wire.items() if domain.get(name) != n}
    assert not missing_from_proto, f"domain members missing from the proto: {missing_from_proto}"
    assert not missing_from_domain, f"proto members missing from the domain: {missing_from_domain}"


@pytest.mark.parametrize(
    ("envelope", "domain_types"),
    [(pb.InputEvent, INPUT_TYPES), (pb.OutputEvent, OUTPUT_TYPES)],
    ids=["InputEvent", "OutputEvent"],
)
def test_the_event_oneof_holds_exactly_the_domain_kinds(
    envelope: type[pb.InputEvent | pb.OutputEvent], domain_types: list[type[msgspec.Struct]]
) -> None:
    oneof = envelope.DESCRIPTOR.oneofs_by_name["event"]
    wire = {(field.name, getattr(field.message_type, "name", None)) for field in oneof.fields}
    assert wire == {(_snake(t.__name__), t.__name__) for t in domain_types}


@pytest.mark.parametrize(
    "domain_type",
    [*INPUT_TYPES, *OUTPUT_TYPES, MarketConfig],
    ids=lambda t: t.__name__,
)
def test_struct_fields_are_the_proto_message_fields(domain_type: type[msgspec.Struct]) -> None:
    proto = pb.DESCRIPTOR.message_types_by_name[domain_type.__name__]
    assert {field.name for field in proto.fields} == set(domain_type.__struct_fields__)


@pytest.mark.parametrize(
    ("envelope", "domain_type"),
    [(pb.InputEvent, Input), (pb.OutputEvent, Output)],
    ids=["Input", "Output"],
)
def test_envelope_fields_are_the_proto_envelope_fields(
    envelope: type[pb.InputEvent | pb.OutputEvent], domain_type: type[msgspec.Struct]
) -> None:
    # ts_ns of an input is the stream's timestamp, not a field of the message.
    wire = {f.name for f in envelope.DESCRIPTOR.fields if f.containing_oneof is None}
    domain = set(domain_type.__struct_fields__) - {"body"}
    assert wire == (domain - {"ts_ns"} if domain_type is Input else domain)
