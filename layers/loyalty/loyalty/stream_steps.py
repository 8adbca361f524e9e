"""A stream batch processed in steps of consecutive records, for the consumers that write per
step rather than per record (the KPI and leaderboard projectors).

When a step fails, the records from its first one on are reported in `batchItemFailures`:
Lambda retries from there, and what the earlier steps wrote is not written again. When the
first step fails the batch raises, so Lambda bisects it and a record that can never be
processed ends in the stream-failures queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

RECORDS_PER_STEP = 50

StreamRecords = list[dict[str, Any]]


def process_in_steps(
    records: StreamRecords,
    process: Callable[[StreamRecords], None],
    *,
    logger: Logger,
    failure: str,
) -> dict[str, Any]:
    """The batch's response: `process` each step of RECORDS_PER_STEP records in order;
    `failure` is logged with the failing step's first sequence number."""
    step_size = RECORDS_PER_STEP  # read at call time: a test takes smaller steps
    for start in range(0, len(records), step_size):
        step = records[start : start + step_size]
        try:
            process(step)
        except Exception:
            first = (step[0].get("dynamodb") or {}).get("SequenceNumber")
            logger.exception(failure, sequence_number=first)
            if start == 0:
                raise
            return {"batchItemFailures": [{"itemIdentifier": first}]}
    return {"batchItemFailures": []}
