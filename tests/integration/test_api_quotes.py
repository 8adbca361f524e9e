"""Points preview for carts (POST /quotes) and promotions as a tier sees them
(GET /promotions), with real HTTP API v2 events on DynamoDB Local. Every date is fixed: the
services' clock is pinned (the `clock` fixture), and quotes name their `at`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.admin_api import app as admin_app
from tests.support.api import (
    PROMOTIONS,
    QUOTE,
    USE_COUPON,
    all_activity,
    coupon_request,
    enroll,
    order,
    play_orders,
    redeem,
    request,
)
from tests.support.http import ADMIN, SERVICE, call, http_event, member_token
from tests.support.rules import early_access_document

pytestmark = pytest.mark.usefixtures("table_name", "clock")

TIER_RATES = (
    '{"categoryMultipliers": {"shoes": "2"}, "tiers": [{"name": "Bronze", "minPoints": 0},'
    ' {"name": "Silver", "minPoints": 1001, "freeShippingThreshold": "75.00"},'
    ' {"name": "Gold", "minPoints": 5001, "earningMultiplier": "1.25",'
    ' "freeShippingThreshold": "0.00"}]}'
)
PLAIN_DAY = "2026-12-09T12:00:00Z"  # no promotion open, for any tier
BLACK_FRIDAY = "2026-11-27T15:00:00Z"


def line(price: str, quantity: int = 1, category: str | None = None, sku: str = "SKU-1"):
    body: dict[str, Any] = {"sku": sku, "quantity": quantity, "unitPrice": price}
    if category is not None:
        body["category"] = category
    return body


def quote(lines: list[dict[str, Any]], member_id: str | None = None, at: str | None = PLAIN_DAY):
    body: dict[str, Any] = {"lines": lines}
    if member_id is not None:
        body["memberId"] = member_id
    if at is not None:
        body["at"] = at
    reply = request(QUOTE, body=body, claims=SERVICE)
    assert reply.status == 200, reply.body
    return reply.body


@pytest.fixture
def early_access(monkeypatch):
    """Early access on (it is opt-in): Silver 24 h, Gold 48 h."""
    monkeypatch.setenv("PROGRAM_RULES", json.dumps(early_access_document()))


@pytest.fixture
def tier_rates(monkeypatch):
    monkeypatch.setenv("PROGRAM_RULES", TIER_RATES)


def make_gold(member_id: str = "gold") -> None:
    play_orders(order(f"{member_id}-o1", member_id, "60.00", at="2026-11-01T10:00:00Z"))


# ---- POST /quotes ----------------------------------------------------------------------------


def test_a_guests_cart_earns_the_purchase_points_and_the_first_purchase_bonus(snapshot):
    before = snapshot()
    body = quote([line("19.99", 2)])
    assert snapshot() == before  # a quote writes nothing
    assert (body["memberId"], body["guest"], body["tier"]) == (None, True, "Bronze")
    assert (body["purchasePoints"], body["firstPurchaseBonus"], body["totalPoints"]) == (
        3998,
        150,
        4148,
    )
    assert body["lines"] == [
        {
            "sku": "SKU-1",
            "category": None,
            "quantity": 2,
            "unitPrice": "19.99",
            "amount": "39.98",
            "categoryMultiplier": "1",
            "seasonalMultiplier": "1",
            "tierMultiplier": "1",
            "points": "3998",
        }
    ]
    assert (body["memberDiscountPercent"], body["freeShippingThreshold"]) == (0, None)
    assert (body["promotion"], body["earlyAccess"], body["at"]) == (None, False, PLAIN_DAY)


def test_an_unknown_member_is_quoted_as_a_guest_and_the_order_then_earns_exactly_that():
    body = quote([line("12.34", 3, sku="A"), line("0.99", sku="B")], member_id="new-1")
    assert (body["memberId"], body["guest"]) == ("new-1", True)
    play_orders(
        {
            **order("o-new", "new-1", at=PLAIN_DAY),
            "lines": [line("12.34", 3, sku="A"), line("0.99", sku="B")],
        }
    )
    earned = sum(entry["points"] for entry in all_activity("new-1"))
    assert earned == body["totalPoints"] == 3702 + 99 + 150


def test_a_bronze_member_with_orders_gets_no_bonus():
    play_orders(order("o-1", "m-1", "1.00", at="2026-11-02T10:00:00Z"))
    body = quote([line("10.00")], member_id="m-1")
    assert (body["guest"], body["tier"], body["firstPurchaseBonus"]) == (False, "Bronze", 0)
    assert body["totalPoints"] == 1000


def test_an_enrolled_member_without_an_order_would_earn_the_first_purchase_bonus():
    assert enroll("m-1").status == 201
    body = quote([line("10.00")], member_id="m-1")
    assert (body["guest"], body["firstPurchaseBonus"], body["totalPoints"]) == (False, 150, 1150)


@pytest.mark.usefixtures("tier_rates")
def test_a_gold_member_with_a_multiplier_earns_it_and_sees_the_tiers_benefits():
    make_gold()
    body = quote([line("3.33", 3, "shoes"), line("0.01")], member_id="gold")
    assert (body["tier"], body["tierMultiplier"]) == ("Gold", "1.25")
    # 9.99 × 2 × 100 × 1.25 = 2497.5 and 0.01 × 100 × 1.25 = 1.25: 2498.75 → 2498
    assert [(item["categoryMultiplier"], item["points"]) for item in body["lines"]] == [
        ("2", "2497.5"),
        ("1", "1.25"),
    ]
    assert (body["purchasePoints"], body["totalPoints"]) == (2498, 2498)
    assert (body["memberDiscountPercent"], body["freeShippingThreshold"]) == (15, "0.00")
    # The order then earns exactly the quote.
    play_orders(
        {
            **order("gold-o2", "gold", at=PLAIN_DAY),
            "lines": [line("3.33", 3, "shoes"), line("0.01", sku="SKU-2")],
        }
    )
    purchase = next(e for e in all_activity("gold") if e["reference"] == "gold-o2")
    assert purchase["points"] == 2498


@pytest.mark.usefixtures("tier_rates")
def test_a_category_multiplier_applies_to_its_lines_only():
    body = quote([line("10.00", category="shoes"), line("10.00", category="hats")])
    assert [item["categoryMultiplier"] for item in body["lines"]] == ["2", "1"]
    assert body["purchasePoints"] == 3000


def test_a_seasonal_day_doubles_the_points_and_names_the_promotion():
    body = quote([line("25.00")], at=BLACK_FRIDAY)
    assert (body["seasonalMultiplier"], body["promotion"]) == (
        "2",
        "black-friday-to-cyber-monday",
    )
    assert body["earlyAccess"] is False
    assert body["lines"][0]["seasonalMultiplier"] == "2"
    assert body["purchasePoints"] == 5000


@pytest.mark.usefixtures("early_access")
def test_early_access_shows_in_a_gold_members_quote_and_not_in_a_guests():
    make_gold()
    wednesday = "2026-11-25T10:00:00Z"  # 38 hours before Black Friday
    gold = quote([line("10.00")], member_id="gold", at=wednesday)
    assert (gold["seasonalMultiplier"], gold["earlyAccess"], gold["purchasePoints"]) == (
        "2",
        True,
        2000,
    )
    guest = quote([line("10.00")], at=wednesday)
    assert (guest["seasonalMultiplier"], guest["promotion"], guest["purchasePoints"]) == (
        "1",
        None,
        1000,
    )


def test_without_at_the_quote_is_for_now(clock):
    clock.set(BLACK_FRIDAY)
    body = quote([line("1.00")], at=None)
    assert body["at"] == BLACK_FRIDAY
    assert body["purchasePoints"] == 200


def test_an_erased_member_is_not_found(snapshot):
    play_orders(order("o-1", "m-1", "10.00"))
    erased = call(
        admin_app.handler,
        http_event("DELETE", "/members/{memberId}", {"memberId": "m-1"}, claims=ADMIN),
    )
    assert erased.status == 204
    before = snapshot()
    body = {"memberId": "m-1", "lines": [line("1.00")]}
    assert request(QUOTE, body=body, claims=SERVICE).status == 404
    assert request(PROMOTIONS, claims=SERVICE, query={"memberId": "m-1"}).status == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "body.lines"),
        ({}, "body.lines"),
        ({"lines": [line("19.99")] * 1001}, "body.lines"),
        ({"lines": [{"sku": "S", "quantity": 1, "unitPrice": 19.99}]}, "body.lines.0.unitPrice"),
        ({"lines": [{"sku": "S", "quantity": 1, "unitPrice": "19.9"}]}, "body.lines.0.unitPrice"),
        ({"lines": [{"sku": "S", "quantity": 0, "unitPrice": "1.00"}]}, "body.lines.0.quantity"),
        ({"lines": [{"sku": "S", "quantity": "2", "unitPrice": "1.00"}]}, "body.lines.0.quantity"),
        ({"lines": [{"sku": "", "quantity": 1, "unitPrice": "1.00"}]}, "body.lines.0.sku"),
        ({"lines": [{"quantity": 1, "unitPrice": "1.00"}]}, "body.lines.0.sku"),
        ({"lines": [line("1.00", category="")]}, "body.lines.0.category"),
        ({"lines": [line("1.00")], "memberId": "not valid!"}, "body.memberId"),
        ({"lines": [line("1.00")], "at": "2026-12-09T12:00:00"}, "body.at"),
        ({"lines": [line("1.00")], "at": 1795989360}, "body.at"),
        ({"lines": [line("1.00")], "currency": "USD"}, "body.currency"),
    ],
    ids=[
        "no lines",
        "lines missing",
        "1001 lines",
        "money as a number",
        "one decimal",
        "quantity 0",
        "quantity as a string",
        "empty sku",
        "sku missing",
        "empty category",
        "bad memberId",
        "at without offset",
        "at as a number",
        "unknown field",
    ],
)
def test_an_invalid_cart_is_a_422_with_the_reason(body, field, snapshot):
    before = snapshot()
    reply = request(QUOTE, body=body, claims=SERVICE)
    assert reply.status == 422, reply.body
    assert reply.body["message"]
    assert field in {error["field"] for error in reply.body["errors"]}, reply.body
    assert snapshot() == before


# ---- GET /promotions -------------------------------------------------------------------------


def promotions(claims: dict[str, Any] | None, **query: str) -> Any:
    reply = request(PROMOTIONS, claims=claims, query=query or None)
    assert reply.status == 200, reply.body
    return reply.body


def by_name(body: Any) -> dict[str, Any]:
    return {item["name"]: item for item in body["items"]}


@pytest.mark.usefixtures("early_access")
def test_a_gold_member_sees_a_sale_open_48_hours_before_a_bronze_member(clock):
    clock.set("2026-11-20T00:00:00Z")
    make_gold("gold")
    play_orders(order("b-o1", "bronze", "1.00", at="2026-11-01T10:00:00Z"))
    gold = by_name(promotions(member_token("gold")))["black-friday-to-cyber-monday"]
    bronze = by_name(promotions(member_token("bronze")))["black-friday-to-cyber-monday"]
    assert gold == {
        "name": "black-friday-to-cyber-monday",
        "multiplier": "2",
        "opensForYouAt": "2026-11-25T00:00:00Z",
        "opensForEveryoneAt": "2026-11-27T00:00:00Z",
        "endsAt": "2026-12-01T00:00:00Z",
        "openNow": False,
    }
    assert bronze["opensForYouAt"] == bronze["opensForEveryoneAt"] == "2026-11-27T00:00:00Z"

    clock.set("2026-11-25T10:00:00Z")
    assert by_name(promotions(member_token("gold")))["black-friday-to-cyber-monday"]["openNow"]
    assert not by_name(promotions(member_token("bronze")))["black-friday-to-cyber-monday"][
        "openNow"
    ]
    clock.set("2026-11-27T00:00:00Z")
    assert by_name(promotions(member_token("bronze")))["black-friday-to-cyber-monday"]["openNow"]


def test_the_promotions_are_listed_soonest_first_with_the_callers_tier(clock):
    clock.set("2026-12-10T12:00:00Z")
    body = promotions(member_token("nobody-yet"))  # not enrolled: a guest, Bronze
    assert (body["tier"], body["earlyAccessHours"], body["at"]) == (
        "Bronze",
        0,
        "2026-12-10T12:00:00Z",
    )
    assert [(i["name"], i["opensForYouAt"]) for i in body["items"]] == [
        ("holidays", "2026-12-20T00:00:00Z"),
        ("black-friday-to-cyber-monday", "2027-11-26T00:00:00Z"),
    ]


@pytest.mark.usefixtures("early_access")
def test_a_service_asks_for_a_member_or_a_tier(clock):
    clock.set("2026-11-20T00:00:00Z")
    make_gold("gold")
    assert promotions(SERVICE, memberId="gold")["tier"] == "Gold"
    assert promotions(ADMIN, tier="Silver")["earlyAccessHours"] == 24
    assert promotions(SERVICE, memberId="unknown")["tier"] == "Bronze"
    assert promotions(SERVICE)["tier"] == "Bronze"
    # Both: the member's own tier decides (found by the fuzzer: a schema-valid request).
    assert promotions(SERVICE, memberId="gold", tier="Bronze")["tier"] == "Gold"
    silver = by_name(promotions(SERVICE, tier="Silver"))["black-friday-to-cyber-monday"]
    assert silver["opensForYouAt"] == "2026-11-26T00:00:00Z"


@pytest.mark.parametrize(
    ("claims", "query", "status"),
    [
        (member_token("m-1"), {"memberId": "m-2"}, 403),
        (member_token("m-1"), {"tier": "Gold"}, 403),
        (SERVICE, {"tier": "Platinum"}, 422),
        (SERVICE, {"memberId": "not valid!"}, 422),
        (None, {}, 401),
    ],
    ids=["member other", "member tier", "unknown tier", "bad memberId", "no token"],
)
def test_promotions_refusals(claims, query, status):
    reply = request(PROMOTIONS, claims=claims, query=query or None)
    assert reply.status == status, reply.body
    assert reply.body["message"]


def test_a_member_may_name_themself():
    assert promotions(member_token("m-1"), memberId="m-1")["tier"] == "Bronze"


def test_a_quote_costs_one_read_for_a_member_and_none_for_a_guest(monkeypatch):
    from botocore.client import BaseClient

    play_orders(order("o-1", "m-1", "10.00"))
    quote([line("1.00")], member_id="m-1")  # the rules in force are read once a minute
    calls: list[str] = []
    original = BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    quote([line("1.00")], member_id="m-1")
    assert calls == ["Query"]  # the profile and the coupons together
    calls.clear()
    quote([line("1.00")])
    assert calls == []


def test_a_quote_lists_the_coupons_the_member_could_use(clock):
    """Active ones only (not used, voided or expired), newest first; none for a guest."""
    clock.set("2026-12-09T09:00:00Z")
    play_orders(order("o-1", "m-1", "40.00", at="2026-12-01T10:00:00Z"))
    codes = []
    for key in ("a", "b", "c"):
        reply = redeem("m-1", "free-shipping", key=key)
        assert reply.status == 201, reply.body
        codes.append(reply.body["couponCode"])
        clock.advance(minutes=1)
    used = coupon_request(USE_COUPON, codes[0], body={"orderId": "o-2", "memberId": "m-1"})
    assert used.status == 200, used.body

    body = quote([line("1.00")], member_id="m-1")

    assert [c["code"] for c in body["coupons"]] == [codes[2], codes[1]]
    assert {c["status"] for c in body["coupons"]} == {"active"}
    assert body["coupons"][0]["kind"] == "free_shipping"
    assert quote([line("1.00")])["coupons"] == []
    later = quote([line("1.00")], member_id="m-1", at="2027-03-10T09:00:00Z")
    assert later["coupons"] == []  # 90 days on, both have expired
