"""The API exactly as documented (issue 11): percent-encoded member ids, bodies that are not
the documented object, query parameters, media types, busy writes, and the contract's limits.
Real handlers, real HTTP API v2 events, DynamoDB Local."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.admin_api import app as admin_app
from loyalty import runtime
from loyalty.dal.table import throttling_as_busy
from tests.support.api import (
    ACTIVITY,
    BADGES,
    BODY_ROUTES,
    GET_MEMBER,
    MEMBER_COUPONS,
    PATCH_MEMBER,
    REDEEM,
    REFERRALS,
    REVIEW,
    Route,
    call_event,
    enroll,
    order,
    play_orders,
    request,
    valid_body,
)
from tests.support.http import ADMIN, SERVICE, Reply, call, http_event, member_token

pytestmark = pytest.mark.usefixtures("table_name", "clock")

SELF = "m-1"


@pytest.fixture
def world(table_name: str, clock: Any) -> None:
    """m-1 enrolled with 1150 points."""
    play_orders(order("o-1", SELF, "10.00"))
    assert enroll(SELF).status == 200


def admin(
    method: str,
    route: str,
    parameters: dict[str, str] | None = None,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    event = http_event(
        method, route, parameters, body=body, claims=ADMIN, query=query, headers=headers
    )
    return call(admin_app.handler, event)


def assert_error(reply: Reply, status: int) -> None:
    assert reply.status == status, (reply.status, reply.body)
    assert isinstance(reply.body, dict) and isinstance(reply.body.get("message"), str), reply.body
    assert reply.body["message"]
    assert set(reply.body) <= {"message", "errors"}, reply.body


# Every route with a body: (name, how to send a body to it, a body it accepts).
ADMIN_BODY_ROUTES: list[tuple[str, str, dict[str, str], dict[str, str], Any]] = [
    (
        "POST",
        "/admin/members/{memberId}/adjustments",
        {"memberId": SELF},
        {"Idempotency-Key": "k-1"},
        {"points": 10, "reason": "goodwill gesture"},
    ),
    (
        "PUT",
        "/admin/rewards/{rewardId}",
        {"rewardId": "mug"},
        {},
        {"name": "Mug", "kind": "product", "cost": 100},
    ),
    (
        "PUT",
        "/admin/badges/{badgeId}",
        {"badgeId": "first-review"},
        {},
        {"name": "First review", "condition": {"kind": "reviews", "count": 1}, "points": 50},
    ),
    ("PUT", "/admin/program", {}, {}, None),  # the body: the current document
]


def send(target: Route | int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    """Send `body` (JSON text as is) to a storefront route, or to ADMIN_BODY_ROUTES[i]."""
    if isinstance(target, Route):
        claims = SERVICE
        event = http_event(
            target.method,
            target.path,
            {"memberId": SELF} if target.has_member_path else None,
            body=body,
            claims=claims,
            headers=headers,
        )
        return call_event(target, event)
    method, path, parameters, extra, _ = ADMIN_BODY_ROUTES[target]
    return admin(method, path, parameters or None, body=body, headers=extra | (headers or {}))


ALL_BODY_TARGETS: list[Any] = [
    *(pytest.param(route, id=route.key) for route in BODY_ROUTES),
    *(pytest.param(i, id=f"{m} {p}") for i, (m, p, *_) in enumerate(ADMIN_BODY_ROUTES)),
]


def accepted_body(target: Route | int) -> Any:
    if isinstance(target, Route):
        return valid_body(target, SELF)
    body = ADMIN_BODY_ROUTES[target][4]
    if body is None:
        body = admin("GET", "/admin/program").body
    return body


# ---- 2. a body that is not the documented object -----------------------------------------


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("target", ALL_BODY_TARGETS)
@pytest.mark.parametrize("shape", ["array", "string", "number", "null", "true", "empty array"])
def test_a_body_that_is_not_a_json_object_is_a_422_and_changes_nothing(target, shape, snapshot):
    good = accepted_body(target)
    text = {
        "array": "[" + json.dumps(good) + "]",
        "string": '"' + "x" * 10 + '"',
        "number": "1",
        "null": "null",
        "true": "true",
        "empty array": "[]",
    }[shape]
    before = snapshot()
    assert_error(send(target, text), 422)
    assert snapshot() == before


@pytest.mark.usefixtures("world")
def test_a_review_sent_as_an_array_awards_nothing(snapshot):
    """The case reported: an array holding the right object once awarded 50 points."""
    before = snapshot()
    reply = request(REVIEW, SELF, body=[{"productId": "p-1", "reviewId": "rv-9"}])
    assert_error(reply, 422)
    assert snapshot() == before


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda route: route.key)
def test_a_body_route_without_a_body_is_a_422(route, snapshot):
    before = snapshot()
    assert_error(request(route, SELF), 422)
    assert snapshot() == before


# ---- 3. every query parameter is validated ---------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"month": "0000-01"},
        {"month": "2026-00"},
        {"month": "2026-13"},
        {"month": "2026-1"},
        {"month": "26-01"},
        {"month": "2026-01-01"},
        {"month": ""},
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "ten"},
        {"limit": "1,2"},
    ],
    ids=lambda query: repr(query),
)
def test_a_bad_audit_query_is_a_422_with_the_reason(query):
    reply = admin("GET", "/admin/audit", query=query)
    assert_error(reply, 422)
    assert reply.body["errors"], reply.body


@pytest.mark.parametrize("month", ["0001-01", "2026-12", "9999-12"])
def test_any_real_month_has_an_audit_trail(month):
    reply = admin("GET", "/admin/audit", query={"month": month})
    assert reply.status == 200, reply.body
    assert reply.body == {"items": []}


@pytest.mark.parametrize("email", ["", "nobody", "a@b", "x" * 300 + "@example.com", "a b@c.io"])
def test_a_bad_member_search_is_a_422(email):
    assert_error(admin("GET", "/admin/members", query={"email": email}), 422)


def test_a_member_search_without_an_email_is_a_422():
    assert_error(admin("GET", "/admin/members"), 422)


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"cursor": "y" * 201}]
)
def test_a_bad_activity_query_is_a_422(query):
    from tests.support.api import ACTIVITY

    assert_error(request(ACTIVITY, SELF, query=query), 422)


# ---- 4. media types ------------------------------------------------------------------------


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "content_type",
    [
        "APPLICATION/JSON",
        "application/json; charset=UTF-8",
        "Application/Json;charset=utf-8",
        " application/json ",
    ],
)
def test_json_media_types_are_case_insensitive(content_type):
    reply = send(REVIEW, '{"productId": "p-1", "reviewId": "rv-1"}', {"content-type": content_type})
    assert reply.status == 201, reply.body
    assert reply.body["pointsAwarded"] == 50


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("target", ALL_BODY_TARGETS)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/merge-patch+json",
        "application/vnd.api+json",
        "application/problem+json",
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
    ],
)
def test_other_media_types_are_a_415_with_a_message(target, content_type, snapshot):
    body = json.dumps(accepted_body(target))
    before = snapshot()
    assert_error(send(target, body, {"content-type": content_type}), 415)
    assert snapshot() == before


# ---- 1. percent-encoded member ids ----------------------------------------------------------


def _encoded(member_id: str) -> str:
    from urllib.parse import quote

    return quote(member_id, safe="").replace("-", "%2D")


@pytest.mark.parametrize("member_id", ["pat@shop.io", "c-7741"])
@pytest.mark.parametrize("form", ["decoded", "encoded path parameters"])
def test_a_percent_encoded_member_id_is_the_member(member_id, form):
    assert enroll(member_id, email="pat@example.com").status == 201
    play_orders(order("o-9", member_id, "10.00"))
    encoded = _encoded(member_id)
    parameter = member_id if form == "decoded" else encoded
    for claims in (SERVICE, member_token(member_id)):
        event = http_event("GET", "/members/{memberId}", {"memberId": parameter}, claims=claims)
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/members/{encoded}"
        reply = call_event(GET_MEMBER, event)
        assert reply.status == 200, reply.body
        assert reply.body["memberId"] == member_id
        assert reply.body["balance"] == 1000 + 150


@pytest.mark.parametrize("form", ["decoded", "encoded path parameters"])
def test_an_encoded_member_id_writes_to_the_member(form):
    member_id = "pat@shop.io"
    assert enroll(member_id, email="pat@example.com").status == 201
    encoded = _encoded(member_id)
    event = http_event(
        "PATCH",
        "/members/{memberId}",
        {"memberId": member_id if form == "decoded" else encoded},
        body={"name": "Pat"},
        claims=member_token(member_id),
    )
    event["rawPath"] = f"/members/{encoded}"
    reply = call_event(PATCH_MEMBER, event)
    assert reply.status == 200, reply.body
    assert reply.body["name"] == "Pat"


def test_an_encoded_member_id_is_still_only_its_own_member(snapshot):
    assert enroll("pat@shop.io", email="pat@example.com").status == 201
    assert enroll("eve@shop.io", email="eve@example.com").status == 201
    before = snapshot()
    event = http_event(
        "GET",
        "/members/{memberId}",
        {"memberId": "pat%40shop.io"},
        claims=member_token("eve@shop.io"),
    )
    assert_error(call_event(GET_MEMBER, event), 403)
    assert snapshot() == before


@pytest.mark.parametrize("parameter", ["pat%2540shop.io", "a%2Fb", "%", "a%ZZ"])
def test_a_member_id_that_stays_invalid_once_decoded_is_a_422(parameter):
    event = http_event("GET", "/members/{memberId}", {"memberId": parameter}, claims=SERVICE)
    assert_error(call_event(GET_MEMBER, event), 422)


# ---- 7. a busy store is a 503 with Retry-After -----------------------------------------------


class BusyClient:
    """The repository's DynamoDB client, except that every TransactWriteItems fails."""

    def __init__(self, real: Any, code: str, reasons: tuple[str, ...]) -> None:
        self._real = real
        self._code = code
        self._reasons = reasons
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def transact_write_items(self, **_: Any) -> Any:
        self.calls += 1
        response: dict[str, Any] = {"Error": {"Code": self._code, "Message": "busy"}}
        if self._reasons:
            response["CancellationReasons"] = [{"Code": code} for code in self._reasons]
        raise ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


