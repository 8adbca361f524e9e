"""Referral completion: wakes (stream filter criteria in template.yaml) for the insert of a
member's first order record, and completes the referral: both sides earn, once per referred
customer however often the stream delivers the record."""

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

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.referrals  # noqa: F401
from loyalty import observability
from loyalty.observability import observed
from loyalty.runtime import referral_service

logger = Logger()
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def record_handler(record: DynamoDBRecord) -> None:
    completed = referral_service().complete_first_order(record.raw_event)
    if completed is None:
        return  # the filter criteria should have kept this away; nothing to do
    member_id, outcome = completed
    observability.points_awarded(outcome.referrer_points + outcome.referee_points, "referral")
    logger.info(
        "referral checked",
        member_id=member_id,
        status=outcome.status,
        referrer_id=outcome.referrer_id,
        reason=outcome.reason,
    )


@observed(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
