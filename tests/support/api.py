"""A small client for the storefront API tests: the route table (which function answers
which route), a pinned clock for the services, a table snapshot, and shortcuts that call the
real handlers with real HTTP API v2 events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.members_api import app as members_app
from functions.purchase_award import app as purchase_award_app
from functions.redemption import app as redemption_app
from tests.support.events import FakeLambdaContext, completed, sqs_event
from tests.support.http import SERVICE, Reply, call, http_event

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)

# The one module every service reads the wall clock from.
CLOCK_MODULES = ("loyalty.services.clock",)


class Clock:
    """The services' "now", settable from a test."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, iso: str) -> None:
        self.now = datetime.fromisoformat(iso.replace("Z", "+00:00"))

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def pin_clock(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    for module in CLOCK_MODULES:
        monkeypatch.setattr(f"{module}.utc_now", clock)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Route:
    """One storefront route: its method and path (as in template.yaml) and the function."""

    method: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def handler(self) -> Any:
        if self.path.endswith("/redemptions") or "coupons" in self.path:
            return redemption_app.handler
        return members_app.handler

    @property
    def has_member_path(self) -> bool:
        return "{memberId}" in self.path


ENROLL = Route("POST", "/members")
GET_MEMBER = Route("GET", "/members/{memberId}")
PATCH_MEMBER = Route("PATCH", "/members/{memberId}")
ACTIVITY = Route("GET", "/members/{memberId}/activity")
REFERRALS = Route("GET", "/members/{memberId}/referrals")
BADGES = Route("GET", "/members/{memberId}/badges")
REWARDS = Route("GET", "/rewards")
PROGRAM = Route("GET", "/program")
REDEEM = Route("POST", "/members/{memberId}/redemptions")
REVIEW = Route("POST", "/members/{memberId}/reviews")
SHARE = Route("POST", "/members/{memberId}/social-shares")
MEMBER_COUPONS = Route("GET", "/members/{memberId}/coupons")
# The checkout's coupon routes (service and admin), by code: see `coupon_request`.
CHECK_COUPON = Route("GET", "/coupons/{code}")
USE_COUPON = Route("POST", "/coupons/{code}/redemptions")
VOID_COUPON = Route("POST", "/coupons/{code}/void")
COUPON_ROUTES = (CHECK_COUPON, USE_COUPON, VOID_COUPON)
QUOTE = Route("POST", "/quotes")
PROMOTIONS = Route("GET", "/promotions")

ROUTES = (
    ENROLL,
    GET_MEMBER,
    PATCH_MEMBER,
    ACTIVITY,
    REFERRALS,
    BADGES,
    REWARDS,
    PROGRAM,
    REDEEM,
    REVIEW,
    SHARE,
    MEMBER_COUPONS,
    QUOTE,
    PROMOTIONS,
)
BODY_ROUTES = (ENROLL, PATCH_MEMBER, REDEEM, REVIEW, SHARE)
BODY_ROUTES += (QUOTE,)
MEMBER_ROUTES = tuple(route for route in ROUTES if route.has_member_path)


def request(
    route: Route,
    member_id: str | None = None,
    *,
    body: Any = None,
    claims: dict[str, Any] | None = SERVICE,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Call the function that serves `route` with a real HTTP API v2 event."""
    parameters = {"memberId": member_id} if route.has_member_path and member_id else None
    event = http_event(
        route.method,
        route.path,
        parameters,
        body=body,
        claims=claims,
        query=query,
        headers=headers,
    )
    return call(route.handler, event)


def coupon_request(
    route: Route,
    code: str,
    *,
    body: Any = None,
    claims: dict[str, Any] | None = SERVICE,
    query: dict[str, str] | None = None,
) -> Reply:
    """Call a checkout coupon route for `code` with a real HTTP API v2 event."""
    event = http_event(
        route.method, route.path, {"code": code}, body=body, claims=claims, query=query
    )
    return call(route.handler, event)


def call_event(route: Route, event: dict[str, Any]) -> Reply:
    return call(route.handler, event)


def profile(member_id: str, name: str | None = None, email: str | None = None) -> dict[str, Any]:
    return {
        "memberId": member_id,
        "name": name or f"Member {member_id}",
        "email": email or f"{member_id}@example.com",
    }


def enroll(member_id: str, claims: dict[str, Any] | None = SERVICE, **fields: Any) -> Reply:
    body = profile(member_id) | fields
    return request(ENROLL, body=body, claims=claims)


def member(member_id: str, claims: dict[str, Any] | None = SERVICE) -> Reply:
    return request(GET_MEMBER, member_id, claims=claims)


def balance(member_id: str) -> int:
    reply = member(member_id)
    assert reply.status == 200, reply.body
    return int(reply.body["balance"])


def redeem(
    member_id: str,
    reward_id: str,
    key: str | None = None,
    claims: dict[str, Any] | None = SERVICE,
) -> Reply:
    headers = {"Idempotency-Key": key} if key is not None else None
    return request(REDEEM, member_id, body={"rewardId": reward_id}, claims=claims, headers=headers)


def review(member_id: str, product_id: str, review_id: str) -> Reply:
    return request(REVIEW, member_id, body={"productId": product_id, "reviewId": review_id})


def share(member_id: str, url: str, platform: str = "instagram") -> Reply:
    return request(SHARE, member_id, body={"platform": platform, "url": url})


def all_activity(member_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every activity entry, following nextCursor to the end."""
    items: list[dict[str, Any]] = []
    query: dict[str, str] = {"limit": str(limit)}
    for _ in range(1000):
        reply = request(ACTIVITY, member_id, query=query)
        assert reply.status == 200, reply.body
        items.extend(reply.body["items"])
        cursor = reply.body["nextCursor"]
        if cursor is None:
            return items
        query = {"limit": str(limit), "cursor": cursor}
    raise AssertionError("activity pagination never ended")


def play_orders(*bodies: dict[str, Any]) -> None:
    """Deliver order messages through the purchase-award function, one batch each."""
    for body in bodies:
        response = purchase_award_app.handler(sqs_event(body), FakeLambdaContext())
        assert response == {"batchItemFailures": []}, body


def order(
    order_id: str, member_id: str, amount: str = "10.00", at: str = "2026-11-10T10:00:00Z"
) -> dict[str, Any]:
    """An order.completed message for `amount` dollars (one line)."""
    return completed(order_id, member_id, (amount, 1), at=at)


def table_items(client: Any, table_name: str) -> list[dict[str, Any]]:
    """Every item of the table, in key order (a scan is fine on a test table)."""
    items: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        response = client.scan(**arguments)
        items.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def item_of(client: Any, table_name: str, pk: str, sk: str) -> dict[str, Any] | None:
    response = client.get_item(
        TableName=table_name, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True
    )
    item = response.get("Item")
    return item if item is None else dict(item)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def valid_body(route: Route, member_id: str) -> Any:
    """A body the route accepts for `member_id` (None for routes without a body)."""
    bodies: dict[Route, Any] = {
        ENROLL: profile(member_id),
        PATCH_MEMBER: {"name": "Renamed Member"},
        REDEEM: {"rewardId": "free-shipping"},
        REVIEW: {"productId": "P-1", "reviewId": "rv-1"},
        SHARE: {"platform": "instagram", "url": "https://example.com/p/1"},
        QUOTE: {
            "memberId": member_id,
            "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": "19.99"}],
            "at": "2026-12-09T12:00:00Z",
        },
    }
    return bodies.get(route)
