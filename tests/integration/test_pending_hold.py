"""A return window (`pendingHoldDays`): purchase points are pending until it has passed, a
refund inside it cancels them instead of creating debt, and the daily job releases them."""

from __future__ import annotations

import pytest

from loyalty.dal.repository import DynamoLedgerRepository
from tests.support.api import all_activity, member, order, play_orders, redeem
from tests.support.events import FakeLambdaContext, refunded, sqs_event
from tests.support.schedules import run_daily


@pytest.fixture
def ledger(table_name, clock, monkeypatch):
    monkeypatch.setenv("PROGRAM_RULES", '{"pendingHoldDays": 14}')
    clock.set("2026-12-02T12:00:00Z")
    return DynamoLedgerRepository(table_name)


def view(member_id):
    reply = member(member_id)
    assert reply.status == 200, reply.body
    return reply.body


def assert_history_is_the_balance(member_id):
    body = view(member_id)
    total = sum(item["points"] for item in all_activity(member_id))
    assert total == body["balance"] + body["pendingPoints"]


def test_purchase_points_are_pending_until_the_window_passes(ledger, queue):
    play_orders(order("o-1", "c-1", "10.00", at="2026-12-01T10:00:00Z"))
    body = view("c-1")
    assert (body["balance"], body["pendingPoints"]) == (150, 1000)  # the bonus is not held
    assert body["tierPoints"] == 1150
    assert [e["points"] for e in body["expiring"]] == [150]
    assert redeem("c-1", "free-shipping").status == 409  # pending points can't be spent
    assert_history_is_the_balance("c-1")

    run_daily(queue, "expiry", "2026-12-15T09:59:00Z")
    assert view("c-1")["pendingPoints"] == 1000
    run_daily(queue, "expiry", "2026-12-15T10:00:00Z")
    run_daily(queue, "expiry", "2026-12-15T10:00:00Z")  # twice: released once
    body = view("c-1")
    assert (body["balance"], body["pendingPoints"]) == (1150, 0)
    assert sum(e["points"] for e in body["expiring"]) == 1150
    assert_history_is_the_balance("c-1")
    assert redeem("c-1", "free-shipping").status == 201


def test_a_refund_inside_the_window_cancels_pending_points_without_debt(ledger, queue):
    play_orders(order("o-1", "c-1", "10.00", at="2026-12-01T10:00:00Z"))
    response = purchase_refund("o-1", "r-1", "c-1", "4.00")
    assert response == {"batchItemFailures": []}
    body = view("c-1")
    assert (body["balance"], body["pendingPoints"]) == (150, 600)
    assert_history_is_the_balance("c-1")
    run_daily(queue, "expiry", "2026-12-16T00:00:00Z")
    body = view("c-1")
    assert (body["balance"], body["pendingPoints"]) == (750, 0)
    member_state = ledger.get_member("c-1")
    assert member_state.balance == member_state.lot_total - member_state.debited


def purchase_refund(order_id, refund_id, member_id, amount):
    from functions.purchase_award import app

    body = refunded(order_id, refund_id, member_id, amount, at="2026-12-02T09:00:00Z")
    return app.handler(sqs_event(body), FakeLambdaContext())
