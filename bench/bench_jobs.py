"""Daily expiry job benchmark against DynamoDB Local (figures, not a test).

Seeds a table with N members (a profile, one points lot and its earn entry each, written
directly with BatchWriteItem from the repository's own item builders) of whom `--due` hold a
lot that expired before the run's now; then runs the expiry job over every shard through the
service, metering DynamoDB requests, and checks the result. The same for every size in
`--members` (each on a fresh table), a comparison, and a second run for the same now on the
largest table (a replay: only the index queries).

    PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_jobs \
        [--members 100000 10000] [--due 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from bench.instrumentation import DynamoDBMeter
from bench.local import TABLE, fresh_table, use_endpoint
from devtools.dynamodb_local import DynamoDBLocal
from loyalty.dal import keys
from loyalty.dal.items import (
    entry_item,
    expiry_due_fields,
    from_ddb,
    lot_item,
    new_profile_item,
    to_ddb,
)
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.calendar import add_months, format_instant
from loyalty.domain.ledger import LedgerEntry, NewMember, PointsLot, make_entry_id
from loyalty.domain.rules import ProgramRules
from loyalty.services.expiry import ExpiryService

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# The schedule's time for the run: every due lot expired during the day before it.
NOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)
BATCH = 25  # BatchWriteItem's limit
SEED_THREADS = 2  # DynamoDB Local serializes writes: more threads do not help
SAMPLE = 200  # non-due members checked item by item after the run
RULES = ProgramRules()


def _member_id(index: int) -> str:
    return f"bench-m-{index:06d}"


def _referral_code(index: int) -> str:
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    digits = []
    for _ in range(8):
        index, digit = divmod(index, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(digits)


@dataclass(frozen=True, slots=True)
class Seeded:
    """One member as seeded: its items (plain values) and its lot's points."""

    member_id: str
    points: int
    items: tuple[dict[str, Any], ...]


def member_items(index: int, due: bool) -> Seeded:
    """A member who earned one lot with one order. A due member's lot expired during the
    day before NOW (and was warned about 30 days earlier, as a daily schedule would have
    done); every other lot expires at least two months after NOW, its warning after NOW too."""
    member_id = _member_id(index)
    points = 100 + index % 900  # Bronze whatever the index (Silver starts at 1,001)
    if due:
        earned_at = add_months(NOW, -RULES.expiry_months) - timedelta(minutes=1 + index % 1380)
    else:
        earned_at = datetime(2026, 8, 1, 12, 0, tzinfo=UTC) + timedelta(
            days=index % 300, minutes=index % 600
        )
    expires_at = add_months(earned_at, RULES.expiry_months)
    warn_at = expires_at - timedelta(days=RULES.expiry_warning_days)
    reference = f"bench-o-{index}"
    entry_id = make_entry_id(earned_at, reference, "purchase")
    recorded_at = format_instant(earned_at)
    entry = LedgerEntry(
        entry_id=entry_id,
        member_id=member_id,
        type="earn",
        reason="purchase",
        points=points,
        occurred_at=earned_at,
        reference=reference,
        details={"rulesVersion": str(RULES.version)},
    )
    lot = PointsLot(
        lot_id=entry_id,
        member_id=member_id,
        points=points,
        original_points=points,
        earned_at=earned_at,
        expires_at=expires_at,
        reason="purchase",
        reference=reference,
        warn_at=warn_at,
        warned=due,
    )
    stored_lot = lot_item(lot, recorded_at)
    if due:
        stored_lot["warnedAt"] = format_instant(warn_at)
    profile = new_profile_item(
        NewMember(member_id, earned_at, "order", _referral_code(index)), recorded_at
    ) | {"balance": points, "tierPoints": points, "lotTotal": points, "orderCount": 1}
    # Listed on the expiry index under its lot's next action, as the award would have left it.
    profile |= expiry_due_fields(member_id, lot.next_action_at)
    items = (profile, stored_lot, entry_item(entry, recorded_at))
    return Seeded(
        member_id, points, tuple({k: v for k, v in i.items() if v is not None} for i in items)
    )


