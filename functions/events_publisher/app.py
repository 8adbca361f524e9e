"""Events publisher: the table's stream (the outbox) to the EventBridge bus.

Each stream record (one committed item change) becomes zero or more domain events
(`loyalty.domain.outbound`), published with stable event ids. A record whose events were not
all accepted is reported in `batchItemFailures`, so Lambda retries from it; a batch where
every record failed raises, so it counts as a function error (Errors alarm, bisection). After
the retries the record's position goes to the stream-failures queue."""

from __future__ import annotations

import os
from functools import lru_cache
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

from loyalty.dal.events_bus import EventBus, stream_change
from loyalty.domain.outbound import events_for_change, marketing_consent_allows

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@lru_cache(maxsize=4)
def _bus(bus_name: str) -> EventBus:
    return EventBus(bus_name)


def event_bus() -> EventBus:
    return _bus(os.environ.get("EVENT_BUS_NAME", ""))


def record_handler(record: DynamoDBRecord) -> None:
    change = stream_change(record.raw_event)
    events = [
        event
        for event in events_for_change(change.old, change.new, observed_at=change.observed_at)
        if marketing_consent_allows(event)
    ]
    if not events:
        return
    event_bus().publish(events)
    # Ids and kinds only: the details stay out of the logs.
    logger.info(
        "events published",
        sequence_number=record.dynamodb.sequence_number if record.dynamodb else None,
        event_ids=[event.event_id for event in events],
        detail_types=[event.detail_type for event in events],
    )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
