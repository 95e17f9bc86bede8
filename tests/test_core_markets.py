"""Markets in the pure core: creating and changing them, every config rule, revisions, statuses.

Each test states one rule of ``core.markets`` / ``models.market.config_problem`` / CONTRACT.md,
drives a fresh shard through ``tests.support`` (invariants checked after every step) and
compares the outputs and the state with values worked out by hand in the test.
"""

from __future__ import annotations

import pytest

from hypermarket.models import (
    BookDelta,
    CancelAllDone,
    CancelReason,
    Input,
    Malformed,
    MarginMode,
    MarketStatus,
    MarketUpdated,
    MatchingMode,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    PriceUpdate,
    Rejected,
    RejectReason,
    UpsertMarket,
)
from tests.support import (
    ALICE,
    BOB,
    BUY,
    CAROL,
    IOC,
    POST_ONLY,
    SELL,
    DeltaReplica,
    Exchange,
    amend,
    cancel,
    cancel_all,
    config,
    deltas,
    kinds,
    market,
    market_order,
    of,
    one,
    order,
    set_status,
    wrap,
)

# ---------------------------------------------------------------- creating a market


def test_upsert_creates_market_and_reports_config_and_revision() -> None:
    ex = Exchange()
    outputs = ex.send(market(1, revision=7, request_id=42, min_quantity=2))
    assert len(outputs) == 1
    out = outputs[0]
    assert (out.shard, out.seq, out.input_seq, out.market_id, out.request_id) == (0, 1, 1, 1, 42)
    assert out.body == MarketUpdated(config(1, min_quantity=2), 7)
    assert ex.state.markets[1].revision == 7
    assert ex.state.markets[1].config == config(1, min_quantity=2)


def test_upsert_of_a_market_of_another_shard_is_wrong_shard() -> None:
    ex = Exchange(shard=1, shard_count=3)
    # 4 % 3 == 1 is ours, 5 % 3 == 2 is not.
    assert of(ex.send(market(4)), MarketUpdated)
    out = ex.send(market(5))
    assert [o.body.reason for o in out if isinstance(o.body, Rejected)] == [
        RejectReason.WRONG_SHARD
    ]
    assert out[0].market_id == 5
    assert 5 not in ex.state.markets


# ---------------------------------------------------------------- config rules

# One override per rule of config_problem, in its field order; each breaks only that rule.
BROKEN_CONFIGS: list[tuple[str, dict[str, object]]] = [
    ("market_id zero", {"market_id": 0}),
    ("empty symbol", {"symbol": ""}),
    ("symbol of 33 characters", {"symbol": "X" * 33}),
    ("unprintable symbol", {"symbol": "BTC\nPERP"}),
    ("zero contract_multiplier", {"contract_multiplier": 0}),
    ("zero min_quantity", {"min_quantity": 0}),
    ("max_quantity below min_quantity", {"min_quantity": 5, "max_quantity": 4}),
    ("maker fee above 100%", {"maker_fee_bps": 10_001}),
    ("maker rebate above 100%", {"maker_fee_bps": -10_001, "taker_fee_bps": 10_000}),
    ("taker fee above 100%", {"taker_fee_bps": 10_001}),
    ("taker rebate above 100%", {"taker_fee_bps": -10_001, "maker_fee_bps": 10_000}),
    ("taker rebate larger than the maker fee", {"maker_fee_bps": 5, "taker_fee_bps": -6}),
    ("maker rebate larger than the taker fee", {"maker_fee_bps": -3, "taker_fee_bps": 2}),
    ("zero initial margin", {"initial_margin_bps": 0, "maintenance_margin_bps": 0}),
    ("initial margin above 100%", {"initial_margin_bps": 10_001}),
    ("zero maintenance margin", {"maintenance_margin_bps": 0}),
    ("maintenance equal to initial", {"initial_margin_bps": 500, "maintenance_margin_bps": 500}),
    ("maintenance above initial", {"initial_margin_bps": 500, "maintenance_margin_bps": 600}),
    ("negative price band", {"price_band_bps": -1}),
    ("price band above 100%", {"price_band_bps": 10_001}),
    ("negative max_position", {"max_position": -1}),
    ("BATCH without an auction interval", {"matching_mode": MatchingMode.BATCH}),
    ("negative auction interval", {"auction_interval_ms": -1}),
    ("CROSS margin is not active yet", {"margin_mode": MarginMode.CROSS}),
]


