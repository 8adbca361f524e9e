"""The local wiring reads template.yaml, nothing else: a route, a queue and its consumer, a
stream consumer or a schedule added to a copy of the template is served by the local stack
without a code change. A probe function added the same way shows the events as the functions
get them, and that a function which raises is a 502 (as API Gateway answers), never a crash."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devtools.local.stack import LocalStack
from devtools.template import DEFAULT_TEMPLATE
from tests.local.conftest import http

pytestmark = pytest.mark.integration

PROBE = """
import json
import os


def handler(event, context):
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(json.dumps({
            "event": event,
            "remaining": context.get_remaining_time_in_millis(),
            "env": {
                k: os.environ.get(k) for k in ("PROBE_QUEUE_URL", "PROBE_BUS", "TABLE_NAME")
            },
        }) + "\\n")
    if "routeKey" in event:
        if event["rawPath"] == "/probe-boom":
            raise RuntimeError("boom")
        if event["rawPath"] == "/probe/malformed":
            return {"statusCode": "not a number"}
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-probe": "yes"},
            "cookies": ["probe=1; Path=/"],
            "body": json.dumps(event),
        }
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        if any(record["body"] == "explode" for record in records):
            raise RuntimeError("explode")
        failed = [record["messageId"] for record in records if record["body"] == "fail"]
        return {"batchItemFailures": [{"itemIdentifier": item} for item in failed]}
    return {"ok": True}
"""

ADDITIONS = """
  # ---- added by tests/local/test_local_template.py ------------------------------------------
  ShopMembersFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/members_api/
      Handler: app.handler
      Layers: [!Ref DomainLayer]
      Events:
        ShopMember:
          Type: HttpApi
          Properties: {ApiId: !Ref LoyaltyApi, Method: GET, Path: "/shop/members/{memberId}"}

  SecondOrdersDeadLetterQueue:
    Type: AWS::SQS::Queue

  SecondOrdersQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt SecondOrdersDeadLetterQueue.Arn
        maxReceiveCount: 2

  SecondPurchaseAwardFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/purchase_award/
      Handler: app.handler
      Layers: [!Ref DomainLayer]
      Events:
        Orders:
          Type: SQS
          Properties:
            Queue: !GetAtt SecondOrdersQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]

  SecondReferralFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/referral_completion/
      Handler: app.handler
      Layers: [!Ref DomainLayer]
      Events:
        FirstOrders:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt LoyaltyTable.StreamArn
            StartingPosition: LATEST
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: >-
                    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"itemType": {"S":
                    ["order"]}, "orderNumber": {"N": ["1"]}}}}

  SecondPromotionsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/jobs/
      Handler: app.promotions_schedule
      Layers: [!Ref DomainLayer]
      Events:
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(5 3 * * ? *)

  ProbeDeadLetterQueue:
    Type: AWS::SQS::Queue

  ProbeQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub ${AWS::StackName}-probe
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt ProbeDeadLetterQueue.Arn
        maxReceiveCount: 3

  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: probe/
      Handler: app.handler
      Timeout: 7
      Environment:
        Variables:
          PROBE_LOG: __PROBE_LOG__
          PROBE_QUEUE_URL: !Ref ProbeQueue
          PROBE_BUS: !Ref LoyaltyEventBus
      Events:
        Echo:
          Type: HttpApi
          Properties: {ApiId: !Ref LoyaltyApi, Method: GET, Path: "/probe/{proxy+}"}
        Open:
          Type: HttpApi
          Properties:
            ApiId: !Ref LoyaltyApi
            Method: POST
            Path: /probe-open
            Auth: {Authorizer: NONE}
        Scoped:
          Type: HttpApi
          Properties:
            ApiId: !Ref LoyaltyApi
            Method: GET
            Path: /probe-scoped
            Auth: {AuthorizationScopes: [loyalty/admin]}
        Boom:
          Type: HttpApi
          Properties: {ApiId: !Ref LoyaltyApi, Method: POST, Path: /probe-boom}
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt ProbeQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
        NewMembers:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt LoyaltyTable.StreamArn
            StartingPosition: LATEST
            FilterCriteria:
              Filters:
                - Pattern: >-
                    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"itemType": {"S":
                    ["member"]}}}}
        Earned:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref LoyaltyEventBus
            Pattern:
              source: [loyalty]
              detail-type: [points.earned]
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Input: '{"at": "<aws.scheduler.scheduled-time>"}'

  ProbeSchedule:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: cron(0 6 * * ? *)
      FlexibleTimeWindow: {Mode: "OFF"}
      Target:
        Arn: !GetAtt ProbeFunction.Arn
        RoleArn: arn:aws:iam::123456789012:role/scheduler
