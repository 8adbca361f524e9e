"""The purchase-award handler with real SQS event shapes against DynamoDB Local."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.purchase_award import app
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.calendar import black_friday, format_instant
from loyalty.domain.ledger import plan_spend
from loyalty.runtime import order_service
from tests.support.api import table_items
from tests.support.events import (
    FakeLambdaContext,
    completed,
    load_event,
    refunded,
    sqs_event,
    sqs_record,
)
from tests.support.rules import early_access_document
from tests.support.table import commit_spend, get_order, list_entries, list_lots
from tests.support.workers import deliver_in_process, lambda_environment


def invoke(event):
    return app.handler(event, FakeLambdaContext())


def failed_ids(response):
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Processing time is pinned: earning dates and expiry do not drift with the wall clock."""
    monkeypatch.setattr("loyalty.services.clock.utc_now", lambda: NOW)


@pytest.fixture
def ledger(table_name):
    return DynamoLedgerRepository(table_name)


def assert_consistent(ledger, member_id):
    """The balance on the profile is the sum of the member's ledger entries, and the lots."""
    member = ledger.get_member(member_id)
    entries = list_entries(ledger, member_id)
    assert member.balance == sum(entry.points for entry in entries)
    assert member.balance == member.lot_total - member.debited
    assert member.lot_total == sum(lot.points for lot in list_lots(ledger, member_id))
    return member, entries


def test_a_first_order_enrolls_the_member_and_awards_points_and_bonus(ledger):
    response = invoke(sqs_event(completed("o-1", "c-1", ("19.99", 2), at="2026-12-07T12:00:00Z")))
    assert response == {"batchItemFailures": []}
    member, entries = assert_consistent(ledger, "c-1")
    assert member.balance == 3998 + 150
    assert member.tier_points == 4148
    assert member.tier == "Silver"
    assert member.order_count == 1
    assert member.referral_code and len(member.referral_code) == 8
    assert sorted((e.type, e.reason, e.points, e.reference) for e in entries) == [
        ("earn", "first-purchase-bonus", 150, "o-1"),
        ("earn", "purchase", 3998, "o-1"),
    ]


def test_the_same_order_delivered_five_times_awards_once(ledger):
    body = completed("o-1", "c-1", ("10.00", 1), at="2026-12-08T12:00:00Z")
    # Twice in one batch, then three more deliveries in later batches.
    assert failed_ids(invoke(sqs_event(body, body))) == []
    for _ in range(3):
        assert failed_ids(invoke(sqs_event(body))) == []
    member, entries = assert_consistent(ledger, "c-1")
    assert member.balance == 1000 + 150
    assert member.order_count == 1
    assert len(entries) == 2


def test_a_late_redelivery_weeks_apart_still_changes_nothing(ledger):
    body = completed("o-1", "c-1", ("10.00", 1), at="2026-10-31T12:00:00Z")
    invoke(sqs_event(body))
    invoke(sqs_event(completed("o-2", "c-1", ("5.00", 1), at="2026-11-20T12:00:00Z")))
    invoke(sqs_event(body))
    member, entries = assert_consistent(ledger, "c-1")
    assert member.balance == 1000 + 150 + 500
    assert len(entries) == 3


@contextmanager
def count_requests() -> Iterator[list[str]]:
    """The names of the DynamoDB requests the order service makes while the block runs."""
    requests: list[str] = []
    client = order_service()._ledger.client  # type: ignore[attr-defined]
    client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: requests.append(model.name), "count"
    )
    try:
        yield requests
    finally:
        client.meta.events.unregister("before-call.dynamodb", unique_id="count")


def test_a_redelivered_order_is_recognised_by_its_marker_and_writes_nothing(
    ledger, dynamodb_client, table_name
):
    body = completed("o-1", "c-1", ("10.00", 1), at="2026-12-08T12:00:00Z")
    invoke(sqs_event(body))
    before = table_items(dynamodb_client, table_name)
    with count_requests() as requests:
        assert failed_ids(invoke(sqs_event(body))) == []
    # The award without a read is tried and cancelled by the order's marker: no read.
    assert requests == ["TransactWriteItems"]
    assert table_items(dynamodb_client, table_name) == before
    member, entries = assert_consistent(ledger, "c-1")
    assert member.balance == 1000 + 150 and len(entries) == 2


