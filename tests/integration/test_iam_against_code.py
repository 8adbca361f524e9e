"""IAM against the code: every AWS call a function's code makes is allowed by that function's
policy in template.yaml, and every permission of the policy is used by some code path (or is
listed in JUSTIFIED_UNUSED with its reason).

The calls are recorded from botocore (every client's API call, with its parameters) while a
scenario drives each function through its real handler: DynamoDB Local for the table, moto for
SQS and EventBridge. Each call is attributed to the function whose handler is running
(`loyalty.observability.running_handler`, set by the handlers' decorator), and the handler to
its template function by CodeUri and Handler. Policies are the functions' inline statements
(scripts/scan.sh allows no other kind); SAM's own execution policies (logs, the event
sources' pollers, X-Ray) serve the Lambda service, not the code, and are not compared."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest
from moto import mock_aws

from devtools.template import load_template
from functions.admin_api import app as admin_app
from functions.badge_evaluator import app as badge_evaluator
from functions.events_publisher import app as publisher
from functions.jobs import app as jobs
from functions.kpi_projector import app as projector
from functions.leaderboard_projector import app as leaderboard_projector
from functions.leaderboard_refresher import app as leaderboard_refresher
from functions.members_api import app as members_app
from functions.referral_completion import app as referral_completion
from loyalty import runtime
from loyalty.observability import running_handler
from loyalty.services import jobs as jobs_service
from tests.support.api import (
    ACTIVITY,
    BADGES,
    CHECK_COUPON,
    MEMBER_COUPONS,
    PATCH_MEMBER,
    REFERRALS,
    REWARDS,
    USE_COUPON,
    VOID_COUPON,
    coupon_request,
    enroll,
    member,
    order,
    play_orders,
    redeem,
    request,
    review,
    share,
)
from tests.support.events import FakeLambdaContext, refunded, sqs_event
from tests.support.http import ADMIN, call, http_event
from tests.support.schedules import scheduled_event
from tests.support.streams import StreamReader, delivered_to

pytestmark = pytest.mark.usefixtures("table_name", "clock")

# (function, action, resource) the code never exercises in this scenario, and why each stays.
JUSTIFIED_UNUSED: dict[tuple[str, str, str], str] = {}

QUEUE = "JobWorkQueue"
BUS = "LoyaltyEventBus"
TABLE = "LoyaltyTable"
Permission = tuple[str, str]  # (action, resource logical id [+ /index/NAME])

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


# ---- the policies ------------------------------------------------------------------------------


def _resource(value: Any) -> str:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", value
        return str(logical_id)
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = str(value["Fn::Sub"])
        head, _, tail = text.partition("}")
        return head.removeprefix("${").removesuffix(".Arn") + tail
    raise AssertionError(f"unexpected policy resource {value!r}")


def policies(template: dict[str, Any]) -> dict[str, set[Permission]]:
    """Each function's inline permissions, as (action, resource) pairs."""
    allowed: dict[str, set[Permission]] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        granted: set[Permission] = set()
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = statement["Action"]
                targets = statement["Resource"]
                for action in [actions] if isinstance(actions, str) else actions:
                    for target in targets if isinstance(targets, list) else [targets]:
                        granted.add((action, _resource(target)))
        allowed[name] = granted
    return allowed


def handler_functions(template: dict[str, Any]) -> dict[str, str]:
    """ "functions.jobs.app.worker_handler" -> "JobWorkerFunction"."""
    names = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = resource["Properties"]
            package = properties["CodeUri"].strip("/").replace("/", ".")
            names[f"{package}.{properties['Handler']}"] = name
    return names


# ---- the calls ---------------------------------------------------------------------------------


def required(service: str, operation: str, params: dict[str, Any]) -> set[Permission]:
    """The permissions one API call needs (its action on the template resource it names)."""

    def table(name: str, index: str | None = None) -> str:
        return f"{TABLE}/index/{index}" if index else TABLE

    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return {
                (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", table(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            }
        if operation == "TransactGetItems":
            return {
                ("dynamodb:GetItem", table(i["Get"]["TableName"])) for i in params["TransactItems"]
            }
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]}
        return {(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))}
    if service == "sqs":
        action = "SendMessage" if operation.startswith("SendMessage") else operation
        assert params["QueueUrl"].rstrip("/").endswith(f"/{QUEUE}"), params["QueueUrl"]
        return {(f"sqs:{action}", QUEUE)}
    if service in ("events", "eventbridge"):
        buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
        assert buses == {BUS}, buses
        return {(f"events:{operation}", BUS)}
    raise AssertionError(f"a call to {service}:{operation}: add it to required()")


