"""The daily expiry job against DynamoDB Local, through its real handlers: the schedule fans
out over the work queue (captured here), the worker processes shards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.jobs import app as jobs
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain import expiry as expiry_rules
from loyalty.services import jobs as jobs_module
from tests.support.api import order, play_orders, redeem
from tests.support.events import FakeLambdaContext, sqs_event
from tests.support.schedules import run_daily, scheduled_event
from tests.support.table import list_entries


@pytest.fixture
def ledger(table_name, clock):
    return DynamoLedgerRepository(table_name)


def run_job(queue, time: str, context: Any = None) -> None:
    run_daily(queue, "expiry", time, context)


def expire_entries(ledger, member_id):
    return [e for e in list_entries(ledger, member_id) if e.type == "expire"]


def warnings(dynamodb_client, table_name, member_id):
    items = dynamodb_client.query(
        TableName=table_name,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :w)",
        ExpressionAttributeValues={":pk": {"S": f"MEMBER#{member_id}"}, ":w": {"S": "WARNING#"}},
    )["Items"]
    return sorted((int(i["points"]["N"]), i["expiresAt"]["S"]) for i in items)


def test_points_expire_twelve_months_after_earning_not_a_moment_before(ledger, queue):
    play_orders(order("o-1", "c-1", "10.00", at="2026-01-10T10:00:00Z"))
    run_job(queue, "2027-01-10T09:59:00Z")
    assert ledger.get_member("c-1").balance == 1150
    assert expire_entries(ledger, "c-1") == []
    run_job(queue, "2027-01-10T10:00:00Z")
    member = ledger.get_member("c-1")
    assert member.balance == 0
    assert [e.points for e in expire_entries(ledger, "c-1")] == [-1150]
    assert member.balance == sum(e.points for e in list_entries(ledger, "c-1"))


def test_spending_used_the_soonest_expiring_points_so_only_their_rest_expires(ledger, queue):
    play_orders(
        order("o-jan", "c-1", "10.00", at="2026-01-10T10:00:00Z"),  # 1000 + 150 bonus
        order("o-mar", "c-1", "5.00", at="2026-03-10T10:00:00Z"),  # 500
    )
    assert redeem("c-1", "free-shipping").status == 201  # 500 from January's points
    run_job(queue, "2027-01-11T00:00:00Z")
    member = ledger.get_member("c-1")
    assert [e.points for e in expire_entries(ledger, "c-1")] == [-650]
    assert member.balance == 500  # March's points are untouched
    run_job(queue, "2027-03-11T00:00:00Z")
    assert ledger.get_member("c-1").balance == 0


def test_a_warning_goes_out_thirty_days_before_once_per_lot(
    ledger, queue, dynamodb_client, table_name
):
    play_orders(order("o-1", "c-1", "10.00", at="2026-01-10T10:00:00Z"))
    assert redeem("c-1", "free-shipping").status == 201
    run_job(queue, "2026-12-10T09:00:00Z")  # 31 days before: nothing yet
    assert warnings(dynamodb_client, table_name, "c-1") == []
    run_job(queue, "2026-12-11T10:00:00Z")
    run_job(queue, "2026-12-12T10:00:00Z")
    # Unspent per lot, soonest first: the purchase lot's 1000 paid the 500 redemption.
    assert warnings(dynamodb_client, table_name, "c-1") == [
        (150, "2027-01-10T10:00:00Z"),
        (500, "2027-01-10T10:00:00Z"),
    ]
    assert ledger.get_member("c-1").balance == 650


def test_running_the_job_twice_for_the_same_time_changes_nothing(
    ledger, queue, dynamodb_client, table_name
):
    play_orders(
        order("o-1", "c-1", "10.00", at="2026-01-10T10:00:00Z"),
        order("o-2", "c-2", "3.00", at="2026-01-11T10:00:00Z"),
    )
    run_job(queue, "2027-01-12T00:00:00Z")
    scan = dynamodb_client.scan(TableName=table_name)["Items"]
    run_job(queue, "2027-01-12T00:00:00Z")
    assert dynamodb_client.scan(TableName=table_name)["Items"] == scan
    assert ledger.get_member("c-2").balance == 0


def test_a_missed_day_is_caught_up(ledger, queue):
    play_orders(order("o-1", "c-1", "10.00", at="2026-01-10T10:00:00Z"))
    run_job(queue, "2027-02-01T00:00:00Z")  # three weeks late
    assert ledger.get_member("c-1").balance == 0


def test_a_run_stopped_halfway_continues_through_the_queue_and_expires_each_once(
    ledger, queue, monkeypatch
):
    members = [f"c-{index}" for index in range(12)]
    play_orders(*[order(f"o-{m}", m, "1.00", at="2026-01-10T10:00:00Z") for m in members])
    monkeypatch.setattr(jobs_module, "PAGE_SIZE", 1)

    class ShortOfTime(FakeLambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 1_000  # below the safety margin: one page, then hand over

    jobs.expiry_schedule(scheduled_event("2027-01-11T00:00:00Z"), FakeLambdaContext())
    first = queue.pending[:]
    queue.pending.clear()
    # The first delivery of every shard stops after a page and queues the rest.
    for message in first:
        response = jobs.worker_handler(sqs_event(json.dumps(message)), ShortOfTime())
        assert response["batchItemFailures"] == []
    assert any("cursor" in message for message in queue.pending)
    # A crash: one continuation is delivered twice; then everything is drained.
    queue.pending.append(queue.pending[0])
    queue.drain(ShortOfTime())
    for member_id in members:
        assert [e.points for e in expire_entries(ledger, member_id)] == [-250]
        assert ledger.get_member(member_id).balance == 0


def test_the_job_samples_are_true_to_the_handlers(ledger, queue):
    from tests.support.events import load_event

    play_orders(order("o-1", "c-1", "10.00", at="2026-01-10T10:00:00Z"))
    result = jobs.expiry_schedule(load_event("scheduled-daily-job.json"), FakeLambdaContext())
    # One work message per shard of the due index (DUE_INDEX_SHARDS: 8 in the tests).
    assert result == {"job": "expiry", "now": "2027-01-10T00:15:00Z", "queued": 8}
    assert len(queue.pending) == 8
    assert {message["now"] for message in queue.pending} == {"2027-01-10T00:15:00Z"}
    queue.pending.clear()
    response = jobs.worker_handler(load_event("sqs-job-work-item.json"), FakeLambdaContext())
    assert response == {"batchItemFailures": []}


def test_a_member_with_more_lots_due_than_one_step_takes_expires_them_all(
    ledger, queue, monkeypatch
):
    # A smaller budget, so that 46 lots take four steps: a step of 30 actions settles 14 lots
    # (the profile and the entry, then 2 actions a lot: it moves out of the view's range);
    # 100 actions would settle 49.
    monkeypatch.setattr(expiry_rules, "MAX_ACTIONS_PER_STEP", 30)
    orders = [
        order(f"o-{index}", "c-1", "1.00", at=f"2026-01-{1 + index % 28:02d}T10:00:00Z")
        for index in range(45)
    ]
    play_orders(*orders)  # 46 lots: 45 purchases and the first-purchase bonus
    run_job(queue, "2027-02-01T00:00:00Z")
    member = ledger.get_member("c-1")
    assert member.balance == 0
    assert sum(e.points for e in expire_entries(ledger, "c-1")) == -(45 * 100 + 150)
    assert len(expire_entries(ledger, "c-1")) == 4  # four bounded steps
