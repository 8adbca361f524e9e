"""Operator API (admin scope): point adjustments, the rewards catalog, the program rules,
member lookup and the audit trail, with real HTTP API v2 events on DynamoDB Local."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from functions.admin_api import app as admin_app
from loyalty import runtime
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.operations import AuditRecord
from loyalty.domain.rules import ProgramRules
from tests.support.api import (
    NOW,
    REWARDS,
    all_activity,
    balance,
    enroll,
    item_of,
    order,
    play_orders,
    redeem,
    request,
    table_items,
)
from tests.support.events import completed
from tests.support.http import ADMIN, SERVICE, Reply, call, http_event, member_token
from tests.support.table import get_order

pytestmark = pytest.mark.usefixtures("table_name", "clock")


def admin(
    method: str,
    route: str,
    parameters: dict[str, str] | None = None,
    *,
    body: Any = None,
    claims: dict[str, Any] | None = ADMIN,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    event = http_event(
        method, route, parameters, body=body, claims=claims, query=query, headers=headers
    )
    return call(admin_app.handler, event)


def adjust(
    member_id: str, points: int, reason: str = "goodwill: late delivery", key: str | None = "k-1"
) -> Reply:
    headers = {"Idempotency-Key": key} if key is not None else None
    return admin(
        "POST",
        "/admin/members/{memberId}/adjustments",
        {"memberId": member_id},
        body={"points": points, "reason": reason},
        headers=headers,
    )


def put_reward(reward_id: str, body: dict[str, Any], reason: str | None = None) -> Reply:
    headers = {"X-Audit-Reason": reason} if reason else None
    return admin(
        "PUT", "/admin/rewards/{rewardId}", {"rewardId": reward_id}, body=body, headers=headers
    )


def member_with_points(member_id: str, dollars: str = "10.00") -> int:
    play_orders(order(f"o-{member_id}", member_id, dollars))
    return balance(member_id)


# ---- who may call --------------------------------------------------------------------------

ADMIN_CALLS: list[tuple[str, Callable[[dict[str, Any] | None], Reply]]] = [
    (
        "adjust",
        lambda claims: admin(
            "POST",
            "/admin/members/{memberId}/adjustments",
            {"memberId": "m-1"},
            body={"points": 10, "reason": "goodwill"},
            headers={"Idempotency-Key": "x"},
            claims=claims,
        ),
    ),
    (
        "put reward",
        lambda claims: admin(
            "PUT",
            "/admin/rewards/{rewardId}",
            {"rewardId": "mug"},
            body={"name": "Mug", "kind": "product", "cost": 300},
            claims=claims,
        ),
    ),
    ("list rewards", lambda claims: admin("GET", "/admin/rewards", claims=claims)),
    ("get program", lambda claims: admin("GET", "/admin/program", claims=claims)),
    (
        "put program",
        lambda claims: admin("PUT", "/admin/program", body={"pointsPerDollar": 1}, claims=claims),
    ),
    (
        "find member",
        lambda claims: admin(
            "GET", "/admin/members", query={"email": "m-1@example.com"}, claims=claims
        ),
    ),
    (
        "preview program",
        lambda claims: admin(
            "POST", "/admin/program/preview", body={"pointsPerDollar": 1}, claims=claims
        ),
    ),
    ("audit", lambda claims: admin("GET", "/admin/audit", claims=claims)),
]


@pytest.mark.parametrize(
    "caller,claims,status",
    [
        ("no token", None, 401),
        ("member", member_token("m-1"), 403),
        ("service", SERVICE, 403),
        ("member with a look-alike scope", {"sub": "m-1", "scope": "loyalty/admins"}, 403),
    ],
)
@pytest.mark.parametrize("name,call_route", ADMIN_CALLS, ids=[name for name, _ in ADMIN_CALLS])
def test_admin_routes_refuse_callers_without_the_admin_scope(
    snapshot, caller, claims, status, name, call_route
):
    enroll("m-1")
    member_with_points("m-1")
    before = snapshot()
    reply = call_route(claims)
    assert reply.status == status, (caller, name, reply.body)
    assert reply.body["message"]
    assert snapshot() == before


# ---- adjustments ---------------------------------------------------------------------------


def test_a_positive_adjustment_adds_points_with_the_operators_reason_and_an_audit_record(
    dynamodb_client, table_name
):
    enroll("m-1")
    reply = adjust("m-1", 250, "goodwill: parcel arrived late")
    assert reply.status == 201, reply.body
    assert reply.body["points"] == 250 and reply.body["balance"] == 250
    assert balance("m-1") == 250
    [entry] = all_activity("m-1")
    assert entry["entryId"] == reply.body["entryId"]
    assert (entry["type"], entry["points"], entry["reason"]) == (
        "adjust",
        250,
        "goodwill: parcel arrived late",
    )
    trail = admin("GET", "/admin/audit", query={"month": "2026-12"})
    assert trail.status == 200
    [record] = trail.body["items"]
    assert (record["actor"], record["action"], record["target"]) == (
        ADMIN["sub"],
        "points.adjusted",
        "m-1",
    )
    assert record["reason"] == "goodwill: parcel arrived late"
    assert record["details"]["points"] == "250"
    # Without a month: the month of the services' clock (pinned to December 2026), not the
    # machine's.
    assert admin("GET", "/admin/audit").body["items"] == trail.body["items"]
    # The points count towards the tier like any earning, and expire like any earning.
    view = request_member("m-1")
    assert view["tierPoints"] == 250
    assert view["expiring"] == [{"points": 250, "expiresAt": "2027-12-10T12:00:00Z"}]


def request_member(member_id: str) -> dict[str, Any]:
    from tests.support.api import member

    reply = member(member_id)
    assert reply.status == 200
    return reply.body


def test_an_adjustment_is_made_once_per_idempotency_key(snapshot):
    enroll("m-1")
    first = adjust("m-1", 100, key="ticket-42")
    assert first.status == 201
    after_first = snapshot()
    again = adjust("m-1", 100, key="ticket-42")
    assert again.status == 201
    assert again.body["entryId"] == first.body["entryId"]
    assert again.body["balance"] == 100
    assert snapshot() == after_first
    other_body = adjust("m-1", 999, key="ticket-42")
    assert other_body.status == 422
    assert "Idempotency-Key" in other_body.body["message"]
    assert snapshot() == after_first
    assert balance("m-1") == 100


def test_a_negative_adjustment_takes_points_but_never_below_zero(snapshot):
    enroll("m-1")
    points = member_with_points("m-1")  # 1000 + 150 first-purchase bonus
    assert points == 1150
    before = snapshot()
    refused = adjust("m-1", -1151, "correction: duplicate order", key="a")
    assert refused.status == 409
    assert "below zero" in refused.body["message"]
    assert snapshot() == before
    taken = adjust("m-1", -150, "correction: bonus given twice", key="b")
    assert taken.status == 201
    assert taken.body["balance"] == 1000
    assert balance("m-1") == 1000
    entries = all_activity("m-1")
    assert entries[0]["type"] == "adjust" and entries[0]["points"] == -150
    assert sum(e["points"] for e in entries) == 1000
    # Taking points back does not lower the tier basis (like a redemption).
    assert request_member("m-1")["tierPoints"] == 1150


@pytest.mark.parametrize(
    "body,headers,status",
    [
        ({"points": 0, "reason": "nothing"}, {"Idempotency-Key": "k"}, 422),
        ({"points": 10}, {"Idempotency-Key": "k"}, 422),
        ({"points": 10, "reason": "call jane@example.com"}, {"Idempotency-Key": "k"}, 422),
        ({"points": 10, "reason": "phoned +1 555 123 4567"}, {"Idempotency-Key": "k"}, 422),
        ({"points": "10", "reason": "string points"}, {"Idempotency-Key": "k"}, 422),
        ({"points": 10.5, "reason": "fractional"}, {"Idempotency-Key": "k"}, 422),
        ({"points": 10, "reason": "no key"}, None, 422),
        ("{not json", {"Idempotency-Key": "k"}, 400),
    ],
)
def test_a_bad_adjustment_is_refused_and_changes_nothing(snapshot, body, headers, status):
    enroll("m-1")
    before = snapshot()
    reply = admin(
        "POST",
        "/admin/members/{memberId}/adjustments",
        {"memberId": "m-1"},
        body=body,
        headers=headers,
    )
    assert reply.status == status, reply.body
    assert reply.body["message"]
    assert snapshot() == before


def test_adjusting_an_unknown_member_is_404():
    assert adjust("nobody", 10).status == 404


# ---- rewards catalog ---------------------------------------------------------------------------


def test_an_operator_creates_updates_and_retires_a_reward(dynamodb_client, table_name):
    created = put_reward(
        "mug",
        {"name": "Loyalty mug", "kind": "product", "cost": 300, "stock": 2},
        reason="winter campaign",
    )
    assert created.status == 201, created.body
    assert created.body["rewardId"] == "mug" and created.body["active"] is True
    listed = {r["rewardId"]: r for r in request(REWARDS).body["items"]}
    assert listed["mug"]["cost"] == 300 and listed["mug"]["stock"] == 2

    updated = put_reward("mug", {"name": "Loyalty mug", "kind": "product", "cost": 250})
    assert updated.status == 200
    assert {r["rewardId"]: r for r in request(REWARDS).body["items"]}["mug"]["cost"] == 250

    enroll("m-1")
    member_with_points("m-1")
    assert (
        put_reward(
            "mug", {"name": "Loyalty mug", "kind": "product", "cost": 250, "active": False}
        ).status
        == 200
    )
    assert "mug" not in {r["rewardId"] for r in request(REWARDS).body["items"]}
    assert redeem("m-1", "mug").status == 404
    everything = admin("GET", "/admin/rewards").body["items"]
    assert {r["rewardId"]: r["active"] for r in everything} == {
        "discount-10": True,
        "free-shipping": True,
        "mug": False,
    }
    actions = [
        r["action"] for r in admin("GET", "/admin/audit", query={"month": "2026-12"}).body["items"]
    ]
    assert sorted(actions) == ["reward.created", "reward.updated", "reward.updated"]


def test_an_operator_changes_a_default_reward_and_the_storefront_sees_it():
    reply = put_reward(
        "discount-10",
        {"name": "10% off", "kind": "discount", "cost": 800, "discountPercent": 10},
    )
    assert reply.status == 200  # the contract's default exists: an update, not a creation
    listed = {r["rewardId"]: r for r in request(REWARDS).body["items"]}
    assert listed["discount-10"]["cost"] == 800
    enroll("m-1")
    member_with_points("m-1")
    redeemed = redeem("m-1", "discount-10")
    assert redeemed.status == 201 and redeemed.body["pointsSpent"] == 800


@pytest.mark.parametrize(
    "reward_id,body",
    [
        ("ten", {"name": "10%", "kind": "discount", "cost": 100}),  # no discountPercent
        ("ship", {"name": "Ship", "kind": "free_shipping", "cost": 100, "discountPercent": 5}),
        ("mug", {"name": "Mug", "kind": "product", "cost": 0}),
        ("mug", {"name": "Mug", "kind": "product", "cost": 10, "minTier": "Platinum"}),
        ("mug", {"name": "Mug", "kind": "mystery", "cost": 10}),
        ("mug", {"name": "", "kind": "product", "cost": 10}),
        ("mug", {"name": "Mug", "kind": "product", "cost": 10, "stock": -1}),
        ("Bad Id!", {"name": "Mug", "kind": "product", "cost": 10}),
        ("mug", {"name": "Mug", "kind": "product", "cost": 10, "colour": "blue"}),
    ],
)
def test_an_invalid_reward_is_refused_with_the_reason_and_changes_nothing(
    snapshot, reward_id, body
):
    before = snapshot()
    reply = put_reward(reward_id, body)
    assert reply.status == 422, reply.body
    assert reply.body["message"]
    assert snapshot() == before


# ---- program rules ----------------------------------------------------------------------------


def test_the_program_document_starts_as_the_contracts_default():
    reply = admin("GET", "/admin/program")
    assert reply.status == 200
    assert reply.body["version"] == 1
    assert reply.body["pointsPerDollar"] == 100
    assert reply.body["tiers"][1] == {
        "name": "Silver",
        "minPoints": 1001,
        "benefits": ["Early access to sales", "Priority support"],
        "memberDiscountPercent": 0,
        "freeShippingThreshold": None,
        "earlyAccessHours": 0,  # opt-in: the contract's windows are for everyone
        "earningMultiplier": "1",
    }


def test_a_rules_update_changes_the_next_orders_points_and_leaves_past_entries_alone(
    dynamodb_client, table_name
):
    play_orders(order("o-1", "m-1", "10.00"))
    before = all_activity("m-1")
    assert [e["points"] for e in before] == [150, 1000]

    document = admin("GET", "/admin/program").body
    document["pointsPerDollar"] = 250
    document["firstPurchaseBonus"] = 0
    saved = admin("PUT", "/admin/program", body=document, headers={"X-Audit-Reason": "launch"})
    assert saved.status == 200, saved.body
    assert saved.body["version"] == 2 and saved.body["pointsPerDollar"] == 250
    assert admin("GET", "/admin/program").body["version"] == 2

    play_orders(order("o-2", "m-1", "10.00", at="2026-11-12T10:00:00Z"))
    after = all_activity("m-1")
    assert after[1:] == before  # past entries never change
    assert after[0]["points"] == 2500
    # Each earned amount keeps the rules version that produced it.
    entries = {
        item["SK"]["S"]: item
        for item in _member_items(dynamodb_client, table_name, "m-1")
        if item["SK"]["S"].startswith("ENTRY#")
    }
    versions = sorted(item["details"]["M"]["rulesVersion"]["S"] for item in entries.values())
    assert versions == ["1", "1", "2"]
    # A refund of the first order reverses what it earned then, not at today's rate.
    from tests.support.events import refunded

    play_orders(refunded("o-1", "r-1", "m-1", "10.00"))
    assert balance("m-1") == 2500
    # Both versions are kept.
    assert item_of(dynamodb_client, table_name, "PROGRAM", "RULES#v000002") is not None


def _member_items(client: Any, table_name: str, member_id: str) -> list[dict[str, Any]]:
    response = client.query(
        TableName=table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"MEMBER#{member_id}"}},
    )
    return response["Items"]


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"pointsPerDollar": -1}, "pointsPerDollar"),
        ({"tiers": [{"name": "Gold", "minPoints": 0}]}, "tiers"),
        ({"expiryMonths": 0}, "expiryMonths"),
        (
            {
                "seasonalMultipliers": [
                    {"name": "x", "start": "02-30", "end": "03-01", "multiplier": 2}
                ]
            },
            "seasonalMultipliers",
        ),
        ({"unknownRule": 1}, "unknownRule"),
        ({"pointsPerDollar": "lots"}, "pointsPerDollar"),
    ],
)
def test_an_invalid_rules_document_is_refused_with_the_reasons_and_changes_nothing(
    snapshot, change, problem
):
    document = admin("GET", "/admin/program").body | change
    before = snapshot()
    reply = admin("PUT", "/admin/program", body=document)
    assert reply.status == 422, reply.body
    assert problem in str(reply.body["errors"])
    assert snapshot() == before
    assert admin("GET", "/admin/program").body["version"] == 1


def test_a_rules_update_from_a_stale_copy_is_refused(snapshot):
    stale = admin("GET", "/admin/program").body
    first = admin("PUT", "/admin/program", body=stale | {"pointsPerDollar": 150})
    assert first.status == 200 and first.body["version"] == 2
    before = snapshot()
    second = admin("PUT", "/admin/program", body=stale | {"pointsPerDollar": 175})
    assert second.status == 409
    assert "version" in second.body["message"]
    assert snapshot() == before
    assert admin("GET", "/admin/program").body["pointsPerDollar"] == 150


def test_a_warm_container_applies_a_rules_change_within_a_minute(monkeypatch, table_name):
    seconds = [1000.0]
    monkeypatch.setattr(runtime._rules_cache, "clock", lambda: seconds[0])
    runtime.forget_rules()
    play_orders(order("o-1", "m-1", "1.00"))  # this container reads the rules: version 1
    # Another container (another operator's call) saves version 2.
    DynamoLedgerRepository(table_name).put_program(
        ProgramRules(version=2, points_per_dollar=1000, first_purchase_bonus=0),
        replaces=None,
        audit=AuditRecord("ops", "program.updated", "program", "test", NOW),
        now=NOW,
    )
    seconds[0] += 30
    play_orders(order("o-2", "m-1", "1.00", at="2026-11-11T10:00:00Z"))
    assert all_activity("m-1")[0]["points"] == 100  # still the cached rules
    seconds[0] += 31
    play_orders(order("o-3", "m-1", "1.00", at="2026-11-12T10:00:00Z"))
    assert all_activity("m-1")[0]["points"] == 1000  # a minute on: the new rules


# ---- member lookup ----------------------------------------------------------------------------


def test_an_operator_finds_a_member_by_email_whatever_its_case():
    enroll("m-1", email="Ada.Lovelace@Example.com")
    member_with_points("m-1")
    found = admin("GET", "/admin/members", query={"email": "ada.lovelace@example.COM"})
    assert found.status == 200
    [view] = found.body["items"]
    assert view["memberId"] == "m-1" and view["balance"] == 1150
    missing = admin("GET", "/admin/members", query={"email": "nobody@example.com"})
    assert missing.status == 200 and missing.body["items"] == []
    assert admin("GET", "/admin/members", query={"email": "not-an-email"}).status == 422
    assert admin("GET", "/admin/members").status == 422


# ---- the program preview ("what would change") ------------------------------------------


def preview(document: dict[str, Any], days: str | None = None) -> Reply:
    query = {"days": days} if days is not None else None
    return admin("POST", "/admin/program/preview", body=document, query=query)


def test_the_preview_replays_recent_orders_under_the_draft_per_tier_and_writes_nothing(
    dynamodb_client, table_name
):
    """NOW is 2026-12-10 12:00; the orders avoid the default seasonal windows."""
    play_orders(
        completed(
            "o-1", "m-1", ("10.00", 1, "shoes"), ("5.00", 2, "hats"), at="2026-11-20T09:00:00Z"
        ),
        completed("o-2", "m-1", ("40.00", 1, "shoes"), at="2026-12-01T09:00:00Z"),
        completed("o-3", "m-2", ("3.00", 1), at="2026-12-09T23:59:00Z"),
        completed("o-old", "m-3", ("99.00", 1), at="2026-10-01T09:00:00Z"),  # 70 days back
    )
    # m-1: o-1 1,000 + 1,000 + 150 bonus (Bronze); o-2 4,000 at Silver (2,150 points by then)
    draft = admin("GET", "/admin/program").body
    draft["categoryMultipliers"] = {"shoes": "2"}
    draft["firstPurchaseBonus"] = 300
    items_before = table_items(dynamodb_client, table_name)

    reply = preview(draft)

    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["start"], body["end"]) == ("2026-11-10T12:00:00Z", "2026-12-10T12:00:00Z")
    assert body["draftVersion"] == 1 and body["rulesVersions"] == [1]
    assert body["truncated"] is False
    assert body["byTier"]["Bronze"] == {
        "orders": 2,  # o-1 (m-1's first) and o-3 (m-2's first)
        "awarded": (1000 + 1000 + 150) + (300 + 150),
        "wouldAward": (2000 + 1000 + 300) + (300 + 300),
        "difference": (3300 + 600) - (2150 + 450),
    }
    assert body["byTier"]["Silver"] == {
        "orders": 1,
        "awarded": 4000,
        "wouldAward": 8000,
        "difference": 4000,
    }
    assert body["byTier"]["Gold"]["orders"] == 0
    assert body["total"]["orders"] == 3
    assert body["total"]["difference"] == 1300 + 4000
    assert table_items(dynamodb_client, table_name) == items_before  # nothing written
    assert admin("GET", "/admin/program").body["firstPurchaseBonus"] == 150  # nor saved

    longer = preview(draft, days="90").body
    assert longer["total"]["orders"] == 4  # o-old is 70 days back
    assert longer["total"]["awarded"] == body["total"]["awarded"] + 9900 + 150


def test_the_preview_counts_an_order_awarded_without_a_read_under_the_members_tier(table_name):
    play_orders(
        completed("o-1", "m-1", ("20.00", 1), at="2026-12-01T09:00:00Z"),  # 2,150: Silver
        completed("o-2", "m-1", ("1.00", 1), at="2026-12-02T09:00:00Z"),  # 100 more
    )
    assert (
        get_order(DynamoLedgerRepository(table_name), "o-2").tier is None
    )  # awarded without reading the member
    body = preview(admin("GET", "/admin/program").body).body
    assert body["byTier"]["Bronze"]["orders"] == 1  # o-1, awarded at Bronze
    assert body["byTier"]["Silver"] == {
        "orders": 1,
        "awarded": 100,
        "wouldAward": 100,
        "difference": 0,
    }


def test_the_preview_refuses_an_invalid_draft_or_period_with_422():
    document = admin("GET", "/admin/program").body

    bad_rules = preview({**document, "pointsPerDollar": -1})
    assert bad_rules.status == 422, bad_rules.body
    assert any("pointsPerDollar" in str(e["field"]) for e in bad_rules.body["errors"])
    for days in ("0", "91", "x"):
        bad_days = preview(document, days=days)
        assert bad_days.status == 422, (days, bad_days.body)
        assert any("days" in str(e["field"]) for e in bad_days.body["errors"])
    assert preview([document]).status == 422  # a JSON array is no rules document


def test_the_preview_of_a_period_without_orders_is_all_zeros():
    reply = preview(admin("GET", "/admin/program").body, days="7")

    assert reply.status == 200, reply.body
    assert reply.body["total"] == {"orders": 0, "awarded": 0, "wouldAward": 0, "difference": 0}
    assert reply.body["rulesVersions"] == []
