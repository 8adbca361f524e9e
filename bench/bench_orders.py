"""Purchase-award benchmark against DynamoDB Local (figures, not a test).

Prints, per order message processed by the real handler: DynamoDB requests by operation and
consumed capacity, for members' first orders, repeat orders and redeliveries; awards per second
over a stream of orders in SQS batches of 10, against bare 2-item transactions of the same
sizes; the same for refunds; the handler's cold import time in a fresh process, with and
without a bytecode cache (Lambda's file system is read-only: a layer without .pyc compiles
every cold start); the cost of a million orders; and the goals of docs/benchmarks.md.

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

from bench.goals import UnitCost, goal, print_cost
from bench.instrumentation import DynamoDBMeter, item_size
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
    for operation in sorted(meter.cancelled):
        print(
            f"  of which cancelled: {meter.cancelled[operation] / messages:.3f} {operation}/msg "
            f"(nothing written; {meter.cancelled_write_units[operation] / messages:.2f} WCU/msg "
            "had they been written, which DynamoDB may bill)"
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


def _first_orders(members: int, rng: random.Random) -> list[dict[str, Any]]:
    """One order per member: each member's first (enrolment, first-purchase bonus, referral
    code). Placed before the repeat orders of `_orders`."""
    bodies = _orders(members, 1, rng)
    for index, body in enumerate(bodies):
        body["orderId"] = f"bench-first-{index}"
        body["memberId"] = f"bench-m-{index}"
        body["occurredAt"] = _at(datetime(2026, 9, 1, tzinfo=UTC) + timedelta(minutes=index))
    return bodies


def _bare_transactions(
    client: Any, sizes: tuple[int, int], count: int, *, items: int = 2, run: str = "2"
) -> float:
    """Transactions/s of bare TransactWriteItems of `items` items (a profile update and new
    items, of the sizes the award writes) on the same DynamoDB Local, in sequence as the
    handler runs. The goal compares against 2 items; 3 and 4 show what the item count costs."""
    profile_pad, item_pad = ("x" * size for size in sizes)
    started = time.perf_counter()
    for index in range(count):
        partition = {"S": f"BARE#{index % 200}"}
        new_items = [
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {
                        "PK": partition,
                        "SK": {"S": f"ENTRY#{run}#{extra}#{index:08d}"},
                        "padding": {"S": item_pad},
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for extra in range(items - 1)
        ]
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"PK": partition, "SK": {"S": "PROFILE"}},
                        "UpdateExpression": "SET padding = :pad ADD balance :one",
                        "ExpressionAttributeValues": {
                            ":pad": {"S": profile_pad},
                            ":one": {"N": "1"},
                        },
                    }
                },
                *new_items,
            ]
        )
    return count / (time.perf_counter() - started)


def _item_sizes(client: Any) -> tuple[int, int]:
    """The sizes (by DynamoDB's rules, as the meter prices them) of a member's profile and of
    an order's ledger entry, as the award wrote them."""
    items = client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "MEMBER#bench-m-0"}},
    )["Items"]
    profile = next(item for item in items if item["SK"]["S"] == "PROFILE")
    entry = next(item for item in items if item["SK"]["S"].startswith("ENTRY#"))
    return item_size(profile), item_size(entry)


def _totals(meter: DynamoDBMeter, messages: int) -> tuple[float, float, float]:
    """Requests, priced write units (of the items written) and read units per message."""
    return (
        sum(meter.requests.values()) / messages,
        sum(meter.priced_write_units.values()) / messages,
        sum(meter.read_units.values()) / messages,
    )


def _cancelled_units(meter: DynamoDBMeter, messages: int) -> float:
    """What cancelled attempts would have written, per message (counted in the cost)."""
    return sum(meter.cancelled_write_units.values()) / messages


