"""The daily member jobs finish for every member due, whatever their history: each expiry
step fits one DynamoDB transaction, and a member that fails is set aside (queued on its own,
dead-lettered with its id) while the rest of the shard is served. Against DynamoDB Local,
through the real job handlers and SQS event shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.jobs import app as jobs
from loyalty.dal import keys
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.orders import parse_order_message
from loyalty.runtime import order_service
from tests.support.api import order, play_orders, redeem, table_items
from tests.support.events import FakeLambdaContext, sqs_event
from tests.support.schedules import run_daily, scheduled_event
from tests.support.table import list_entries

# DynamoDB refuses a TransactWriteItems of more than this many actions.
DYNAMODB_MAX_ACTIONS = 100


@pytest.fixture
def ledger(table_name, clock):
    return DynamoLedgerRepository(table_name)


@pytest.fixture
def transactions(monkeypatch) -> list[int]:
    """The number of actions of every transaction the repository writes."""
    sizes: list[int] = []
    original = DynamoLedgerRepository._transact

    def counted(self: DynamoLedgerRepository, actions: list[dict[str, Any]], *args: Any) -> None:
        sizes.append(len(actions))
        original(self, actions, *args)

    monkeypatch.setattr(DynamoLedgerRepository, "_transact", counted)
    return sizes


def lot_items(dynamodb_client, table_name, member_id) -> list[dict[str, Any]]:
    """The member's lots, live (`LOT#…`) and settled (`HISTORY#LOT#…`, out of the member
    view's range)."""
    return [
        item
        for item in table_items(dynamodb_client, table_name)
        if item["PK"]["S"] == f"MEMBER#{member_id}"
        and item["SK"]["S"].startswith(("LOT#", "HISTORY#LOT#"))
    ]


def warning_items(dynamodb_client, table_name, member_id) -> list[dict[str, Any]]:
    return [
        item
        for item in table_items(dynamodb_client, table_name)
        if item["PK"]["S"] == f"MEMBER#{member_id}" and item["SK"]["S"].startswith("WARNING#")
    ]


def expire_entries(ledger, member_id):
    return [e for e in list_entries(ledger, member_id) if e.type == "expire"]


def expires(item: dict[str, Any]) -> str:
    return item["expiresAt"]["S"]


def test_a_heavy_member_settles_and_is_warned_in_steps_that_each_fit_one_transaction(
    ledger, queue, dynamodb_client, table_name, transactions
):
    # About three orders a day for two months: January's lots expire on the run below,
    # February's are all inside their warning window on it.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    orders = [
        order(
            f"o-{day}-{hour}",
            "heavy",
            "1.00",
            at=f"{start + timedelta(days=day, hours=hour):%Y-%m-%dT%H:%M:%SZ}",
        )
        for day in range(59)
        for hour in (8, 13, 19)
    ]
    play_orders(*orders)
    assert redeem("heavy", "free-shipping").status == 201  # 500 from January's points
    lots = lot_items(dynamodb_client, table_name, "heavy")
    assert len(lots) >= 178
    now = "2027-02-01T00:00:00Z"
    due = [lot for lot in lots if expires(lot) <= now]
    warned = [lot for lot in lots if expires(lot) > now]
    assert len(due) > 40 and len(warned) > 40  # more than the old per-part bound of each
    transactions.clear()

    run_daily(queue, "expiry", now)  # the drain fails on any batch item failure

    assert transactions and max(transactions) <= DYNAMODB_MAX_ACTIONS
    after = {item["lotId"]["S"]: item for item in lot_items(dynamodb_client, table_name, "heavy")}
    due_points = sum(int(lot["points"]["N"]) for lot in due)
    for lot in due:
        settled = after[lot["lotId"]["S"]]
        assert "settledAt" in settled and settled["SK"]["S"] == "HISTORY#" + lot["SK"]["S"]
    for lot in warned:
        live = after[lot["lotId"]["S"]]
        assert "warnedAt" in live and "settledAt" not in live and live["SK"] == lot["SK"]
    warnings = warning_items(dynamodb_client, table_name, "heavy")
    assert sorted(w["lotId"]["S"] for w in warnings) == sorted(lot["lotId"]["S"] for lot in warned)
    # The redemption used January's points, so February's are unspent, each warned in full.
    assert sum(int(w["points"]["N"]) for w in warnings) == sum(
        int(lot["points"]["N"]) for lot in warned
    )
    expired = sum(e.points for e in expire_entries(ledger, "heavy"))
    assert expired == -(due_points - 500)
    # Each settled lot carries its part of what expired.
    assert sum(int(after[lot["lotId"]["S"]]["expiredPoints"]["N"]) for lot in due) == -expired
    member = ledger.get_member("heavy")
    assert member.balance == sum(e.points for e in list_entries(ledger, "heavy"))
    assert member.balance == sum(int(lot["points"]["N"]) for lot in warned)

    snapshot = table_items(dynamodb_client, table_name)
    run_daily(queue, "expiry", now)
    assert table_items(dynamodb_client, table_name) == snapshot