"""


@pytest.fixture(scope="module")
def probe_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe-log") / "events.jsonl"


@pytest.fixture(scope="module")
def template_copy(tmp_path_factory: pytest.TempPathFactory, probe_log: Path) -> Path:
    """template.yaml plus the additions, beside the repo's code (symlinked) and a probe."""
    root = tmp_path_factory.mktemp("template-copy")
    repo = DEFAULT_TEMPLATE.parent
    for name in ("functions", "layers", "docs"):
        (root / name).symlink_to(repo / name, target_is_directory=True)
    (root / "probe").mkdir()
    (root / "probe" / "app.py").write_text(textwrap.dedent(PROBE))
    text = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    additions = ADDITIONS.replace("__PROBE_LOG__", str(probe_log))
    text = text.replace("\nResources:\n", "\nResources:\n" + additions + "\n", 1)
    (root / "template.yaml").write_text(text, encoding="utf-8")
    return root / "template.yaml"


@pytest.fixture(scope="module")
def wired(stack_factory: Any, template_copy: Path) -> LocalStack:
    started: LocalStack = stack_factory(template_path=template_copy)
    return started


def probe_events(probe_log: Path) -> list[dict[str, Any]]:
    if not probe_log.exists():
        return []
    return [json.loads(line) for line in probe_log.read_text().splitlines()]


def invocations(stack: LocalStack, function: str) -> int:
    return stack.runtime.stats[function].invocations


def test_a_route_added_to_the_template_reaches_its_handler(wired: LocalStack) -> None:
    before = invocations(wired, "ShopMembersFunction")
    answer = http(wired.base_url + "/shop/members/ann", token=wired.mint_token("ann"))
    assert invocations(wired, "ShopMembersFunction") == before + 1
    # the members API itself answers: it has no policy for a route it does not know
    assert answer.status == 404
    assert "/shop/members/{memberId}" in answer.body["message"]


def test_the_function_gets_an_http_api_v2_event(wired: LocalStack, probe_log: Path) -> None:
    token = wired.mint_token("ann")
    answer = http(
        wired.base_url + "/probe/a/b%20c?x=1&x=2&y=z",
        token=token,
        headers={"Cookie": "c1=v1; c2=v2", "X-Custom": "Yes"},
    )
    assert answer.status == 200
    assert answer.headers["x-probe"] == "yes"
    assert answer.headers["set-cookie"] == "probe=1; Path=/"
    event = answer.body
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /probe/{proxy+}"
    assert event["rawPath"] == "/probe/a/b c"  # HTTP APIs hand over the path decoded
    assert event["rawQueryString"] == "x=1&x=2&y=z"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "z"}
    assert event["pathParameters"] == {"proxy": "a/b c"}
    assert event["headers"]["x-custom"] == "Yes"
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["routeKey"] == "GET /probe/{proxy+}"
    jwt = event["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"]["sub"] == "ann"
    assert jwt["claims"]["iss"] == "loyalty-local-dev"
    assert isinstance(jwt["claims"]["exp"], str)  # API Gateway passes every claim as a string
    assert jwt["scopes"] is None  # the route declares no authorization scopes
    assert event["isBase64Encoded"] is False and "body" not in event
    logged = probe_events(probe_log)[-1]
    assert logged["env"] == {
        "PROBE_QUEUE_URL": wired.wiring.queue("ProbeQueue").url,
        "PROBE_BUS": wired.wiring.buses["LoyaltyEventBus"],
        "TABLE_NAME": wired.table_name,
    }
    assert 0 < logged["remaining"] <= 7000  # the function's Timeout


def test_open_and_scoped_routes(wired: LocalStack) -> None:
    opened = http(wired.base_url + "/probe-open", "POST", raw=b"\x00\x01", headers={
        "Content-Type": "application/octet-stream"
    })  # fmt: skip
    assert opened.status == 200
    assert "authorizer" not in opened.body["requestContext"]
    assert opened.body["isBase64Encoded"] is True and opened.body["body"] == "AAE="
    member = http(wired.base_url + "/probe-scoped", token=wired.mint_token("ann"))
    assert (member.status, member.body) == (403, {"message": "Forbidden"})
    admin = http(wired.base_url + "/probe-scoped", token=wired.mint_token("ops", ["loyalty/admin"]))
    assert admin.status == 200
    assert admin.body["requestContext"]["authorizer"]["jwt"]["scopes"] == ["loyalty/admin"]


def test_a_function_that_raises_is_a_502_and_the_stack_keeps_serving(wired: LocalStack) -> None:
    token = wired.mint_token("ann")
    for _ in range(2):
        boom = http(wired.base_url + "/probe-boom", "POST", {"x": 1}, token=token)
        assert (boom.status, boom.body) == (502, {"message": "Internal Server Error"})
        malformed = http(wired.base_url + "/probe/malformed", token=token)
        assert (malformed.status, malformed.body) == (502, {"message": "Internal Server Error"})
        assert http(wired.base_url + "/rewards", token=token).status == 200