def test_a_first_order_enrolls_with_the_refusal_for_a_read(ledger):
    invoke(sqs_event(completed("o-0", "c-other", ("1.00", 1), at="2026-12-08T11:00:00Z")))
    with count_requests() as requests:
        invoke(sqs_event(completed("o-1", "c-new", ("10.00", 1), at="2026-12-08T12:00:00Z")))
    # Tried without a read, refused (no profile), then planned as an enrollment: no read.
    assert requests == ["TransactWriteItems", "TransactWriteItems"]
    member, _ = assert_consistent(ledger, "c-new")
    assert (member.balance, member.order_count, member.first_order_id) == (1150, 1, "o-1")


def test_a_repeat_order_is_awarded_in_one_request(ledger):
    invoke(sqs_event(completed("o-1", "c-1", ("10.00", 1), at="2026-12-08T12:00:00Z")))
    with count_requests() as requests:
        invoke(sqs_event(completed("o-2", "c-1", ("2.50", 2), at="2026-12-09T12:00:00Z")))
    assert requests == ["TransactWriteItems"]
    member, _ = assert_consistent(ledger, "c-1")
    assert (member.balance, member.tier_points, member.order_count) == (1650, 1650, 2)
    assert member.tier == "Silver"  # 1650: the first order made c-1 Silver
    purchase = _purchase(ledger, "c-1", "o-2")
    assert purchase.points == 500 and "tier" not in purchase.details
    record = get_order(ledger, "o-2")
    assert record.purchase_points == 500 and record.order_number is None and not record.first_order
    assert [lot.points for lot in list_lots(ledger, "c-1") if lot.reference == "o-2"] == [500]


@pytest.mark.parametrize(
    ("first", "second", "why"),
    [
        (("5.00", 1), ("6.00", 1), "crosses into Silver: 650 + 600"),
        (("10.00", 1), ("1.00", 1), "placed before the first order"),
    ],
    ids=["tier boundary", "earlier than the first order"],
)
def test_a_repeat_order_the_members_state_can_change_is_planned_with_the_refused_profile(
    ledger, first, second, why
):
    invoke(sqs_event(completed("o-1", "c-1", first, at="2026-12-08T12:00:00Z")))
    at = "2026-12-07T12:00:00Z" if why.startswith("placed before") else "2026-12-09T12:00:00Z"
    with count_requests() as requests:
        invoke(sqs_event(completed("o-2", "c-1", second, at=at)))
    # Tried, refused by the profile's conditions (nothing written), then planned with the
    # profile the refusal brought back: no read of it (the earlier order reads the first).
    assert requests[0] == requests[-1] == "TransactWriteItems"
    if why.startswith("placed before"):
        assert requests == ["TransactWriteItems", "BatchGetItem", *requests[2:]]
    else:
        assert requests == ["TransactWriteItems", "TransactWriteItems"]
    member, _ = assert_consistent(ledger, "c-1")
    assert member.order_count == 2
    if why.startswith("placed before"):
        assert member.first_order_id == "o-2"  # the earlier order took the first's place
    else:
        assert member.tier == "Silver"
        assert _purchase(ledger, "c-1", "o-2").details["tier"] == "Bronze"


def test_with_tier_rates_a_repeat_order_is_read_to_know_its_tier(ledger, monkeypatch):
    monkeypatch.setenv("PROGRAM_RULES", TIER_RATES)
    invoke(sqs_event(completed("o-1", "c-1", ("60.00", 1), at="2026-12-01T12:00:00Z")))
    with count_requests() as requests:
        invoke(sqs_event(completed("o-2", "c-1", ("1.00", 1), at="2026-12-02T12:00:00Z")))
    assert requests == ["BatchGetItem", "TransactWriteItems"]  # no attempt without a read
    assert _purchase(ledger, "c-1", "o-2").details["tier"] == "Gold"


