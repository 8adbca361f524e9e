"""Purchase-award benchmark against DynamoDB Local (figures, not a test).

Prints, per order message processed by the real handler: DynamoDB requests by operation and
consumed capacity; awards per second over a stream of orders in SQS batches of 10; the same
for refunds; and the handler's cold import time in a fresh process, with and without a
bytecode cache (Lambda's file system is read-only: a layer without .pyc compiles every cold start).

    .venv/bin/python -m bench.bench_orders [--orders 1000] [--members 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from bench.instrumentation import DynamoDBMeter
from bench.local import TABLE, fresh_table, use_endpoint
from devtools.dynamodb_local import DynamoDBLocal

REPO_ROOT = Path(__file__).resolve().parent.parent


class _Context:
    function_name = "purchase-award-bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:purchase-award-bench"
    aws_request_id = "bench"


def _record(index: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": f"m-{index}",
        "receiptHandle": f"h-{index}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:orders",
        "awsRegion": "us-east-1",
    }


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _orders(count: int, members: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "type": "order.completed",
            "orderId": f"bench-o-{index}",
            "memberId": f"bench-m-{rng.randrange(members)}",
            # In the order they were placed, as order systems mostly send them (an order older
            # than the member's recorded first order costs one more read: docs/design.md).
            "occurredAt": _at(datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=10 * index)),
            "currency": "USD",
            "lines": [
                {
                    "sku": f"SKU-{rng.randrange(50)}",
                    "category": rng.choice(["shoes", "books", "toys"]),
                    "quantity": rng.randint(1, 3),
                    "unitPrice": f"{rng.randint(100, 9999) / 100:.2f}",
                }
                for _ in range(rng.randint(1, 4))
            ],
        }
        for index in range(count)
    ]


def _play(handler: Any, bodies: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for start in range(0, len(bodies), 10):
        batch = [_record(start + i, body) for i, body in enumerate(bodies[start : start + 10])]
        response = handler({"Records": batch}, _Context())
        if response["batchItemFailures"]:
            raise SystemExit(f"unexpected failures: {response['batchItemFailures']}")
    return time.perf_counter() - started


def _per_message(meter: DynamoDBMeter, messages: int, label: str) -> None:
    print(f"\n{label}: {messages} messages")
    print(
        f"  {'operation':<20}{'requests/msg':>14}{'RCU/msg':>10}{'WCU/msg':>10}"
        f"{'items/msg':>11}{'priced WCU/msg':>16}"
    )
    for operation in sorted(meter.requests):
        print(
            f"  {operation:<20}{meter.requests[operation] / messages:>14.3f}"
            f"{meter.read_units[operation] / messages:>10.2f}"
            f"{meter.write_units[operation] / messages:>10.2f}"
            f"{meter.items_written[operation] / messages:>11.2f}"
            f"{meter.priced_write_units[operation] / messages:>16.2f}"
        )
    print("  (RCU/WCU as DynamoDB Local reports them; priced WCU = DynamoDB's billing rules")
    print("   applied to the items written: 2 per KB in a transaction, +1 per KB per GSI)")
    if not meter.capacity_reported:
        print("  (the endpoint reported no consumed capacity)")


def cold_import_seconds(runs: int = 5, *, bytecode_cached: bool = True) -> list[float]:
    """Import time of the handler module in fresh processes. Without a bytecode cache every
    module is compiled from source, as on Lambda when the layer ships no .pyc files."""
    code = (
        "import time; started = time.perf_counter(); "
        "import functions.purchase_award.app; "
        "print(time.perf_counter() - started)"
    )
    environment = {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'layers' / 'loyalty'}",
        "TABLE_NAME": TABLE,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "",
    }
    timings = []
    for _ in range(runs):
        if not bytecode_cached:
            environment["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-pycache-")
        output = subprocess.run(
            [sys.executable, "-c", code],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,
        )
        timings.append(float(output.stdout.strip().splitlines()[-1]))
    return timings


def run(endpoint_url: str, orders: int, members: int) -> None:
    use_endpoint(endpoint_url)
    fresh_table(boto3.client("dynamodb", endpoint_url=endpoint_url))

    from functions.purchase_award import app
    from loyalty.runtime import order_service

    meter = DynamoDBMeter()
    meter.attach(order_service()._ledger.client)  # type: ignore[attr-defined]

    rng = random.Random(7)
    bodies = _orders(orders, members, rng)
    _play(app.handler, bodies[:20])  # warm-up: connections, imports
    meter.reset()
    elapsed = _play(app.handler, bodies[20:])
    processed = len(bodies) - 20
    _per_message(meter, processed, "order.completed (first orders and repeat orders mixed)")
    print(
        f"  throughput: {processed / elapsed:,.0f} awards/s through the handler "
        f"(one process, batches of 10, DynamoDB Local)"
    )

    meter.reset()
    elapsed = _play(app.handler, bodies[20:120])
    _per_message(meter, 100, "order.completed redelivered (duplicates)")

    refunds = [
        {
            "type": "order.refunded",
            "orderId": body["orderId"],
            "refundId": f"{body['orderId']}-r1",
            "memberId": body["memberId"],
            "occurredAt": "2026-11-02T12:00:00Z",
            "currency": "USD",
            "amount": "1.00",
        }
        for body in bodies[20:220]
    ]
    meter.reset()
    elapsed = _play(app.handler, refunds)
    _per_message(meter, len(refunds), "order.refunded")
    print(f"  throughput: {len(refunds) / elapsed:,.0f} refunds/s")

    print("\ncold import of functions/purchase_award/app.py in a fresh process:")
    for cached in (True, False):
        timings = cold_import_seconds(bytecode_cached=cached)
        label = "with bytecode cache" if cached else "compiling from source"
        print(
            f"  {label:<22} median {statistics.median(timings) * 1000:.0f} ms "
            f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}, "
            f"{len(timings)} runs)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--endpoint-url", default=os.environ.get("DYNAMODB_ENDPOINT_URL"))
    arguments = parser.parse_args()
    if arguments.endpoint_url:
        run(arguments.endpoint_url, arguments.orders, arguments.members)
        return
    with DynamoDBLocal() as dynamodb:
        run(dynamodb.endpoint_url, arguments.orders, arguments.members)


if __name__ == "__main__":
    main()
