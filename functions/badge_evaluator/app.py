"""Badge evaluation: wakes (stream filter criteria in template.yaml) for the changes that can
count towards a badge (an order recorded, a review or share marker, a referral completed, a
member profile changed) and grants what they complete: each badge once per member, with its
points in the same transaction, however often the stream delivers a record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

# The service this function uses, loaded at init (runtime builds it lazily, so the function
# loads no other service): its import is part of the cold start, not a request.
import loyalty.services.badges  # noqa: F401
from loyalty import observability
from loyalty.observability import observed
from loyalty.runtime import badge_service

logger = Logger()
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def record_handler(record: DynamoDBRecord) -> None:
    for grant in badge_service().evaluate(record.raw_event):
        observability.points_awarded(grant.points, "badge")
        logger.info(
            "badge granted",
            member_id=grant.member_id,
            badge_id=grant.badge_id,
            points=grant.points,
            challenge=grant.challenge,
        )


@observed(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
