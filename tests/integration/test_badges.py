"""Badges and challenges, against DynamoDB Local: definitions through the admin API, evaluation
by the badge evaluator on the table's own stream (filtered by template.yaml's criteria, each
batch delivered twice), the member's badges through `GET /members/{memberId}/badges`."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.admin_api import app as admin_app
from functions.badge_evaluator import app as badge_evaluator
from functions.events_publisher import app as publisher
from functions.referral_completion import app as referral_completion
from loyalty import runtime
from loyalty.dal import keys
from loyalty.dal.badges import DynamoBadgeRepository
from tests.support.api import (
    BADGES,
    enroll,
    item_of,
    order,
    play_orders,
    request,
    review,
    share,
    table_items,
)
from tests.support.events import FakeLambdaContext, completed
from tests.support.http import ADMIN, SERVICE, Reply, call, http_event, member_token
from tests.support.streams import StreamReader, delivered_to
from tests.support.table import list_entries


@pytest.fixture
def ledger(table_name):
    return DynamoBadgeRepository(table_name)


@pytest.fixture
def stream(table_name):
    return StreamReader(table_name)


def admin(method: str, path: str, parameters=None, *, body: Any = None, claims=ADMIN) -> Reply:
    return call(admin_app.handler, http_event(method, path, parameters, body=body, claims=claims))


def define(badge_id: str, claims=ADMIN, **body: Any) -> Reply:
    return admin("PUT", "/admin/badges/{badgeId}", {"badgeId": badge_id}, body=body, claims=claims)


def evaluate(stream, times: int = 2) -> None:
    """Deliver what the stream holds to the evaluator until it settles (a grant writes a
    profile change that may complete another badge), each batch `times` times."""
    for _ in range(10):
        event = delivered_to("BadgeEvaluatorFunction", stream.read())
        if not event["Records"]:
            return  # Lambda is not invoked for an empty batch
        for _ in range(times):
            response = badge_evaluator.handler(event, FakeLambdaContext())
            assert response["batchItemFailures"] == []
    raise AssertionError("the stream did not settle")


def complete_referrals(stream) -> None:
    # Its own reader: each consumer of the stream reads every record.
    event = delivered_to("ReferralCompletionFunction", stream.read())
    if event["Records"]:
        assert referral_completion.handler(event, FakeLambdaContext())["batchItemFailures"] == []


def badge_entries(ledger, member_id: str) -> list[tuple[str, int]]:
    return [(e.reference, e.points) for e in list_entries(ledger, member_id) if e.reason == "badge"]


def earned_ids(member_id: str) -> list[str]:
    reply = request(BADGES, member_id)
    assert reply.status == 200, reply.body
    return sorted(badge["badgeId"] for badge in reply.body["earned"])


def progress_of(member_id: str, badge_id: str) -> tuple[int, int] | None:
    body = request(BADGES, member_id).body
    for badge in body["progress"]:
        if badge["badgeId"] == badge_id:
            return badge["progress"], badge["target"]
    return None


FIRST_REVIEW = {"name": "First review", "condition": {"kind": "reviews", "count": 1}, "points": 50}


# ---- each condition kind, granted once however often the stream delivers ------------------


def test_first_review_is_granted_once_with_its_points_under_redelivery(ledger, stream, clock):
    assert define("first-review", **FIRST_REVIEW).status == 201
    enroll("m-1")
    review("m-1", "p-1", "r-1")
    review("m-1", "p-2", "r-2")
    evaluate(stream, times=3)

    assert badge_entries(ledger, "m-1") == [("first-review", 50)]
    assert ledger.get_member("m-1").balance == 50 + 50 + 50
    assert earned_ids("m-1") == ["first-review"]
    marker = item_of(ledger.client, ledger.table_name, "MEMBER#m-1", "BADGE#first-review")
    assert marker is not None and marker["points"] == {"N": "50"}


def test_orders_in_a_calendar_month_count_per_month(ledger, stream, clock):
    define(
        "busy-month",
        name="3 orders in a month",
        condition={"kind": "orders", "count": 3, "per": "calendarMonth"},
        points=100,
    )
    play_orders(
        completed("o-1", "m-1", ("1.00", 1), at="2026-11-28T10:00:00Z"),
        completed("o-2", "m-1", ("1.00", 1), at="2026-11-29T10:00:00Z"),
        completed("o-3", "m-1", ("1.00", 1), at="2026-12-01T10:00:00Z"),
        completed("o-4", "m-1", ("1.00", 1), at="2026-12-02T10:00:00Z"),
    )
    evaluate(stream)
    assert badge_entries(ledger, "m-1") == []  # 2 in November, 2 in December
    assert progress_of("m-1", "busy-month") == (2, 3)  # December's (the clock's month)

    play_orders(completed("o-5", "m-1", ("1.00", 1), at="2026-12-03T10:00:00Z"))
    evaluate(stream)
    assert badge_entries(ledger, "m-1") == [("busy-month", 100)]
    assert progress_of("m-1", "busy-month") is None  # earned: no longer open


def test_completed_referrals_grant_the_referrer(ledger, stream, table_name, clock):
    referrals_stream = StreamReader(table_name)
    define(
        "connector",
        name="2 referrals",
        condition={"kind": "referrals", "count": 2},
        points=200,
    )
    code = enroll("ref-1").body["referralCode"]
    for friend in ("f-1", "f-2"):
        enroll(friend, referral_code=code)
        play_orders(order(f"o-{friend}", friend, "10.00"))
        complete_referrals(referrals_stream)
    records = stream.read()
    for _ in range(2):  # redelivered
        event = delivered_to("BadgeEvaluatorFunction", records)
        assert badge_evaluator.handler(event, FakeLambdaContext())["batchItemFailures"] == []
    evaluate(stream)

    assert badge_entries(ledger, "ref-1") == [("connector", 200)]
    assert badge_entries(ledger, "f-1") == []


def test_gold_reached_and_categories_and_shares(ledger, stream, clock):
    define("gold", name="Gold reached", condition={"kind": "tier", "tier": "Gold"}, points=0)
    define(
        "explorer",
        name="3 categories",
        condition={"kind": "categories", "count": 3},
        points=30,
    )
    define("sharer", name="2 shares", condition={"kind": "shares", "count": 2}, points=20)
    play_orders(
        completed("o-1", "m-1", ("20.00", 1, "shoes"), ("5.00", 2, "hats")),
        completed("o-2", "m-1", ("1.00", 1, "shoes")),
    )
    share("m-1", "https://shop.example/p/1")
    evaluate(stream)
    assert badge_entries(ledger, "m-1") == []
    assert progress_of("m-1", "explorer") == (2, 3)
    assert progress_of("m-1", "sharer") == (1, 2)

    play_orders(completed("o-3", "m-1", ("50.00", 1, "socks")))  # and Gold: 5001+ points
    share("m-1", "https://shop.example/p/2")
    evaluate(stream)

    assert sorted(badge_entries(ledger, "m-1")) == [("explorer", 30), ("sharer", 20)]
    assert earned_ids("m-1") == ["explorer", "gold", "sharer"]  # gold: a marker, 0 points
    assert ledger.get_member("m-1").tier == "Gold"


def test_tenure_is_seen_on_the_members_next_activity(ledger, stream, clock):
    define(
        "one-year",
        name="12 months as a member",
        condition={"kind": "tenure", "months": 12},
        points=120,
    )
    enroll("m-1")
    review("m-1", "p-1", "r-1")
    evaluate(stream)
    assert badge_entries(ledger, "m-1") == []

    clock.set("2027-12-10T12:00:00Z")  # a year after enrolment
    review("m-1", "p-2", "r-2")
    evaluate(stream)
    assert badge_entries(ledger, "m-1") == [("one-year", 120)]


# ---- challenges ------------------------------------------------------------------------


CHALLENGE = {
    "name": "3 orders, 1-14 December",
    "condition": {"kind": "orders", "count": 3},
    "points": 300,
    "window": {"startsOn": "2026-12-01", "endsOn": "2026-12-14"},
}


def test_a_challenge_counts_only_inside_its_window_and_completes_once(ledger, stream, clock):
    define("december-orders", **CHALLENGE)
    play_orders(
        completed("o-0", "m-1", ("1.00", 1), at="2026-11-30T23:59:59Z"),  # before the window
        completed("o-1", "m-1", ("1.00", 1), at="2026-12-01T00:00:00Z"),
        completed("o-2", "m-1", ("1.00", 1), at="2026-12-05T10:00:00Z"),
        completed("o-9", "m-1", ("1.00", 1), at="2026-12-15T00:00:00Z"),  # after it
    )
    evaluate(stream)
    reply = request(BADGES, "m-1", claims=member_token("m-1"))
    assert reply.status == 200
    (open_challenge,) = reply.body["progress"]
    assert open_challenge | {} == {
        "badgeId": "december-orders",
        "name": "3 orders, 1-14 December",
        "description": "",
        "points": 300,
        "progress": 2,
        "target": 3,
        "challenge": True,
        "startsOn": "2026-12-01",
        "endsOn": "2026-12-14",
    }
    assert badge_entries(ledger, "m-1") == []

    play_orders(completed("o-3", "m-1", ("1.00", 1), at="2026-12-14T23:59:59Z"))
    evaluate(stream)
    body = request(BADGES, "m-1").body
    assert body["progress"] == []
    assert [(b["badgeId"], b["points"], b["challenge"]) for b in body["earned"]] == [
        ("december-orders", 300, True)
    ]
    assert badge_entries(ledger, "m-1") == [("december-orders", 300)]


def test_a_retired_badge_stops_counting_and_granting(ledger, stream, clock):
    define("first-review", **FIRST_REVIEW)
    define("first-review", **(FIRST_REVIEW | {"active": False}))
    enroll("m-1")
    review("m-1", "p-1", "r-1")
    evaluate(stream)

    assert badge_entries(ledger, "m-1") == []
    assert request(BADGES, "m-1").body == {"earned": [], "progress": []}


# ---- the member route --------------------------------------------------------------------


def test_member_badges_route_authorization(table_name, clock):
    enroll("m-1")
    assert request(BADGES, "m-1", claims=member_token("m-1")).status == 200
    assert request(BADGES, "m-1", claims=SERVICE).status == 200
    assert request(BADGES, "m-1", claims=ADMIN).status == 200
    assert request(BADGES, "m-1", claims=member_token("m-2")).status == 403
    assert request(BADGES, "m-1", claims=None).status == 401
    assert request(BADGES, "nobody").status == 404


# ---- the admin routes --------------------------------------------------------------------


def test_admin_defines_lists_and_retires_badges_with_an_audit_trail(ledger, clock):
    created = define("december-orders", **CHALLENGE)
    assert created.status == 201
    assert created.body["badgeId"] == "december-orders"
    assert define("december-orders", **(CHALLENGE | {"active": False})).status == 200
    define("first-review", **FIRST_REVIEW)

    listed = admin("GET", "/admin/badges")
    assert listed.status == 200
    assert [(b["badgeId"], b["active"]) for b in listed.body["items"]] == [
        ("first-review", True),
        ("december-orders", False),
    ]
    audit = admin("GET", "/admin/audit", body=None)
    actions = sorted(
        (record["action"], record["target"])
        for record in audit.body["items"]
        if record["action"].startswith("badge.")
    )
    assert actions == [
        ("badge.created", "december-orders"),
        ("badge.created", "first-review"),
        ("badge.updated", "december-orders"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "condition": {"kind": "purchases", "count": 1}},
        {"name": "x", "condition": {"kind": "orders", "count": 0}},
        {"name": "x", "condition": {"kind": "orders", "count": 101}},
        {"name": "x", "condition": {"kind": "orders"}},
        {"name": "x", "condition": {"kind": "tier", "tier": "Platinum"}},
        {"name": "x", "condition": {"kind": "tenure", "months": 0}},
        {"name": "x", "condition": {"kind": "tier", "tier": "Gold", "count": 2}},
        {"name": "x", "condition": {"kind": "reviews", "count": 1}, "points": -1},
        {"name": "x", "condition": {"kind": "reviews", "count": 1}, "points": 1.5},
        {"name": "", "condition": {"kind": "reviews", "count": 1}},
        {"condition": {"kind": "reviews", "count": 1}},
        {
            "name": "x",
            "condition": {"kind": "orders", "count": 3},
            "window": {"startsOn": "2026-12-14", "endsOn": "2026-12-01"},
        },
        {
            "name": "x",
            "condition": {"kind": "orders", "count": 3},
            "window": {"startsOn": 20261201, "endsOn": "2026-12-14"},
        },
        {"name": "x", "condition": {"kind": "reviews", "count": 1}, "active": "no"},
        {"name": "x", "condition": {"kind": "reviews", "count": 1}, "colour": "red"},
    ],
)
def test_an_invalid_badge_is_refused_and_nothing_is_written(ledger, clock, body):
    before = table_items(ledger.client, ledger.table_name)
    reply = define("bad", **body)
    assert reply.status == 422, reply.body
    assert reply.body["message"]
    assert table_items(ledger.client, ledger.table_name) == before


def test_only_an_admin_defines_or_lists_badges(ledger, clock):
    for claims in (SERVICE, member_token("m-1")):
        assert define("first-review", claims=claims, **FIRST_REVIEW).status == 403
        assert admin("GET", "/admin/badges", claims=claims).status == 403
    assert define("first-review", claims=None, **FIRST_REVIEW).status == 401
    assert define("Bad Id", **FIRST_REVIEW).status == 422
    assert ledger.list_badges() == []
    assert not [
        item
        for item in table_items(ledger.client, ledger.table_name)
        if item["PK"] == keys.BADGES_PK
    ]


def test_a_badge_id_outside_its_alphabet_is_a_422_not_a_404(ledger, clock):
    """Fuzzer finding: a path id the route's pattern refuses (here "×ø\x9b") was answered
    404 "no such route"; it is a 422 naming the rule, and nothing is written."""
    reply = define("\u00d7\u00f8\x9b", **FIRST_REVIEW)
    assert reply.status == 422, reply.body
    assert "badgeId" in reply.body["message"]
    assert ledger.list_badges() == []


# ---- outbound events ---------------------------------------------------------------------


def test_a_completed_challenge_is_announced_once_for_a_member_who_opted_in(
    table_name, stream, clock, monkeypatch
):
    """The badge's marker on the stream, through the events publisher (EventBridge mocked by
    moto): `badge.earned` and `challenge.completed`, the same ids when redelivered; nothing for
    a member who did not opt in to marketing."""
    define("december-orders", **CHALLENGE)
    enroll("fan", marketingConsent=True)
    enroll("quiet")
    for member_id in ("fan", "quiet"):
        play_orders(
            *(
                completed(
                    f"o-{member_id}-{n}", member_id, ("1.00", 1), at=f"2026-12-0{n}T10:00:00Z"
                )
                for n in (1, 2, 3)
            )
        )
    publisher_stream = StreamReader(table_name)
    publisher_stream.read()  # the publisher's reading starts here: the grants come next
    evaluate(stream)
    batch = delivered_to("EventsPublisherFunction", publisher_stream.read())

    with mock_aws(config={"core": {"service_whitelist": ["events", "sqs"]}}):
        sqs = boto3.client("sqs", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        events.create_event_bus(Name="badges-bus")
        queue_url = sqs.create_queue(QueueName="badges-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        events.put_rule(
            Name="tap", EventBusName="badges-bus", EventPattern=json.dumps({"source": ["loyalty"]})
        )
        events.put_targets(
            Rule="tap",
            EventBusName="badges-bus",
            Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        monkeypatch.setenv("EVENT_BUS_NAME", "badges-bus")
        runtime._event_bus.cache_clear()
        try:
            received = []
            for _ in range(2):  # the batch redelivered
                response = publisher.handler(batch, FakeLambdaContext())
                assert response == {"batchItemFailures": []}
            while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                for message in messages:
                    received.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        finally:
            runtime._event_bus.cache_clear()

    badge_events = [
        e for e in received if e["detail-type"] in ("badge.earned", "challenge.completed")
    ]
    assert sorted((e["detail"]["memberId"], e["detail-type"]) for e in badge_events) == [
        ("fan", "badge.earned"),
        ("fan", "badge.earned"),
        ("fan", "challenge.completed"),
        ("fan", "challenge.completed"),
    ]
    assert len({e["detail"]["eventId"] for e in badge_events}) == 2  # redelivery: same ids
    earned = next(e["detail"] for e in badge_events if e["detail-type"] == "badge.earned")
    assert {k: earned[k] for k in ("badgeId", "points", "challenge")} == {
        "badgeId": "december-orders",
        "points": 300,
        "challenge": True,
    }
    # The points themselves are account history: a points.earned for both members.
    badge_points = [
        e["detail"]["memberId"]
        for e in received
        if e["detail-type"] == "points.earned" and e["detail"]["reason"] == "badge"
    ]
    assert sorted(set(badge_points)) == ["fan", "quiet"]