def test_a_queue_and_consumer_added_to_the_template(wired: LocalStack, probe_log: Path) -> None:
    order = {
        "type": "order.completed",
        "orderId": "second-1",
        "memberId": "sam",
        "occurredAt": "2026-11-02T10:00:00Z",
        "currency": "USD",
        "lines": [{"sku": "S", "category": "books", "quantity": 1, "unitPrice": "3.00"}],
    }
    report = http(wired.base_url + "/local/queues/SecondOrdersQueue/messages", "POST", [order])
    assert report.body["consumer"] == "SecondPurchaseAwardFunction"
    assert report.body["results"][0]["status"] == "processed"
    assert wired.member("sam")["member"]["balance"] > 0
    # the outbound events reached the bus, and the probe's rule got the matching ones
    published = [e for e in wired.outbound_events(100) if e["detail"].get("memberId") == "sam"]
    assert {"points.earned"} <= {e["detail-type"] for e in published}
    ruled = [
        entry["event"]
        for entry in probe_events(probe_log)
        if entry["event"].get("detail-type") == "points.earned"
    ]
    assert any(event["detail"]["memberId"] == "sam" for event in ruled)
    assert all(event["source"] == "loyalty" for event in ruled)
    bad = wired.send("SecondOrdersQueue", ["not json"])["results"][0]
    assert (bad["status"], bad["attempts"]) == ("dead-lettered", 2)  # its maxReceiveCount
    assert bad["deadLetterQueue"] == "SecondOrdersDeadLetterQueue"


def test_partial_batch_failures_and_function_errors_on_a_queue(wired: LocalStack) -> None:
    report = wired.send("ProbeQueue", ["ok", "fail", "ok too"])
    assert [r["status"] for r in report["results"]] == ["processed", "dead-lettered", "processed"]
    assert [r["attempts"] for r in report["results"]] == [1, 3, 1]
    assert report["batchItemFailures"] == [{"itemIdentifier": report["results"][1]["messageId"]}]
    exploded = wired.send("ProbeQueue", ["explode"])["results"][0]
    assert exploded["status"] == "dead-lettered"
    assert "explode" in exploded["error"]
    dead = wired.queue_messages("ProbeDeadLetterQueue")["messages"]
    assert [m["body"] for m in dead][-2:] == ["fail", "explode"]


def test_stream_consumers_added_to_the_template_with_their_filters(
    wired: LocalStack, probe_log: Path
) -> None:
    before = invocations(wired, "SecondReferralFunction")
    seen = len(probe_events(probe_log))
    status, _ = wired.call_api(
        "POST", "/members", {"memberId": "tia", "name": "Tia", "email": "tia@example.com"}
    )
    assert status == 201
    order = {
        "type": "order.completed",
        "orderId": "tia-1",
        "memberId": "tia",
        "occurredAt": "2026-11-02T10:00:00Z",
        "currency": "USD",
        "lines": [{"sku": "S", "category": "books", "quantity": 1, "unitPrice": "3.00"}],
    }
    assert wired.send_orders([order])["results"][0]["status"] == "processed"
    assert invocations(wired, "SecondReferralFunction") == before + 1  # tia's first order
    delivered = [
        record
        for entry in probe_events(probe_log)[seen:]
        for record in entry["event"].get("Records", [])
        if record.get("eventSource") == "aws:dynamodb"
    ]
    assert delivered, "the probe's stream consumer got nothing"
    assert all(record["eventName"] == "INSERT" for record in delivered)
    assert {r["dynamodb"]["NewImage"]["itemType"]["S"] for r in delivered} == {"member"}


def test_schedules_added_to_the_template(wired: LocalStack, probe_log: Path) -> None:
    names = {s["name"]: s for s in wired.schedules()}
    assert {"second-promotions", "probe-hourly", "probe"} <= set(names)
    (run,) = wired.run_jobs("second-promotions", "2027-03-01")
    assert run["function"] == "SecondPromotionsFunction"
    assert run["time"] == "2027-03-01T03:05:00Z"  # cron(5 3 * * ? *)
    assert run["error"] is None and "announced" in run["result"]
    wired.run_jobs("probe-hourly", "2027-01-02T03:04:05Z")
    assert probe_events(probe_log)[-1]["event"] == {"at": "2027-01-02T03:04:05Z"}
    wired.run_jobs("ProbeSchedule", "2027-01-02")
    event = probe_events(probe_log)[-1]["event"]
    assert event["time"] == "2027-01-02T06:00:00Z"
    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
