"""Named regressions of the ledger rules (contract, "Ledger rules"): where refunds, debt,
expiry and delivery order meet. Each test is one defect seen, replayed through the real
handlers on DynamoDB Local with a pinned clock and fixed dates."""

from __future__ import annotations

import pytest

from functions.purchase_award import app as purchase_award
from functions.referral_completion import app as referral_completion
from loyalty.dal.repository import DynamoLedgerRepository
from tests.support.api import all_activity, enroll, item_of, member, order, play_orders, redeem
from tests.support.events import FakeLambdaContext, completed, refunded, sqs_event
from tests.support.schedules import run_daily
from tests.support.streams import StreamReader, delivered_to

pytestmark = pytest.mark.calendar


@pytest.fixture
def ledger(table_name):
    return DynamoLedgerRepository(table_name)


def view(member_id):
    reply = member(member_id)
    assert reply.status == 200, reply.body
    return reply.body


def refund(order_id, refund_id, member_id, amount, at):
    response = purchase_award.handler(
        sqs_event(refunded(order_id, refund_id, member_id, amount, at=at)), FakeLambdaContext()
    )
    assert response == {"batchItemFailures": []}


def daily_jobs(queue, clock, time):
    clock.set(time)
    for job in ("expiry", "tenure", "birthday"):
        run_daily(queue, job, time)


def assert_consistent(member_id):
    """The history is the balance; a member in debt has nothing open or expiring."""
    body = view(member_id)
    assert sum(e["points"] for e in all_activity(member_id)) == (
        body["balance"] + body["pendingPoints"]
    )
    assert sum(e["points"] for e in body["expiring"]) == max(body["balance"], 0)
    return body


def spent_then_expired(clock, queue):
    """$10.00 on 2026-01-12 (1000 + 150 bonus), 1000 redeemed; the daily jobs of 2027-01-12
    expire the unspent 150 and catch up the 2-month milestone (200, expiring 2027-03-12)."""
    clock.set("2026-01-12T12:00:00Z")
    play_orders(order("o-1", "c-1", "10.00", at="2026-01-12T10:00:00Z"))
    assert redeem("c-1", "discount-10").status == 201
    daily_jobs(queue, clock, "2027-01-12T12:00:00Z")
    body = assert_consistent("c-1")
    assert body["balance"] == 200
    assert [e["points"] for e in all_activity("c-1") if e["type"] == "expire"] == [-150]


def test_expired_points_are_not_taken_again_by_a_refund(ledger, clock, queue):
    spent_then_expired(clock, queue)

    clock.set("2027-01-20T12:00:00Z")
    refund("o-1", "r-1", "c-1", "10.00", at="2027-01-20T10:00:00Z")

    # The 1000 spent are reversed (debt); the 150 that expired are gone, not taken twice.
    reversals = [e for e in all_activity("c-1") if e["type"] == "reverse"]
    assert [e["points"] for e in reversals] == [-1000]
    body = assert_consistent("c-1")
    assert body["balance"] == 200 - 1000
    assert body["expiring"] == []
    assert body["tierPoints"] == 1150 + 200 - 1000


def test_debt_takes_the_open_points_and_expiry_never_deepens_it(ledger, clock, queue):
    spent_then_expired(clock, queue)
    clock.set("2027-01-15T12:00:00Z")
    play_orders(order("o-2", "c-1", "5.00", at="2027-01-15T10:00:00Z"))
    clock.set("2027-01-20T12:00:00Z")
    refund("o-1", "r-1", "c-1", "10.00", at="2027-01-20T10:00:00Z")

    body = assert_consistent("c-1")
    assert body["balance"] == 200 + 500 - 1000
    assert body["expiring"] == []  # in debt: nothing of theirs is open

    # The dates of the points the debt took come and go: the debt stays what it was.
    daily_jobs(queue, clock, "2027-03-13T12:00:00Z")
    daily_jobs(queue, clock, "2028-01-16T12:00:00Z")
    body = assert_consistent("c-1")
    assert body["balance"] == -300
    assert [e["points"] for e in all_activity("c-1") if e["type"] == "expire"] == [-150]

    # A later earning pays the debt first, then opens what is left.
    clock.set("2028-02-01T12:00:00Z")
    play_orders(order("o-3", "c-1", "8.00", at="2028-02-01T10:00:00Z"))
    body = assert_consistent("c-1")
    assert body["balance"] == 500
    assert body["expiring"] == [{"points": 500, "expiresAt": "2029-02-01T10:00:00Z"}]


