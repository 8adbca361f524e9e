"""Storefront API, members: enrollment, the member view, profile changes, activity and
referrals, through the members function with real HTTP API v2 events on DynamoDB Local."""

from __future__ import annotations

import base64
import re

import pytest

from tests.support.api import (
    ACTIVITY,
    ENROLL,
    MEMBER_ROUTES,
    NOW,
    PATCH_MEMBER,
    REFERRALS,
    REVIEW,
    SHARE,
    Route,
    all_activity,
    balance,
    enroll,
    iso,
    item_of,
    member,
    order,
    play_orders,
    profile,
    redeem,
    request,
    review,
    share,
    valid_body,
)
from tests.support.http import SERVICE, member_token

pytestmark = pytest.mark.usefixtures("table_name", "clock")

REFERRAL_CODE = re.compile(r"^[A-HJ-NP-Z2-9]{8}$")


# ---- POST /members ------------------------------------------------------------------------


def test_enrollment_creates_the_member_with_an_empty_standing():
    reply = enroll("m-1", name="Ann Lee", email="Ann.Lee@Example.com")
    assert reply.status == 201
    view = reply.body
    assert view["memberId"] == "m-1"
    assert view["name"] == "Ann Lee"
    assert view["email"] == "ann.lee@example.com"
    assert view["tier"] == "Bronze"
    assert (view["balance"], view["pendingPoints"], view["tierPoints"]) == (0, 0, 0)
    assert view["nextTier"] == {"name": "Silver", "pointsNeeded": 1001}
    assert view["expiring"] == []
    assert REFERRAL_CODE.match(view["referralCode"])
    assert view["enrolledAt"] == iso(NOW)
    assert member("m-1").body == view


def test_enrolling_again_updates_the_profile_and_changes_no_points(clock):
    first = enroll("m-1", name="Ann")
    play_orders(order("o-1", "m-1", "10.00"))
    clock.advance(days=3)
    again = enroll("m-1", name="Ann Marie", email="ann.marie@example.com")
    assert again.status == 200
    assert again.body["name"] == "Ann Marie"
    assert again.body["email"] == "ann.marie@example.com"
    assert again.body["balance"] == 1150
    assert again.body["tierPoints"] == 1150
    assert again.body["referralCode"] == first.body["referralCode"]
    assert again.body["enrolledAt"] == first.body["enrolledAt"]
    assert [entry["points"] for entry in all_activity("m-1")] == [150, 1000]


def test_a_member_first_enrolled_by_an_order_signs_up_later_and_keeps_the_points():
    play_orders(order("o-1", "c-9", "12.34"))
    before = member("c-9").body
    assert before["balance"] == 1234 + 150
    assert before["name"] is None
    reply = enroll("c-9", name="Cleo", email="cleo@example.com")
    assert reply.status == 200
    assert reply.body["name"] == "Cleo"
    assert reply.body["balance"] == 1384
    assert reply.body["tierPoints"] == 1384
    assert reply.body["referralCode"] == before["referralCode"]
    assert reply.body["enrolledAt"] == before["enrolledAt"]


def test_a_member_may_enroll_itself():
    reply = enroll("m-self", claims=member_token("m-self"))
    assert reply.status == 201
    assert reply.body["memberId"] == "m-self"


@pytest.mark.parametrize("email", ["m-1@example.com", "M-1@EXAMPLE.com", "  m-1@example.com "])
def test_the_email_of_another_member_is_refused(email, snapshot):
    assert enroll("m-1").status == 201
    before = snapshot()
    reply = enroll("m-2", email=email)
    assert reply.status == 409
    assert reply.body["message"]
    assert snapshot() == before
    assert member("m-2").status == 404


def test_changing_email_frees_the_old_address():
    assert enroll("m-1", email="first@example.com").status == 201
    assert enroll("m-1", email="second@example.com").status == 200
    assert enroll("m-2", email="first@example.com").status == 201
    assert enroll("m-3", email="second@example.com").status == 409