BUSY = [
    ("ProvisionedThroughputExceededException", ()),
    ("ThrottlingException", ()),
    ("RequestLimitExceeded", ()),
    ("TransactionConflictException", ()),
    ("TransactionCanceledException", ("None", "TransactionConflict", "None", "None")),
    ("TransactionCanceledException", ("None", "ThrottlingError", "None", "None")),
]

WRITES: dict[str, Any] = {
    "enroll": lambda: enroll("m-new"),
    "patch": lambda: request(PATCH_MEMBER, SELF, body={"name": "Renamed"}),
    "redeem": lambda: request(REDEEM, SELF, body={"rewardId": "free-shipping"}),
    "review": lambda: request(REVIEW, SELF, body={"productId": "p-1", "reviewId": "rv-1"}),
    "adjust": lambda: send(0, {"points": 10, "reason": "goodwill gesture"}),
    "reward": lambda: send(1, {"name": "Mug", "kind": "product", "cost": 100}),
    "erase": lambda: call(
        admin_app.handler,
        http_event("DELETE", "/members/{memberId}", {"memberId": SELF}, claims=ADMIN),
    ),
}


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(("code", "reasons"), BUSY, ids=[f"{c} {r}" for c, r in BUSY])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_throttled_or_conflicting_write_is_a_503_with_retry_after(
    write, code, reasons, table_name, monkeypatch, snapshot
):
    monkeypatch.setattr("loyalty.services.retry.time.sleep", lambda _: None)
    repository = runtime._repository(table_name)
    busy = BusyClient(repository.client, code, reasons)
    monkeypatch.setattr(repository, "client", busy)
    before = snapshot()
    reply = WRITES[write]()
    assert_error(reply, 503)
    assert reply.headers.get("Retry-After") == "1", reply.headers
    assert busy.calls >= 1
    assert snapshot() == before


