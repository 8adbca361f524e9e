"""Leaderboard projector: the table's stream (filter criteria in template.yaml: new ledger
entries, profiles of members who made a leaderboard choice) to each member's points earned
per period (docs/leaderboard.md). Each entry is counted once however often the stream
delivers it; a changed choice (opt-in, display name) or an erasure re-lists the member's
scores. The refresher (leaderboard_refresher) builds the boards from them every minute.

The batch is projected in steps of consecutive records (`loyalty.stream_steps`: a failing
step is retried from its first record; what was projected is not counted again)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.leaderboard  # noqa: F401
from loyalty.observability import observed
from loyalty.runtime import leaderboard_projector
from loyalty.stream_steps import process_in_steps

logger = Logger()


def _project(records: list[dict[str, Any]]) -> None:
    result = leaderboard_projector().project_records(records)
    logger.info(
        "leaderboard scores projected",
        records=len(records),
        entries_counted=result.entries_counted,
        entries_seen_before=result.entries_seen_before,
        members_changed=result.members_changed,
    )


@observed(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records: list[dict[str, Any]] = event.get("Records") or []
    return process_in_steps(
        records, _project, logger=logger, failure="leaderboard projection failed"
    )
