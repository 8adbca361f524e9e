#!/usr/bin/env bash
# Security scan of template.yaml (CI: .ci/run; `make scan`). Fails on any finding that is not
# fixed or skipped with a written reason:
#  1. .checkov.yaml: every skipped check has its reason (comment lines right above it).
#  2. The template's own rules, which no checkov check covers: every function has its
#     alarms, log group and failure destination; every queue is encrypted and alarmed; IAM
#     is inline statements scoped to resources; the table is protected (scan rules below).
#  3. checkov (its own venv, .venv-scan, from requirements-scan.txt) on template.yaml and on
#     its SAM-transformed form: checkov does not expand AWS::Serverless::* resources, so the
#     roles, permissions, API stage and event source mappings SAM generates exist only there.
# The transform runs offline with the SAM translator of .venv-sam (scripts/sam.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/_python.sh
source "$ROOT/scripts/_python.sh"

make_venv "$ROOT/.venv-scan" "$ROOT/requirements-scan.txt"
make_venv "$ROOT/.venv-sam" "$ROOT/requirements-sam.txt"

echo "==> .checkov.yaml: a reason for every skipped check"
awk '
  /^skip-check:/ { inlist = 1; reason = 0; next }
  inlist && /^[^ #]/ { inlist = 0 }
  inlist && /^ *#/ { reason = 1; next }
  inlist && /^ *- / {
    if (!reason) { print "error: .checkov.yaml skips " $2 " without a reason (comment lines above it)"; bad = 1 }
    reason = 0
  }
  END { exit bad }
' .checkov.yaml

out="$ROOT/.aws-sam/scan"
mkdir -p "$out"
transformed="$out/template.json"

echo "==> SAM transform (offline) -> ${transformed#"$ROOT"/}"
AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
  "$ROOT/.venv-sam/bin/python" - template.yaml "$transformed" <<'PY'
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policies (scan rule), so nothing is looked up in IAM."""

    def load(self):
        return {}


template = yaml_parse(open(sys.argv[1]).read())
# Local code paths as the S3 locations `sam package` would give them.
for resource in template.get("Resources", {}).values():
    properties = resource.get("Properties") or {}
    for key in ("CodeUri", "ContentUri", "DefinitionUri"):
        if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
            properties[key] = f"s3://bucket/{properties[key]}"
pseudo = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "loyalty",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/loyalty/1",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
result = transform(template, pseudo, NoManagedPolicies())
with open(sys.argv[2], "w") as handle:
    json.dump(result, handle, indent=1, sort_keys=True, default=str)
PY

echo "==> template rules (alarms, log groups, failure destinations, encryption, IAM)"
status=0
"$ROOT/.venv-sam/bin/python" - template.yaml "$transformed" <<'PY' || status=1
import json
import sys

from samtranslator.yaml_helper import yaml_parse

source = yaml_parse(open(sys.argv[1]).read())
resources = json.load(open(sys.argv[2]))["Resources"]
problems: list[str] = []

# Policies SAM attaches for an event source or for tracing (AWS managed; docs/security.md).
SAM_EXECUTION_POLICIES = {
    "service-role/AWSLambdaBasicExecutionRole",
    "service-role/AWSLambdaSQSQueueExecutionRole",
    "service-role/AWSLambdaDynamoDBExecutionRole",
    "AWSXrayWriteOnlyAccess",
}


def of_type(kind):
    return {name: r for name, r in resources.items() if r.get("Type") == kind}


def props(resource):
    return resource.get("Properties") or {}


alarms = [props(a) for a in of_type("AWS::CloudWatch::Alarm").values()]


def alarmed(namespace, metric, dimension, value):
    return any(
        a.get("Namespace") == namespace
        and a.get("MetricName") == metric
        and a.get("AlarmActions")
        and {"Name": dimension, "Value": value} in a.get("Dimensions", [])
        for a in alarms
    )


def target(reference):
    """The logical id a Ref / GetAtt points at."""
    if isinstance(reference, dict):
        if "Ref" in reference:
            return reference["Ref"]
        if "Fn::GetAtt" in reference:
            return reference["Fn::GetAtt"][0]
    return None


# Functions: Errors and Throttles alarms, a log group with a retention.
groups = {
    json.dumps(props(g).get("LogGroupName"), sort_keys=True): props(g)
    for g in of_type("AWS::Logs::LogGroup").values()
}
functions = of_type("AWS::Lambda::Function")
for fn in functions:
    for metric in ("Errors", "Throttles"):
        if not alarmed("AWS/Lambda", metric, "FunctionName", {"Ref": fn}):
            problems.append(f"{fn}: no {metric} alarm (AWS/Lambda {metric} > 0 to AlarmTopic)")
    group = groups.get(json.dumps({"Fn::Sub": f"/aws/lambda/${{{fn}}}"}))
    if group is None or "RetentionInDays" not in group:
        problems.append(f"{fn}: no log group /aws/lambda/${{{fn}}} with RetentionInDays")

# Event sources: stream consumers alarm on IteratorAge and park failures; queue consumers'
# queues have a dead-letter queue.
consumed = set()
for mapping in of_type("AWS::Lambda::EventSourceMapping").values():
    p = props(mapping)
    fn, source_arn = target(p.get("FunctionName")), p.get("EventSourceArn")
    if isinstance(source_arn, dict) and "Fn::GetAtt" in source_arn:
        origin, attribute = source_arn["Fn::GetAtt"]
        if attribute == "StreamArn":
            if not alarmed("AWS/Lambda", "IteratorAge", "FunctionName", {"Ref": fn}):
                problems.append(f"{fn}: stream consumer without an IteratorAge alarm")
            if not (p.get("DestinationConfig") or {}).get("OnFailure"):
                problems.append(f"{fn}: stream consumer without an OnFailure destination")
        elif resources.get(origin, {}).get("Type") == "AWS::SQS::Queue":
            consumed.add(origin)

# Asynchronous invocations (schedules): retried, then an on-failure destination.
invoke_configs = {
    target(props(c).get("FunctionName")): props(c)
    for c in of_type("AWS::Lambda::EventInvokeConfig").values()
}
for name, schedule in of_type("AWS::Scheduler::Schedule").items():
    t = props(schedule).get("Target", {})
    fn = target(t.get("Arn"))
    if not t.get("DeadLetterConfig"):
        problems.append(f"{name}: schedule without a DeadLetterConfig")
    if fn in functions and not (
        (invoke_configs.get(fn) or {}).get("DestinationConfig", {}).get("OnFailure")
    ):
        problems.append(f"{fn}: invoked asynchronously without an OnFailure destination")

# Queues: encrypted; consumed queues redrive to a DLQ and alarm on the oldest message's age,
# the others (dead-letter and failure queues) alarm on any message.
for queue, resource in of_type("AWS::SQS::Queue").items():
    p = props(resource)
    if p.get("SqsManagedSseEnabled") is not True and not p.get("KmsMasterKeyId"):
        problems.append(f"{queue}: not encrypted (SqsManagedSseEnabled: true)")
    dimension = {"Fn::GetAtt": [queue, "QueueName"]}
    if queue in consumed:
        if "RedrivePolicy" not in p:
            problems.append(f"{queue}: consumed queue without a dead-letter queue")
        if not alarmed("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", dimension):
            problems.append(f"{queue}: no ApproximateAgeOfOldestMessage alarm")
    elif not alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dimension):
        problems.append(f"{queue}: no ApproximateNumberOfMessagesVisible alarm")

# API: 5xx alarm, throttling, access logs.
for api in of_type("AWS::ApiGatewayV2::Api"):
    if not alarmed("AWS/ApiGateway", "5xx", "ApiId", {"Ref": api}):
        problems.append(f"{api}: no 5xx alarm")
for stage, resource in of_type("AWS::ApiGatewayV2::Stage").items():
    p = props(resource)
    routes = p.get("DefaultRouteSettings") or {}
    if "ThrottlingBurstLimit" not in routes or "ThrottlingRateLimit" not in routes:
        problems.append(f"{stage}: no default route throttling")
    if not p.get("AccessLogSettings"):
        problems.append(f"{stage}: no access log")

# Tables: kept on stack deletion, deletion protection, point-in-time recovery, SSE.
for table, resource in of_type("AWS::DynamoDB::Table").items():
    p = props(resource)
    if resource.get("DeletionPolicy") != "Retain" or resource.get("UpdateReplacePolicy") != "Retain":
        problems.append(f"{table}: DeletionPolicy and UpdateReplacePolicy must be Retain")
    if p.get("DeletionProtectionEnabled") is not True:
        problems.append(f"{table}: DeletionProtectionEnabled is not true")
    if not (p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"):
        problems.append(f"{table}: point-in-time recovery is off")
    if not (p.get("SSESpecification") or {}).get("SSEEnabled"):
        problems.append(f"{table}: SSESpecification.SSEEnabled is not true")

# SNS topics that alarms notify: CloudWatch cannot use the AWS managed key alias/aws/sns.
for topic, resource in of_type("AWS::SNS::Topic").items():
    if props(resource).get("KmsMasterKeyId") in (None, "alias/aws/sns"):
        problems.append(f"{topic}: encrypt with a customer managed key CloudWatch may use")

# IAM: SAM's execution policies and inline statements with named actions on named resources.
for role, resource in of_type("AWS::IAM::Role").items():
    for arn in props(resource).get("ManagedPolicyArns", []):
        if not (isinstance(arn, str) and arn.split(":policy/")[-1] in SAM_EXECUTION_POLICIES):
            problems.append(f"{role}: managed policy {arn} (write an inline statement)")
    for policy in props(resource).get("Policies", []):
        for statement in policy["PolicyDocument"].get("Statement", []):
            label = f"{role} {policy['PolicyName']} {statement.get('Sid', '')}".rstrip()
            if "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{label}: NotAction/NotResource")
            actions = statement.get("Action", [])
            for action in [actions] if isinstance(actions, str) else actions:
                if "*" in action:
                    problems.append(f"{label}: wildcard action {action}")
            targets = statement.get("Resource", [])
            for arn in [targets] if not isinstance(targets, list) else targets:
                if arn == "*":
                    problems.append(f"{label}: Resource '*'")

# The SAM source: Policies are inline statements only (no policy templates such as
# DynamoDBCrudPolicy, no managed policy names), every function follows EnableTracing.
for name, resource in (source.get("Resources") or {}).items():
    if resource.get("Type") != "AWS::Serverless::Function":
        continue
    p = resource.get("Properties") or {}
    policies = p.get("Policies", [])
    for entry in [policies] if not isinstance(policies, list) else policies:
        if not (isinstance(entry, dict) and "Statement" in entry):
            problems.append(f"{name}: policy {json.dumps(entry, default=str)[:60]} is not an inline statement")
    if "Role" in p:
        problems.append(f"{name}: its own Role escapes these rules; use Policies")
    if "Tracing" in p:
        problems.append(f"{name}: sets Tracing; the EnableTracing parameter (Globals) decides")

if problems:
    print(*(f"error: {problem}" for problem in problems), sep="\n", file=sys.stderr)
    sys.exit(1)
print(f"ok: {len(functions)} functions, {len(alarms)} alarms, "
      f"{len(of_type('AWS::IAM::Role'))} roles, {len(of_type('AWS::SQS::Queue'))} queues")
PY

echo "==> checkov (.checkov.yaml) on template.yaml and its transformed form"
if "$ROOT/.venv-scan/bin/checkov" --config-file .checkov.yaml -f template.yaml -f "$transformed"; then
  echo "checkov: no findings beyond the justified skips in .checkov.yaml"
else
  echo "error: checkov findings above: fix them, or skip them in .checkov.yaml with the reason" \
    "(and add them to docs/security.md)" >&2
  status=1
fi
exit "$status"