def test_a_referral_code_at_sign_up_is_recorded_as_pending():
    code = enroll("m-1").body["referralCode"]
    reply = enroll("m-2", referralCode=code.lower())
    assert reply.status == 201
    referrals = request(REFERRALS, "m-1")
    assert referrals.status == 200
    assert referrals.body == {
        "referralCode": code,
        "completed": 0,
        "pending": 1,
        "pointsEarned": 0,
    }
    own = request(REFERRALS, "m-2").body
    assert own["referralCode"] == reply.body["referralCode"]
    assert (own["completed"], own["pending"], own["pointsEarned"]) == (0, 0, 0)
    # No points move at sign-up: the referral pays on the first completed order.
    assert balance("m-1") == 0
    assert balance("m-2") == 0


def test_an_unknown_referral_code_is_refused_and_nothing_is_created(snapshot):
    assert enroll("m-1").status == 201
    before = snapshot()
    reply = enroll("m-2", referralCode="ZZZZ9999")
    assert reply.status == 422
    assert reply.body["message"]
    assert snapshot() == before
    assert member("m-2").status == 404


def test_a_member_cannot_refer_itself(snapshot):
    code = enroll("m-1").body["referralCode"]
    before = snapshot()
    reply = enroll("m-1", referralCode=code, name="Changed")
    assert reply.status == 422
    assert reply.body["message"]
    assert snapshot() == before
    assert request(REFERRALS, "m-1").body["pending"] == 0


def test_a_member_enrolled_by_an_order_cannot_use_its_own_code(snapshot):
    play_orders(order("o-1", "c-1"))
    code = member("c-1").body["referralCode"]
    before = snapshot()
    reply = enroll("c-1", referralCode=code)
    assert reply.status == 422
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"memberId": "m-1", "name": "Ann"},
        {"memberId": "m-1", "email": "ann@example.com"},
        {"name": "Ann", "email": "ann@example.com"},
        profile("m-1") | {"email": "not-an-email"},
        profile("m-1") | {"birthday": "2999-01-01"},
        profile("m-1") | {"birthday": "12/31/1990"},
        profile("m-1") | {"phone": "call me"},
        profile("m-1") | {"memberId": "has space"},
        profile("m-1") | {"referralCode": "!!"},
        profile("m-1") | {"points": 1000},
    ],
)
def test_an_invalid_enrollment_is_a_422(body, snapshot):
    before = snapshot()
    reply = request(ENROLL, body=body)
    assert reply.status == 422
    assert reply.body["message"]
    assert snapshot() == before


def test_malformed_json_is_a_400(snapshot):
    before = snapshot()
    reply = request(ENROLL, body='{"memberId": "m-1", "name": ')
    assert reply.status == 400
    assert reply.body["message"]
    assert snapshot() == before


# ---- GET /members/{memberId} --------------------------------------------------------------


def test_the_member_view_shows_tier_progress_and_expiring_points_soonest_first():
    # Played out of date order: the earliest order (February) is the first and holds the
    # bonus, whatever the processing order.
    play_orders(
        order("o-mar", "m-1", "5.00", at="2026-03-01T10:00:00Z"),
        order("o-may", "m-1", "7.00", at="2026-05-01T10:00:00Z"),
        order("o-feb", "m-1", "10.00", at="2026-02-01T10:00:00Z"),
    )
    enroll("m-1")
    view = member("m-1").body
    assert view["balance"] == 2350
    assert view["pendingPoints"] == 0
    assert view["tierPoints"] == 2350
    assert view["tier"] == "Silver"
    assert view["nextTier"] == {"name": "Gold", "pointsNeeded": 5001 - 2350}
    assert view["expiring"] == [
        {"points": 1150, "expiresAt": "2027-02-01T10:00:00Z"},
        {"points": 500, "expiresAt": "2027-03-01T10:00:00Z"},
        {"points": 700, "expiresAt": "2027-05-01T10:00:00Z"},
    ]
    assert REFERRAL_CODE.match(view["referralCode"])