def test_a_partial_refund_reverses_in_proportion(ledger):
    invoke(sqs_event(completed("o-1", "c-1", ("20.00", 2), at="2026-12-05T12:00:00Z")))
    refund = refunded("o-1", "r-1", "c-1", "10.00", at="2026-12-09T12:00:00Z")
    assert failed_ids(invoke(sqs_event(refund, refund))) == []
    member, entries = assert_consistent(ledger, "c-1")
    assert member.balance == 4000 + 150 - 1000
    assert member.tier_points == 3150
    reversal = [e for e in entries if e.type == "reverse"]
    assert [(e.reason, e.points, e.reference) for e in reversal] == [("refund", -1000, "o-1")]
    assert reversal[0].details["refundId"] == "r-1"
    lots = {lot.reason: lot.points for lot in list_lots(ledger, "c-1")}
    assert lots == {"purchase": 3000, "first-purchase-bonus": 150}


def test_a_full_refund_of_the_first_order_also_reverses_the_bonus(ledger):
    invoke(sqs_event(completed("o-1", "c-1", ("12.50", 1), at="2026-12-05T12:00:00Z")))
    invoke(sqs_event(completed("o-2", "c-1", ("3.00", 1), at="2026-12-06T12:00:00Z")))
    invoke(sqs_event(refunded("o-1", "r-1", "c-1", "12.50", at="2026-12-09T12:00:00Z")))
    member, entries = assert_consistent(ledger, "c-1")
    assert member.balance == 300
    assert member.tier_points == 300
    assert sorted(e.reason for e in entries if e.type == "reverse") == [
        "refund",
        "refund-first-purchase-bonus",
    ]


def test_a_refund_after_the_points_were_spent_leaves_debt_the_next_order_pays(ledger):
    invoke(sqs_event(completed("o-1", "c-1", ("10.00", 1), at="2026-11-15T12:00:00Z")))
    spend = plan_spend(
        "c-1",
        1100,
        entry_type="redeem",
        reason="reward:test",
        reference="red-1",
        occurred_at=NOW,
    )
    commit_spend(ledger, spend, NOW)
    member, _ = assert_consistent(ledger, "c-1")
    assert member.balance == 50

    invoke(sqs_event(refunded("o-1", "r-1", "c-1", "10.00", at="2026-12-08T12:00:00Z")))
    member, _ = assert_consistent(ledger, "c-1")
    assert member.balance == 50 - 1000 - 150
    assert member.tier_points == 0

    invoke(sqs_event(completed("o-2", "c-1", ("15.00", 1), at="2026-12-09T12:00:00Z")))
    member, _ = assert_consistent(ledger, "c-1")
    assert member.balance == -1100 + 1500
    # The new earning paid the debt first: only 400 of its 1500 points are unspent.
    from loyalty.domain.ledger import unspent_by_expiry

    unspent = unspent_by_expiry(
        list_lots(ledger, "c-1"), settled_earned=member.settled_earned, debited=member.debited
    )
    assert [entry.points for entry in unspent] == [400]


def test_a_black_friday_order_earns_double(ledger):
    day = black_friday(2026)
    at = format_instant(datetime(day.year, day.month, day.day, 15, tzinfo=UTC))
    invoke(sqs_event(completed("o-bf", "c-1", ("25.00", 1), at=at)))
    invoke(sqs_event(completed("o-before", "c-2", ("25.00", 1), at="2026-11-26T23:59:59Z")))
    _, entries = assert_consistent(ledger, "c-1")
    purchase = next(e for e in entries if e.reason == "purchase")
    assert purchase.points == 5000
    assert purchase.details["seasonalMultiplier"] == "2"
    _, entries = assert_consistent(ledger, "c-2")
    assert next(e for e in entries if e.reason == "purchase").points == 2500


def test_a_batch_with_bad_messages_reports_exactly_those(ledger):
    good = completed("o-good", "c-1", ("10.00", 1), at="2026-12-09T12:00:00Z")
    records = [
        sqs_record(good, "good-1"),
        sqs_record("{oops", "bad-json"),
        sqs_record({**good, "orderId": "o-eur", "currency": "EUR"}, "bad-currency"),
        sqs_record(completed("o-neg", "c-1", ("10.00", -1)), "bad-quantity"),
        sqs_record({"type": "order.completed", "orderId": "o-x"}, "missing-fields"),
        sqs_record(completed("o-good-2", "c-2", ("1.00", 1), at="2026-12-09T12:00:00Z"), "good-2"),
    ]
    response = invoke({"Records": records})
    assert sorted(failed_ids(response)) == [
        "bad-currency",
        "bad-json",
        "bad-quantity",
        "missing-fields",
    ]
    assert ledger.get_member("c-1").balance == 1150
    assert ledger.get_member("c-2").balance == 250
    assert get_order(ledger, "o-eur") is None


