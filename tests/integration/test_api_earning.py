"""Storefront API, earning outside orders: product reviews and social shares (service-only
routes of the members function), with real HTTP API v2 events on DynamoDB Local."""

from __future__ import annotations

import pytest

from tests.support.api import (
    REVIEW,
    SHARE,
    all_activity,
    balance,
    enroll,
    member,
    order,
    play_orders,
    request,
    review,
    share,
)

pytestmark = pytest.mark.usefixtures("table_name", "clock")


# ---- POST /members/{memberId}/reviews -----------------------------------------------------------


def test_a_review_earns_50_points():
    enroll("m-1")
    reply = review("m-1", "P-1", "rv-1")
    assert reply.status == 201
    assert reply.body == {"pointsAwarded": 50, "balance": 50}
    assert balance("m-1") == 50
    entry = all_activity("m-1")[0]
    assert (entry["type"], entry["reason"], entry["points"]) == ("earn", "product-review", 50)
    assert entry["reference"] == "rv-1"


def test_a_review_adds_to_the_points_already_held():
    play_orders(order("o-1", "m-1", "10.00"))
    reply = review("m-1", "P-1", "rv-1")
    assert reply.status == 201
    assert reply.body == {"pointsAwarded": 50, "balance": 1200}
    assert member("m-1").body["tierPoints"] == 1200


@pytest.mark.parametrize("review_id", ["rv-1", "rv-2"], ids=["same review", "another review"])
def test_the_same_product_is_rewarded_once(review_id, clock, snapshot):
    enroll("m-1")
    assert review("m-1", "P-1", "rv-1").status == 201
    clock.advance(hours=1)
    before = snapshot()
    reply = review("m-1", "P-1", review_id)
    assert reply.status == 409
    assert reply.body["message"]
    assert snapshot() == before
    assert balance("m-1") == 50


def test_each_product_is_rewarded_once_per_member(clock):
    enroll("m-1")
    enroll("m-2")
    assert review("m-1", "P-1", "rv-1").status == 201
    clock.advance(seconds=1)
    assert review("m-1", "P-2", "rv-2").status == 201
    clock.advance(seconds=1)
    assert review("m-2", "P-1", "rv-3").status == 201
    assert balance("m-1") == 100
    assert balance("m-2") == 50


def test_two_products_of_one_review_in_the_same_millisecond_both_show_in_activity():
    enroll("m-1")
    assert review("m-1", "P-1", "rv-1").status == 201
    assert review("m-1", "P-2", "rv-1").status == 201
    view = member("m-1").body
    entries = all_activity("m-1")
    assert view["balance"] == 100
    assert sum(entry["points"] for entry in entries) == view["balance"]


@pytest.mark.parametrize(
    "body",
    [
        {"productId": "P-1"},
        {"reviewId": "rv-1"},
        {"productId": "", "reviewId": "rv-1"},
        {"productId": "P-1", "reviewId": "x" * 129},
        {"productId": "P\n1", "reviewId": "rv-1"},
        {"productId": 1, "reviewId": "rv-1"},
        {"productId": "P-1", "reviewId": "rv-1", "points": 5000},
    ],
)
def test_an_invalid_review_is_a_422(body, snapshot):
    enroll("m-1")
    before = snapshot()
    reply = request(REVIEW, "m-1", body=body)
    assert reply.status == 422
    assert reply.body["message"]
    assert snapshot() == before


# ---- POST /members/{memberId}/social-shares -----------------------------------------------------


def test_a_share_earns_80_points_each():
    enroll("m-1")
    first = share("m-1", "https://example.com/p/1")
    assert first.status == 201
    assert first.body == {"pointsAwarded": 80, "balance": 80}
    second = share("m-1", "https://example.com/p/2", platform="facebook")
    assert second.body == {"pointsAwarded": 80, "balance": 160}
    entry = all_activity("m-1")[0]
    assert (entry["type"], entry["reason"], entry["points"]) == ("earn", "social-share", 80)
    assert balance("m-1") == 160


@pytest.mark.parametrize(
    "repeat",
    ["https://example.com/p/1", "  https://example.com/p/1 "],
    ids=["same url", "same url with spaces"],
)
def test_a_repeated_url_is_a_409(repeat, clock, snapshot):
    enroll("m-1")
    assert share("m-1", "https://example.com/p/1").status == 201
    clock.advance(days=2)
    before = snapshot()
    reply = share("m-1", repeat, platform="x")
    assert reply.status == 409
    assert reply.body["message"]
    assert snapshot() == before
    assert balance("m-1") == 80


def test_the_sixth_share_of_a_month_is_a_409_and_the_next_month_earns_again(clock, snapshot):
    enroll("m-1")
    clock.set("2026-12-01T00:00:00Z")
    for index in range(5):
        assert share("m-1", f"https://example.com/p/{index}").status == 201
        clock.advance(days=6)
    assert clock.now.month == 12
    before = snapshot()
    reply = share("m-1", "https://example.com/p/new")
    assert reply.status == 409
    assert reply.body["message"]
    assert snapshot() == before
    assert balance("m-1") == 400
    clock.set("2027-01-01T00:00:01Z")
    reply = share("m-1", "https://example.com/p/new")
    assert reply.status == 201
    assert reply.body == {"pointsAwarded": 80, "balance": 480}
    # ...but a URL rewarded last month is still rewarded once only.
    assert share("m-1", "https://example.com/p/0").status == 409


def test_refused_shares_do_not_count_toward_the_monthly_cap():
    enroll("m-1")
    assert share("m-1", "https://example.com/p/0").status == 201
    for _ in range(3):
        assert share("m-1", "https://example.com/p/0").status == 409
    for index in range(1, 5):
        assert share("m-1", f"https://example.com/p/{index}").status == 201
    assert balance("m-1") == 400


def test_the_monthly_cap_is_per_member():
    enroll("m-1")
    enroll("m-2")
    for index in range(5):
        assert share("m-1", f"https://example.com/p/{index}").status == 201
    assert share("m-2", "https://example.com/p/0").status == 201
    assert balance("m-2") == 80


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "instagram"},
        {"url": "https://example.com/p/1"},
        {"platform": "instagram", "url": "ftp://example.com/p/1"},
        {"platform": "instagram", "url": "not a url"},
        {"platform": "Insta Gram", "url": "https://example.com/p/1"},
        {"platform": "instagram", "url": "https://example.com/" + "a" * 2100},
        {"platform": "instagram", "url": ["https://example.com/p/1"]},
    ],
)
def test_an_invalid_share_is_a_422(body, snapshot):
    enroll("m-1")
    before = snapshot()
    reply = request(SHARE, "m-1", body=body)
    assert reply.status == 422
    assert reply.body["message"]
    assert snapshot() == before
