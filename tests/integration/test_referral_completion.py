"""Referral completion from the table's stream, against DynamoDB Local."""

from __future__ import annotations

import pytest

from functions.purchase_award import app as purchase_award
from functions.referral_completion import app as referral_completion
from loyalty.dal.repository import DynamoLedgerRepository
from tests.support.api import enroll
from tests.support.events import FakeLambdaContext, completed, sqs_event
from tests.support.streams import StreamReader, delivered_to
from tests.support.table import list_entries


@pytest.fixture
def ledger(table_name):
    return DynamoLedgerRepository(table_name)


@pytest.fixture
def stream(table_name):
    return StreamReader(table_name)


def order(order_id, member_id, **extra):
    body = completed(order_id, member_id, ("10.00", 1), at="2026-12-01T10:00:00Z", **extra)
    response = purchase_award.handler(sqs_event(body), FakeLambdaContext())
    assert response["batchItemFailures"] == []


def deliver(stream, times=1):
    # Only what the template's filter criteria let through, as Lambda would deliver it.
    event = delivered_to("ReferralCompletionFunction", stream.read())
    if not event["Records"]:
        return  # Lambda is not invoked for an empty batch
    for _ in range(times):
        response = referral_completion.handler(event, FakeLambdaContext())
        assert response["batchItemFailures"] == []


def entries(ledger, member_id, reason):
    return [e for e in list_entries(ledger, member_id) if e.reason == reason]


def test_a_sign_up_referral_pays_both_sides_once_on_the_first_order(ledger, stream, clock):
    referrer = enroll("ref-1")
    enroll("new-1", referral_code=referrer.body["referralCode"])
    order("o-1", "new-1")
    deliver(stream, times=2)  # the stream delivers the record twice
    order("o-2", "new-1")  # a second order is not a first order
    deliver(stream)

    assert [e.points for e in entries(ledger, "ref-1", "referral-referrer")] == [70]
    assert [e.points for e in entries(ledger, "new-1", "referral-referee")] == [70]
    assert ledger.get_member("ref-1").balance == 70
    assert ledger.get_member("new-1").balance == 1000 + 150 + 70 + 1000
    assert ledger.list_referrals("ref-1") == [
        {"refereeId": "new-1", "status": "completed", "points": 70}
    ]


def test_a_code_on_the_first_order_message_refers_a_new_customer(ledger, stream, clock):
    referrer = enroll("ref-1")
    order("o-1", "walk-in", referralCode=referrer.body["referralCode"])
    deliver(stream)
    assert ledger.get_member("ref-1").balance == 70
    assert ledger.get_member("walk-in").balance == 1000 + 150 + 70


def test_self_referral_and_unknown_codes_earn_nothing(ledger, stream, clock):
    own = enroll("self-1")
    order("o-1", "self-1", referralCode=own.body["referralCode"])
    order("o-2", "other-1", referralCode="NOSUCHCODE")
    deliver(stream)
    assert ledger.get_member("self-1").balance == 1150
    assert ledger.get_member("other-1").balance == 1150
    assert ledger.list_referrals("self-1") == []


def test_a_code_after_the_first_order_earns_nothing(ledger, stream, clock):
    referrer = enroll("ref-1")
    order("o-1", "late-1")
    order("o-2", "late-1", referralCode=referrer.body["referralCode"])
    deliver(stream)
    assert ledger.get_member("ref-1").balance == 0
    assert entries(ledger, "late-1", "referral-referee") == []


def test_the_referrer_earns_up_to_the_monthly_cap(ledger, stream, clock, monkeypatch):
    monkeypatch.setenv("PROGRAM_RULES", '{"referral": {"referrerMonthlyCap": 2}}')
    referrer = enroll("ref-1")
    for index in range(3):
        order(f"o-{index}", f"friend-{index}", referralCode=referrer.body["referralCode"])
    deliver(stream)
    assert [e.points for e in entries(ledger, "ref-1", "referral-referrer")] == [70, 70]
    # The friend over the cap still gets the welcome points.
    assert ledger.get_member("friend-2").balance == 1150 + 70
    statuses = sorted(r["status"] for r in ledger.list_referrals("ref-1"))
    assert statuses == ["completed"] * 3