def test_a_refund_that_overtakes_its_order_is_retried_not_lost(ledger):
    refund = sqs_record(
        refunded("o-1", "r-1", "c-1", "5.00", at="2026-12-09T12:00:00Z"), "refund-msg"
    )
    assert failed_ids(invoke({"Records": [refund]})) == ["refund-msg"]
    assert ledger.get_member("c-1") is None
    invoke(sqs_event(completed("o-1", "c-1", ("10.00", 1), at="2026-12-08T12:00:00Z")))
    assert failed_ids(invoke({"Records": [refund]})) == []
    member, _ = assert_consistent(ledger, "c-1")
    assert member.balance == 1150 - 500


def test_a_refund_naming_another_member_is_refused(ledger):
    invoke(sqs_event(completed("o-1", "c-1", ("10.00", 1), at="2026-12-08T12:00:00Z")))
    wrong = sqs_record(
        refunded("o-1", "r-1", "c-2", "5.00", at="2026-12-09T12:00:00Z"), "wrong-member"
    )
    assert failed_ids(invoke({"Records": [wrong]})) == ["wrong-member"]
    assert ledger.get_member("c-1").balance == 1150


def test_concurrent_orders_of_one_member_are_each_awarded_once(ledger):
    # Five "Lambda instances" (processes: a handler serves one event at a time) deliver 12
    # orders of one new member at once, three of them twice.
    bodies = [completed(f"o-{i}", "c-1", ("1.00", 1), at="2026-12-09T12:00:00Z") for i in range(12)]
    batches = [bodies[i::4] for i in range(4)] + [bodies[:3]]
    context = multiprocessing.get_context("spawn")
    with (
        context.Manager() as manager,
        ProcessPoolExecutor(len(batches), mp_context=context) as pool,
    ):
        barrier = manager.Barrier(len(batches))
        futures = [
            pool.submit(deliver_in_process, lambda_environment(), batch, barrier)
            for batch in batches
        ]
        failures = [future.result(timeout=120) for future in futures]
    assert failures == [[]] * len(batches)
    member, entries = assert_consistent(ledger, "c-1")
    assert member.order_count == 12
    assert member.balance == 12 * 100 + 150
    # Same occurredAt: the first order is the least orderId (o-0), however the deliveries
    # raced; each earlier order that came later took the bonus over, net one bonus.
    bonus = {"first-purchase-bonus": 0, "first-purchase-bonus-moved": 0}
    for entry in entries:
        if entry.reason in bonus:
            bonus[entry.reason] += entry.points
    assert sum(bonus.values()) == 150
    holders = [get_order(ledger, f"o-{i}") for i in range(12)]
    assert [o.order_id for o in holders if o.first_purchase_bonus] == ["o-0"]
    assert [o.order_id for o in holders if o.first_order] == ["o-0"]


@pytest.mark.parametrize(
    "name",
    [
        "sqs-order-completed.json",
        "sqs-order-completed-eventbridge.json",
        "sqs-order-refunded.json",
        "sqs-batch-with-bad-messages.json",
    ],
)
def test_the_sample_events_are_true_to_the_handler(ledger, name):
    # Play the samples in the order the README describes, up to and including this one.
    order = [
        "sqs-order-completed.json",
        "sqs-order-completed-eventbridge.json",
        "sqs-order-refunded.json",
        "sqs-batch-with-bad-messages.json",
    ]
    responses = {sample: invoke(load_event(sample)) for sample in order[: order.index(name) + 1]}
    if name == "sqs-batch-with-bad-messages.json":
        records = load_event(name)["Records"]
        assert failed_ids(responses[name]) == [record["messageId"] for record in records[1:]]
    else:
        assert failed_ids(responses[name]) == []
    assert_consistent(ledger, "c-42")


# ---- tier benefits: the earning multiplier and early access (issue #13) ----------------------

TIER_RATES = (
    '{"tiers": [{"name": "Bronze", "minPoints": 0}, {"name": "Silver", "minPoints": 1001},'
    ' {"name": "Gold", "minPoints": 5001, "earningMultiplier": "1.25"}]}'
)


