"""Leaderboard projector: the table's stream (filter criteria in template.yaml: new ledger
entries, profiles of members who made a leaderboard choice) to each member's points earned
per period (docs/leaderboard.md). Each entry is counted once however often the stream
delivers it; a changed choice (opt-in, display name) or an erasure re-lists the member's
scores. The refresher (leaderboard_refresher) builds the boards from them every minute.

The batch is projected in steps of consecutive records. When a step fails, the records from
its first one on are reported in `batchItemFailures` (Lambda retries from there; what was
projected is not counted again); when the first step fails the batch raises, so Lambda
bisects it and a record that can never be projected ends in the stream-failures queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.leaderboard  # noqa: F401
from loyalty.observability import observed
from loyalty.runtime import leaderboard_projector

logger = Logger()

RECORDS_PER_STEP = 50


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
    for start in range(0, len(records), RECORDS_PER_STEP):
        step = records[start : start + RECORDS_PER_STEP]
        try:
            _project(step)
        except Exception:
            first = (step[0].get("dynamodb") or {}).get("SequenceNumber")
            logger.exception("leaderboard projection failed", sequence_number=first)
            if start == 0:
                raise
            return {"batchItemFailures": [{"itemIdentifier": first}]}
    return {"batchItemFailures": []}