class CallRecorder:
    """Every botocore API call made while a handler runs, by that handler."""

    def __init__(self) -> None:
        self.calls: dict[str, set[Permission]] = defaultdict(set)

    def __enter__(self) -> CallRecorder:
        original = botocore.client.BaseClient._make_api_call
        recorder = self

        def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
            handler = running_handler.get()
            if handler is not None:
                service = client.meta.service_model.service_name
                recorder.calls[handler] |= required(service, operation, params)
            return original(client, operation, params)

        self._original = original
        botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def compare(
    calls: dict[str, set[Permission]],
    allowed: dict[str, set[Permission]],
    functions: dict[str, str],
) -> list[str]:
    """What is wrong: calls no policy allows, permissions no code path used."""
    problems = []
    used: dict[str, set[Permission]] = defaultdict(set)
    for handler, permissions in calls.items():
        function = functions[handler]
        used[function] |= permissions
        for action, resource in sorted(permissions - allowed[function]):
            problems.append(f"{function}: calls {action} on {resource}, not in its policy")
    for function, granted in allowed.items():
        for action, resource in sorted(granted - used[function]):
            if (function, action, resource) not in JUSTIFIED_UNUSED:
                problems.append(f"{function}: {action} on {resource} is granted, never used")
    return problems


# ---- the scenario ------------------------------------------------------------------------------


def admin(method: str, route: str, parameters: dict[str, str] | None = None, **kw: Any) -> Any:
    return call(admin_app.handler, http_event(method, route, parameters, claims=ADMIN, **kw))