def _purchase(ledger, member_id, order_id):
    return next(
        e
        for e in list_entries(ledger, member_id)
        if e.reason == "purchase" and e.reference == order_id
    )


def test_a_gold_member_earns_the_gold_multiplier_and_a_refund_reverses_exactly_it(
    ledger, monkeypatch
):
    monkeypatch.setenv("PROGRAM_RULES", TIER_RATES)
    # $60 makes c-1 Gold (6150 points); the order itself earned at Bronze, ×1.
    invoke(sqs_event(completed("o-1", "c-1", ("60.00", 1), at="2026-12-01T12:00:00Z")))
    assert _purchase(ledger, "c-1", "o-1").details["tierMultiplier"] == "1"
    assert ledger.get_member("c-1").tier == "Gold"
    # 3 × $3.33 = $9.99 → 999 × 1.25 = 1248.75 → 1248
    invoke(sqs_event(completed("o-2", "c-1", ("3.33", 3), at="2026-12-02T12:00:00Z")))
    purchase = _purchase(ledger, "c-1", "o-2")
    assert purchase.points == 1248
    assert (purchase.details["tier"], purchase.details["tierMultiplier"]) == ("Gold", "1.25")
    assert get_order(ledger, "o-2").purchase_points == 1248
    assert get_order(ledger, "o-2").tier == "Gold"

    # The operator drops the multiplier; the refund still reverses what was earned.
    monkeypatch.setenv("PROGRAM_RULES", "{}")
    before = ledger.get_member("c-1").balance
    invoke(sqs_event(refunded("o-2", "r-2", "c-1", "9.99", at="2026-12-03T12:00:00Z")))
    member, entries = assert_consistent(ledger, "c-1")
    reversal = next(e for e in entries if e.reason == "refund")
    assert reversal.points == -1248
    assert member.balance == before - 1248


def test_a_gold_member_earns_a_sales_multiplier_48_hours_before_a_bronze_member(
    ledger, monkeypatch
):
    # Black Friday 2026 is Friday the 27th; early access on: Silver 24 h, Gold 48 h.
    monkeypatch.setenv("PROGRAM_RULES", json.dumps(early_access_document()))
    invoke(sqs_event(completed("o-g0", "gold", ("60.00", 1), at="2026-11-01T12:00:00Z")))
    invoke(sqs_event(completed("o-s0", "silver", ("10.00", 1), at="2026-11-01T12:00:00Z")))
    invoke(sqs_event(completed("o-b0", "bronze", ("1.00", 1), at="2026-11-01T12:00:00Z")))
    wednesday = "2026-11-25T10:00:00Z"  # 38 hours before Black Friday
    for member_id, amount in (("gold", "10.00"), ("silver", "10.00"), ("bronze", "1.00")):
        invoke(sqs_event(completed(f"o-{member_id}", member_id, (amount, 1), at=wednesday)))
    assert _purchase(ledger, "gold", "o-gold").points == 2000
    assert _purchase(ledger, "gold", "o-gold").details["seasonalMultiplier"] == "2"
    assert _purchase(ledger, "silver", "o-silver").points == 1000  # Silver: 24 h, not yet
    assert _purchase(ledger, "bronze", "o-bronze").points == 100  # still Bronze after it
    thursday = "2026-11-26T10:00:00Z"  # Silver's head start has begun
    invoke(sqs_event(completed("o-silver-2", "silver", ("10.00", 1), at=thursday)))
    invoke(sqs_event(completed("o-bronze-2", "bronze", ("10.00", 1), at=thursday)))
    assert _purchase(ledger, "silver", "o-silver-2").points == 2000
    assert _purchase(ledger, "bronze", "o-bronze-2").points == 1000


def test_an_order_with_uncategorised_lines_is_recorded_with_its_amounts(ledger):
    """`category` is optional on a line: such an order was once refused by DynamoDB (its
    amount per category was written under an empty map key)."""
    body = completed("o-plain", "c-1", ("10.00", 2), ("5.00", 1, "shoes"))
    del body["lines"][0]["category"]
    response = invoke(sqs_event(body))
    assert response == {"batchItemFailures": []}
    assert dict(get_order(ledger, "o-plain").category_amounts) == {
        None: Decimal("20.00"),
        "shoes": Decimal("5.00"),
    }
