"""Leaderboard refresher: every minute (EventBridge schedule in template.yaml), the boards of
the current month and of all time, built from the best listed scores of each shard and
written where GET /leaderboard reads them (docs/leaderboard.md). Takes the event's `time` as
now, never the wall clock: the month rolls over by it, and a replayed run that is older than
the last one changes nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.leaderboard  # noqa: F401
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.observability import observed
from loyalty.runtime import leaderboard_refresher

logger = Logger()


@observed(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = parse_instant(event["time"])
    boards = leaderboard_refresher().refresh(now)
    listed = {board.period: len(board.rows) for board in boards}
    logger.info("leaderboard refreshed", now=format_instant(now), listed=listed)
    return {"now": format_instant(now), "listed": listed}
