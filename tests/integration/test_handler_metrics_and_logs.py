"""The functions' metrics (EMF on stdout) and correlation ids (on every log line), from the
real handlers on DynamoDB Local: each metric carries the value of the outcome it counts, and no
dimension ever carries a member id."""

from __future__ import annotations

import json

import pytest

from functions.jobs import app as jobs
from functions.purchase_award import app as purchase_award
from loyalty import observability
from loyalty.services.jobs import ShardRun
from tests.support.api import REDEEM, enroll, order, play_orders, redeem, request
from tests.support.events import FakeLambdaContext, completed, refunded, sqs_event, sqs_record
from tests.support.http import http_event
from tests.support.observability import LogCapture, MetricPoint, total
from tests.support.schedules import CapturedQueue, scheduled_event

pytestmark = pytest.mark.usefixtures("table_name", "clock")

MEMBERS = ("obs-ann", "obs-bob", "obs-cat")


def assert_no_member_id_in_dimensions(points: list[MetricPoint]) -> None:
    assert points, "no metric was emitted"
    for point in points:
        assert point.namespace == "Loyalty"
        for name, value in point.dimensions.items():
            assert name == "service" or name in observability.DIMENSIONS, point
            allowed = observability.DIMENSIONS.get(name)
            if allowed is not None:
                assert value in allowed, point
            assert not any(member in value for member in MEMBERS), point


def invoke_orders(*records: dict) -> dict:
    return purchase_award.handler({"Records": list(records)}, FakeLambdaContext())


# ---- the award path --------------------------------------------------------------------------


def test_orders_count_points_awarded_reversed_duplicates_and_early_refunds(emitted):
    first = completed("o-obs-1", "obs-ann", ("20.00", 1), at="2026-11-10T10:00:00Z")
    refund = refunded("o-obs-1", "r-obs-1", "obs-ann", "5.00", at="2026-11-11T10:00:00Z")
    early = refunded("o-obs-never", "r-obs-2", "obs-ann", "1.00", at="2026-11-11T10:00:00Z")
    response = invoke_orders(
        sqs_record(first, "m-1"),
        sqs_record(first, "m-2"),  # the same order again: a duplicate
        sqs_record(early, "m-3"),  # a refund before its order: failed, will retry
    )
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m-3"]
    points = emitted()
    # 20 dollars x 100 points, and the first-order bonus of 150.
    assert total(points, "PointsAwarded", source="purchase") == 2150
    assert total(points, "OrdersRecorded", outcome="awarded") == 1
    assert total(points, "DuplicateMessages") == 1
    assert total(points, "RefundsBeforeOrder") == 1
    assert total(points, "MessagesDeadLettered") == 0  # first receive: SQS will retry it

    invoke_orders(sqs_record(refund, "m-4"))
    points = emitted()
    assert total(points, "OrdersRecorded", outcome="reversed") == 1
    assert total(points, "PointsReversed") == 500
    assert_no_member_id_in_dimensions(points)
    # The first order was read and planned; a repeat order is awarded in one request.
    assert total(points, "OrdersAwardedInOneRequest") == 0
    repeat = completed("o-obs-2", "obs-ann", ("1.00", 1), at="2026-11-12T10:00:00Z")
    invoke_orders(sqs_record(repeat, "m-5"))
    points = emitted()
    assert total(points, "OrdersRecorded", outcome="awarded") == 1
    assert total(points, "OrdersAwardedInOneRequest") == 1


def test_a_message_failing_on_its_last_receive_counts_as_dead_lettered(emitted):
    early = refunded("o-obs-none", "r-obs-3", "obs-bob", "1.00", at="2026-11-11T10:00:00Z")
    invalid = {"type": "order.completed", "memberId": "obs-bob"}
    response = invoke_orders(
        sqs_record(early, "m-5", receive_count=observability.MAX_RECEIVE_COUNT),
        sqs_record(invalid, "m-6", receive_count=observability.MAX_RECEIVE_COUNT - 1),
    )
    assert len(response["batchItemFailures"]) == 2
    points = emitted()
    assert total(points, "MessagesDeadLettered", queue="orders") == 1
    assert total(points, "InvalidMessages") == 1
    assert_no_member_id_in_dimensions(points)


def test_each_award_log_line_carries_its_message_and_order(logs: LogCapture):
    first = completed("o-obs-4", "obs-cat", ("3.00", 1), at="2026-11-10T10:00:00Z")
    second = completed("o-obs-5", "obs-cat", ("4.00", 1), at="2026-11-10T11:00:00Z")
    invoke_orders(sqs_record(first, "m-7"), sqs_record(second, "m-8"))
    recorded = [line for line in logs.lines() if line["message"] == "order message recorded"]
    assert [(line["message_id"], line["order_id"]) for line in recorded] == [
        ("m-7", "o-obs-4"),
        ("m-8", "o-obs-5"),
    ]