def test_a_gold_member_has_no_next_tier():
    play_orders(order("o-1", "m-1", "60.00"))
    view = member("m-1").body
    assert view["tier"] == "Gold"
    assert view["nextTier"] is None


# ---- PATCH /members/{memberId} ------------------------------------------------------------


def test_patch_changes_the_profile(dynamodb_client, table_name):
    assert enroll("m-1", phone="+1 555 0100", birthday="1990-04-02").status == 201
    reply = request(
        PATCH_MEMBER, "m-1", body={"name": "Ann B", "email": "annb@example.com", "phone": None}
    )
    assert reply.status == 200
    assert reply.body["name"] == "Ann B"
    assert reply.body["email"] == "annb@example.com"
    assert member("m-1").body["name"] == "Ann B"
    stored = item_of(dynamodb_client, table_name, "MEMBER#m-1", "PROFILE")
    assert stored is not None
    assert "phone" not in stored
    assert stored["birthday"] == {"S": "1990-04-02"}
    # The old address is free again.
    assert enroll("m-2", email="m-1@example.com").status == 201


def test_patch_refuses_the_email_of_another_member(snapshot):
    enroll("m-1")
    enroll("m-2")
    before = snapshot()
    reply = request(PATCH_MEMBER, "m-2", body={"email": "M-1@example.com"})
    assert reply.status == 409
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": None}, 422),  # a failed validation is a 422 (issue 11)
        ({"email": None}, 422),
        ({"name": ""}, 422),
        ({"email": "nope"}, 422),
        ({"tier": "Gold"}, 422),
        ({"balance": 100000}, 422),
        ([], 422),
    ],
)
def test_patch_refuses_invalid_changes(body, status, snapshot):
    enroll("m-1")
    before = snapshot()
    reply = request(PATCH_MEMBER, "m-1", body=body)
    assert reply.status == status
    assert reply.body["message"]
    assert snapshot() == before


# ---- GET /members/{memberId}/activity -----------------------------------------------------

ORDER_COUNT = 25


def _play_many_orders(member_id: str) -> None:
    play_orders(
        *[
            order(
                f"o-{index:02d}",
                member_id,
                f"{index + 1}.00",
                at=f"2026-{1 + index // 3:02d}-{1 + 9 * (index % 3):02d}T08:00:00Z",
            )
            for index in range(ORDER_COUNT)
        ]
    )


def test_activity_lists_entries_newest_first_with_their_fields():
    play_orders(
        order("o-1", "m-1", "10.00", at="2026-06-01T10:00:00Z"),
        order("o-2", "m-1", "3.00", at="2026-07-01T10:00:00Z"),
    )
    reply = request(ACTIVITY, "m-1")
    assert reply.status == 200
    assert reply.body["nextCursor"] is None
    items = reply.body["items"]
    assert [(e["type"], e["reason"], e["points"], e["reference"]) for e in items] == [
        ("earn", "purchase", 300, "o-2"),
        ("earn", "first-purchase-bonus", 150, "o-1"),
        ("earn", "purchase", 1000, "o-1"),
    ]
    assert [e["occurredAt"] for e in items] == [
        "2026-07-01T10:00:00Z",
        "2026-06-01T10:00:00Z",
        "2026-06-01T10:00:00Z",
    ]
    assert len({e["entryId"] for e in items}) == 3


