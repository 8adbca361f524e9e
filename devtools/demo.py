"""The README's run command (interim local demo, no AWS account, no Docker): start DynamoDB
Local, create the table from template.yaml, play the sample order messages in events/
through the real purchase-award handler, and print each member's balance, tier and ledger."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

from devtools.dynamodb_local import DynamoDBLocal
from devtools.template import create_table

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
# The samples tell one story in this order: an order, a Black Friday order wrapped in an
# EventBridge envelope, a partial refund, then a batch with one good and four bad messages.
SAMPLES = (
    "sqs-order-completed.json",
    "sqs-order-completed-eventbridge.json",
    "sqs-order-refunded.json",
    "sqs-batch-with-bad-messages.json",
)
TABLE_NAME = "loyalty-local"


class _Context:
    function_name = "purchase-award-local"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:purchase-award-local"
    aws_request_id = "local"


def _local_aws_environment(endpoint_url: str) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint_url
    os.environ["TABLE_NAME"] = TABLE_NAME
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "loyalty")
    # The handler logs one JSON line per message; keep the demo's output readable.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def _print_member(member_id: str) -> None:
    from loyalty.dal.repository import DynamoLedgerRepository
    from loyalty.domain.ledger import unspent_by_expiry

    ledger = DynamoLedgerRepository(TABLE_NAME)
    member = ledger.get_member(member_id)
    if member is None:
        return
    print(
        f"\nmember {member.member_id}  (enrolled {member.enrolled_at:%Y-%m-%d}, "
        f"referral code {member.referral_code})"
    )
    print(
        f"  balance {member.balance} points   tier {member.tier} "
        f"({member.tier_points} tier points)   orders {member.order_count}"
    )
    lots = ledger.list_lots(member_id)
    for expiring in unspent_by_expiry(
        lots, settled_earned=member.settled_earned, debited=member.debited
    ):
        print(f"  {expiring.points:>6} points expire {expiring.expires_at:%Y-%m-%d}")
    print("  ledger:")
    for entry in ledger.list_entries(member_id):
        print(
            f"    {entry.occurred_at:%Y-%m-%d %H:%M}  {entry.type:<8} {entry.points:>+7}  "
            f"{entry.reason:<28} {entry.reference}"
        )


def run(endpoint_url: str) -> int:
    _local_aws_environment(endpoint_url)
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    if TABLE_NAME not in client.list_tables()["TableNames"]:
        create_table(client, TABLE_NAME)
    print(f"DynamoDB endpoint {endpoint_url}, table {TABLE_NAME} (from template.yaml)")

    from functions.purchase_award import app

    members: list[str] = []
    for sample in SAMPLES:
        event: dict[str, Any] = json.loads((EVENTS_DIR / sample).read_text())
        response = app.handler(event, _Context())  # type: ignore[arg-type]
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        print(f"\n{sample}: {len(event['Records'])} message(s), {len(failed)} failed")
        for record in event["Records"]:
            status = "FAILED (to the DLQ after retries)" if record["messageId"] in failed else "ok"
            summary = _summary(record["body"])
            print(f"  {status:<34} {summary}")
            member_id = _member_of(record["body"])
            if member_id and member_id not in members and record["messageId"] not in failed:
                members.append(member_id)
    for member_id in members:
        _print_member(member_id)
    return 0


def _document(body: str) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return None
    if isinstance(document, dict) and isinstance(document.get("detail"), dict):
        document = document["detail"]
    return document if isinstance(document, dict) else None


def _member_of(body: str) -> str | None:
    document = _document(body)
    member = document.get("memberId") if document else None
    return member if isinstance(member, str) else None


def _summary(body: str) -> str:
    document = _document(body)
    if document is None:
        return "(not JSON)"
    fields = ("type", "orderId", "refundId", "memberId", "currency")
    return " ".join(f"{name}={document[name]}" for name in fields if name in document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("DYNAMODB_ENDPOINT_URL"),
        help="use this DynamoDB endpoint instead of starting DynamoDB Local",
    )
    arguments = parser.parse_args(argv)
    if arguments.endpoint_url:
        return run(arguments.endpoint_url)
    with DynamoDBLocal() as dynamodb:
        return run(dynamodb.endpoint_url)


if __name__ == "__main__":
    sys.exit(main())
