"""`loyalty-local import FILE --batch ID`: members and opening balances from a CSV or JSON
Lines file, through the service (loyalty.services.imports), into the local stack's table or,
with --table, a deployed stack's table with the caller's AWS credentials (docs/import.md).

    loyalty-local import members.csv --batch move-2026-11 --dry-run
    loyalty-local import members.csv --batch move-2026-11
    loyalty-local import smile.csv --format smile --batch smile-1 --table loyalty-prod
    loyalty-local import members.csv --batch move-2026-11 --undo
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$")


class ImportRefused(Exception):
    pass


def add_parser(commands: Any, client: Callable[[str, str], argparse.ArgumentParser]) -> None:
    command = client("import", "import members and opening balances from a CSV or JSON Lines file")
    command.add_argument("file", help="the CSV (with a header row) or JSON Lines file")
    command.add_argument(
        "--batch",
        required=True,
        help="the batch id (1-64 letters, digits, '-', '_', '.'): each row lands once per "
        "batch, so run the same file with the same id to resume; --undo takes it back",
    )
    command.add_argument(
        "--format",
        choices=("native", "smile", "loyaltylion"),
        default="native",
        help="the file's columns: this service's (default), a Smile.io or a LoyaltyLion "
        "customer export",
    )
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="report what would change and every invalid row; write nothing",
    )
    command.add_argument("--undo", action="store_true", help="take back the batch's rows")
    command.add_argument(
        "--earned-at",
        metavar="DATE",
        help="when the points of a row without an earned date were earned (default: now)",
    )
    command.add_argument(
        "--table", help="a deployed stack's table (caller's AWS credentials) instead of local"
    )
    command.add_argument("--region", help="the table's AWS region (default: your AWS config)")
    command.add_argument(
        "--endpoint-url", help="a DynamoDB endpoint for --table (e.g. DynamoDB Local)"
    )
    command.add_argument(
        "--now", metavar="INSTANT", help="the import's clock (ISO instant; default: now)"
    )
    command.add_argument(
        "--workers",
        type=int,
        default=4,
        help="rows written at a time (default 4; a member's rows always in file order)",
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(handler=cmd_import)


def _instant(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ImportRefused(f"{name} is not a date or an ISO instant: {text!r}") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _target(args: argparse.Namespace) -> tuple[str, Any, Callable[[], datetime]]:
    """The table, a DynamoDB client on it, and the clock: --table (and --region,
    --endpoint-url) or the running local stack's, asked over HTTP."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=3)
    start = _instant(args.now, "--now") if args.now else None
    if args.table:
        options: dict[str, Any] = {"config": config}
        if args.region:
            options["region_name"] = args.region
        if args.endpoint_url:
            options["endpoint_url"] = args.endpoint_url
        client = boto3.client("dynamodb", **options)
        return args.table, client, _clock(start)
    from devtools.local.cli import request

    status = request(args.url, "GET", "/local/status")
    options = {"config": config, "region_name": status.get("region") or "us-east-1"}
    if status["dynamodbEndpoint"] != "aws":
        options["endpoint_url"] = status["dynamodbEndpoint"]
        # DynamoDB Local keeps one namespace per access key id: the stack's (docs/local.md).
        options["aws_access_key_id"] = os.environ.get("AWS_ACCESS_KEY_ID") or "local"
        options["aws_secret_access_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY") or "local"
    client = boto3.client("dynamodb", **options)
    if start is None and status.get("clockPinned"):
        start = _instant(str(status["now"]), "the stack's clock")
    return str(status["table"]), client, _clock(start)


def _clock(start: datetime | None) -> Callable[[], datetime]:
    """The wall clock, or a pinned start that runs on (as the local stack's clock does)."""
    if start is None:
        return lambda: datetime.now(UTC)
    began = time.monotonic()
    pinned = start
    return lambda: pinned + timedelta(seconds=time.monotonic() - began)


