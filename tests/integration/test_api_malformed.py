"""Storefront API, malformed input: whatever the body, path, query, headers or token, the
answer is never a 5xx, every error carries a `message`, and a refusal changes nothing in the
table. Property tests (hypothesis) over every route, then the inputs found to break it."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.api import (
    ACTIVITY,
    BODY_ROUTES,
    ENROLL,
    GET_MEMBER,
    MEMBER_ROUTES,
    PATCH_MEMBER,
    QUOTE,
    REDEEM,
    REVIEW,
    ROUTES,
    SHARE,
    Route,
    call_event,
    enroll,
    order,
    play_orders,
    request,
    valid_body,
)
from tests.support.http import ADMIN, SERVICE, Reply, http_event, member_token

pytestmark = pytest.mark.usefixtures("table_name", "clock")

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SELF = "m-1"
KNOWN = {SELF, "m-2"}

# The fields each body route reads; the string fields among them, and the required ones.
FIELDS: dict[Route, tuple[str, ...]] = {
    ENROLL: ("memberId", "name", "email", "phone", "birthday", "referralCode"),
    PATCH_MEMBER: ("name", "email", "phone", "birthday"),
    REDEEM: ("rewardId",),
    REVIEW: ("productId", "reviewId"),
    SHARE: ("platform", "url"),
    QUOTE: ("memberId", "lines", "at"),
}
REQUIRED: dict[Route, tuple[str, ...]] = {
    ENROLL: ("memberId", "name", "email"),
    PATCH_MEMBER: (),
    REDEEM: ("rewardId",),
    REVIEW: ("productId", "reviewId"),
    SHARE: ("platform", "url"),
    QUOTE: ("lines",),
}
FIELD_NAMES = sorted({name for names in FIELDS.values() for name in names})


@pytest.fixture
def world(table_name: str, clock: Any) -> None:
    """m-1 enrolled with 1150 points, m-2 enrolled with none."""
    play_orders(order("o-1", SELF, "10.00"))
    assert enroll(SELF).status == 200
    assert enroll("m-2").status == 201


def assert_refused(reply: Reply) -> None:
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    assert isinstance(reply.body, dict), reply.body
    assert isinstance(reply.body.get("message"), str), reply.body
    assert reply.body["message"]


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12)), children),
    ),
    max_leaves=12,
)
# Values no string (or date) field accepts: pydantic does not coerce these to str.
wrong_types = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40).filter(lambda n: n not in (0, 1)),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
)
huge_strings = st.builds(
    lambda chunk, times: (chunk * times)[: max(3000, times)],
    st.text(min_size=1, max_size=8),
    st.integers(min_value=3000, max_value=40_000),
)


@st.composite
def broken_bodies(draw: st.DrawFn, route: Route) -> Any:
    """A body the route must refuse: each kind of damage is enough on its own."""
    base = dict(valid_body(route, SELF))
    damage = draw(
        st.sampled_from(
            ["not json", "not an object", "unknown field", "wrong type", "huge", "missing"]
        )
    )
    if damage == "missing" and not REQUIRED[route]:
        damage = "unknown field"
    if damage == "not json":
        return draw(st.text(max_size=200).filter(lambda text: not _is_object(text)))
    if damage == "not an object":
        return json.dumps(draw(st.one_of(json_scalars, st.lists(json_values, max_size=4))))
    if damage == "unknown field":
        base["x-" + draw(st.text(max_size=20))] = draw(json_values)
        return base
    if damage == "wrong type":
        field = draw(st.sampled_from(FIELDS[route]))
        value = draw(wrong_types)
        if field == "birthday" and isinstance(value, (int, float)):
            value = [value]  # a number would be read as a timestamp
        base[field] = value
        return base
    if damage == "huge":
        base[draw(st.sampled_from(FIELDS[route]))] = draw(huge_strings)
        return base
    del base[draw(st.sampled_from(REQUIRED[route]))]
    return base


@st.composite
def broken_requests(draw: st.DrawFn) -> tuple[Route, dict[str, Any], Any]:
    route = draw(st.sampled_from(BODY_ROUTES))
    callers = [SERVICE, ADMIN] if route in (REVIEW, SHARE, QUOTE) else [SERVICE, member_token(SELF)]
    return route, draw(st.sampled_from(callers)), draw(broken_bodies(route))


@pytest.mark.usefixtures("world")
@PROPERTY
@given(broken=broken_requests())
def test_broken_bodies_are_refused_and_change_nothing(broken, snapshot):
    route, claims, body = broken
    before = snapshot()
    reply = request(route, SELF, body=body, claims=claims)
    assert_refused(reply)
    assert snapshot() == before


@pytest.mark.usefixtures("world")
@settings(PROPERTY, max_examples=150)
@given(
    route=st.sampled_from(ROUTES),
    claims=st.sampled_from([None, member_token(SELF), member_token("m-2"), SERVICE, ADMIN]),
    body=st.one_of(st.none(), json_values, st.text(max_size=80)),
    query=st.dictionaries(st.sampled_from(["limit", "cursor", "x"]), st.text(max_size=20)),
    key=st.one_of(st.none(), st.text(max_size=40)),
)
def test_any_request_is_never_a_5xx_and_a_refusal_changes_nothing(
    route, claims, body, query, key, snapshot
):
    before = snapshot()
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    headers = {"Idempotency-Key": key} if key is not None else None
    reply = request(route, SELF, body=text, claims=claims, query=query, headers=headers)
    assert reply.status < 500, (reply.status, reply.body)
    if reply.status >= 400:
        assert_refused(reply)
        assert snapshot() == before


# A path member id is decoded once (docs/design.md): "%6D-1" is m-1, not a bad id.
member_ids = st.text(min_size=1, max_size=100).filter(
    lambda member_id: unquote(member_id) not in KNOWN and "/" not in member_id
)


@pytest.mark.usefixtures("world")
@PROPERTY
@given(route=st.sampled_from(MEMBER_ROUTES), member_id=member_ids)
@example(route=GET_MEMBER, member_id="M-1")
@example(route=REDEEM, member_id="m-1 ")
@example(route=PATCH_MEMBER, member_id="%256D-1")
@example(route=REVIEW, member_id="../m-1")
@example(route=SHARE, member_id="x" * 100)
def test_a_bad_path_member_id_is_a_4xx_and_changes_nothing(route, member_id, snapshot):
    before = snapshot()
    reply = request(route, member_id, body=valid_body(route, member_id))
    assert_refused(reply)
    assert snapshot() == before


limits = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
)
cursors = st.one_of(
    st.none(),
    st.text(max_size=250),
    st.binary(max_size=40).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
)


@pytest.mark.usefixtures("world")
@PROPERTY
@given(limit=limits, cursor=cursors, caller=st.sampled_from([member_token(SELF), SERVICE]))
@example(limit="0", cursor=None, caller=SERVICE)
@example(limit="abc", cursor=None, caller=SERVICE)
@example(limit="1000", cursor=None, caller=SERVICE)
@example(limit="", cursor="", caller=SERVICE)
def test_activity_query_parameters(limit, cursor, caller, snapshot):
    before = snapshot()
    query = {"limit": limit} | ({"cursor": cursor} if cursor is not None else {})
    reply = request(ACTIVITY, SELF, query=query, claims=caller)
    assert reply.status in (200, 400, 422), (reply.status, reply.body)
    if reply.status == 200:
        assert len(reply.body["items"]) <= 100
        try:
            accepted = int(limit)
        except ValueError:
            accepted = None
        if accepted is not None:
            assert 1 <= accepted <= 100
            assert len(reply.body["items"]) <= accepted
    else:
        assert_refused(reply)
    assert snapshot() == before


@pytest.mark.usefixtures("world")
@PROPERTY
@given(key=st.text(max_size=300), reward_id=st.sampled_from(["discount-10", "free-shipping"]))
def test_any_idempotency_key_for_a_member_without_points(key, reward_id, snapshot):
    before = snapshot()
    reply = request(REDEEM, "m-2", body={"rewardId": reward_id}, headers={"Idempotency-Key": key})
    assert reply.status in (409, 422), (reply.status, reply.body)
    assert_refused(reply)
    assert snapshot() == before


scope_words = st.sampled_from(
    ["openid", "loyalty/service", "loyalty/admin", "loyalty/services", "loyalty", "profile"]
)


@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if draw(st.booleans()):
        claims["sub"] = draw(st.one_of(st.sampled_from(sorted(KNOWN)), st.text(max_size=20)))
    if draw(st.booleans()):
        words = draw(st.lists(st.one_of(scope_words, st.text(max_size=10)), max_size=4))
        claims["scope"] = draw(st.sampled_from([" ", ","])).join(words)
    return claims


@pytest.mark.usefixtures("world")
@PROPERTY
@given(claims=claim_sets())
def test_any_token_gets_exactly_what_its_subject_and_scopes_allow(claims, snapshot):
    """The oracle is the contract: scopes decide the role; otherwise `sub` is the member."""
    before = snapshot()
    reply = request(GET_MEMBER, SELF, claims=claims)
    scopes = set(str(claims.get("scope", "")).replace(",", " ").split())
    if not claims.get("sub"):
        assert reply.status == 401
    elif scopes & {"loyalty/service", "loyalty/admin"} or claims["sub"] == SELF:
        assert reply.status == 200
        assert reply.body["memberId"] == SELF
    else:
        assert reply.status == 403
    if reply.status != 200:
        assert_refused(reply)
    assert snapshot() == before


# ---- inputs that once broke the API (5xx or a bypass) -------------------------------------


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("application/json; charset=utf-8", id="json charset"),
        pytest.param("text/plain", id="text"),
        pytest.param("application/xml", id="xml"),
        pytest.param("multipart/form-data", id="multipart without boundary"),
    ],
)
@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda route: route.key)
def test_other_content_types_are_refused_with_a_message(route, content_type, snapshot):
    before = snapshot()
    claims = SERVICE
    event = http_event(
        route.method,
        route.path,
        {"memberId": SELF} if route.has_member_path else None,
        body="memberId=m-9&name=Eve&email=eve%40example.com",
        claims=claims,
        headers={"content-type": content_type},
    )
    reply = call_event(route, event)
    assert_refused(reply)
    assert snapshot() == before


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    ("route", "claims"),
    [(route, SERVICE) for route in BODY_ROUTES] + [(ENROLL, member_token(SELF))],
    ids=[route.key for route in BODY_ROUTES] + ["POST /members as member"],
)
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_json_is_a_400(route, claims, opening, snapshot):
    before = snapshot()
    reply = request(route, SELF, body=opening * 20_000, claims=claims)
    assert reply.status == 400
    assert reply.body["message"]
    assert snapshot() == before


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda route: route.key)
def test_a_body_that_is_not_utf8_is_a_400(route, snapshot):
    before = snapshot()
    event = http_event(
        route.method,
        route.path,
        {"memberId": SELF} if route.has_member_path else None,
        claims=SERVICE,
    )
    event["body"] = base64.b64encode(b'{"name": "\xff\xfe"}').decode()
    event["isBase64Encoded"] = True
    reply = call_event(route, event)
    assert reply.status == 400
    assert reply.body["message"]
    assert snapshot() == before


def _too_long(route: Route) -> Any:
    if route is GET_MEMBER:
        return pytest.param(route, id=route.key)
    return pytest.param(route, id=route.key)


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("route", [_too_long(route) for route in MEMBER_ROUTES])
def test_a_path_member_id_beyond_the_key_limit_is_a_4xx(route, snapshot):
    before = snapshot()
    member_id = "a" * 2100
    reply = request(route, member_id, body=valid_body(route, member_id))
    assert_refused(reply)
    assert snapshot() == before
