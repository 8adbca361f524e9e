"""Storefront API, the program's public rules (GET /program): what the member portal's "ways
to earn" and tier table are made from, with real HTTP API v2 events on DynamoDB Local."""

from __future__ import annotations

from typing import Any

import pytest

from functions.admin_api import app as admin_app
from tests.support.api import PROGRAM, member, order, play_orders, request
from tests.support.http import ADMIN, SERVICE, call, http_event, member_token

pytestmark = pytest.mark.usefixtures("table_name", "clock")

PUBLIC_FIELDS = {
    "pointsPerDollar",
    "categoryMultipliers",
    "seasonalMultipliers",
    "firstPurchaseBonus",
    "reviewPoints",
    "socialSharePoints",
    "socialShareMonthlyCap",
    "referral",
    "orderMilestones",
    "tenureMilestones",
    "birthdayBonus",
    "tiers",
    "expiryMonths",
    "pendingHoldDays",
}


def _admin_program(method: str, body: Any = None) -> Any:
    reply = call(admin_app.handler, http_event(method, "/admin/program", body=body, claims=ADMIN))
    assert reply.status == 200, reply.body
    return reply.body


def test_a_member_reads_the_default_programs_public_rules():
    reply = request(PROGRAM, claims=member_token("anyone"))
    assert reply.status == 200, reply.body
    body = reply.body
    assert set(body) == PUBLIC_FIELDS
    assert (body["pointsPerDollar"], body["firstPurchaseBonus"]) == (100, 150)
    assert (body["reviewPoints"], body["socialSharePoints"], body["socialShareMonthlyCap"]) == (
        50,
        80,
        5,
    )
    assert body["referral"] == {"referrerPoints": 70, "refereePoints": 70, "referrerMonthlyCap": 10}
    assert body["birthdayBonus"] == 1500
    assert body["orderMilestones"] == [{"orderCount": 100, "points": 1000}]
    assert body["tenureMilestones"] == [{"months": 2, "points": 200}]
    assert body["seasonalMultipliers"][0] == {
        "name": "black-friday-to-cyber-monday",
        "start": "black-friday",
        "end": "cyber-monday",
        "multiplier": "2",
        "earlyAccess": True,
    }
    assert [(t["name"], t["minPoints"]) for t in body["tiers"]] == [
        ("Bronze", 0),
        ("Silver", 1001),
        ("Gold", 5001),
    ]
    assert body["tiers"][2]["benefits"][0] == "15% member discount"
    assert (body["expiryMonths"], body["pendingHoldDays"]) == (12, 0)


def test_what_only_operators_need_is_left_out():
    body = request(PROGRAM, claims=member_token("anyone")).body
    assert "version" not in body
    assert "expiryWarningDays" not in body


@pytest.mark.parametrize(
    "claims", [SERVICE, ADMIN, member_token("someone-not-enrolled")], ids=["service", "admin", "m"]
)
def test_every_authenticated_caller_may_read_it(claims):
    assert request(PROGRAM, claims=claims).status == 200


def test_no_token_is_a_401():
    reply = request(PROGRAM, claims=None)
    assert reply.status == 401
    assert reply.body["message"]


def test_it_follows_the_rules_an_operator_saved():
    document = _admin_program("GET")
    document["referral"]["refereePoints"] = 120
    document["birthdayBonus"] = 900
    document["tiers"][1]["minPoints"] = 2000
    document["categoryMultipliers"] = {"shoes": 3}
    _admin_program("PUT", document)

    body = request(PROGRAM, claims=member_token("anyone")).body
    assert body["referral"]["refereePoints"] == 120
    assert body["birthdayBonus"] == 900
    assert body["tiers"][1]["minPoints"] == 2000
    assert body["categoryMultipliers"] == {"shoes": "3"}


def test_each_tier_shows_its_benefits_as_data():
    tiers = request(PROGRAM, claims=member_token("anyone")).body["tiers"]
    assert [
        (
            t["name"],
            t["memberDiscountPercent"],
            t["freeShippingThreshold"],
            t["earlyAccessHours"],
            t["earningMultiplier"],
        )
        for t in tiers
    ] == [
        ("Bronze", 0, None, 0, "1"),
        ("Silver", 0, None, 0, "1"),  # early access is opt-in
        ("Gold", 15, None, 0, "1"),
    ]


def test_tier_benefits_an_operator_saved_show_on_the_program_and_the_member_view():
    document = _admin_program("GET")
    document["tiers"][0]["freeShippingThreshold"] = "75.00"
    document["tiers"][2].update(
        {"earningMultiplier": "1.25", "freeShippingThreshold": "0.00", "earlyAccessHours": 72}
    )
    _admin_program("PUT", document)
    tiers = request(PROGRAM, claims=member_token("anyone")).body["tiers"]
    assert tiers[0]["freeShippingThreshold"] == "75.00"
    assert (tiers[2]["earningMultiplier"], tiers[2]["earlyAccessHours"]) == ("1.25", 72)

    play_orders(order("o-1", "gold", "60.00"))
    view = member("gold").body
    assert view["tier"] == "Gold"
    assert view["benefits"] == {
        "memberDiscountPercent": 15,
        "freeShippingThreshold": "0.00",
        "earlyAccessHours": 72,
        "earningMultiplier": "1.25",
        "perks": view["tierBenefits"],
    }


def test_an_old_rules_document_without_tier_benefits_is_still_accepted():
    document = _admin_program("GET")
    for tier in document["tiers"]:
        for field in (
            "memberDiscountPercent",
            "freeShippingThreshold",
            "earlyAccessHours",
            "earningMultiplier",
        ):
            del tier[field]
    for window in document["seasonalMultipliers"]:
        del window["earlyAccess"]
    saved = _admin_program("PUT", document)
    assert [t["earlyAccessHours"] for t in saved["tiers"]] == [0, 0, 0]
    assert saved["tiers"][2]["memberDiscountPercent"] == 15
