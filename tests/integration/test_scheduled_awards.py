"""Birthday bonus, tenure milestones and promotion announcements through the real job
handlers (schedule → work queue → worker) against DynamoDB Local."""

from __future__ import annotations

import pytest

from loyalty.dal.repository import DynamoLedgerRepository
from tests.support.api import enroll, order, play_orders
from tests.support.schedules import run_daily
from tests.support.table import list_entries


@pytest.fixture
def ledger(table_name, clock):
    return DynamoLedgerRepository(table_name)


def earned(ledger, member_id, prefix):
    return [
        (e.reason, e.points) for e in list_entries(ledger, member_id) if e.reason.startswith(prefix)
    ]


def test_the_birthday_bonus_comes_once_per_year_in_the_birthday_month(ledger, queue, clock):
    clock.set("2026-12-10T12:00:00Z")
    assert enroll("b-1", birthday="1990-03-15").status == 201
    run_daily(queue, "birthday", "2027-02-28T00:15:00Z")  # not yet
    assert earned(ledger, "b-1", "birthday") == []
    run_daily(queue, "birthday", "2027-03-01T00:15:00Z")
    run_daily(queue, "birthday", "2027-03-01T00:15:00Z")  # the same run again
    run_daily(queue, "birthday", "2027-03-02T00:15:00Z")  # the next day
    assert earned(ledger, "b-1", "birthday") == [("birthday-bonus", 1500)]
    run_daily(queue, "birthday", "2028-03-05T00:15:00Z")  # next year, runs missed until the 5th
    assert earned(ledger, "b-1", "birthday") == [("birthday-bonus", 1500)] * 2
    member = ledger.get_member("b-1")
    assert member.balance == 3000 == sum(e.points for e in list_entries(ledger, "b-1"))


def test_a_member_who_enrolls_mid_month_gets_it_that_month(ledger, queue, clock):
    clock.set("2027-03-20T09:00:00Z")
    assert enroll("b-2", birthday="1985-03-02").status == 201
    run_daily(queue, "birthday", "2027-03-21T00:15:00Z")
    assert earned(ledger, "b-2", "birthday") == [("birthday-bonus", 1500)]


def test_a_month_of_missed_runs_waits_for_next_year(ledger, queue, clock):
    clock.set("2026-12-10T12:00:00Z")
    assert enroll("b-3", birthday="1990-01-20").status == 201
    run_daily(queue, "birthday", "2027-02-01T00:15:00Z")  # January's runs all missed
    assert earned(ledger, "b-3", "birthday") == []
    run_daily(queue, "birthday", "2028-01-01T00:15:00Z")
    assert earned(ledger, "b-3", "birthday") == [("birthday-bonus", 1500)]


def test_the_tenure_milestone_comes_two_months_after_enrollment_and_catches_up(
    ledger, queue, clock
):
    clock.set("2026-12-10T12:00:00Z")
    assert enroll("t-1").status == 201
    play_orders(order("o-1", "t-2", "1.00", at="2026-12-05T08:00:00Z"))  # enrolled by an order
    run_daily(queue, "tenure", "2027-02-09T00:15:00Z")
    assert earned(ledger, "t-1", "tenure") == []
    run_daily(queue, "tenure", "2027-02-20T00:15:00Z")  # runs missed since the 10th
    run_daily(queue, "tenure", "2027-02-21T00:15:00Z")
    assert earned(ledger, "t-1", "tenure") == [("tenure-milestone-2", 200)]
    assert earned(ledger, "t-2", "tenure") == [("tenure-milestone-2", 200)]
    assert ledger.get_member("t-2").balance == 100 + 150 + 200


def test_each_member_job_run_twice_for_the_same_time_changes_nothing(
    ledger, queue, clock, snapshot
):
    clock.set("2026-12-10T12:00:00Z")
    enroll("x-1", birthday="1990-02-10")
    play_orders(order("o-1", "x-2", "2.00", at="2026-01-05T08:00:00Z"))
    for job, time in (
        ("birthday", "2027-02-10T00:15:00Z"),
        ("tenure", "2027-02-10T00:15:00Z"),
        ("expiry", "2027-02-10T00:15:00Z"),
    ):
        run_daily(queue, job, time)
        before = snapshot()
        run_daily(queue, job, time)
        assert snapshot() == before, job


def test_a_double_points_window_is_announced_once_on_its_first_day(
    queue, clock, dynamodb_client, table_name
):
    run_daily(queue, "promotions", "2026-11-26T00:15:00Z")
    run_daily(queue, "promotions", "2026-11-27T00:15:00Z")  # Black Friday 2026
    run_daily(queue, "promotions", "2026-11-27T00:15:00Z")
    run_daily(queue, "promotions", "2026-11-28T00:15:00Z")
    items = dynamodb_client.scan(
        TableName=table_name,
        FilterExpression="itemType = :p",
        ExpressionAttributeValues={":p": {"S": "promotion"}},
    )["Items"]
    assert [(i["name"]["S"], i["start"]["S"], i["end"]["S"]) for i in items] == [
        ("black-friday-to-cyber-monday", "2026-11-27", "2026-11-30")
    ]