def test_activity_pages_cover_every_entry_exactly_once():
    _play_many_orders("m-1")
    everything = all_activity("m-1", limit=100)
    assert len(everything) == ORDER_COUNT + 1  # every purchase and the first-order bonus
    times = [entry["occurredAt"] for entry in everything]
    assert times == sorted(times, reverse=True)
    for limit in (1, 7, 13, 26):
        pages = []
        query = {"limit": str(limit)}
        while True:
            reply = request(ACTIVITY, "m-1", query=query)
            assert reply.status == 200
            assert len(reply.body["items"]) <= limit
            pages.append(reply.body["items"])
            if reply.body["nextCursor"] is None:
                break
            query = {"limit": str(limit), "cursor": reply.body["nextCursor"]}
        walked = [entry for page in pages for entry in page]
        assert walked == everything, f"limit={limit}"
        assert len(pages) in (-(-len(everything) // limit), -(-len(everything) // limit) + 1)


def test_activity_limit_and_default_page_size():
    _play_many_orders("m-1")
    three = request(ACTIVITY, "m-1", query={"limit": "3"})
    assert len(three.body["items"]) == 3
    assert three.body["nextCursor"]
    default = request(ACTIVITY, "m-1")
    assert len(default.body["items"]) == 20
    assert default.body["items"][:3] == three.body["items"]


def test_the_sum_of_activity_is_the_balance_plus_pending_points(clock):
    _play_many_orders("m-1")
    assert review("m-1", "P-1", "rv-1").status == 201
    clock.advance(minutes=1)
    assert share("m-1", "https://example.com/a").status == 201
    clock.advance(minutes=1)
    assert redeem("m-1", "discount-10").status == 201
    clock.advance(minutes=1)
    assert redeem("m-1", "free-shipping", key="k-1").status == 201
    view = member("m-1").body
    entries = all_activity("m-1", limit=9)
    assert sum(entry["points"] for entry in entries) == view["balance"] + view["pendingPoints"]
    assert view["balance"] == 100 * (ORDER_COUNT * (ORDER_COUNT + 1) // 2) + 150 + 50 + 80 - 1500
    assert sum(1 for entry in entries if entry["type"] == "redeem") == 2


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "",
        base64.urlsafe_b64encode(b"hello").decode(),
        base64.urlsafe_b64encode(b"ENTRY#2026").decode(),
        "%%%%",
        "x" * 200,
    ],
)
def test_a_bad_cursor_is_a_400(cursor):
    play_orders(order("o-1", "m-1"))
    reply = request(ACTIVITY, "m-1", query={"cursor": cursor})
    assert reply.status == 400
    assert reply.body["message"]


@pytest.mark.parametrize("limit", ["0", "-1", "101", "1000", "abc", "2.5", ""])
def test_a_bad_limit_is_refused(limit):
    play_orders(order("o-1", "m-1"))
    reply = request(ACTIVITY, "m-1", query={"limit": limit})
    assert reply.status == 422
    assert reply.body["message"]


# ---- unknown members ----------------------------------------------------------------------


UNKNOWN_MEMBER_CASES = [
    pytest.param(route, caller, id=f"{route.key} as {caller}")
    for route in MEMBER_ROUTES
    for caller in ("service", "self")
    # A member token may not use the service-only routes at all (403: see authorization).
    if not (caller == "self" and route in (REVIEW, SHARE))
]


@pytest.mark.parametrize(("route", "caller"), UNKNOWN_MEMBER_CASES)
def test_an_unknown_member_is_a_404(route: Route, caller, snapshot):
    enroll("m-1")
    play_orders(order("o-1", "m-1"))
    before = snapshot()
    claims = member_token("ghost") if caller == "self" else SERVICE
    reply = request(route, "ghost", body=valid_body(route, "ghost"), claims=claims)
    assert reply.status == 404
    assert reply.body["message"]
    assert snapshot() == before


def test_an_unknown_member_with_a_cursor_is_a_404():
    _play_many_orders("m-1")
    cursor = request(ACTIVITY, "m-1", query={"limit": "2"}).body["nextCursor"]
    assert cursor
    reply = request(ACTIVITY, "ghost", query={"cursor": cursor})
    assert reply.status == 404
