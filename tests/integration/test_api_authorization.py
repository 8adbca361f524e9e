"""Storefront API, who may do what: every route × {no token, member self, member other,
service, admin}, with real HTTP API v2 events. A refused call answers 401/403 with a message
and changes nothing in the table."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import (
    ACTIVITY,
    BADGES,
    ENROLL,
    GET_MEMBER,
    MEMBER_COUPONS,
    PATCH_MEMBER,
    PROGRAM,
    PROMOTIONS,
    QUOTE,
    REDEEM,
    REFERRALS,
    REVIEW,
    REWARDS,
    ROUTES,
    SHARE,
    Route,
    call_event,
    enroll,
    member,
    order,
    play_orders,
    profile,
    request,
    valid_body,
)
from tests.support.http import ADMIN, SERVICE, http_event, member_token

pytestmark = pytest.mark.usefixtures("table_name", "clock")

TARGET = "m-1"
OTHER = "m-2"

CALLERS: dict[str, dict[str, Any] | None] = {
    "no token": None,
    "member self": member_token(TARGET),
    "member other": member_token(OTHER),
    "service": SERVICE,
    "admin": ADMIN,
}

# What each route answers when it lets the caller in, with the target member enrolled and
# holding 1150 points; and a check of the body a caller would rely on.
SUCCESS: dict[Route, tuple[int, Callable[[Any], bool]]] = {
    ENROLL: (200, lambda body: body["memberId"] == TARGET and body["balance"] == 1150),
    GET_MEMBER: (200, lambda body: body["memberId"] == TARGET and body["balance"] == 1150),
    PATCH_MEMBER: (200, lambda body: body["name"] == "Renamed Member"),
    ACTIVITY: (200, lambda body: len(body["items"]) == 2),
    REFERRALS: (200, lambda body: body["pending"] == 0),
    BADGES: (200, lambda body: body == {"earned": [], "progress": []}),
    REWARDS: (200, lambda body: len(body["items"]) >= 2),
    PROGRAM: (200, lambda body: body["referral"]["refereePoints"] == 70),
    REDEEM: (201, lambda body: body["pointsSpent"] == 500 and body["balance"] == 650),
    REVIEW: (201, lambda body: body == {"pointsAwarded": 50, "balance": 1200}),
    SHARE: (201, lambda body: body == {"pointsAwarded": 80, "balance": 1230}),
    MEMBER_COUPONS: (200, lambda body: body == {"items": []}),
    # 2 × $19.99 on 9 December (no promotion): 3998 points, m-1 is Silver, not a first order.
    QUOTE: (200, lambda body: body["totalPoints"] == 3998 and body["tier"] == "Silver"),
    PROMOTIONS: (200, lambda body: len(body["items"]) == 2),
}
SERVICE_ONLY = (REVIEW, SHARE, QUOTE)
# Open to anyone authenticated: no member in the path.
OPEN = (REWARDS, PROGRAM, PROMOTIONS)


def expected_status(route: Route, caller: str) -> int:
    if caller == "no token":
        return 401
    if caller in ("service", "admin"):
        return SUCCESS[route][0]
    if caller == "member self":
        return 403 if route in SERVICE_ONLY else SUCCESS[route][0]
    # member other: only the catalog and the program are open to anyone authenticated
    return SUCCESS[route][0] if route in OPEN else 403


MATRIX = [
    pytest.param(route, caller, id=f"{route.key} | {caller}")
    for route in ROUTES
    for caller in CALLERS
]


@pytest.fixture
def members(table_name: str, clock: Any) -> None:
    """m-1 enrolled with 1150 points (one order), m-2 enrolled with none."""
    play_orders(order("o-1", TARGET, "10.00"))
    assert enroll(TARGET).status == 200
    assert enroll(OTHER).status == 201


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize(("route", "caller"), MATRIX)
def test_authorization_matrix(route: Route, caller: str, snapshot):
    before = snapshot()
    reply = request(route, TARGET, body=valid_body(route, TARGET), claims=CALLERS[caller])
    status = expected_status(route, caller)
    assert reply.status == status, reply.body
    if status >= 400:
        assert reply.body["message"]
        assert snapshot() == before
    else:
        assert SUCCESS[route][1](reply.body), reply.body


# ---- how tokens are read -------------------------------------------------------------------------


def _event(route: Route, jwt: dict[str, Any] | None, member_id: str = TARGET) -> dict[str, Any]:
    parameters = {"memberId": member_id} if route.has_member_path else None
    event = http_event(route.method, route.path, parameters, body=valid_body(route, member_id))
    if jwt is not None:
        event["requestContext"]["authorizer"] = {"jwt": jwt}
    return event


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize(
    "jwt",
    [
        {"claims": {"sub": "backend"}, "scopes": ["loyalty/service"]},
        {"claims": {"sub": "backend"}, "scopes": ["openid", "loyalty/admin"]},
        {"claims": {"sub": "backend", "scope": "openid loyalty/service email"}, "scopes": None},
        {"claims": {"sub": "backend", "scp": ["loyalty/service"]}, "scopes": None},
        {"claims": {"sub": "backend", "scp": "loyalty/admin"}, "scopes": None},
        # A service token whose client id happens to be a member id is still the service.
        {"claims": {"sub": OTHER, "scope": "loyalty/service"}, "scopes": None},
    ],
    ids=["scopes", "scopes admin", "scope claim", "scp list", "scp string", "sub of a member"],
)
def test_service_and_admin_scopes_are_read_wherever_the_token_carries_them(jwt):
    reply = call_event(REVIEW, _event(REVIEW, jwt))
    assert reply.status == 201
    assert reply.body["pointsAwarded"] == 50


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize(
    "jwt",
    [
        {"claims": {"sub": "storefront-backend"}, "scopes": None},
        {"claims": {"sub": "backend", "scope": "loyalty/services"}, "scopes": None},
        {"claims": {"sub": "backend", "scope": "loyalty/service:read"}, "scopes": None},
        {"claims": {"sub": "backend", "scope": "LOYALTY/SERVICE"}, "scopes": None},
        {"claims": {"sub": "backend", "scope": "loyalty"}, "scopes": None},
        {"claims": {"sub": "backend", "loyalty/service": "true"}, "scopes": None},
        {"claims": {"sub": "backend", "cognito:groups": "loyalty/service"}, "scopes": None},
    ],
    ids=["no scope", "plural", "suffix", "case", "prefix", "claim name", "group"],
)
@pytest.mark.parametrize("route", [REVIEW, GET_MEMBER, REDEEM], ids=lambda route: route.key)
def test_tokens_without_the_exact_scope_are_members(jwt, route, snapshot):
    before = snapshot()
    reply = call_event(route, _event(route, jwt))
    assert reply.status == 403
    assert reply.body["message"]
    assert snapshot() == before


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize(
    "jwt",
    [
        {},
        {"claims": {}, "scopes": ["loyalty/admin"]},
        {"claims": {"sub": ""}, "scopes": ["loyalty/admin"]},
        {"claims": {"sub": 42, "scope": "loyalty/admin"}, "scopes": None},
        {"claims": {"scope": "loyalty/service"}, "scopes": None},
        {"claims": None, "scopes": None},
    ],
    ids=["empty jwt", "no claims", "empty sub", "numeric sub", "no sub", "null claims"],
)
@pytest.mark.parametrize(
    "route", [ENROLL, GET_MEMBER, REWARDS, REDEEM, SHARE], ids=lambda route: route.key
)
def test_a_token_without_a_subject_is_a_401(jwt, route, snapshot):
    before = snapshot()
    reply = call_event(route, _event(route, jwt))
    assert reply.status == 401
    assert reply.body["message"]
    assert snapshot() == before


@pytest.mark.usefixtures("members")
def test_an_unknown_route_is_refused():
    event = http_event("DELETE", "/members/{memberId}", {"memberId": TARGET}, claims=ADMIN)
    reply = call_event(GET_MEMBER, event)
    assert reply.status == 404
    assert reply.body["message"]
    assert member(TARGET).status == 200
    anonymous = http_event("DELETE", "/members/{memberId}", {"memberId": TARGET})
    assert call_event(GET_MEMBER, anonymous).status == 401


# ---- a member enrolling someone else ------------------------------------------------------------


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize("target", [OTHER, "m-new"], ids=["existing", "new"])
def test_a_member_cannot_enroll_another_member_with_a_base64_body(target, snapshot):
    before = snapshot()
    event = http_event("POST", "/members", claims=member_token(TARGET))
    event["body"] = base64.b64encode(json.dumps(profile(target)).encode()).decode()
    event["isBase64Encoded"] = True
    reply = call_event(ENROLL, event)
    assert reply.status == 403
    assert snapshot() == before


@pytest.mark.usefixtures("members")
def test_duplicate_member_ids_in_a_body_are_read_the_same_way_by_the_policy_and_the_route(
    snapshot,
):
    fields = '"name":"Mallory","email":"mallory@example.com"'
    before = snapshot()
    # The last key wins for both: here it is someone else, refused.
    sneaky = f'{{"memberId":"{TARGET}",{fields},"memberId":"{OTHER}"}}'
    reply = request(ENROLL, body=sneaky, claims=member_token(TARGET))
    assert reply.status == 403
    assert snapshot() == before
    # Here it is the caller itself: its own profile changes, the other member's does not.
    own = f'{{"memberId":"{OTHER}",{fields},"memberId":"{TARGET}"}}'
    reply = request(ENROLL, body=own, claims=member_token(TARGET))
    assert reply.status == 200
    assert reply.body["memberId"] == TARGET
    assert member(OTHER).body["name"] == f"Member {OTHER}"


def _multipart(fields: dict[str, str], boundary: str = "XyZ") -> str:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return "".join(parts) + f"--{boundary}--\r\n"


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize("target", [OTHER, "m-new"], ids=["existing", "new"])
def test_a_member_cannot_enroll_another_member_with_a_multipart_body(target, snapshot):
    before = snapshot()
    form = _multipart({"memberId": target, "name": "Mallory", "email": "mallory@example.com"})
    event = http_event(
        "POST",
        "/members",
        claims=member_token(TARGET),
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )
    event["body"] = base64.b64encode(form.encode()).decode()
    event["isBase64Encoded"] = True
    reply = call_event(ENROLL, event)
    # Refused before any route runs: only JSON bodies are read, by the policy and the route.
    assert reply.status == 415
    assert reply.body["message"]
    assert snapshot() == before