@pytest.mark.parametrize(
    "overrides", [o for _, o in BROKEN_CONFIGS], ids=[name for name, _ in BROKEN_CONFIGS]
)
def test_a_config_breaking_one_rule_is_rejected_whole(overrides: dict[str, object]) -> None:
    ex = Exchange()
    market_id = overrides.get("market_id", 1)
    assert isinstance(market_id, int)
    rest = {name: value for name, value in overrides.items() if name != "market_id"}
    before = ex.state
    outputs = ex.send(wrap(UpsertMarket(config(market_id, **rest), 1)))
    assert kinds(outputs) == ["Rejected"]
    assert one(outputs, Rejected).reason is RejectReason.INVALID_MARKET_CONFIG
    assert outputs[0].market_id == market_id
    assert ex.state.markets == before.markets
    # The market does not exist afterwards.
    rejected = one(ex.send(order(ALICE, BUY, 100, 1, market_id=market_id)), OrderRejected)
    assert rejected.reason is RejectReason.UNKNOWN_MARKET


VALID_EDGES: list[tuple[str, dict[str, object]]] = [
    ("symbol of 32 characters", {"symbol": "X" * 32}),
    ("min equals max quantity", {"min_quantity": 3, "max_quantity": 3}),
    ("max_quantity 0 means no limit", {"min_quantity": 5, "max_quantity": 0}),
    ("fees of exactly +-100%", {"maker_fee_bps": 10_000, "taker_fee_bps": -10_000}),
    ("maker rebate equal to taker fee", {"maker_fee_bps": -7, "taker_fee_bps": 7}),
    ("initial margin 100%", {"initial_margin_bps": 10_000, "maintenance_margin_bps": 9_999}),
    ("maintenance one below initial", {"initial_margin_bps": 2, "maintenance_margin_bps": 1}),
    ("price band 100%", {"price_band_bps": 10_000}),
    ("position limit", {"max_position": 1}),
    ("status POST_ONLY on creation", {"status": MarketStatus.POST_ONLY}),
    ("status HALTED on creation", {"status": MarketStatus.HALTED}),
    (
        "BATCH with an auction interval",
        {"matching_mode": MatchingMode.BATCH, "auction_interval_ms": 1},
    ),
]


@pytest.mark.parametrize(
    "overrides", [o for _, o in VALID_EDGES], ids=[name for name, _ in VALID_EDGES]
)
def test_configs_on_the_edge_of_a_rule_are_accepted(overrides: dict[str, object]) -> None:
    ex = Exchange()
    outputs = ex.send(wrap(UpsertMarket(config(1, **overrides), 1)))
    assert one(outputs, MarketUpdated).config == config(1, **overrides)


def test_a_config_breaking_two_rules_names_the_first_in_field_order() -> None:
    ex = Exchange()
    rejected = one(ex.send(market(1, contract_multiplier=0, min_quantity=0)), Rejected)
    assert rejected.reason is RejectReason.INVALID_MARKET_CONFIG
    assert "contract_multiplier" in rejected.detail
    assert "min_quantity" not in rejected.detail


def test_a_rejected_change_keeps_the_market_and_its_revision() -> None:
    ex = Exchange()
    ex.open_market(1, accounts=[ALICE])
    ex.send(order(ALICE, BUY, 99, 4, client_order_id=1))
    rejected = one(ex.send(market(1, revision=2, maintenance_margin_bps=2_000)), Rejected)
    assert rejected.reason is RejectReason.INVALID_MARKET_CONFIG
    assert ex.state.markets[1].config == config(1)
    assert ex.state.markets[1].revision == 1
    assert ex.levels(BUY) == [(99, 4, 1)]
    # The same revision with a good config is still new, so it is applied.
    assert one(ex.send(market(1, revision=2, min_quantity=2)), MarketUpdated).revision == 2


def test_changing_the_contract_multiplier_of_an_existing_market_is_rejected() -> None:
    ex = Exchange()
    ex.open_market(1, contract_multiplier=10)
    rejected = one(ex.send(market(1, revision=2, contract_multiplier=20)), Rejected)
    assert rejected.reason is RejectReason.INVALID_MARKET_CONFIG
    assert ex.state.markets[1].config.contract_multiplier == 10
    # Every other field may change.
    changed = market(1, revision=3, contract_multiplier=10, taker_fee_bps=5, max_quantity=100)
    assert one(ex.send(changed), MarketUpdated).config.max_quantity == 100


# ---------------------------------------------------------------- revisions


def test_a_stale_or_repeated_revision_is_ignored_without_output() -> None:
    ex = Exchange()
    ex.send(market(1, revision=5))
    before = ex.state
    assert ex.send(market(1, revision=5, min_quantity=9)) == []
    assert ex.send(market(1, revision=4, status=MarketStatus.HALTED)) == []
    # Even a broken config is ignored when stale: it is never looked at.
    assert ex.send(market(1, revision=3, contract_multiplier=0)) == []
    assert ex.state.markets == before.markets
    # Ignored inputs still take an input number; output numbering is untouched.
    assert ex.state.input_seq == before.input_seq + 3
    assert ex.state.output_seq == before.output_seq
    out = ex.send(market(1, revision=6, min_quantity=9))
    assert out[0].seq == before.output_seq + 1
    assert out[0].input_seq == before.input_seq + 4


