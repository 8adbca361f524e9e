"""Storefront API benchmark against DynamoDB Local (figures, not a test).

Prints, per call of the real handlers with HTTP API v2 events: DynamoDB requests and
capacity for the member view, an activity page and a redemption, in-process latency
percentiles (p50/p99) of each, the cost of a million member views and of a million
redemptions, and the request budgets of docs/benchmarks.md as goals.

    .venv/bin/python -m bench.bench_api [--members 100] [--calls 500]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3

from bench.bench_orders import _Context, _orders, _per_message, _play
from bench.goals import UnitCost, goal, print_cost
from bench.instrumentation import DynamoDBMeter
from bench.local import fresh_table, use_endpoint
from devtools.dynamodb_local import DynamoDBLocal
from tests.support.http import SERVICE, http_event


def redemption_event(member_id: str, idempotency_key: str) -> dict[str, Any]:
    """A service's POST /members/{memberId}/redemptions of free shipping."""
    return http_event(
        "POST",
        "/members/{memberId}/redemptions",
        {"memberId": member_id},
        claims=SERVICE,
        body={"rewardId": "free-shipping"},
        headers={"Idempotency-Key": idempotency_key},
    )


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
        f"({len(ordered)} calls)"
    )


def _measure(
    label: str,
    meter: DynamoDBMeter,
    calls: list[dict[str, Any]],
    handler: Callable[..., dict[str, Any]],
    expected_status: int,
) -> tuple[dict[str, float], float, float, float]:
    """Requests per call by operation, priced write units and read units per call, and the
    median latency (seconds)."""
    meter.reset()
    latencies = []
    for event in calls:
        started = time.perf_counter()
        response = handler(event, _Context())
        latencies.append(time.perf_counter() - started)
        if response["statusCode"] != expected_status:
            raise SystemExit(f"{label}: unexpected {response['statusCode']} {response['body']}")
    _per_message(meter, len(calls), label)
    print(f"  latency in process: {_percentiles(latencies)}")
    count = len(calls)
    return (
        {operation: requests / count for operation, requests in meter.requests.items()},
        meter.billed_write_units() / count,
        sum(meter.read_units.values()) / count,
        statistics.median(latencies),
    )


def _api_cost(label: str, write_units: float, read_units: float, seconds: float) -> None:
    print_cost(
        label,
        UnitCost(
            write_units=write_units,
            read_units=read_units,
            lambda_seconds=seconds,
            invocations=1,
            api_requests=1,
        ),
    )


def run(endpoint_url: str, members: int, calls: int) -> None:
    use_endpoint(endpoint_url)
    fresh_table(boto3.client("dynamodb", endpoint_url=endpoint_url))

    from functions.members_api import app as members_api
    from functions.purchase_award import app as purchase_award
    from functions.redemption import app as redemption
    from loyalty.runtime import member_service

    rng = random.Random(11)
    # Every member gets several orders (several lots, a history to page through).
    orders = _orders(members * 8, members, rng)
    _play(purchase_award.handler, orders)
    member_ids = sorted({order["memberId"] for order in orders})

    meter = DynamoDBMeter()
    meter.attach(member_service()._store.client)  # type: ignore[attr-defined]

    views = [
        http_event(
            "GET", "/members/{memberId}", {"memberId": rng.choice(member_ids)}, claims=SERVICE
        )
        for _ in range(calls)
    ]
    view = _measure("GET /members/{memberId}", meter, views, members_api.handler, 200)

    pages = [
        http_event(
            "GET",
            "/members/{memberId}/activity",
            {"memberId": rng.choice(member_ids)},
            claims=SERVICE,
            query={"limit": "20"},
        )
        for _ in range(calls)
    ]
    activity = _measure(
        "GET /members/{memberId}/activity?limit=20", meter, pages, members_api.handler, 200
    )

    redemptions = [
        redemption_event(member_ids[index % len(member_ids)], f"bench-{index}")
        for index in range(calls)
    ]
    redeem = _measure(
        "POST /members/{memberId}/redemptions", meter, redemptions, redemption.handler, 201
    )

    print()
    _api_cost("member views (GET /members/{memberId})", view[1], view[2], view[3])
    _api_cost("redemptions", redeem[1], redeem[2], redeem[3])
    goal("member view: one Query", _requests(view[0]), "Query 1", view[0] == {"Query": 1.0})
    goal(
        "activity page: one GetItem and one Query",
        _requests(activity[0]),
        "GetItem 1, Query 1",
        activity[0] == {"GetItem": 1.0, "Query": 1.0},
    )
    reads = sum(
        per_call
        for operation, per_call in redeem[0].items()
        if operation in {"GetItem", "BatchGetItem", "Query", "TransactGetItems"}
    )
    goal(
        "redemption: one read and one transaction",
        _requests(redeem[0]),
        "1 read, TransactWriteItems 1",
        reads <= 1 and redeem[0].get("TransactWriteItems") == 1.0 and len(redeem[0]) == 2,
    )


def _requests(per_call: dict[str, float]) -> str:
    return ", ".join(f"{operation} {count:g}" for operation, count in sorted(per_call.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--endpoint-url", default=os.environ.get("DYNAMODB_ENDPOINT_URL"))
    arguments = parser.parse_args()
    if arguments.endpoint_url:
        run(arguments.endpoint_url, arguments.members, arguments.calls)
        return
    with DynamoDBLocal() as dynamodb:
        run(dynamodb.endpoint_url, arguments.members, arguments.calls)


if __name__ == "__main__":
    main()
