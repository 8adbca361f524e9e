"""The outbox end to end: real writes through the handlers on DynamoDB Local, the records of
the table's stream read back from DynamoDB Local, filtered with template.yaml's own filter
criteria, played through the events publisher with EventBridge (and an SQS rule target)
mocked by moto."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.events_publisher import app as publisher
from loyalty import runtime
from tests.support.api import enroll, order, play_orders, redeem
from tests.support.events import FakeLambdaContext
from tests.support.streams import StreamReader, delivered_to

pytestmark = pytest.mark.usefixtures("clock")

BUS = "loyalty-test-bus"
MEMBER = "c-42"
PERSONAL = {
    "name": "Ada Lovelace",
    "email": "ada.lovelace@example.com",
    "phone": "+44 20 7946 0000",
    "birthday": "1985-12-10",
}
# Whole words only: event and entry ids are random hex, which can hold "ada" or "7946".
PERSONAL_PATTERN = re.compile(r"\bada\b|lovelace|example\.com|\b7946\b|1985-12-10", re.IGNORECASE)


# ---- the stream, as Lambda would deliver it ---------------------------------------------------


# ---- EventBridge (moto) -----------------------------------------------------------------------


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto EventBridge bus whose rule sends every `loyalty` event to an SQS queue; yields a
    function that drains that queue. moto serves EventBridge and SQS only (a call to any other
    AWS service fails loudly); DynamoDB Local's 127.0.0.1 endpoint is no AWS URL, so moto never
    intercepts it (and the writes are done before the mock starts anyway)."""
    with mock_aws(config={"core": {"service_whitelist": ["events", "sqs"]}}):
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="loyalty-events-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="tap", EventBusName=BUS, EventPattern=json.dumps({"source": ["loyalty"]})
        )
        events.put_targets(Rule="tap", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        monkeypatch.setenv("EVENT_BUS_NAME", BUS)
        runtime._event_bus.cache_clear()

        def drain() -> list[dict[str, Any]]:
            received: list[dict[str, Any]] = []
            while True:
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
                if not messages:
                    return received
                for message in messages:
                    received.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

        yield drain
        runtime._event_bus.cache_clear()


def publish(batch: dict[str, Any]) -> None:
    response = publisher.handler(batch, FakeLambdaContext())
    assert response == {"batchItemFailures": []}


# ---- the test ---------------------------------------------------------------------------------


def test_committed_changes_arrive_once_per_kind_with_stable_ids_and_no_personal_data(
    table_name: str, dynamodb_client: Any, dynamodb_endpoint: str, request: pytest.FixtureRequest
):
    # Real writes through the handlers (DynamoDB Local, no mock on).
    reply = enroll(MEMBER, **PERSONAL, marketingConsent=True)
    assert reply.status == 201, reply.body
    play_orders(order("o-1001", MEMBER, "15.00"))  # 1500 + 150 first purchase: Silver
    reply = redeem(MEMBER, "discount-10", key="k-1")
    assert reply.status == 201, reply.body

    records = StreamReader(table_name).read()
    batch = delivered_to("EventsPublisherFunction", records)
    # The filter lets through only the item types that can make an event.
    assert {r["dynamodb"]["NewImage"]["itemType"]["S"] for r in batch["Records"]} == {
        "member",
        "entry",
        "coupon",
    }
    assert len(batch["Records"]) < len(records)

    drain = request.getfixturevalue("bus")
    publish(batch)
    first = drain()

    assert sorted(event["detail-type"] for event in first) == [
        "coupon.issued",
        "points.earned",
        "points.earned",
        "points.redeemed",
        "tier.changed",
    ]
    by_reason = {e["detail"].get("reason"): e["detail"] for e in first}
    assert by_reason["purchase"]["points"] == 1500
    assert by_reason["first-purchase-bonus"]["points"] == 150
    assert by_reason["reward:discount-10"]["points"] == -1000
    issued = next(e["detail"] for e in first if e["detail-type"] == "coupon.issued")
    assert issued["code"] == reply.body["couponCode"]
    assert (issued["rewardId"], issued["points"]) == ("discount-10", 1000)
    assert issued["expiresAt"] == reply.body["couponExpiresAt"]
    tier = next(e["detail"] for e in first if e["detail-type"] == "tier.changed")
    assert (tier["from"], tier["to"], tier["direction"]) == ("Bronze", "Silver", "up")
    for event in first:
        assert event["source"] == "loyalty"
        assert event["detail"]["memberId"] == MEMBER
        assert event["detail"]["eventId"]
        text = json.dumps(event)
        assert not PERSONAL_PATTERN.search(text), text
        assert not {"name", "email", "phone", "birthday"} & set(event["detail"])

    # The same stream batch again (a redelivery): the same events, the same ids.
    publish(batch)
    second = drain()
    assert sorted(e["detail"]["eventId"] for e in second) == sorted(
        e["detail"]["eventId"] for e in first
    )
    assert sorted(json.dumps(e["detail"], sort_keys=True) for e in second) == sorted(
        json.dumps(e["detail"], sort_keys=True) for e in first
    )
    assert len({e["detail"]["eventId"] for e in first}) == len(first)


def test_marketing_events_go_out_only_for_members_who_opted_in(
    table_name: str, request: pytest.FixtureRequest
):
    assert enroll("opted-in", marketingConsent=True).status == 201
    assert enroll("silent").status == 201  # consent is opt-in: absent means no
    assert enroll("changed-mind", marketingConsent=True).status == 201
    reply = request_patch("changed-mind", {"marketingConsent": False})
    assert reply.status == 200 and reply.body["marketingConsent"] is False
    for member_id in ("opted-in", "silent", "changed-mind"):
        play_orders(order(f"o-{member_id}", member_id, "15.00"))  # Bronze -> Silver

    batch = delivered_to("EventsPublisherFunction", StreamReader(table_name).read())
    drain = request.getfixturevalue("bus")
    publish(batch)
    kinds: dict[str, list[str]] = {}
    for event in drain():
        kinds.setdefault(event["detail"]["memberId"], []).append(event["detail-type"])
    # Every member's account history goes out; the tier change only for the opted-in one.
    assert sorted(kinds["opted-in"]) == ["points.earned", "points.earned", "tier.changed"]
    assert sorted(kinds["silent"]) == ["points.earned", "points.earned"]
    assert sorted(kinds["changed-mind"]) == ["points.earned", "points.earned"]


def request_patch(member_id: str, body: dict[str, Any]) -> Any:
    from tests.support.api import PATCH_MEMBER
    from tests.support.api import request as api_request

    return api_request(PATCH_MEMBER, member_id, body=body)