def _client(endpoint_url: str) -> DynamoDBClient:
    config = Config(
        retries={"mode": "standard", "max_attempts": 10},
        max_pool_connections=SEED_THREADS * 2,
    )
    return boto3.client("dynamodb", endpoint_url=endpoint_url, config=config)


def _write_range(client: DynamoDBClient, start: int, stop: int, due: frozenset[int]) -> int:
    written = 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        request: dict[str, Any] = {TABLE: pending[:]}
        while request:
            response = client.batch_write_item(RequestItems=request)
            request = dict(response.get("UnprocessedItems") or {})
            if request:
                time.sleep(0.05)
        pending.clear()

    for index in range(start, stop):
        for item in member_items(index, index in due).items:
            pending.append({"PutRequest": {"Item": to_ddb(item)}})
            written += 1
            if len(pending) == BATCH:
                flush()
    if pending:
        flush()
    return written


def seed(endpoint_url: str, members: int, due: frozenset[int]) -> tuple[int, float]:
    client = _client(endpoint_url)
    step = 2_000
    started = time.perf_counter()
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        futures = [
            pool.submit(_write_range, client, start, min(start + step, members), due)
            for start in range(0, members, step)
        ]
        items = sum(future.result() for future in futures)
    return items, time.perf_counter() - started


class IndexQueries:
    """Counts the Queries on the due index (GSI2) apart from the members' own Queries."""

    def __init__(self) -> None:
        self.requests = 0
        self.read_units = 0.0
        self._on_index = False

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.Query", self._before)
        client.meta.events.register("after-call.dynamodb.Query", self._after)

    def reset(self) -> None:
        self.requests = 0
        self.read_units = 0.0

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        self._on_index = "IndexName" in params

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        if self._on_index:
            self.requests += 1
            self.read_units += float(parsed.get("ConsumedCapacity", {}).get("CapacityUnits", 0))