class ThrottledReads:
    """The repository's DynamoDB client, except that every read is throttled (as the
    client's own retries finally give up)."""

    def __init__(self, real: Any, code: str) -> None:
        self._real = real
        self._code = code
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        if name in {"get_item", "batch_get_item", "query"}:
            return self._throttled
        return getattr(self._real, name)

    def _throttled(self, **_: Any) -> Any:
        self.calls += 1
        error = {"Error": {"Code": self._code, "Message": "Rate of requests exceeds"}}
        raise ClientError(error, "Query")  # type: ignore[arg-type]


THROTTLED_CODES = ["ProvisionedThroughputExceededException", "ThrottlingException"]


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("code", THROTTLED_CODES)
@pytest.mark.parametrize(
    "route", [GET_MEMBER, ACTIVITY, BADGES, REFERRALS, MEMBER_COUPONS], ids=lambda r: r.path
)
def test_a_throttled_read_is_a_503_with_retry_after(route, code, table_name, monkeypatch):
    repository = runtime._repository(table_name)
    throttled = ThrottledReads(repository.client, code)
    monkeypatch.setattr(repository, "client", throttling_as_busy(throttled))  # as the store has it
    reply = request(route, SELF)
    assert_error(reply, 503)
    assert reply.headers.get("Retry-After") == "1", reply.headers
    assert throttled.calls >= 1