# ---------------------------------------------------------------- statuses


def _with_book(status_after: MarketStatus | None = None) -> Exchange:
    """Market 1 with ALICE bid 99x4 (id 1), BOB ask 101x3 (id 2), CAROL bid 98x2 (id 3)."""
    ex = Exchange()
    ex.open_market(1)
    ex.send(order(ALICE, BUY, 99, 4, client_order_id=1))
    ex.send(order(BOB, SELL, 101, 3, client_order_id=1))
    ex.send(order(CAROL, BUY, 98, 2, client_order_id=1))
    if status_after is not None:
        ex.send(set_status(1, status_after, revision=2))
    return ex


def test_post_only_market_takes_only_post_only_limit_orders() -> None:
    ex = _with_book(MarketStatus.POST_ONLY)
    gtc = one(ex.send(order(ALICE, BUY, 97, 1, client_order_id=2)), OrderRejected)
    assert gtc.reason is RejectReason.MARKET_NOT_ACTIVE
    ioc = one(ex.send(order(ALICE, BUY, 97, 1, client_order_id=2, tif=IOC)), OrderRejected)
    assert ioc.reason is RejectReason.MARKET_NOT_ACTIVE
    mkt = one(ex.send(market_order(ALICE, BUY, 1, client_order_id=2)), OrderRejected)
    assert mkt.reason is RejectReason.MARKET_NOT_ACTIVE
    post = ex.send(order(ALICE, BUY, 100, 1, client_order_id=2, tif=POST_ONLY))
    assert one(post, OrderAccepted).order_id == 4
    assert ex.levels(BUY) == [(100, 1, 1), (99, 4, 1), (98, 2, 1)]
    crossing = order(ALICE, BUY, 101, 1, client_order_id=3, tif=POST_ONLY)
    assert one(ex.send(crossing), OrderRejected).reason is RejectReason.POST_ONLY_WOULD_CROSS


def test_post_only_market_allows_cancels_and_amends_that_do_not_cross() -> None:
    ex = _with_book(MarketStatus.POST_ONLY)
    kept = one(ex.send(amend(ALICE, order_id=1, new_quantity=2)), OrderAmended)
    assert (kept.quantity, kept.kept_priority) == (2, True)
    moved = one(ex.send(amend(ALICE, order_id=1, new_price=100)), OrderAmended)
    assert (moved.price, moved.kept_priority) == (100, False)
    # A GTC order amended to cross in a POST_ONLY market would trade: rejected, unchanged.
    crossing = one(ex.send(amend(ALICE, order_id=1, new_price=101)), OrderRejected)
    assert crossing.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert ex.levels(BUY) == [(100, 2, 1), (98, 2, 1)]
    cancelled = one(ex.send(cancel(CAROL, order_id=3)), OrderCancelled)
    assert cancelled.reason is CancelReason.USER


def test_cancel_only_market_keeps_orders_and_takes_only_cancels() -> None:
    ex = _with_book(MarketStatus.CANCEL_ONLY)
    assert ex.levels(BUY) == [(99, 4, 1), (98, 2, 1)]
    assert ex.levels(SELL) == [(101, 3, 1)]
    post = order(ALICE, BUY, 97, 1, client_order_id=2, tif=POST_ONLY)
    assert one(ex.send(post), OrderRejected).reason is RejectReason.MARKET_NOT_ACTIVE
    taker = order(ALICE, BUY, 101, 1, client_order_id=2)
    assert one(ex.send(taker), OrderRejected).reason is RejectReason.MARKET_NOT_ACTIVE
    amended = one(ex.send(amend(ALICE, order_id=1, new_quantity=1)), OrderRejected)
    assert amended.reason is RejectReason.MARKET_NOT_ACTIVE
    assert one(ex.send(cancel(BOB, client_order_id=1)), OrderCancelled).remaining_quantity == 3
    done = one(ex.send(cancel_all(ALICE, 1)), CancelAllDone)
    assert done.cancelled == 1
    assert ex.levels(BUY) == [(98, 2, 1)]
    assert ex.levels(SELL) == []