class ShortOfTime(FakeLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 0  # a shard stops after each page and queues its continuation


def _drain_work(sqs: Any, queue_url: str, context: Any) -> None:
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return
        event = sqs_event(*[m["Body"] for m in messages])
        assert jobs.worker_handler(event, context)["batchItemFailures"] == []
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def exercise_every_function(clock: Any, table_name: str, monkeypatch: Any) -> None:
    stream = StreamReader(table_name)
    # The table's client made before moto starts: moto then leaves it to DynamoDB Local.
    runtime._repository(table_name)
    with mock_aws(config={"core": {"service_whitelist": ["events", "sqs"]}}):
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        monkeypatch.setenv("EVENT_BUS_NAME", BUS)
        monkeypatch.setenv("WORK_QUEUE_URL", queue_url)
        runtime._event_bus.cache_clear()

        # Orders, refunds, a duplicate (purchase award); the storefront API; redemptions.
        clock.set("2026-01-05T09:00:00Z")
        first_order = {"name": "First order", "condition": {"kind": "orders", "count": 1}}
        put_badge = admin("PUT", "/admin/badges/{badgeId}", {"badgeId": "b-1"}, body=first_order)
        assert put_badge.status == 201, put_badge.body
        assert admin("GET", "/admin/badges").status == 200
        referrer = enroll("iam-ref", birthday="1990-01-20", marketingConsent=True)
        assert referrer.status == 201, referrer.body
        assert enroll("iam-new", referral_code=referrer.body["referralCode"]).status == 201
        # Each function reads the rules itself in its own container (GetItem): not from the
        # cache another function's call filled in this one process.
        runtime.forget_rules()
        play_orders(
            order("o-iam-1", "iam-ref", "20.00", at="2026-01-05T10:00:00Z"),
            order("o-iam-2", "iam-new", "12.00", at="2026-01-05T11:00:00Z"),
            order("o-iam-1", "iam-ref", "20.00", at="2026-01-05T10:00:00Z"),
            # A repeat order: awarded without a read, its record without a tier.
            order("o-iam-3", "iam-ref", "1.00", at="2026-01-05T12:00:00Z"),
            refunded("o-iam-1", "r-iam-1", "iam-ref", "5.00", at="2026-01-06T10:00:00Z"),
        )
        assert member("iam-ref").status == 200
        assert request(PATCH_MEMBER, "iam-ref", body={"email": "ref2@example.com"}).status == 200
        choice = {"leaderboard": {"optIn": True, "displayName": "Ref"}}
        assert request(PATCH_MEMBER, "iam-ref", body=choice).status == 200
        assert request(ACTIVITY, "iam-ref").status == 200
        assert request(REFERRALS, "iam-ref").status == 200
        assert request(BADGES, "iam-ref").status == 200
        assert request(REWARDS).status == 200
        assert review("iam-ref", "P-1", "rv-1").status == 201
        assert share("iam-ref", "https://example.com/p/1").status == 201
        assert redeem("iam-ref", "free-shipping", key="k-1").status == 201
        assert redeem("iam-ref", "free-shipping", key="k-1").status == 201  # a replay
        code = redeem("iam-ref", "free-shipping", key="k-2").body["couponCode"]
        listed = request(MEMBER_COUPONS, "iam-ref")
        assert listed.status == 200 and len(listed.body["items"]) == 2, listed.body
        assert coupon_request(CHECK_COUPON, code).status == 200
        used = coupon_request(USE_COUPON, code, body={"orderId": "o-x", "memberId": "iam-ref"})
        assert used.status == 200, used.body
        other = redeem("iam-ref", "free-shipping", key="k-3").body["couponCode"]
        assert coupon_request(VOID_COUPON, other, body={}).status == 200

        # The operators' API.
        assert admin("GET", "/admin/members", query={"email": "ref2@example.com"}).status == 200
        adjusted = admin(
            "POST",
            "/admin/members/{memberId}/adjustments",
            {"memberId": "iam-new"},
            body={"points": 50, "reason": "goodwill"},
            headers={"Idempotency-Key": "a-1"},
        )
        assert adjusted.status == 201, adjusted.body
        assert admin("GET", "/admin/rewards").status == 200
        reward = {"name": "Mug", "kind": "product", "cost": 100}
        assert (
            admin("PUT", "/admin/rewards/{rewardId}", {"rewardId": "mug"}, body=reward).status
            == 201
        )
        program = admin("GET", "/admin/program")
        assert admin("PUT", "/admin/program", body=program.body).status == 200
        clock.set("2026-01-06T09:00:00Z")  # the orders of 2026-01-05 in the preview's period
        preview = admin("POST", "/admin/program/preview", body=program.body)
        assert preview.status == 200, preview.body
        assert preview.body["total"]["orders"] == 3, preview.body  # o-iam-3 given its tier
        clock.set("2026-01-05T09:00:00Z")
        assert admin("GET", "/admin/audit").status == 200
        assert admin("GET", "/members/{memberId}/export", {"memberId": "iam-new"}).status == 200

        # The stream consumers.
        records = stream.read()
        for function, module in (
            ("ReferralCompletionFunction", referral_completion),
            ("KpiProjectorFunction", projector),
            ("LeaderboardProjectorFunction", leaderboard_projector),
            ("BadgeEvaluatorFunction", badge_evaluator),
        ):
            event = delivered_to(function, records)
            assert module.handler(event, FakeLambdaContext())["batchItemFailures"] == []
        assert admin("GET", "/admin/kpis").status == 200
        leaderboard_refresher.handler(scheduled_event("2026-01-07T00:00:00Z"), FakeLambdaContext())
        board = http_event("GET", "/leaderboard", claims=ADMIN, query={"period": "all"})
        assert call(members_app.handler, board).status == 200
        for start in range(0, len(records), 50):
            batch = {"Records": records[start : start + 50]}
            assert publisher.handler(batch, FakeLambdaContext())["batchItemFailures"] == []

        # The daily jobs: each schedule fans out over the queue, the worker drains it; the
        # expiry run a page of one member at a time, continued each time.
        monkeypatch.setattr(jobs_service, "PAGE_SIZE", 1)
        for job, time in (
            ("birthday", "2026-01-01T00:30:00Z"),
            ("tenure", "2027-01-06T00:45:00Z"),
            ("expiry", "2027-01-07T00:15:00Z"),
            # The coupon still issued (k-1, expiring 2026-04-05): warned, then expired.
            ("coupons", "2026-03-30T01:00:00Z"),
            ("coupons", "2026-04-06T01:00:00Z"),
        ):
            getattr(jobs, f"{job}_schedule")(scheduled_event(time), FakeLambdaContext())
            _drain_work(sqs, queue_url, ShortOfTime() if job == "expiry" else FakeLambdaContext())
        runtime.forget_rules()  # as in a new container: it reads the rules first
        jobs.promotions_schedule(scheduled_event("2026-11-27T00:00:00Z"), FakeLambdaContext())
        assert admin("DELETE", "/members/{memberId}", {"memberId": "iam-new"}).status == 204
        runtime._event_bus.cache_clear()


_RECORDED: dict[str, set[Permission]] = {}


@pytest.fixture
def recorded(clock: Any, table_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not _RECORDED:
        with CallRecorder() as recorder:
            exercise_every_function(clock, table_name, monkeypatch)
        _RECORDED.update(recorder.calls)
    yield _RECORDED


def test_every_call_is_allowed_and_every_permission_used(recorded):
    template = load_template()
    functions = handler_functions(template)
    assert set(functions) >= set(recorded), "a handler outside the template"
    problems = compare(recorded, policies(template), functions)
    assert problems == [], "\n".join(problems)


def test_a_permission_removed_from_a_policy_fails_the_comparison(recorded):
    template = load_template()
    functions = handler_functions(template)
    allowed = copy.deepcopy(policies(template))
    allowed["RedemptionFunction"].discard(("dynamodb:UpdateItem", TABLE))
    assert compare(recorded, allowed, functions) == [
        "RedemptionFunction: calls dynamodb:UpdateItem on LoyaltyTable, not in its policy"
    ]
    # And one granted to no purpose.
    allowed = copy.deepcopy(policies(template))
    allowed["RedemptionFunction"].add(("dynamodb:DeleteItem", TABLE))
    assert compare(recorded, allowed, functions) == [
        "RedemptionFunction: dynamodb:DeleteItem on LoyaltyTable is granted, never used"
    ]


def test_the_recorder_sees_the_calls_as_json(recorded):
    # The recorded calls, printed for the reader of a failure (-s).
    print(json.dumps({h: sorted(map(list, p)) for h, p in sorted(recorded.items())}, indent=1))