# ---- 6. the document's limits are the server's ---------------------------------------------


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"email": None},
        {"name": "   "},
        {"marketingConsent": 0},
        {"marketingConsent": 1},
        {"marketingConsent": "yes"},
        {"marketingConsent": "true"},
        {"birthday": "1899-12-31"},
        {"birthday": "2099-01-01"},
    ],
    ids=lambda body: repr(body),
)
def test_a_profile_change_outside_the_documented_limits_is_a_422(body, snapshot):
    before = snapshot()
    assert_error(request(PATCH_MEMBER, SELF, body=body), 422)
    assert snapshot() == before


@pytest.mark.parametrize("consent", [0, 1, "yes", "no", "1", 1.0])
def test_marketing_consent_is_a_strict_boolean_at_enrollment(consent, snapshot):
    before = snapshot()
    assert_error(enroll("m-9", marketingConsent=consent), 422)
    assert snapshot() == before


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("consent", [True, False])
def test_marketing_consent_true_or_false_is_accepted(consent):
    reply = request(PATCH_MEMBER, SELF, body={"marketingConsent": consent})
    assert reply.status == 200, reply.body
    assert reply.body["marketingConsent"] is consent


def _document() -> dict[str, Any]:
    from devtools.openapi import build_document

    return build_document()


def test_the_document_has_the_contracts_member_id_and_limits():
    document = _document()
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "memberId":
                    schema = parameter["schema"]
                    if "anyOf" in schema:  # optional, null allowed: the string branch
                        schema = next(s for s in schema["anyOf"] if s.get("type") == "string")
                    assert schema["pattern"] == "^[A-Za-z0-9._@-]{1,64}$", path
                    assert (schema["minLength"], schema["maxLength"]) == (1, 64), path
    enroll_responses = document["paths"]["/members"]["post"]["responses"]
    assert {"200", "201"} <= set(enroll_responses)
    assert "content" not in document["paths"]["/members/{memberId}"]["delete"]["responses"]["204"]
    upsert = schemas["RewardUpsert"]["properties"]
    assert upsert["cost"]["minimum"] == 1
    assert upsert["name"]["minLength"] == 1
    assert schemas["ProfileUpdate"]["properties"]["name"]["type"] == "string"  # no null
    assert "pattern" in schemas["EnrollRequest"]["properties"]["birthday"]
    consent = schemas["EnrollRequest"]["properties"]["marketingConsent"]
    assert {"type": "boolean"} in consent["anyOf"]
    tiers = schemas["ProgramRules-Input"]["properties"]["tiers"]
    assert [t["properties"]["name"]["const"] for t in tiers["prefixItems"]] == [
        "Bronze",
        "Silver",
        "Gold",
    ]
    assert tiers["maxItems"] == 3
    put_reward = document["paths"]["/admin/rewards/{rewardId}"]["put"]["responses"]
    assert {"200", "201", "415"} <= set(put_reward)


def test_a_reward_with_a_cost_below_one_is_a_422(snapshot):
    before = snapshot()
    for cost in (0, -1):
        assert_error(send(1, {"name": "Mug", "kind": "product", "cost": cost}), 422)
    assert snapshot() == before


# ---- found by the fuzzer (scripts/fuzz.sh) ----------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"stock": False}, {"stock": "3"}, {"cost": True}, {"cost": "100"}, {"active": 1}],
    ids=lambda change: repr(change),
)
def test_a_reward_with_a_value_of_another_json_type_is_a_422(change, snapshot):
    """`"stock": false` was taken for 0: a JSON integer is a number, never a boolean."""
    before = snapshot()
    body = {"name": "Mug", "kind": "product", "cost": 100} | change
    assert_error(send(1, body), 422)
    assert snapshot() == before


def test_a_reward_cost_written_as_a_whole_float_is_an_integer():
    """JSON Schema's integer: 100.0 is one, as the document says."""
    reply = send(1, {"name": "Mug", "kind": "product", "cost": 100.0})
    assert reply.status == 201, reply.body
    assert reply.body["cost"] == 100


@pytest.mark.parametrize("field", ["reviewPoints", "expiryMonths", "version"])
@pytest.mark.parametrize("value", [True, "12"])
def test_a_program_number_of_another_json_type_is_a_422(field, value, snapshot):
    document = admin("GET", "/admin/program").body
    before = snapshot()
    assert_error(admin("PUT", "/admin/program", body=document | {field: value}), 422)
    assert snapshot() == before


@pytest.mark.parametrize("birthday", [0, 86400, 631152000])
def test_a_birthday_given_as_a_number_is_a_422(birthday, snapshot):
    """A number was read as a Unix timestamp; the document says YYYY-MM-DD."""
    before = snapshot()
    assert_error(enroll("m-9", birthday=birthday), 422)
    assert snapshot() == before
