"""Reads that do not grow with history, against DynamoDB Local (figures, not a test).

Two members with the same ten orders of the last year; one of them also has 10,000 settled
lots from earlier years (written directly from the repository's item builder, as the expiry job
leaves them). For each: what the member view, a redemption and the KPI projector's read of the
member cost in requests and read units. The goal (docs/benchmarks.md): the same for both.

    PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_history [--settled 10000]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from bench.bench_api import redemption_event
from bench.bench_orders import _Context, _play
from bench.goals import goal
from bench.instrumentation import DynamoDBMeter
from bench.local import TABLE, fresh_table, use_endpoint
from devtools.dynamodb_local import DynamoDBLocal
from loyalty.dal.items import settled_lot_item, to_ddb
from loyalty.domain.calendar import add_months
from loyalty.domain.ledger import PointsLot
from tests.support.http import SERVICE, http_event

SMALL, LARGE = "history-10-lots", "history-10-lots-and-settled"
CONTEXT: Any = _Context()  # what the handlers use of a LambdaContext


def _orders(member_id: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "order.completed",
            "orderId": f"{member_id}-o-{index}",
            "memberId": member_id,
            "occurredAt": (datetime(2026, 1, 10, tzinfo=UTC) + timedelta(days=30 * index))
            .isoformat()
            .replace("+00:00", "Z"),
            "currency": "USD",
            "lines": [{"sku": "SKU-1", "category": "books", "quantity": 1, "unitPrice": "150.00"}],
        }
        for index in range(10)
    ]


def _seed_settled(client: Any, member_id: str, count: int) -> None:
    """`count` settled lots earned in 2014-2024, as the expiry job leaves them."""
    requests = []
    for index in range(count):
        earned = datetime(2014, 1, 1, tzinfo=UTC) + timedelta(hours=7 * index)
        lot = PointsLot(
            lot_id=f"old-{index:06d}",
            member_id=member_id,
            points=100,
            original_points=100,
            earned_at=earned,
            expires_at=add_months(earned, 12),
            reason="purchase",
            reference=f"old-order-{index}",
            warned=True,
        )
        item = settled_lot_item(lot, 0, "2025-01-01T00:00:00Z")
        requests.append({"PutRequest": {"Item": to_ddb(item)}})
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {TABLE: requests[start : start + 25]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending)["UnprocessedItems"]


def _reads(meter: DynamoDBMeter, action: Callable[[], Any]) -> tuple[int, float]:
    meter.reset()
    action()
    return sum(meter.requests.values()), sum(meter.read_units.values())


def run(endpoint_url: str, settled: int) -> None:
    use_endpoint(endpoint_url)
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    fresh_table(client)

    from functions.members_api import app as members_api
    from functions.purchase_award import app as purchase_award
    from functions.redemption import app as redemption
    from loyalty.dal.kpis import DynamoKpiStore
    from loyalty.runtime import member_service

    for member_id in (SMALL, LARGE):
        _play(purchase_award.handler, _orders(member_id))
    _seed_settled(client, LARGE, settled)
    print(
        f"two members with the same 10 orders of 2026; {LARGE!r} also has {settled:,} settled lots"
    )

    store: Any = member_service()._store  # the repository: its client and table
    meter = DynamoDBMeter()
    meter.attach(store.client)
    kpi_store = DynamoKpiStore(store.table_name, store.client)

    def view(member_id: str) -> Callable[[], Any]:
        event = http_event("GET", "/members/{memberId}", {"memberId": member_id}, claims=SERVICE)
        return lambda: _expect(members_api.handler(event, CONTEXT), 200)

    def redeem(member_id: str) -> Callable[[], Any]:
        event = redemption_event(member_id, f"history-{member_id}")
        return lambda: _expect(redemption.handler(event, CONTEXT), 201)

    def snapshot(member_id: str) -> Callable[[], Any]:
        return lambda: kpi_store.member_snapshot(member_id)

    print(f"  {'read':<34}{'10 lots':>22}{f'10 lots + {settled:,} settled':>30}")
    same = True
    for label, make in (
        ("member view (GET /members/{id})", view),
        ("redemption (POST .../redemptions)", redeem),
        ("KPI projector's read of a member", snapshot),
    ):
        small, large = _reads(meter, make(SMALL)), _reads(meter, make(LARGE))
        print(
            f"  {label:<34}{f'{small[0]} requests, {small[1]:.1f} RCU':>22}"
            f"{f'{large[0]} requests, {large[1]:.1f} RCU':>30}"
        )
        same = same and small == large
    goal(
        "reads that do not grow with history",
        "the same requests and read units for both members" if same else "they differ",
        "equal",
        same,
    )


def _expect(response: dict[str, Any], status: int) -> None:
    if response["statusCode"] != status:
        raise SystemExit(f"unexpected {response['statusCode']}: {response['body']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--settled", type=int, default=10_000)
    parser.add_argument("--endpoint-url", default=os.environ.get("DYNAMODB_ENDPOINT_URL"))
    arguments = parser.parse_args()
    if arguments.endpoint_url:
        run(arguments.endpoint_url, arguments.settled)
        return
    with DynamoDBLocal() as dynamodb:
        run(dynamodb.endpoint_url, arguments.settled)


if __name__ == "__main__":
    main()