class Latency:
    """Time per request and operation, as the client sees it (DynamoDB Local's round trip)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = 0.0

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, **_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        elapsed = time.perf_counter() - self._started
        self.seconds[model.name] = self.seconds.get(model.name, 0.0) + elapsed


@dataclass(slots=True)
class JobRun:
    members: int
    expired_points: int
    requests: int
    index_requests: int
    seconds: float


def run_job(repository: DynamoLedgerRepository, label: str, due: int) -> JobRun:
    meter = DynamoDBMeter()
    meter.attach(repository.client)
    index = IndexQueries()
    index.attach(repository.client)
    repository.client.list_tables(Limit=1)  # open the connection before the clock starts
    meter.reset()
    latency = Latency()
    latency.attach(repository.client)
    service = ExpiryService(repository)
    members = expired = 0
    started = time.perf_counter()
    for shard in range(keys.due_index_shards()):
        shard_run = service.run_shard(shard, NOW)
        if not shard_run.done:
            raise SystemExit(f"shard {shard} did not finish: {shard_run}")
        members += shard_run.members
        expired += shard_run.points  # for the expiry job: the points expired
    elapsed = time.perf_counter() - started
    total = sum(meter.requests.values())
    per = max(due, 1)

    print(f"\n{label}")
    print(
        f"  members processed {members:,}, points expired {expired:,}, "
        f"{keys.due_index_shards()} shards, all done"
    )
    print(
        f"  {'operation':<20}{'requests':>10}{'per due member':>16}{'RCU':>10}{'WCU':>10}"
        f"{'items written':>15}{'priced WCU':>12}"
    )
    for operation in sorted(meter.requests):
        print(
            f"  {operation:<20}{meter.requests[operation]:>10,}"
            f"{meter.requests[operation] / per:>16.3f}"
            f"{meter.read_units[operation]:>10,.1f}{meter.write_units[operation]:>10,.1f}"
            f"{meter.items_written[operation]:>15,}{meter.priced_write_units[operation]:>12,}"
        )
    print(
        f"  {'total':<20}{total:>10,}{total / per:>16.3f}"
        f"{sum(meter.read_units.values()):>10,.1f}{sum(meter.write_units.values()):>10,.1f}"
        f"{sum(meter.items_written.values()):>15,}{sum(meter.priced_write_units.values()):>12,}"
    )
    print(
        f"  of which Queries on the due index (GSI2): {index.requests} "
        f"({index.read_units:,.1f} RCU); Queries of a member's profile and lots: "
        f"{meter.requests['Query'] - index.requests:,}"
    )
    in_requests = sum(latency.seconds.values())
    print(
        f"  wall time {elapsed:.2f} s ({members / elapsed if elapsed else 0:,.0f} members/s), "
        f"{in_requests / elapsed if elapsed else 0:.0%} of it waiting on DynamoDB Local; "
        "mean per request: "
        + ", ".join(
            f"{operation} {latency.seconds[operation] / meter.requests[operation] * 1000:.1f} ms"
            for operation in sorted(latency.seconds)
        )
    )
    return JobRun(members, expired, total, index.requests, elapsed)


def _member_items(client: DynamoDBClient, member_id: str) -> list[dict[str, Any]]:
    response = client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.member_pk(member_id)}},
        ConsistentRead=True,
    )
    return [from_ddb(item) for item in response["Items"]]


def verify(client: DynamoDBClient, members: int, due: frozenset[int], rng: random.Random) -> None:
    """Every due member: balance 0, one expire entry of the lot's points, the lot settled
    and the member off the index, the ledger still summing to the balance. A sample of the others:
    every item exactly as seeded."""
    for index in sorted(due):
        seeded = member_items(index, True)
        items = _member_items(client, seeded.member_id)
        profile = next(item for item in items if item["SK"] == keys.PROFILE_SK)
        entries = [item for item in items if item["SK"].startswith(keys.ENTRY_PREFIX)]
        lots = [item for item in items if item["SK"].startswith(keys.SETTLED_LOT_PREFIX)]
        live_left = any(item["SK"].startswith(keys.LOT_PREFIX) for item in items)
        expires = [entry for entry in entries if entry["entryType"] == "expire"]
        problems = ["a live lot is left in the member view's range"] if live_left else []
        if profile["balance"] != 0 or profile["debited"] != seeded.points:
            problems.append(f"profile balance {profile['balance']}, debited {profile['debited']}")
        if [int(entry["points"]) for entry in expires] != [-seeded.points]:
            problems.append(f"expire entries {[entry['points'] for entry in expires]}")
        if sum(int(entry["points"]) for entry in entries) != profile["balance"]:
            problems.append("the ledger does not sum to the balance")
        if len(lots) != 1 or "settledAt" not in lots[0]:
            problems.append("the lot is not settled")
        if "GSI2PK" in profile or "expiryDueAt" in profile:
            problems.append("the member is still on the expiry index with no lot left")
        if any(item["SK"].startswith("WARNING#") for item in items):
            problems.append("a warning was written")
        if problems:
            raise SystemExit(f"due member {seeded.member_id}: {'; '.join(problems)}")
    others = [index for index in range(members) if index not in due]
    for index in rng.sample(others, min(SAMPLE, len(others))):
        seeded = member_items(index, False)
        found = sorted(_member_items(client, seeded.member_id), key=lambda item: item["SK"])
        if found != sorted(seeded.items, key=lambda item: item["SK"]):
            raise SystemExit(f"member {seeded.member_id} was changed by the job")
    print(
        f"  verified: all {len(due):,} due members at balance 0 with one expire entry and "
        f"their lot settled; {min(SAMPLE, len(others))} other members untouched"
    )


def run_size(endpoint_url: str, members: int, due_count: int, *, replay: bool) -> JobRun:
    """Seed a fresh table, run the job, verify; with `replay`, run it again for the same now."""
    use_endpoint(endpoint_url)
    admin = _client(endpoint_url)
    rng = random.Random(members)
    due = frozenset(rng.sample(range(members), due_count))
    fresh_table(admin)
    items, seconds = seed(endpoint_url, members, due)
    print(
        f"\nseeded {members:,} members ({items:,} items: profile, lot, earn entry each) "
        f"in {seconds:.1f} s ({items / seconds:,.0f} items/s, BatchWriteItem, "
        f"{SEED_THREADS} threads)"
    )
    table = admin.describe_table(TableName=TABLE)["Table"]
    if table.get("ItemCount"):
        size = table.get("TableSizeBytes", 0)
        print(
            f"  table: {table['ItemCount']:,} items, {size / 1e6:,.1f} MB "
            f"(a Scan would read them all: about {size / 4096 / 2:,.0f} RCU, eventually "
            f"consistent)"
        )
    # A new repository (and client) per table, as a Lambda container has.
    result = run_job(
        DynamoLedgerRepository(TABLE), f"job over {members:,} members, {due_count:,} due", due_count
    )
    verify(admin, members, due, rng)
    if replay:
        again = run_job(
            DynamoLedgerRepository(TABLE),
            f"the same run again (same now) over {members:,} members",
            due_count,
        )
        if again.members or again.expired_points:
            raise SystemExit("the second run changed something")
    return result


def run(endpoint_url: str | None, sizes: list[int], due_count: int) -> None:
    """Each size on a fresh DynamoDB Local process (unless an endpoint is given): DynamoDB
    Local's writes slow down on a table re-created after a large one was deleted."""
    sizes = sorted(set(sizes))
    if due_count > sizes[0]:
        raise SystemExit(f"--due {due_count} is more than --members {sizes[0]}")
    print(f"expiry job for now = {format_instant(NOW)}, {due_count:,} members due in each table")
    runs: dict[int, JobRun] = {}
    for members in sizes:
        with DynamoDBLocal(endpoint_url=endpoint_url) as dynamodb:
            runs[members] = run_size(
                dynamodb.endpoint_url, members, due_count, replay=members == sizes[-1]
            )

    if len(sizes) > 1:
        small, large = runs[sizes[0]], runs[sizes[-1]]
        per = max(due_count, 1)
        print(
            f"\ncomparison, {sizes[-1]:,} vs {sizes[0]:,} members ({due_count:,} due in both): "
            f"requests {large.requests:,} vs {small.requests:,} "
            f"({large.requests / per:.3f} vs {small.requests / per:.3f} per due member), "
            f"index queries {large.index_requests} vs {small.index_requests}, "
            f"wall time {large.seconds:.2f} s vs {small.seconds:.2f} s "
            f"(ratio {large.seconds / small.seconds:.2f} for {sizes[-1] / sizes[0]:g}x the table)"
        )
    extrapolate(runs[sizes[-1]])