# ---- the API ---------------------------------------------------------------------------------


def test_requests_are_counted_by_route_and_status_class(emitted):
    assert enroll("obs-ann").status == 201
    assert request(REDEEM, "obs-ann", body={"rewardId": "x"}, claims=None).status == 401
    points = emitted()
    assert total(points, "ApiRequests", route="POST /members", status_class="2xx") == 1
    assert (
        total(
            points,
            "ApiRequests",
            route="POST /members/{memberId}/redemptions",
            status_class="4xx",
        )
        == 1
    )
    assert_no_member_id_in_dimensions(points)


def test_redemptions_count_points_and_refusals_by_reason(emitted):
    play_orders(order("o-obs-6", "obs-bob", "10.00"))  # 1000 + 150 points
    emitted()
    assert redeem("obs-bob", "free-shipping").status == 201
    assert redeem("obs-bob", "no-such-reward").status == 404
    points = emitted()
    assert total(points, "Redemptions") == 1
    assert total(points, "PointsRedeemed") > 0
    assert total(points, "RedemptionsRefused", reason="RewardNotFound") == 1
    assert_no_member_id_in_dimensions(points)


def test_every_log_line_of_a_request_carries_the_api_gateway_request_id(logs: LogCapture):
    from functions.members_api import app as members_api

    event = http_event(
        "POST",
        "/members",
        body={"memberId": "obs-cat", "name": "Cat", "email": "cat@example.com"},
        claims={"sub": "storefront-backend", "scope": "loyalty/service"},
    )
    event["requestContext"]["requestId"] = "req-obs-1"
    assert members_api.handler(event, FakeLambdaContext())["statusCode"] == 201
    refused = http_event("GET", "/members/{memberId}", {"memberId": "obs-cat"})  # no token
    refused["requestContext"]["requestId"] = "req-obs-2"
    assert members_api.handler(refused, FakeLambdaContext())["statusCode"] == 401
    lines = logs.lines()
    assert lines
    assert {line.get("correlation_id") for line in lines} <= {"req-obs-1", "req-obs-2"}
    assert any(line.get("correlation_id") == "req-obs-2" for line in lines)


# ---- the jobs --------------------------------------------------------------------------------


def test_a_job_run_carries_its_run_id_across_the_fan_out(
    queue: CapturedQueue, emitted, logs: LogCapture
):
    play_orders(*[order(f"o-{m}", m, "1.00", at="2026-01-10T10:00:00Z") for m in MEMBERS])
    emitted()
    time = "2027-01-11T00:15:00Z"  # the points earned on 2026-01-10 have expired
    jobs.expiry_schedule(scheduled_event(time), FakeLambdaContext())
    assert {message["runId"] for message in queue.pending} == {f"expiry-{time}"}
    queue.drain()
    job_lines = [line for line in logs.lines() if line["message"].startswith("job ")]
    assert job_lines
    assert {line["run_id"] for line in job_lines} == {f"expiry-{time}"}
    points = emitted()
    assert total(points, "JobRunsQueued", job="expiry") == 1
    assert total(points, "JobMembersProcessed", job="expiry") == len(MEMBERS)
    assert total(points, "PointsExpired") == 250 * len(MEMBERS)  # 100 + the 150 bonus each
    assert total(points, "JobContinuations") == 0
    assert_no_member_id_in_dimensions(points)


def test_a_continued_shard_and_a_member_set_aside_are_counted(
    queue: CapturedQueue, emitted, monkeypatch
):
    class ShardRunner:
        def run_shard(self, shard, now, **_):
            return ShardRun(
                job="expiry",
                shard=shard,
                members=4,
                points=300,
                cursor={"GSI1SK": "next"},
                done=False,
                failed=["obs-ann"],
            )

    monkeypatch.setattr(jobs, "expiry_service", ShardRunner)
    work = {"job": "expiry", "shard": 3, "now": "2027-01-10T00:15:00Z", "runId": "run-1"}
    response = jobs.worker_handler(sqs_event(json.dumps(work)), FakeLambdaContext())
    assert response["batchItemFailures"] == []
    points = emitted()
    assert total(points, "JobMembersProcessed", job="expiry") == 4
    assert total(points, "JobMembersSetAside", job="expiry") == 1
    assert total(points, "JobContinuations", job="expiry") == 1
    assert total(points, "PointsExpired") == 300
    assert {message["runId"] for message in queue.pending} == {"run-1"}
    assert_no_member_id_in_dimensions(points)
