"""Storefront API, the program's public rules (GET /program): what the member portal's "ways
to earn" and tier table are made from, with real HTTP API v2 events on DynamoDB Local."""

from __future__ import annotations

from typing import Any

import pytest

from functions.admin_api import app as admin_app
from tests.support.api import PROGRAM, request
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
