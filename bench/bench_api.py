"""Storefront API benchmark against DynamoDB Local (figures, not a test).

Prints, per call of the real handlers with HTTP API v2 events: DynamoDB requests and
capacity for the member view, an activity page and a redemption, and in-process latency
percentiles (p50/p99) of each.

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
from bench.instrumentation import DynamoDBMeter
from bench.local import fresh_table, use_endpoint
from devtools.dynamodb_local import DynamoDBLocal
from tests.support.http import SERVICE, http_event


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
) -> None:
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
    _measure("GET /members/{memberId}", meter, views, members_api.handler, 200)

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
    _measure("GET /members/{memberId}/activity?limit=20", meter, pages, members_api.handler, 200)

    redemptions = [
        http_event(
            "POST",
            "/members/{memberId}/redemptions",
            {"memberId": member_ids[index % len(member_ids)]},
            claims=SERVICE,
            body={"rewardId": "free-shipping"},
            headers={"Idempotency-Key": f"bench-{index}"},
        )
        for index in range(calls)
    ]
    _measure("POST /members/{memberId}/redemptions", meter, redemptions, redemption.handler, 201)


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
