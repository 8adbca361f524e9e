"""The local stack's pure parts, without DynamoDB: template wiring and intrinsic functions,
API Gateway route matching, Lambda event filtering, local tokens, the progress bar."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.local.gateway import ApiRequest, Gateway
from devtools.local.progress import Progress
from devtools.local.runtime import Invocation
from devtools.local.stack import StackClock, parse_now
from devtools.local.streams import admitted, load_patterns, matches
from devtools.local.tokens import DevTokens, InvalidToken, gateway_claims, is_loopback
from devtools.local.wiring import LocalNames, RouteSpec, Wiring
from devtools.template import DEFAULT_TEMPLATE

NAMES = LocalNames(
    table_name="t-units",
    stack_name="t-units",
    queue_endpoint="http://127.0.0.1:4566",
    parameters={"JwtIssuer": "loyalty-local-dev", "JwtAudience": ["loyalty-local"]},
)


@pytest.fixture(scope="module")
def wiring() -> Wiring:
    return Wiring(DEFAULT_TEMPLATE, NAMES)


def test_the_template_is_read_whole(wiring: Wiring) -> None:
    assert wiring.warnings == []
    keys = {route.key for route in wiring.routes}
    assert {
        "POST /members",
        "GET /members/{memberId}",
        "POST /members/{memberId}/redemptions",
    } <= keys
    consumers = {c.queue: c.function for c in wiring.queue_consumers}
    assert consumers["OrdersQueue"] == "PurchaseAwardFunction"
    orders = wiring.queue("OrdersQueue")
    assert orders.dead_letter == "OrdersDeadLetterQueue" and orders.max_receive_count == 5
    assert "ReferralCompletionFunction" in {c.function for c in wiring.stream_consumers}
    assert {"expiry", "birthday", "tenure", "promotions"} <= {
        s.short_name for s in wiring.schedules
    }


def test_only_the_schedules_of_every_few_minutes_run_after_each_stream_delivery(
    wiring: Wiring,
) -> None:
    frequent = {s.short_name for s in wiring.schedules if s.frequent}
    assert frequent == {"leaderboard-refresher"}


def test_environment_is_resolved_to_local_values(wiring: Wiring) -> None:
    expiry = wiring.functions["ExpiryScheduleFunction"].environment
    assert expiry["TABLE_NAME"] == "t-units"
    assert expiry["WORK_QUEUE_URL"] == wiring.queue("JobWorkQueue").url
    assert expiry["WORK_QUEUE_URL"].startswith("http://127.0.0.1:4566/000000000000/")
    assert expiry["POWERTOOLS_TRACE_DISABLED"] == "true"  # !If on a condition
    publisher = wiring.functions["EventsPublisherFunction"].environment
    assert publisher["EVENT_BUS_NAME"] == "t-units-loyalty-events"  # !Sub ${AWS::StackName}
    assert wiring.functions["JobWorkerFunction"].timeout == 300
    assert wiring.functions["PurchaseAwardFunction"].timeout == 30  # from Globals


def test_intrinsic_functions(wiring: Wiring) -> None:
    assert wiring.resolve({"Fn::Sub": "${AWS::Region}/${LoyaltyTable}"}) == "us-east-1/t-units"
    assert wiring.resolve({"Fn::Sub": ["${X}-${!Literal}", {"X": "a"}]}) == "a-${Literal}"
    assert wiring.resolve({"Fn::Join": ["-", ["a", {"Ref": "LogLevel"}]]}) == "a-INFO"
    assert wiring.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert wiring.resolve({"Fn::GetAtt": ["OrdersQueue", "QueueName"]}) == "t-units-OrdersQueue"
    assert wiring.resolve({"A": {"Ref": "AWS::NoValue"}, "B": 1}) == {"B": 1}
    assert wiring.resolve({"Fn::ToJsonString": {"a": [1]}}) == '{"a":[1]}'


def test_schedule_lookup(wiring: Wiring) -> None:
    assert wiring.schedule("EXPIRY").function == "ExpiryScheduleFunction"
    assert wiring.schedule("ExpiryScheduleFunction.Daily").short_name == "expiry"
    assert wiring.schedule("TenureScheduleFunction").short_name == "tenure"
    assert wiring.schedule("expiry").time_of_day == (0, 15)
    with pytest.raises(KeyError, match="known:"):
        wiring.schedule("nope")
    expiry = wiring.schedule("expiry")
    assert parse_now("2027-03-01", expiry) == datetime(2027, 3, 1, 0, 15, tzinfo=UTC)
    assert parse_now("2027-03-01T09:30:00Z") == datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    assert parse_now(None).tzinfo is UTC


def test_a_pinned_stack_clock_starts_at_its_instant_and_runs_on_whatever_the_date() -> None:
    import time_machine

    pinned = StackClock("2026-12-10T12:00:00Z")
    assert pinned.pinned and not StackClock().pinned and not StackClock("").pinned
    with time_machine.travel(datetime(2031, 5, 5, 8, tzinfo=UTC)):
        first, second = pinned(), pinned()
    assert datetime(2026, 12, 10, 12, tzinfo=UTC) <= first <= second
    assert second < datetime(2026, 12, 10, 12, 10, tzinfo=UTC)
    assert StackClock("2026-12-10")() >= datetime(2026, 12, 10, tzinfo=UTC)


def gateway(*routes: tuple[str, str]) -> Gateway:
    specs = [
        RouteSpec(method, path, f"F{i}", "E", "Api", None)
        for i, (method, path) in enumerate(routes)
    ]

    def invoke(function: str, event: dict[str, Any]) -> Invocation:
        return Invocation(function=function, result={"statusCode": 200, "body": function})

    return Gateway(specs, {}, DevTokens(), invoke, dev_tokens_allowed=lambda peer: True)


def test_routes_match_like_api_gateway() -> None:
    api = gateway(
        ("GET", "/members/{memberId}"),
        ("GET", "/members/me"),
        ("ANY", "/members/{proxy+}"),
        ("GET", "/members/{memberId}/activity"),
        ("ANY", "$default"),
    )

    def route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        found = api.match(method, path)
        return (found[0].key, found[1]) if found else None

    assert route("GET", "/members/me") == ("GET /members/me", {})
    assert route("GET", "/members/ann") == ("GET /members/{memberId}", {"memberId": "ann"})
    assert route("GET", "/members/a%40b") == ("GET /members/{memberId}", {"memberId": "a@b"})
    assert route("GET", "/members/ann/activity")[0] == "GET /members/{memberId}/activity"  # type: ignore[index]
    assert route("POST", "/members/ann/x/y") == ("ANY /members/{proxy+}", {"proxy": "ann/x/y"})
    assert route("DELETE", "/other") == ("$default", {})
    assert gateway(("GET", "/a/{b}")).match("GET", "/a") is None
    assert gateway(("GET", "/a/{b}")).match("GET", "/a/") is None
    assert gateway(("GET", "/a/{b}")).match("POST", "/a/x") is None


def test_response_formats() -> None:
    assert Gateway.to_http({"statusCode": 201, "body": "{}"}).status == 201
    inferred = Gateway.to_http({"a": 1})
    assert (inferred.status, inferred.body) == (200, b'{"a": 1}')
    binary = Gateway.to_http({"statusCode": 200, "body": "AAE=", "isBase64Encoded": True})
    assert binary.body == b"\x00\x01"
    with pytest.raises(ValueError):
        Gateway.to_http({"statusCode": 42})


def test_event_filtering() -> None:
    record = {
        "eventName": "INSERT",
        "dynamodb": {"NewImage": {"itemType": {"S": "order"}, "orderNumber": {"N": "1"}}},
    }
    assert matches({"eventName": ["INSERT", "MODIFY"]}, record)
    assert not matches({"eventName": ["REMOVE"]}, record)
    assert matches({"dynamodb": {"NewImage": {"orderNumber": {"N": ["1"]}}}}, record)
    assert matches(
        {"dynamodb": {"NewImage": {"orderNumber": {"N": [{"numeric": ["<", 2]}]}}}}, record
    )
    assert matches({"dynamodb": {"NewImage": {"itemType": {"S": [{"prefix": "ord"}]}}}}, record)
    assert matches(
        {"dynamodb": {"NewImage": {"itemType": {"S": [{"anything-but": ["lot"]}]}}}}, record
    )
    assert not matches(
        {"dynamodb": {"NewImage": {"itemType": {"S": [{"anything-but": "order"}]}}}}, record
    )
    assert matches({"dynamodb": {"OldImage": [{"exists": False}]}}, record)
    assert not matches({"dynamodb": {"NewImage": [{"exists": False}]}}, record)
    assert matches({"$or": [{"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}]}, record)
    assert matches({"tags": ["b"]}, {"tags": ["a", "b"]})  # any element of an array
    patterns = load_patterns({"Filters": [{"Pattern": '{"eventName": ["MODIFY"]}'}]})
    assert not admitted(patterns, record)
    assert admitted([], record)  # no filter criteria: everything


def test_local_tokens() -> None:
    tokens = DevTokens()
    token, claims = tokens.mint("ann", ["loyalty/admin"])
    assert tokens.verify(token)["sub"] == "ann"
    assert claims["scope"] == "loyalty/admin"
    with pytest.raises(InvalidToken):
        DevTokens().verify(token)  # another process's secret
    with pytest.raises(InvalidToken):
        tokens.verify(token, issuer="https://idp.example.com")
    with pytest.raises(InvalidToken):
        tokens.verify(token, audiences=["someone-else"])
    header, body, _ = token.split(".")
    with pytest.raises(InvalidToken):
        tokens.verify(f"{header}.{body}.")
    short, _ = tokens.mint("ann", ttl_seconds=1)
    time.sleep(1.1)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(short)
    with pytest.raises(ValueError):
        tokens.mint("")
    assert gateway_claims({"exp": 5, "list": ["a", "b"], "ok": True}) == {
        "exp": "5",
        "list": "[a b]",
        "ok": "true",
    }


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("192.0.2.1")


def test_progress_bar_without_a_terminal() -> None:
    out = io.StringIO()
    with Progress(20, "seeding", stream=out) as bar:
        for _ in range(20):
            bar.advance()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("seeding [") and "0/20" in lines[0]
    assert "20/20 100%" in lines[-1]
    assert len(lines) <= 12  # a line per tenth, not per step


def test_the_function_gets_a_decoded_path_as_from_api_gateway() -> None:
    """HTTP APIs hand the function a decoded rawPath and decoded pathParameters."""
    seen: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Invocation:
        seen.append(event)
        return Invocation(function=function, result={"statusCode": 200, "body": "{}"})

    spec = RouteSpec("GET", "/members/{memberId}", "F", "E", "Api", None)
    api = Gateway([spec], {}, DevTokens(), invoke, dev_tokens_allowed=lambda peer: True)
    for target, member_id in (
        ("/members/pat%40shop.io?x=1", "pat@shop.io"),
        ("/members/c%2D7741", "c-7741"),
        ("/members/pat@shop.io", "pat@shop.io"),
    ):
        assert api.handle(ApiRequest("GET", target, [])).status == 200
        event = seen.pop()
        assert event["rawPath"] == f"/members/{member_id}"
        assert event["requestContext"]["http"]["path"] == f"/members/{member_id}"
        assert event["pathParameters"] == {"memberId": member_id}
