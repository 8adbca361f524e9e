"""Coupons at the checkout: a member's coupons, a code checked, used exactly once, voided with
its points back (those whose lots expired since stay expired). Real HTTP API v2 events on
DynamoDB Local, a pinned clock and fixed dates."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from functions.purchase_award import app as purchase_award
from loyalty import runtime
from loyalty.api.http import status_of
from loyalty.domain.errors import LoyaltyError
from tests.support.api import (
    CHECK_COUPON,
    MEMBER_COUPONS,
    USE_COUPON,
    VOID_COUPON,
    all_activity,
    coupon_request,
    member,
    order,
    play_orders,
    redeem,
    request,
)
from tests.support.events import FakeLambdaContext, refunded, sqs_event
from tests.support.http import ADMIN, member_token
from tests.support.schedules import run_daily

pytestmark = [pytest.mark.calendar, pytest.mark.usefixtures("table_name")]


def coupons(member_id: str, claims: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    reply = request(MEMBER_COUPONS, member_id, claims=claims or member_token(member_id))
    assert reply.status == 200, reply.body
    return list(reply.body["items"])


def balance(member_id: str) -> int:
    reply = member(member_id)
    assert reply.status == 200, reply.body
    return int(reply.body["balance"])


def redeemed(member_id: str, reward_id: str = "discount-10") -> dict[str, Any]:
    reply = redeem(member_id, reward_id)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def use(code: str, order_id: str, member_id: str = "c-1") -> Any:
    return coupon_request(USE_COUPON, code, body={"orderId": order_id, "memberId": member_id})


def void(code: str) -> Any:
    return coupon_request(VOID_COUPON, code, body={"reason": "order cancelled"})


def refund(order_id: str, member_id: str, amount: str, at: str) -> None:
    response = purchase_award.handler(
        sqs_event(refunded(order_id, f"r-{order_id}", member_id, amount, at=at)),
        FakeLambdaContext(),
    )
    assert response == {"batchItemFailures": []}


def daily_jobs(queue: Any, clock: Any, time: str) -> None:
    clock.set(time)
    for job in ("expiry", "tenure", "birthday"):
        run_daily(queue, job, time)


def test_a_redemption_issues_a_coupon_the_member_and_the_checkout_can_read(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    redemption = redeemed("c-1")
    code = redemption["couponCode"]
    assert redemption["couponExpiresAt"] == "2027-02-08T12:00:00Z"  # 90 days by default

    listed = coupons("c-1")
    assert listed == [
        {
            "code": code,
            "status": "active",
            "memberId": "c-1",
            "rewardId": "discount-10",
            "rewardName": "10% off your next order",
            "kind": "discount",
            "discountPercent": 10,
            "points": 1000,
            "issuedAt": "2026-11-10T12:00:00Z",
            "expiresAt": "2027-02-08T12:00:00Z",
            "usedAt": None,
            "usedByOrder": None,
            "voidedAt": None,
        }
    ]
    checked = coupon_request(CHECK_COUPON, code, query={"memberId": "c-1"})
    assert checked.status == 200, checked.body
    assert (checked.body["valid"], checked.body["reason"], checked.body["status"]) == (
        True,
        None,
        "active",
    )
    assert checked.body["kind"] == "discount" and checked.body["discountPercent"] == 10
    lower = coupon_request(CHECK_COUPON, code.lower())  # as a shopper might type it
    assert lower.status == 200 and lower.body["code"] == code
    other = coupon_request(CHECK_COUPON, code, query={"memberId": "c-2"}).body
    assert (other["valid"], other["reason"]) == (False, "other-member")

    clock.set("2027-02-08T12:00:00Z")  # the day it expires
    expired = coupon_request(CHECK_COUPON, code).body
    assert (expired["valid"], expired["reason"], expired["status"]) == (False, "expired", "expired")
    assert coupons("c-1")[0]["status"] == "expired"


def test_an_unknown_code_is_404_and_a_malformed_one_422():
    assert coupon_request(CHECK_COUPON, "LOY-NOPE-NOPE-NOPE").status == 404
    assert use("LOY-NOPE-NOPE-NOPE", "o-9").status == 404
    assert void("LOY-NOPE-NOPE-NOPE").status == 404
    for bad in ("LOY_1", "-LOY", "L" * 65):
        reply = coupon_request(CHECK_COUPON, bad)
        assert reply.status == 422, (bad, reply.body)


def test_a_coupon_is_used_once_the_same_order_again_gets_the_same_answer(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]
    clock.set("2026-11-11T09:00:00Z")

    first = use(code, "o-2")
    again = use(code, "o-2")
    other = use(code, "o-3")

    assert first.status == 200, first.body
    assert (first.body["status"], first.body["usedByOrder"]) == ("used", "o-2")
    assert first.body["usedAt"] == "2026-11-11T09:00:00Z"
    assert again.status == 200 and again.body == first.body
    assert other.status == 409, other.body
    assert "another order" in other.body["message"]
    checked = coupon_request(CHECK_COUPON, code).body
    assert (checked["valid"], checked["reason"]) == (False, "used")
    assert coupons("c-1")[0]["status"] == "used"
    assert void(code).status == 409  # used: nothing to give back
    assert balance("c-1") == 2150 - 1000


def test_another_members_coupon_is_unknown_to_them(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]

    assert use(code, "o-2", member_id="c-2").status == 404
    assert coupons("c-1")[0]["status"] == "active"


def test_thirty_concurrent_uses_of_one_coupon_give_one_success(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]

    # Thirty checkouts at once, each as its own invocation would make it: the service's call
    # (one resolver is never shared by concurrent Lambda invocations, but threads would
    # share it), its errors mapped to HTTP as the API maps them.
    service = runtime.coupon_service()

    def checkout(order_id: str) -> tuple[int, str | None]:
        try:
            return 200, service.use(code, order_id=order_id, member_id="c-1").order_id
        except LoyaltyError as error:
            return status_of(error).value, None

    with ThreadPoolExecutor(max_workers=30) as pool:
        replies = list(pool.map(checkout, [f"o-{n}" for n in range(100, 130)]))

    statuses = sorted(status for status, _ in replies)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 409}, statuses
    winner = next(order_id for status, order_id in replies if status == 200)
    assert coupons("c-1")[0]["usedByOrder"] == winner
    assert use(code, winner).status == 200  # the same order again answers the same


def test_a_void_gives_the_points_back_exactly_once(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]
    assert balance("c-1") == 1150

    clock.set("2026-11-12T12:00:00Z")
    first = void(code)
    again = void(code)

    assert first.status == 200, first.body
    assert (first.body["pointsReturned"], first.body["pointsExpired"]) == (1000, 0)
    assert first.body["coupon"]["status"] == "voided"
    assert again.status == 200 and again.body == first.body
    assert balance("c-1") == 2150
    voided = [e for e in all_activity("c-1") if e["reason"].startswith("coupon-voided")]
    assert [(e["type"], e["points"]) for e in voided] == [("redeem", 1000)]
    assert sum(e["points"] for e in all_activity("c-1")) == 2150
    assert use(code, "o-2").status == 409
    assert coupons("c-1")[0]["status"] == "voided"
    # The points came back to the lot they were spent from (expiring 2027-11-10).
    assert member("c-1").body["expiring"] == [{"points": 2150, "expiresAt": "2027-11-10T10:00:00Z"}]


def test_the_checkout_routes_are_for_the_service_and_operators_only(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]

    for route, body in (
        (CHECK_COUPON, None),
        (USE_COUPON, {"orderId": "o-2", "memberId": "c-1"}),
        (VOID_COUPON, {}),
    ):
        assert coupon_request(route, code, body=body, claims=None).status == 401, route
        owner = coupon_request(route, code, body=body, claims=member_token("c-1"))
        assert owner.status == 403, (route, owner.body)
    assert coupons("c-1")[0]["status"] == "active"  # nothing changed
    assert coupon_request(CHECK_COUPON, code, claims=ADMIN).status == 200
    assert request(MEMBER_COUPONS, "c-1", claims=member_token("c-2")).status == 403
    assert request(MEMBER_COUPONS, "c-1", claims=ADMIN).status == 200


def test_a_use_body_that_is_not_the_documented_object_is_refused(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]

    for body in ([{"orderId": "o-2", "memberId": "c-1"}], {"orderId": "o-2"}, '"x"', {}):
        reply = coupon_request(USE_COUPON, code, body=body)
        assert reply.status == 422, (body, reply.body)
    assert coupons("c-1")[0]["status"] == "active"


@pytest.fixture
def long_lived_coupons(monkeypatch):
    monkeypatch.setenv("PROGRAM_RULES", json.dumps({"couponValidityDays": 3650}))


@pytest.mark.usefixtures("long_lived_coupons")
def test_a_void_after_the_spent_lots_expired_returns_nothing_of_them(clock, queue):
    """Counterfactual: had the 1000 not been redeemed, they would have expired with their
    lot on 2027-01-12. So they stay expired, and a refund of that order takes nothing."""
    clock.set("2026-01-12T12:00:00Z")
    play_orders(order("o-1", "c-1", "10.00", at="2026-01-12T10:00:00Z"))
    code = redeemed("c-1")["couponCode"]
    daily_jobs(queue, clock, "2027-01-12T12:00:00Z")  # 150 expire; milestone 200 arrives
    assert balance("c-1") == 200

    clock.set("2027-01-20T12:00:00Z")
    reply = void(code)

    assert reply.status == 200, reply.body
    assert (reply.body["pointsReturned"], reply.body["pointsExpired"]) == (0, 1000)
    assert balance("c-1") == 200
    movements = [
        (e["type"], e["reason"], e["points"])
        for e in all_activity("c-1")
        if e["occurredAt"] == "2027-01-20T12:00:00Z"
    ]
    assert sorted(movements) == [
        ("expire", "expired-since-redeemed", -1000),
        ("redeem", "coupon-voided:discount-10", 1000),
    ]
    refund("o-1", "c-1", "10.00", at="2027-01-21T10:00:00Z")
    assert balance("c-1") == 200  # all of o-1 had expired: nothing to reverse
    assert sum(e["points"] for e in all_activity("c-1")) == 200


@pytest.mark.usefixtures("long_lived_coupons")
def test_a_void_returns_what_is_still_open_and_lets_the_rest_expire(clock, queue):
    """o-1 (1150, expiring 2027-01-12) and o-2 (500, expiring 2027-06-01); 1000 and 500
    redeemed in June take o-1 and 350 of o-2 (soonest first). After o-1's lots settle, the
    void of the 1000 gives back the 350 still lent by open lots; the 650 that had come from
    o-1 expire, as they would have without the redemption."""
    clock.set("2026-06-02T12:00:00Z")
    play_orders(
        order("o-1", "c-1", "10.00", at="2026-01-12T10:00:00Z"),
        order("o-2", "c-1", "5.00", at="2026-06-01T10:00:00Z"),
    )
    code = redeemed("c-1", "discount-10")["couponCode"]
    redeemed("c-1", "free-shipping")
    daily_jobs(queue, clock, "2027-01-12T12:00:00Z")
    assert balance("c-1") == 150 + 200  # o-2's unspent 150, the tenure milestone's 200

    clock.set("2027-01-20T12:00:00Z")
    reply = void(code)

    assert reply.status == 200, reply.body
    assert (reply.body["pointsReturned"], reply.body["pointsExpired"]) == (350, 650)
    body = member("c-1").body
    assert body["balance"] == 700  # what the member would hold had they never redeemed it
    assert body["expiring"] == [
        {"points": 200, "expiresAt": "2027-03-12T10:00:00Z"},
        {"points": 500, "expiresAt": "2027-06-01T10:00:00Z"},
    ]
    # o-1: 500 spent (free shipping) and 650 expired: a refund reverses the 500 only.
    refund("o-1", "c-1", "10.00", at="2027-01-21T10:00:00Z")
    assert balance("c-1") == 200
    assert sum(e["points"] for e in all_activity("c-1")) == 200


# ---- coupon codes on order messages ------------------------------------------------------


def test_an_order_naming_a_coupon_marks_it_used_in_the_same_write_as_its_points(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]
    clock.set("2026-11-11T12:00:00Z")

    play_orders(
        order("o-2", "c-1", "5.00", at="2026-11-11T10:00:00Z") | {"couponCodes": [code.lower()]}
    )

    listed = coupons("c-1")[0]
    assert (listed["status"], listed["usedByOrder"]) == ("used", "o-2")
    assert balance("c-1") == 2150 - 1000 + 500
    assert use(code, "o-3").status == 409  # the checkout cannot use it again
    assert void(code).status == 409


def test_an_order_naming_a_coupon_the_checkout_already_used_for_it_changes_nothing(clock):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]
    assert use(code, "o-2").status == 200

    play_orders(order("o-2", "c-1", "5.00", at="2026-11-10T13:00:00Z") | {"couponCodes": [code]})

    assert coupons("c-1")[0]["usedByOrder"] == "o-2"
    assert balance("c-1") == 2150 - 1000 + 500  # the order earned its points all the same


def test_codes_an_order_cannot_use_are_skipped_and_the_order_still_earns(clock, caplog):
    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"), order("o-9", "c-2", "20.00"))
    mine = redeemed("c-1")["couponCode"]
    theirs = redeemed("c-2")["couponCode"]
    used = redeemed("c-1", "free-shipping")["couponCode"]
    assert use(used, "o-5").status == 200

    play_orders(
        order("o-2", "c-1", "5.00", at="2026-11-10T13:00:00Z")
        | {"couponCodes": [theirs, "LOY-NOPE-NOPE-NOPE", used, mine]}
    )

    assert balance("c-1") == 2150 - 1000 - 500 + 500
    by_code = {c["code"]: c for c in coupons("c-1")}
    assert (by_code[mine]["status"], by_code[mine]["usedByOrder"]) == ("used", "o-2")
    assert by_code[used]["usedByOrder"] == "o-5"
    assert coupons("c-2")[0]["status"] == "active"  # another member's coupon is untouched
    warning = next(r for r in caplog.records if "not used" in r.getMessage())
    assert warning.levelname == "WARNING"
    text = str(warning.__dict__)
    assert "other-member" in text and "unknown" in text and "used" in text


def test_a_redelivered_order_with_a_coupon_changes_nothing(clock, dynamodb_client, table_name):
    from tests.support.api import table_items

    clock.set("2026-11-10T12:00:00Z")
    play_orders(order("o-1", "c-1", "20.00"))
    code = redeemed("c-1")["couponCode"]
    body = order("o-2", "c-1", "5.00", at="2026-11-10T13:00:00Z") | {"couponCodes": [code]}
    play_orders(body)
    before = table_items(dynamodb_client, table_name)

    play_orders(body)

    assert table_items(dynamodb_client, table_name) == before


def test_an_invalid_coupon_code_on_an_order_is_an_invalid_message():
    from tests.support.events import sqs_event as event_of

    body = order("o-2", "c-1", "5.00") | {"couponCodes": ["not a code"]}
    response = purchase_award.handler(event_of(body), FakeLambdaContext())

    assert len(response["batchItemFailures"]) == 1  # to the dead-letter queue, not recorded
    assert member("c-1").status == 404