def test_halting_cancels_every_resting_order_then_publishes_deltas() -> None:
    ex = _with_book()
    replica = DeltaReplica()
    replica.apply(ex.history)
    outputs = ex.send(set_status(1, MarketStatus.HALTED, revision=2))
    assert kinds(outputs) == [
        "MarketUpdated",
        "OrderCancelled",
        "OrderCancelled",
        "OrderCancelled",
        "BookDelta",
        "BookDelta",
        "BookDelta",
    ]
    assert [
        (c.order_id, c.account, c.remaining_quantity, c.reason) for c in of(outputs, OrderCancelled)
    ] == [
        (1, ALICE, 4, CancelReason.MARKET_HALTED),
        (2, BOB, 3, CancelReason.MARKET_HALTED),
        (3, CAROL, 2, CancelReason.MARKET_HALTED),
    ]
    # Bids before asks, each side best price first; 0 means the level is gone.
    assert deltas(outputs) == [(BUY, 99, 0, 0), (BUY, 98, 0, 0), (SELL, 101, 0, 0)]
    assert all(o.market_id == 1 for o in outputs)
    replica.apply(outputs)
    assert replica.levels(1, BUY) == replica.levels(1, SELL) == []
    assert len(ex.state.markets[1].book.orders) == 0


def test_halted_market_rejects_orders_and_amends_and_finds_nothing_to_cancel() -> None:
    ex = _with_book(MarketStatus.HALTED)
    post = order(ALICE, BUY, 97, 1, client_order_id=5, tif=POST_ONLY)
    assert one(ex.send(post), OrderRejected).reason is RejectReason.MARKET_NOT_ACTIVE
    assert one(ex.send(cancel(ALICE, order_id=1)), OrderRejected).reason is (
        RejectReason.UNKNOWN_ORDER
    )
    assert one(ex.send(cancel_all(ALICE, 1)), CancelAllDone).cancelled == 0


def test_halting_an_empty_market_outputs_only_market_updated() -> None:
    ex = Exchange()
    ex.open_market(1)
    assert kinds(ex.send(set_status(1, MarketStatus.HALTED, revision=2))) == ["MarketUpdated"]


def test_cancel_only_and_post_only_do_not_cancel_resting_orders() -> None:
    ex = _with_book()
    for revision, status in enumerate((MarketStatus.POST_ONLY, MarketStatus.CANCEL_ONLY), 2):
        assert kinds(ex.send(set_status(1, status, revision=revision))) == ["MarketUpdated"]
    assert len(ex.state.markets[1].book.orders) == 3


def test_reactivated_market_trades_again() -> None:
    ex = _with_book(MarketStatus.HALTED)
    ex.send(set_status(1, MarketStatus.ACTIVE, revision=3))
    ex.send(order(ALICE, SELL, 105, 2, client_order_id=9))
    accepted = one(ex.send(order(BOB, BUY, 105, 2, client_order_id=9)), OrderAccepted)
    assert accepted.order_id == 5
    assert ex.levels(SELL) == []


# ---------------------------------------------------------------- other inputs


def test_price_update_is_silent_and_recorded() -> None:
    ex = Exchange()
    ex.open_market(1)
    assert ex.send(wrap(PriceUpdate(1, 105, 104))) == []
    assert (ex.state.markets[1].mark_price, ex.state.markets[1].index_price) == (105, 104)


@pytest.mark.parametrize(("mark", "index"), [(0, 100), (100, 0), (-1, 100), (100, -5)])
def test_price_update_with_a_non_positive_price_is_rejected(mark: int, index: int) -> None:
    ex = Exchange()
    ex.open_market(1)
    before = ex.state.markets[1]
    rejected = one(ex.send(wrap(PriceUpdate(1, mark, index))), Rejected)
    assert rejected.reason is RejectReason.INVALID_PRICE
    assert ex.state.markets[1] == before


def test_price_update_for_unknown_or_foreign_market_is_rejected() -> None:
    ex = Exchange(shard=0, shard_count=2)
    ex.open_market(2)
    unknown = ex.send(wrap(PriceUpdate(4, 100, 100)))
    assert one(unknown, Rejected).reason is RejectReason.UNKNOWN_MARKET
    foreign = ex.send(wrap(PriceUpdate(3, 100, 100)))
    assert one(foreign, Rejected).reason is RejectReason.WRONG_SHARD
    assert foreign[0].market_id == 3


def test_malformed_input_is_rejected_with_its_reason_and_detail() -> None:
    ex = Exchange()
    body = Malformed(RejectReason.MALFORMED_INPUT, "truncated protobuf", market_id=3)
    outputs = ex.send(Input(body, ts_ns=77, request_id=9))
    assert [o.body for o in outputs] == [
        Rejected(RejectReason.MALFORMED_INPUT, "truncated protobuf")
    ]
    assert (outputs[0].market_id, outputs[0].ts_ns, outputs[0].request_id) == (3, 77, 9)


def test_market_status_change_publishes_no_delta_when_book_untouched() -> None:
    ex = _with_book()
    outputs = ex.send(set_status(1, MarketStatus.POST_ONLY, revision=2))
    assert of(outputs, BookDelta) == []
