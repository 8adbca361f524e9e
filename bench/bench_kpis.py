"""KPI projection benchmark against DynamoDB Local (figures, not a test).

Orders and redemptions through the real handlers, then the table's stream (filtered as
template.yaml filters it) through the KPI projector in batches of 100: DynamoDB requests
and capacity per ledger entry projected, the same for a full redelivery, and what one
GET /admin/kpis reads.

    .venv/bin/python -m bench.bench_kpis [--orders 1000] [--members 200]
"""

from __future__ import annotations

import argparse
import os
import random
from typing import Any

import boto3

from bench.bench_api import redemption_event
from bench.bench_orders import _Context, _orders, _per_message, _play
from bench.goals import UnitCost, goal
from bench.instrumentation import DynamoDBMeter
from bench.local import TABLE, fresh_table, use_endpoint
from devtools.dynamodb_local import DynamoDBLocal
from tests.support.http import ADMIN, http_event
from tests.support.streams import StreamReader, delivered_to

FUNCTION = "KpiProjectorFunction"
# Per ledger entry projected, as measured on 2026-11-28 (docs/benchmarks.md): the goal is not
# to get worse.
BASELINE_WRITE_UNITS = 4.94
BASELINE_READ_UNITS = 1.67
CONTEXT: Any = _Context()  # what the handlers use of a LambdaContext


def _deliver(handler: Any, records: list[dict[str, Any]]) -> None:
    for start in range(0, len(records), 100):
        response = handler({"Records": records[start : start + 100]}, CONTEXT)
        if response["batchItemFailures"]:
            raise SystemExit(f"unexpected failures: {response['batchItemFailures']}")


def run(endpoint_url: str, orders: int, members: int) -> None:
    use_endpoint(endpoint_url)
    fresh_table(boto3.client("dynamodb", endpoint_url=endpoint_url))

    from functions.admin_api import app as admin_api
    from functions.kpi_projector import app as projector
    from functions.purchase_award import app as purchase_award
    from functions.redemption import app as redemption
    from loyalty.runtime import kpi_projector

    rng = random.Random(7)
    bodies = _orders(orders, members, rng)
    _play(purchase_award.handler, bodies)
    for index, member_id in enumerate(sorted({body["memberId"] for body in bodies})):
        redemption.handler(redemption_event(member_id, f"bench-{index}"), CONTEXT)

    records = delivered_to(FUNCTION, StreamReader(TABLE).read())["Records"]
    entries = sum(1 for r in records if r["dynamodb"]["NewImage"]["itemType"]["S"] == "entry")
    print(f"{len(records)} stream records for the projector: {entries} ledger entries")

    meter = DynamoDBMeter()
    meter.attach(kpi_projector()._store.client)  # type: ignore[attr-defined]
    _deliver(projector.handler, records)
    _per_message(meter, entries, "Projected, per ledger entry")
    write_units = meter.billed_write_units() / entries
    read_units = sum(meter.read_units.values()) / entries
    cost = UnitCost(write_units=write_units, read_units=read_units, lambda_seconds=0, invocations=0)
    per_million = cost.per_million()
    projection_usd = per_million["DynamoDB writes"] + per_million["DynamoDB reads"]
    meter.reset()
    _deliver(projector.handler, records)
    _per_message(meter, entries, "Redelivered (nothing changes), per ledger entry")

    meter.reset()
    response = admin_api.handler(http_event("GET", "/admin/kpis", claims=ADMIN), CONTEXT)
    if response["statusCode"] != 200:
        raise SystemExit(f"GET /admin/kpis answered {response['statusCode']}")
    _per_message(meter, 1, f"GET /admin/kpis with {members} members")

    print(
        f"\nDynamoDB cost of the projection per million ledger entries: ${projection_usd:,.2f} "
        f"({write_units:.2f} write units, {read_units:.2f} read units an entry)"
    )
    goal(
        "KPI projection per ledger entry, not worse than on 2026-11-28",
        f"{write_units:.2f} priced WCU, {read_units:.2f} RCU",
        f"<= {BASELINE_WRITE_UNITS} WCU, <= {BASELINE_READ_UNITS} RCU",
        # At the baseline's precision (two decimals, as the tables print them).
        round(write_units, 2) <= BASELINE_WRITE_UNITS
        and round(read_units, 2) <= BASELINE_READ_UNITS,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