def run(endpoint_url: str, orders: int, members: int) -> None:
    use_endpoint(endpoint_url)
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    fresh_table(client)

    from functions.purchase_award import app
    from loyalty.runtime import order_service

    meter = DynamoDBMeter()
    meter.attach(order_service()._ledger.client)  # type: ignore[attr-defined]

    rng = random.Random(7)
    warm_up = _orders(20, 20, rng)
    for body in warm_up:
        body["orderId"] = body["orderId"].replace("bench-o-", "bench-warm-")
        body["memberId"] = body["memberId"].replace("bench-m-", "bench-warm-")
    _play(app.handler, warm_up)  # connections, imports

    firsts = _first_orders(members, rng)
    meter.reset()
    _play(app.handler, firsts)
    _per_message(meter, len(firsts), "order.completed, a member's first order")
    _, first_wcu, first_rcu = _totals(meter, len(firsts))
    first_cancelled = _cancelled_units(meter, len(firsts))

    # DynamoDB Local's JVM runs the same transaction about half again as fast once warm:
    # warm it before anything is timed, so the awards are not timed colder than the bare
    # transactions they are compared with (which run last).
    sizes = _item_sizes(client)
    _bare_transactions(client, sizes, 2000, run="warm-up")

    bodies = _orders(orders, members, rng)
    meter.reset()
    elapsed = _play(app.handler, bodies)
    _per_message(meter, len(bodies), "order.completed, repeat orders")
    repeat_requests, repeat_wcu, repeat_rcu = _totals(meter, len(bodies))
    repeat_cancelled = _cancelled_units(meter, len(bodies))
    repeat_in_one = 1 - sum(meter.cancelled.values()) / len(bodies)
    awards_per_second = len(bodies) / elapsed
    print(
        f"  throughput: {awards_per_second:,.0f} awards/s through the handler "
        f"(one process, batches of 10, DynamoDB Local)"
    )

    meter.reset()
    _play(app.handler, bodies[:100])
    _per_message(meter, 100, "order.completed redelivered (duplicates)")
    _, redelivery_wcu, _ = _totals(meter, 100)
    redelivery_requests = sum(meter.requests.values()) / 100
    redelivery_reads = sum(
        meter.requests[op] for op in ("GetItem", "BatchGetItem", "Query", "TransactGetItems")
    )
    redelivery_writes = sum(meter.items_written.values())

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
        for body in bodies[:200]
    ]
    meter.reset()
    refund_elapsed = _play(app.handler, refunds)
    _per_message(meter, len(refunds), "order.refunded")
    print(f"  throughput: {len(refunds) / refund_elapsed:,.0f} refunds/s")

    bare = _bare_transactions(client, sizes, len(bodies))
    print(
        f"\nbare 2-item TransactWriteItems of the same sizes (profile {sizes[0]} B, order item "
        f"{sizes[1]} B), same client and DynamoDB Local, in sequence: {bare:,.0f} tx/s"
    )
    # What the item count alone costs: the award writes 4 items, the floor is 3
    # (docs/benchmarks.md, "Goals").
    for items in (3, 4):
        more = _bare_transactions(client, sizes, len(bodies), items=items, run=str(items))
        print(
            f"  the same with {items} items: {more:,.0f} tx/s ({more / bare:.2f} of 2 items); "
            f"the award: {awards_per_second / more:.2f} of it"
        )

    print("\ncold import of functions/purchase_award/app.py in a fresh process:")
    for cached in (True, False):
        timings = cold_import_seconds(bytecode_cached=cached)
        label = "with bytecode cache" if cached else "compiling from source"
        print(
            f"  {label:<22} median {statistics.median(timings) * 1000:.0f} ms "
            f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}, "
            f"{len(timings)} runs)"
        )
    print("  (against the libraries alone, per handler: python -m bench.cold_imports)")

    print()
    # A million orders as the bench's stream: every member's first order, then repeats.
    share_first = len(firsts) / (len(firsts) + len(bodies))
    order_cost = UnitCost(
        # Cancelled attempts counted too (DynamoDB may bill them): an award tried without a
        # read that the member's state refused (every first order, some repeat orders).
        write_units=share_first * (first_wcu + first_cancelled)
        + (1 - share_first) * (repeat_wcu + repeat_cancelled),
        read_units=share_first * first_rcu + (1 - share_first) * repeat_rcu,
        lambda_seconds=1 / awards_per_second,
        invocations=1 / 10,
        queue_requests=2 / 10,  # a ReceiveMessage and a DeleteMessageBatch per batch of 10
    )
    usd = print_cost(f"orders ({share_first:.0%} first orders)", order_cost)
    goal("write units per repeat order", f"{repeat_wcu:.2f}", "<= 4", repeat_wcu <= 4)
    goal("write units per first order", f"{first_wcu:.2f}", "<= 6", first_wcu <= 6)
    goal(
        "a redelivered order writes nothing, reads at most once",
        f"{redelivery_writes} items written, {redelivery_reads / 100:.2f} reads, "
        f"{redelivery_requests:.2f} requests (a cancelled transaction)",
        "0 items, <= 1 read",
        redelivery_writes == 0 and redelivery_reads <= 100 and redelivery_wcu == 0,
    )
    goal(
        "requests per repeat order in the common case (no tier change, milestone, coupon)",
        f"1 for {repeat_in_one:.1%} of them; {repeat_requests:.2f} on average",
        "1",
        repeat_in_one > 0 and repeat_requests < 2,
    )
    goal(
        "awards/s against bare 2-item transactions",
        f"{awards_per_second:,.0f} / {bare:,.0f} = {awards_per_second / bare:.2f}",
        ">= 0.8",
        awards_per_second / bare >= 0.8,
    )
    goal("cost per million orders", f"${usd:,.2f}", "<= $3", usd <= 3)


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