# The jobs' goal (docs/benchmarks.md, "Jobs at a million"): a million members due in one day
# finish within 10 minutes.
MILLION = 1_000_000
GOAL_SECONDS = 600
WORKER_BUDGET_SECONDS = 300 - 20  # JobWorkerFunction's timeout less the worker's safety margin
CONTINUATION_SECONDS = 1.0  # a continuation's queue hop and invocation, generously


def extrapolate(run: JobRun) -> None:
    """A run's wall time for a million due members, from this run's measured cost per member
    (one worker, requests in sequence, as a shard's worker runs them) and the fan-out: every
    shard is a work message of its own, the shards run concurrently (one worker each), and a
    shard that outlasts an invocation continues through the queue."""
    shards = keys.due_index_shards()
    per_member = run.seconds / max(run.members, 1)
    per_shard = MILLION / shards
    work = per_shard * per_member
    continuations = int(work // WORKER_BUDGET_SECONDS)
    total = work + continuations * CONTINUATION_SECONDS
    verdict = "met" if total <= GOAL_SECONDS else "not met"
    print(
        f"\njobs at a million: {per_member * 1000:.1f} ms a due member (measured above, one "
        f"worker); {shards} shards (DUE_INDEX_SHARDS) run at once, {per_shard:,.0f} members "
        f"each: {work:,.0f} s of work per shard, {continuations} continuation(s) of "
        f"{CONTINUATION_SECONDS:g} s -> {total:,.0f} s for {MILLION:,} due members "
        f"(goal <= {GOAL_SECONDS} s): {verdict}"
    )


def _sizes(text: str) -> int:
    return int(text.replace(",", "").replace("_", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=_sizes, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=_sizes, default=1_000)
    parser.add_argument("--endpoint-url", default=os.environ.get("DYNAMODB_ENDPOINT_URL"))
    arguments = parser.parse_args()
    run(arguments.endpoint_url, arguments.members, arguments.due)


if __name__ == "__main__":
    main()
