"""Real Lambda event shapes for tests: SQS batches as the event source mapping delivers them."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


@dataclass
class FakeLambdaContext:
    function_name: str = "loyalty-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:loyalty-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/loyalty-test"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sqs_record(body: Any, message_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": f"receipt-{uuid.uuid4()}",
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1764237600000",
            "SenderId": "AIDAEXAMPLESENDER",
            "ApproximateFirstReceiveTimestamp": "1764237600001",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:loyalty-orders",
        "awsRegion": "us-east-1",
    }


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {"Records": [sqs_record(body) for body in bodies]}


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def completed(
    order_id: str,
    member_id: str,
    *lines: tuple[str, int] | tuple[str, int, str],
    at: str = "2026-11-10T10:00:00Z",
    **extra: Any,
) -> dict[str, Any]:
    """An order.completed body; each line is (unitPrice, quantity[, category])."""
    return {
        "type": "order.completed",
        "orderId": order_id,
        "memberId": member_id,
        "occurredAt": at,
        "currency": "USD",
        "lines": [
            {
                "sku": f"SKU-{index}",
                "category": line[2] if len(line) > 2 else "general",
                "quantity": line[1],
                "unitPrice": line[0],
            }
            for index, line in enumerate(lines or [("10.00", 1)])
        ],
        **extra,
    }


def refunded(
    order_id: str, refund_id: str, member_id: str, amount: str, at: str = "2026-11-20T10:00:00Z"
) -> dict[str, Any]:
    return {
        "type": "order.refunded",
        "orderId": order_id,
        "refundId": refund_id,
        "memberId": member_id,
        "occurredAt": at,
        "currency": "USD",
        "amount": amount,
    }