def test_a_refund_never_reverses_more_than_its_order_earned(ledger, clock, dynamodb_client):
    clock.set("2026-10-02T12:00:00Z")
    play_orders(order("o-1", "c-1", "13.33", at="2026-10-01T10:00:00Z"))
    assert view("c-1")["balance"] == 1333 + 150

    refund("o-1", "r-1", "c-1", "500.00", at="2026-10-02T10:00:00Z")
    body = assert_consistent("c-1")
    assert body["balance"] == 0
    assert body["tierPoints"] == 0
    marker = item_of(dynamodb_client, ledger.table_name, "ORDER#o-1", "REFUND#r-1")
    assert marker["requestedAmount"]["S"] == "500.00"
    assert marker["refundedAmount"]["S"] == "13.33"
    assert marker["cappedAmount"]["S"] == "486.67"

    # More refunds of the same order reverse nothing more, and say so.
    refund("o-1", "r-2", "c-1", "1.00", at="2026-10-03T10:00:00Z")
    assert view("c-1")["balance"] == 0
    marker = item_of(dynamodb_client, ledger.table_name, "ORDER#o-1", "REFUND#r-2")
    assert (marker["refundedAmount"]["S"], marker["cappedAmount"]["S"]) == ("0.00", "1.00")
    record = item_of(dynamodb_client, ledger.table_name, "ORDER#o-1", "ORDER")
    assert record["refundedAmount"]["S"] == "13.33"


def test_partial_refunds_adding_up_past_the_order_stop_at_what_it_earned(ledger, clock):
    clock.set("2026-10-02T12:00:00Z")
    play_orders(order("o-1", "c-1", "13.33", at="2026-10-01T10:00:00Z"))
    play_orders(order("o-2", "c-1", "20.00", at="2026-10-01T11:00:00Z"))
    for index, amount in enumerate(("10.00", "10.00", "10.00")):
        refund("o-1", f"r-{index}", "c-1", amount, at="2026-10-02T10:00:00Z")
    body = assert_consistent("c-1")
    assert body["balance"] == 2000  # o-1 earned 1333 + 150; all of it reversed, no more
    reversed_points = sum(e["points"] for e in all_activity("c-1") if e["type"] == "reverse")
    assert reversed_points == -(1333 + 150)


@pytest.mark.parametrize("delivery", ["in date order", "later order first"])
def test_the_first_order_is_the_earliest_whatever_the_delivery_order(
    ledger, clock, queue, delivery
):
    """$10.00 of 1 October, $20.00 of 20 October, then a full refund of 1 October."""
    clock.set("2026-10-21T12:00:00Z")
    early = order("o-early", "c-1", "10.00", at="2026-10-01T10:00:00Z")
    late = order("o-late", "c-1", "20.00", at="2026-10-20T10:00:00Z")
    play_orders(*([early, late] if delivery == "in date order" else [late, early]))
    body = assert_consistent("c-1")
    assert body["balance"] == 1000 + 2000 + 150
    assert body["enrolledAt"] == "2026-10-01T10:00:00Z"

    refund("o-early", "r-1", "c-1", "10.00", at="2026-10-21T10:00:00Z")
    body = assert_consistent("c-1")
    assert body["balance"] == 2000  # the bonus went with the first order
    assert body["tierPoints"] == 2000

    # The 2-month milestone follows the enrollment date: due on 1 December.
    daily_jobs(queue, clock, "2026-12-01T12:00:00Z")
    assert view("c-1")["balance"] == 2200