def cmd_import(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ImportRefused as error:
        print(f"loyalty-local: {error}", file=sys.stderr)
        return 2


# The domain layer, as the stack puts it on the path: the installed `loyalty-local` command
# runs with the repository on its path, not the layer.
LAYER_DIR = Path(__file__).resolve().parents[2] / "layers" / "loyalty"


def _run(args: argparse.Namespace) -> int:
    if str(LAYER_DIR) not in sys.path:
        sys.path.insert(0, str(LAYER_DIR))
    from devtools.local.progress import Progress
    from loyalty.dal.imports import DynamoImportRepository
    from loyalty.domain.imports import FileError, read_rows
    from loyalty.services.imports import ImportService
    from loyalty.services.operations import ProgramService
    from loyalty.settings import load_rules

    if args.workers < 1:
        raise ImportRefused("--workers is at least 1")
    if not BATCH_ID.match(args.batch):
        raise ImportRefused("--batch is 1-64 letters, digits, '-', '_' or '.' (from a letter)")
    table, client, clock = _target(args)
    repository = DynamoImportRepository(table, client)
    document = os.environ.get("PROGRAM_RULES", "")
    rules = ProgramService(repository, lambda: load_rules(document)).current()
    service = ImportService(repository, lambda: rules, clock, workers=args.workers)
    quiet = args.quiet or args.json

    if args.undo:
        landed = len(repository.landed_rows(args.batch))
        with Progress(landed, "undoing", enabled=not quiet) as bar:
            undo = service.undo(args.batch, dry_run=args.dry_run, progress=bar.advance)
        if args.json:
            print(json.dumps(asdict(undo), indent=2))
        else:
            _print_undo(undo, table)
        return 0

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportRefused(f"cannot read {path}: {error}") from None
    now = clock()
    default = _instant(args.earned_at, "--earned-at") if args.earned_at else None
    try:
        rows = list(read_rows(text, args.format, now=now, default_earned_at=default))
    except FileError as error:
        raise ImportRefused(f"{path}: {error}") from None
    label = "checking" if args.dry_run else "importing"
    with Progress(len(rows), label, enabled=not quiet) as bar:
        report = service.run(args.batch, rows, dry_run=args.dry_run, progress=bar.advance)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        _print_report(report, table)
    return 1 if report.invalid else 0


def _print_report(report: Any, table: str) -> None:
    verb = "would import" if report.dry_run else "imported"
    print(f"batch {report.batch_id} into {table}{' (dry run: nothing written)' * report.dry_run}")
    print(f"  rows read              {report.rows:>9,}")
    print(f"  {verb:<22} {report.imported:>9,}")
    print(f"  already landed         {report.already_landed:>9,}  (skipped)")
    print(f"  invalid                {len(report.invalid):>9,}")
    print(f"  members created        {report.members_created:>9,}")
    print(f"  points                 {report.points:>9,}")
    print(f"    expired on arrival   {report.expired_on_arrival:>9,}")
    print(f"  tier basis             {report.tier_basis:>9,}")
    for invalid in report.invalid:
        print(f"  line {invalid.line} (row {invalid.number}): {invalid.reason}")


def _print_undo(report: Any, table: str) -> None:
    verb = "would undo" if report.dry_run else "undone"
    print(f"batch {report.batch_id} in {table}{' (dry run: nothing written)' * report.dry_run}")
    print(f"  rows landed            {report.rows:>9,}")
    print(f"  {verb:<22} {report.undone:>9,}")
    print(f"  already undone         {report.already_undone:>9,}  (skipped)")
    print(f"  open points removed    {report.points_removed:>9,}")
    print(f"  spent points (debt)    {report.debt:>9,}")
    print(f"  tier basis removed     {report.tier_basis_removed:>9,}")
    print(f"  rows of erased members {report.erased_members:>9,}  (nothing to take back)")
    print(
        f"  members the batch created: {len(set(report.members_created)):,} "
        "(they stay enrolled; erase them with DELETE /members/{memberId} if need be)"
    )