def test_a_thousand_lots_and_a_month_of_missed_runs_are_caught_up_in_one_run(
    ledger, queue, dynamodb_client, table_name, transactions
):
    # Ten orders a day for a hundred days, recorded by the order service (the handler's
    # parsing and logging of a thousand messages would only slow the test down).
    start = datetime(2026, 1, 1, tzinfo=UTC)
    orders = order_service()
    for n in range(1000):
        at = f"{start + timedelta(hours=2.4 * n):%Y-%m-%dT%H:%M:%SZ}"
        message = parse_order_message(json.dumps(order(f"o-{n}", "big", "1.00", at=at)))
        assert orders.record(message).status == "awarded"
    assert redeem("big", "free-shipping").status == 201  # 500 points spent
    lots = lot_items(dynamodb_client, table_name, "big")
    assert len(lots) >= 1000

    run_daily(queue, "expiry", "2027-01-15T00:00:00Z")
    run_daily(queue, "expiry", "2027-02-15T00:00:00Z")  # a month of runs missed in between

    now = "2027-02-15T00:00:00Z"
    assert max(transactions) <= DYNAMODB_MAX_ACTIONS
    after = lot_items(dynamodb_client, table_name, "big")
    due = [lot for lot in after if expires(lot) <= now]
    assert len(due) > 400 and all("settledAt" in lot for lot in due)
    assert all(lot["SK"]["S"].startswith("HISTORY#LOT#") for lot in due)
    live = [lot for lot in after if expires(lot) > now]
    assert not any("settledAt" in lot for lot in live)
    warn_due = [lot for lot in live if lot["warnAt"]["S"] <= now]
    assert warn_due and all("warnedAt" in lot for lot in warn_due)
    expired = -sum(e.points for e in expire_entries(ledger, "big"))
    assert expired == sum(int(lot["points"]["N"]) for lot in due) - 500  # the unspent part
    assert expired == sum(int(lot["expiredPoints"]["N"]) for lot in due)
    member = ledger.get_member("big")
    assert member.balance == sum(e.points for e in list_entries(ledger, "big"))
    assert member.balance == sum(int(lot["points"]["N"]) for lot in live)

    snapshot = table_items(dynamodb_client, table_name)
    run_daily(queue, "expiry", now)
    assert table_items(dynamodb_client, table_name) == snapshot


def same_shard_members(count: int, prefix: str) -> list[str]:
    """Member ids that fall in the same shard of the due index (any job's: one hash)."""
    shard = keys.shard_of(f"{prefix}-0", keys.due_index_shards())
    found = [
        f"{prefix}-{n}"
        for n in range(200)
        if keys.shard_of(f"{prefix}-{n}", keys.due_index_shards()) == shard
    ]
    return found[:count]


def damage_profile(dynamodb_client, table_name, member_id) -> None:
    """A profile no reader can parse (as a bad manual edit or a botched migration leaves)."""
    dynamodb_client.update_item(
        TableName=table_name,
        Key={"PK": {"S": f"MEMBER#{member_id}"}, "SK": {"S": "PROFILE"}},
        UpdateExpression="SET balance = :garbage",
        ExpressionAttributeValues={":garbage": {"S": "a lot"}},
    )


def deliver(queue, job: str, time: str) -> list[dict[str, Any]]:
    """The schedule fires; every work message is delivered until none is left, each in its
    own SQS batch as the template's BatchSize 1 does. Returns the messages that failed (SQS
    would retry them, then move them to the dead-letter queue)."""
    getattr(jobs, f"{job}_schedule")(scheduled_event(time), FakeLambdaContext())
    return deliver_pending(queue)


@pytest.mark.parametrize("job", ["expiry", "tenure"])
def test_a_damaged_member_is_set_aside_and_the_rest_of_its_shard_is_served(
    job, ledger, queue, dynamodb_client, table_name
):
    # The index sorts a shard's members by due time, then id: the damaged one comes between.
    healthy_before, damaged, healthy_after = sorted(same_shard_members(3, "s"))
    # Tenure is due 2027-02-05 for these members; their points expire 2027-01-10.
    at = "2026-12-05T08:00:00Z" if job == "tenure" else "2026-01-10T10:00:00Z"
    play_orders(
        *[order(f"o-{m}", m, "1.00", at=at) for m in (healthy_before, damaged, healthy_after)]
    )
    balance = ledger.get_member(damaged).balance
    damage_profile(dynamodb_client, table_name, damaged)
    time = "2027-02-10T00:15:00Z"

    failed = deliver(queue, job, time)

    # Only the damaged member's own message failed, and it names the member.
    assert failed == [{"job": job, "memberId": damaged, "now": time, "runId": f"{job}-{time}"}]
    for member_id in (healthy_before, healthy_after):
        entries = list_entries(ledger, member_id)
        if job == "expiry":
            assert [e.points for e in entries if e.type == "expire"] == [-250]
            assert ledger.get_member(member_id).balance == 0
        else:
            assert [e.reason for e in entries if e.reason.startswith("tenure")] == [
                "tenure-milestone-2"
            ]
            assert ledger.get_member(member_id).balance == 250 + 200
    # Retried, it fails the same way (and is dead-lettered); the others' results stand.
    snapshot = table_items(dynamodb_client, table_name)
    queue.pending.append(failed[0])
    assert deliver_pending(queue) == failed
    assert table_items(dynamodb_client, table_name) == snapshot
    # Repaired, the member's message (redriven from the dead-letter queue) serves it alone.
    dynamodb_client.update_item(
        TableName=table_name,
        Key={"PK": {"S": f"MEMBER#{damaged}"}, "SK": {"S": "PROFILE"}},
        UpdateExpression="SET balance = :balance",
        ExpressionAttributeValues={":balance": {"N": str(balance)}},
    )
    queue.pending.append(failed[0])
    assert deliver_pending(queue) == []
    expected = 0 if job == "expiry" else 250 + 200
    assert ledger.get_member(damaged).balance == expected
    assert ledger.get_member(damaged).balance == sum(
        e.points for e in list_entries(ledger, damaged)
    )


def deliver_pending(queue) -> list[dict[str, Any]]:
    failed = []
    while queue.pending:
        message = queue.pending.pop(0)
        response = jobs.worker_handler(sqs_event(json.dumps(message)), FakeLambdaContext())
        if response["batchItemFailures"]:
            failed.append(message)
    return failed
