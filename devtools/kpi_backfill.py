"""Rebuild the KPI projection from the ledger: for a table that has history from before the KPI
projector was deployed, or whose projection is in doubt.

    python -m devtools.kpi_backfill --table loyalty-LoyaltyTable-XXXX [--endpoint-url URL]

It first removes the projection (the KPI totals and days, each member's KPI state and the
entries' counted-markers), then scans the table once and hands every ledger entry and every
member profile to the same projector the table's stream feeds (loyalty.services.kpis), a page
at a time. A progress bar (items scanned of the table's approximate item count) goes to
stderr.

- Idempotent: each run rebuilds the same figures from the same ledger (the projector counts an
  entry once; the reset means an earlier projection cannot be counted twice).
- Resumable: after each page the scan's position is written to the state file
  (`--state`, default `.kpi-backfill-<table>.json`); a run that finds it resumes from there
  without resetting, and deletes it when done. `--restart` ignores it.
- The live projector may run meanwhile: entries it counts are marked and not counted again;
  a member it refreshes is refreshed again from the same profile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from loyalty.dal.events_bus import entry_fact, stream_attributes
from loyalty.dal.keys import KPI_PK, MEMBER_KPI_SK
from loyalty.dal.kpis import DynamoKpiStore
from loyalty.domain.kpis import EntryFact
from loyalty.services.kpis import KpiProjector

PAGE_SIZE = 200
_KPI_ENTRY_MARKER = "KPI#ENTRY#"


@dataclass
class Progress:
    scanned: int = 0
    entries: int = 0
    members: int = 0
    cursor: dict[str, Any] | None = None


def _is_projection(item: dict[str, Any]) -> bool:
    pk, sk = str(item["PK"]["S"]), str(item["SK"]["S"])
    return pk == KPI_PK or sk == MEMBER_KPI_SK or sk.startswith(_KPI_ENTRY_MARKER)


def reset_projection(client: Any, table: str) -> int:
    """Delete every item of the KPI projection; the number deleted."""
    deleted = 0
    arguments: dict[str, Any] = {"TableName": table, "ProjectionExpression": "PK, SK"}
    while True:
        page = client.scan(**arguments)
        for item in page.get("Items", []):
            if _is_projection(item):
                client.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
                deleted += 1
        if "LastEvaluatedKey" not in page:
            return deleted
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def backfill(
    client: Any,
    table: str,
    *,
    state_file: Path,
    restart: bool = False,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[Progress], None] = lambda progress: None,
) -> Progress:
    """Rebuild the projection (or go on with an interrupted rebuild); the totals of the run."""
    progress = Progress()
    if state_file.exists() and not restart:
        progress = Progress(**json.loads(state_file.read_text()))
    else:
        reset_projection(client, table)
    projector = KpiProjector(DynamoKpiStore(table, client))
    arguments: dict[str, Any] = {"TableName": table, "Limit": page_size, "ConsistentRead": True}
    while True:
        if progress.cursor:
            arguments["ExclusiveStartKey"] = progress.cursor
        page = client.scan(**arguments)
        items = page.get("Items", [])
        entries: list[EntryFact] = []
        members: list[str] = []
        for item in items:
            item_type = stream_attributes(item, "itemType").get("itemType")
            if item_type == "entry":
                entries.append(entry_fact(item))
            elif item_type == "member":
                members.append(str(stream_attributes(item, "memberId")["memberId"]))
        projector.project(entries, members)
        progress.scanned += len(items)
        progress.entries += len(entries)
        progress.members += len(members)
        progress.cursor = page.get("LastEvaluatedKey")
        state_file.write_text(json.dumps(progress.__dict__))
        on_page(progress)
        if progress.cursor is None:
            state_file.unlink()
            return progress


def _progress_bar(total: int) -> Callable[[Progress], None]:
    def show(progress: Progress) -> None:
        whole = max(total, progress.scanned, 1)
        done = progress.scanned / whole
        bar = "#" * int(done * 40)
        sys.stderr.write(
            f"\r[{bar:<40}] {done:6.1%}  {progress.scanned:,} items, "
            f"{progress.entries:,} entries, {progress.members:,} members"
        )
        if progress.cursor is None:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the loyalty table's name")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    parser.add_argument("--state", type=Path, help="resume file (.kpi-backfill-<table>.json)")
    parser.add_argument("--restart", action="store_true", help="start over, reset included")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    arguments = parser.parse_args(argv)
    client = boto3.client("dynamodb", endpoint_url=arguments.endpoint_url)
    state = arguments.state or Path(f".kpi-backfill-{arguments.table}.json")
    total = int(client.describe_table(TableName=arguments.table)["Table"].get("ItemCount", 0))
    if state.exists() and not arguments.restart:
        print(f"resuming from {state}", file=sys.stderr)
    result = backfill(
        client,
        arguments.table,
        state_file=state,
        restart=arguments.restart,
        page_size=arguments.page_size,
        on_page=_progress_bar(total),
    )
    print(
        json.dumps(
            {"scanned": result.scanned, "entries": result.entries, "members": result.members}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
