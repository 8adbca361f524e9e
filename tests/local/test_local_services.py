"""The seeded demo shop, and what runs behind the API: order messages through the orders queue
(partial batch failures, the dead-letter queue after maxReceiveCount, redrive), the table's
stream to its consumers (a referral completed by the referee's first order), the daily jobs
for any date, the outbound events, stream export and replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.local.stack import LocalStack
from tests.local.conftest import http

pytestmark = pytest.mark.integration


def recently(days: int = 2) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def order(order_id: str, member: str, price: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {
        "type": "order.completed",
        "orderId": order_id,
        "memberId": member,
        "occurredAt": recently(),
        "currency": "USD",
        "lines": [{"sku": "SKU-1", "category": "books", "quantity": 1, "unitPrice": price}],
        **extra,
    }


def balance(stack: LocalStack, member: str) -> int:
    return int(stack.member(member)["member"]["balance"])


def test_the_demo_shop_is_seeded(seeded: LocalStack) -> None:
    alice = seeded.member("alice")
    assert alice["member"]["balance"] >= 1500
    assert len(alice["activity"]) >= 15
    reasons = {entry["reason"] for entry in alice["activity"]}
    assert {"purchase", "first-purchase-bonus", "referral-referrer", "product-review"} <= reasons
    assert "social-share" in reasons
    assert alice["referrals"]["completed"] >= 1
    bob = seeded.member("bob")
    assert "referral-referee" in {entry["reason"] for entry in bob["activity"]}
    carol = seeded.member("carol")
    assert any(entry["type"] == "redeem" for entry in carol["activity"])
    dave = seeded.member("dave")
    assert any(entry["type"] == "reverse" for entry in dave["activity"])
    frank = seeded.member("frank")["member"]
    assert frank["name"] is None  # enrolled by his first order
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    purchases = [entry for entry in alice["activity"] if entry["reason"] == "purchase"]
    assert all(entry["occurredAt"] <= now for entry in purchases)  # orders are in the past
    assert seeded.seed_summary is not None and seeded.seed_summary["problems"] == []


def test_seeding_twice_leaves_the_shop_as_it_is(seeded: LocalStack) -> None:
    from devtools.local.seed import seed_demo

    before = seeded.member("alice")
    assert seed_demo(seeded) == {"demo": "already there"}
    assert seeded.member("alice") == before


def test_bad_messages_are_reported_and_dead_lettered_after_max_receive_count(
    seeded: LocalStack,
) -> None:
    queue = seeded.wiring.queue("OrdersQueue")
    good = order("t-good-1", "gus")
    answer = http(seeded.base_url + "/local/orders", "POST", [good, "not json", {"type": "x"}])
    assert answer.status == 200
    results = answer.body["results"]
    assert [r["status"] for r in results] == ["processed", "dead-lettered", "dead-lettered"]
    bad_ids = {r["messageId"] for r in results[1:]}
    assert {f["itemIdentifier"] for f in answer.body["batchItemFailures"]} == bad_ids
    assert all(r["attempts"] == queue.max_receive_count for r in results[1:])
    assert "not JSON" in results[1]["error"]
    dead = http(seeded.base_url + "/local/dlq").body
    (orders_dlq,) = [q for q in dead["queues"] if q["queue"] == queue.dead_letter]
    held = {m["messageId"]: m for m in orders_dlq["messages"]}
    assert bad_ids <= set(held)
    assert all(held[i]["receiveCount"] == queue.max_receive_count for i in bad_ids)
    assert balance(seeded, "gus") > 0
    # still bad: redriven, they fail again and go back
    redrive = http(seeded.base_url + "/local/dlq/redrive", "POST", {}).body
    assert {r["messageId"] for r in redrive["results"]} >= bad_ids
    assert all(r["status"] == "dead-lettered" for r in redrive["results"])


def test_a_refund_before_its_order_is_redriven_once_the_order_is_there(
    seeded: LocalStack,
) -> None:
    refund = {
        "type": "order.refunded",
        "orderId": "t-late-1",
        "refundId": "t-late-1-r",
        "memberId": "hal",
        # Fixed dates outside any double-points window (a date near the wall clock's would
        # double the order's points around Black Friday and the holidays).
        "occurredAt": "2030-06-12T09:00:00Z",
        "currency": "USD",
        "amount": "5.00",
    }
    first = seeded.send_orders([refund])["results"][0]
    assert first["status"] == "dead-lettered"
    seeded.send_orders([order("t-late-1", "hal", "20.00", occurredAt="2030-06-10T10:00:00Z")])
    before = balance(seeded, "hal")
    report = seeded.redrive(seeded.wiring.queue("OrdersQueue").dead_letter)
    mine = [r for r in report["results"] if r["messageId"] == first["messageId"]]
    assert mine and mine[0]["status"] == "processed"
    assert balance(seeded, "hal") == before - 500


def test_the_stream_completes_a_referral_on_the_first_order(seeded: LocalStack) -> None:
    code = seeded.member("alice")["member"]["referralCode"]
    status, _ = seeded.call_api(
        "POST",
        "/members",
        {"memberId": "ivy", "name": "Ivy", "email": "ivy@example.com", "referralCode": code},
    )
    assert status == 201
    before = balance(seeded, "alice")
    published = seeded.aws.events_total
    report = seeded.send_orders([order("t-ivy-1", "ivy", "15.00")])
    assert report["results"][0]["status"] == "processed"
    # delivered before send_orders returned: the stream was read and its consumers ran
    assert balance(seeded, "alice") == before + 70
    ivy = seeded.member("ivy")
    assert "referral-referee" in {entry["reason"] for entry in ivy["activity"]}
    events = http(seeded.base_url + "/local/events?limit=50").body["events"]
    assert seeded.aws.events_total > published
    assert "referral.completed" in {event["detail-type"] for event in events}


def test_the_daily_jobs_run_for_a_given_date(seeded: LocalStack) -> None:
    # erin's birthday is in March: the birthday job of 1 March grants her bonus
    before = balance(seeded, "erin")
    answer = http(seeded.base_url + "/local/jobs", "POST", {"now": "2027-03-01", "job": "birthday"})
    assert answer.status == 200
    (run,) = answer.body["runs"]
    assert run["time"] == "2027-03-01T00:30:00Z"  # the schedule's own time of day
    assert run["error"] is None
    assert run["invocations"].get("JobWorkerFunction", 0) >= 1
    after = balance(seeded, "erin")
    assert after > before
    again = seeded.run_jobs("birthday", "2027-03-01")
    assert again[0]["error"] is None
    assert balance(seeded, "erin") == after  # once a year, however often the job runs
    everything = seeded.run_jobs("all", "2027-03-02")
    assert [run["schedule"] for run in everything] == [
        s.short_name for s in seeded.wiring.schedules
    ]
    assert http(seeded.base_url + "/local/jobs", "POST", {"job": "nope"}).status == 404


def test_stream_export_and_replay(seeded: LocalStack) -> None:
    exported = http(seeded.base_url + "/local/stream/export")
    assert exported.status == 200
    assert exported.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in seeded.export_stream()]
    assert len(lines) > 20
    assert all("dynamodb" in record for record in lines)
    before = balance(seeded, "alice")
    answer = http(
        seeded.base_url + "/local/stream/replay?function=ReferralCompletionFunction",
        "POST",
        raw="\n".join(json.dumps(record) for record in lines).encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert answer.status == 200
    first_orders = [
        r
        for r in lines
        if r["eventName"] == "INSERT"
        and r["dynamodb"].get("NewImage", {}).get("itemType", {}).get("S") == "order"
        and r["dynamodb"]["NewImage"].get("orderNumber", {}).get("N") == "1"
    ]
    assert answer.body["delivered"] == {"ReferralCompletionFunction": len(first_orders)}
    assert balance(seeded, "alice") == before  # referral completion is idempotent
