"""Bulk import benchmark against DynamoDB Local (figures, not a test): `loyalty-local import`
of a generated file, killed halfway (SIGKILL) and resumed, then checked to have landed every
row exactly once (the batch's markers, every member's balance and tier basis).

Prints rows/s of the first run (until the kill) and of the resumed run, and the resumed
run's DynamoDB requests per row by operation (measured in-process).

    .venv/bin/python -m bench.bench_import [--rows 100000] [--members 80000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from bench.instrumentation import DynamoDBMeter
from bench.local import TABLE, fresh_table, use_endpoint
from devtools.dynamodb_local import DynamoDBLocal

REPO_ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-12-10T12:00:00Z"
BATCH = "bench"
WORKERS = 4  # as `loyalty-local import` (its --workers default)


def write_file(path: Path, rows: int, members: int) -> dict[str, tuple[int, int]]:
    """Rows of `members` members (the first rows enroll them with an email; later rows add
    lots to known members), earned over the last 18 months: a part expires on arrival; every
    fifth row carries lifetime points. Returns each member's expected balance (expired on
    arrival excluded) and tier basis."""
    balances: Counter[str] = Counter()
    basis: Counter[str] = Counter()
    with path.open("w", encoding="utf-8") as out:
        out.write("memberId,name,email,points,earnedAt,lifetimePoints\n")
        for n in range(rows):
            member = f"bm-{n % members}"
            month = n % 18  # months back from 2026-12
            year, month_of_year = (2026, 12 - month) if month < 12 else (2025, 24 - month)
            points = 10 + n % 990
            lifetime = points * 3 if n % 5 == 0 else None
            email = f"{member}@example.com" if n < members else ""
            name = f"Member {n % members}" if n < members else ""
            out.write(
                f"{member},{name},{email},{points},"
                f"{year}-{month_of_year:02d}-05T10:00:00Z,{lifetime or ''}\n"
            )
            if datetime(year + 1, month_of_year, 5, 10, tzinfo=UTC) > datetime(
                2026, 12, 10, 12, tzinfo=UTC
            ):
                balances[member] += points
            basis[member] += lifetime or points
    return {member: (balances[member], basis[member]) for member in basis}


def command(path: Path, endpoint: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "devtools.local.cli",
        "import",
        str(path),
        "--batch",
        BATCH,
        "--table",
        TABLE,
        "--endpoint-url",
        endpoint,
        "--now",
        NOW,
        "--quiet",
    ]


def landed(client: Any, row: int) -> bool:
    from loyalty.dal import keys

    response = client.get_item(
        TableName=TABLE,
        Key={"PK": {"S": keys.import_pk(BATCH)}, "SK": {"S": keys.import_row_sk(row)}},
    )
    return "Item" in response


def first_run_killed(path: Path, endpoint: str, client: Any, halfway: int) -> tuple[int, float]:
    """Run the import in a subprocess and SIGKILL it once row `halfway` has landed."""
    environment = os.environ | {
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'layers' / 'loyalty'}"
    }
    started = time.perf_counter()
    process = subprocess.Popen(command(path, endpoint), env=environment, cwd=REPO_ROOT)
    while not landed(client, halfway):
        if process.poll() is not None:
            raise SystemExit("the import finished before it could be killed")
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    elapsed = time.perf_counter() - started
    from loyalty.dal.imports import DynamoImportRepository

    return len(DynamoImportRepository(TABLE, client).landed_rows(BATCH)), elapsed


def resume_in_process(path: Path, client: Any) -> tuple[Any, float, DynamoDBMeter]:
    from loyalty.dal.imports import DynamoImportRepository
    from loyalty.domain.imports import read_rows
    from loyalty.domain.rules import ProgramRules
    from loyalty.services.imports import ImportService

    now = datetime(2026, 12, 10, 12, tzinfo=UTC)
    repository = DynamoImportRepository(TABLE, client)
    meter = DynamoDBMeter()
    meter.attach(client)
    rules = ProgramRules()
    service = ImportService(repository, lambda: rules, lambda: now, workers=WORKERS)
    rows = list(read_rows(path.read_text(encoding="utf-8"), now=now))
    started = time.perf_counter()
    report = service.run(BATCH, rows)
    return report, time.perf_counter() - started, meter


def verify(client: Any, rows: int, expected: dict[str, tuple[int, int]]) -> None:
    """Every row's marker once (one Query of the batch), and each member's balance and tier
    basis exactly what their rows add up to (BatchGetItem of every profile): a row landed
    twice would count its points or its tier basis twice, a row lost would miss them."""
    from loyalty.dal.imports import DynamoImportRepository

    repository = DynamoImportRepository(TABLE, client)
    markers = len(repository.landed_rows(BATCH))
    members = repository.get_members(expected)
    wrong = {
        member_id: figures
        for member_id, figures in expected.items()
        if member_id not in members
        or (members[member_id].balance, members[member_id].tier_points) != figures
    }
    print(f"\nexactly once: {markers:,} row markers for {rows:,} rows")
    print(
        f"  {len(members):,} members, {len(wrong)} with a balance or tier basis other than "
        "their rows' sum"
    )
    if markers != rows or wrong:
        raise SystemExit(f"NOT exactly once: {list(wrong.items())[:5]}")


def run(endpoint: str, rows: int, members: int) -> None:
    use_endpoint(endpoint)
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    fresh_table(client)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as directory:
        path = Path(directory) / "members.csv"
        expected = write_file(path, rows, members)
        print(f"import of {rows:,} rows ({members:,} members) into DynamoDB Local")
        at_kill, elapsed = first_run_killed(path, endpoint, client, rows // 2)
        print(
            f"  first run (a subprocess) SIGKILLed after {at_kill:,} rows in {elapsed:.1f} s: "
            f"{at_kill / elapsed:,.0f} rows/s (start-up and file parsing included)"
        )
        report, elapsed, meter = resume_in_process(path, client)
        print(
            f"  resumed: {report.imported:,} rows imported, {report.already_landed:,} skipped "
            f"as landed, {len(report.invalid)} invalid, in {elapsed:.1f} s: "
            f"{report.imported / elapsed:,.0f} rows/s"
        )
        print(f"  members created {report.members_created:,}, points {report.points:,}")
        imported = max(report.imported, 1)
        print(f"\n  {'operation':<22}{'requests/row':>14}{'priced WCU/row':>16}")
        for operation in sorted(meter.requests):
            print(
                f"  {operation:<22}{meter.requests[operation] / imported:>14.3f}"
                f"{meter.priced_write_units[operation] / imported:>16.2f}"
            )
        total = sum(meter.requests.values())
        print(f"  {'all':<22}{total / imported:>14.3f}")
        verify(client, rows, expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=None, help="default: 80%% of the rows")
    parser.add_argument("--endpoint-url", default=os.environ.get("DYNAMODB_ENDPOINT_URL"))
    arguments = parser.parse_args()
    members = arguments.members or max(1, arguments.rows * 4 // 5)
    if arguments.endpoint_url:
        run(arguments.endpoint_url, arguments.rows, members)
        return
    with DynamoDBLocal() as dynamodb:
        run(dynamodb.endpoint_url, arguments.rows, members)


if __name__ == "__main__":
    main()
