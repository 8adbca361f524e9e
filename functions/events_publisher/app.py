"""Events publisher: the table's stream (the outbox) to the EventBridge bus.

Each stream record (one committed item change) becomes zero or more domain events
(`loyalty.domain.outbound`), published with stable event ids. A record whose events were not
all accepted is reported in `batchItemFailures`, so Lambda retries from it; a batch where
every record failed raises, so it counts as a function error (Errors alarm, bisection). After
the retries the record's position goes to the stream-failures queue.

Marketing events about a member (birthday, milestone, tier change, points expiring) are
published only if the member opted in: their consent is read from the profile once per
member per invocation, and only when such an event comes up."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.observability import observed
from loyalty.runtime import stream_publisher
from loyalty.services.outbox import StreamPublisher

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord, publisher: StreamPublisher) -> None:
    events = publisher.publish_record(record.raw_event)
    if not events:
        return
    # Ids and kinds only: the details stay out of the logs.
    logger.info(
        "events published",
        sequence_number=record.dynamodb.sequence_number if record.dynamodb else None,
        event_ids=[event.event_id for event in events],
        detail_types=[event.detail_type for event in events],
    )


@observed(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # One publisher per invocation: a member's consent is read once in it, and a change of
    # mind takes effect from the next batch.
    publisher = stream_publisher()
    return process_partial_response(
        event=event,
        record_handler=lambda record: record_handler(record, publisher),
        processor=processor,
        context=context,
    )