def test_a_referral_code_on_the_first_order_counts_when_that_order_is_processed_second(
    ledger, clock, table_name
):
    clock.set("2026-10-21T12:00:00Z")
    code = enroll("ref-1").body["referralCode"]
    stream = StreamReader(table_name)

    def deliver_stream():
        event = delivered_to("ReferralCompletionFunction", stream.read())
        if event["Records"]:
            response = referral_completion.handler(event, FakeLambdaContext())
            assert response == {"batchItemFailures": []}

    play_orders(completed("o-late", "c-1", ("20.00", 1), at="2026-10-20T10:00:00Z"))
    deliver_stream()
    play_orders(
        completed("o-early", "c-1", ("10.00", 1), at="2026-10-01T10:00:00Z", referralCode=code)
    )
    deliver_stream()

    assert view("ref-1")["balance"] == 70
    assert view("c-1")["balance"] == 2000 + 1000 + 150 + 70
    referee_entries = [e for e in all_activity("c-1") if e["reason"] == "referral-referee"]
    assert [e["points"] for e in referee_entries] == [70]


def test_two_first_order_codes_pay_one_referral_and_announce_the_refusal(ledger, clock, table_name):
    """Out of date order, the later-dated order's code completed first: the earlier order's
    code (another referrer) is refused, recorded and announced, never paid a second time."""
    clock.set("2026-10-21T12:00:00Z")
    first_code = enroll("ref-1").body["referralCode"]
    second_code = enroll("ref-2").body["referralCode"]
    stream = StreamReader(table_name)
    published = []

    def deliver_stream():
        records = stream.read()
        event = delivered_to("ReferralCompletionFunction", records)
        if event["Records"]:
            response = referral_completion.handler(event, FakeLambdaContext())
            assert response == {"batchItemFailures": []}
        published.extend(delivered_to("EventsPublisherFunction", records)["Records"])

    late = completed("o-late", "c-1", ("20.00", 1), at="2026-10-20T10:00:00Z")
    play_orders(late | {"referralCode": first_code})
    deliver_stream()
    play_orders(
        completed("o-early", "c-1", ("10.00", 1), at="2026-10-01T10:00:00Z")
        | {"referralCode": second_code}
    )
    deliver_stream()
    deliver_stream()  # the refusal's own record reaches the publisher's filter

    assert (view("ref-1")["balance"], view("ref-2")["balance"]) == (70, 0)
    referee_entries = [e for e in all_activity("c-1") if e["reason"] == "referral-referee"]
    assert [e["points"] for e in referee_entries] == [70]
    refusals = [
        r["dynamodb"]["NewImage"]
        for r in published
        if r["dynamodb"]["NewImage"]["itemType"]["S"] == "referralRefusal"
    ]
    assert [(r["orderId"]["S"], r["code"]["S"]) for r in refusals] == [("o-early", second_code)]
    assert "already completed by order 'o-late'" in refusals[0]["reason"]["S"]


def test_a_first_order_of_no_amount_still_completes_its_referral(ledger, clock):
    """Found by the model test: an order of $0.00 kept an empty map of amounts per category,
    which a stream image cannot carry, and referral completion failed on the record."""
    clock.set("2026-10-20T12:00:00Z")
    code = enroll("ref").body["referralCode"]
    stream = StreamReader(ledger.table_name)
    stream.read()
    play_orders(completed("o-1", "c-1", ("0.00", 1), at="2026-10-20T09:00:00Z", referralCode=code))

    event = delivered_to("ReferralCompletionFunction", stream.read())
    assert len(event["Records"]) == 1
    outcome = referral_completion.handler(event, FakeLambdaContext())

    assert outcome == {"batchItemFailures": []}
    assert view("c-1")["balance"] == 150 + 70  # the bonus and the referee's reward
    assert view("ref")["balance"] == 70
