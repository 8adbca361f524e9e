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
from loyalty.domain.outbound import events_for_change, needs_marketing_consent
from loyalty.observability import observed
from loyalty.runtime import marketing_consents

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@lru_cache(maxsize=4)
def _bus(bus_name: str) -> EventBus:
    return EventBus(bus_name)


def event_bus() -> EventBus:
    return _bus(os.environ.get("EVENT_BUS_NAME", ""))


# Member id -> marketing consent, read during this invocation only (a change of mind takes
# effect from the next batch).
_consents: dict[str, bool] = {}


def _consented(member_id: str) -> bool:
    if member_id not in _consents:
        _consents[member_id] = marketing_consents().consented(member_id)
    return _consents[member_id]


def record_handler(record: DynamoDBRecord) -> None:
    change = stream_change(record.raw_event)
    events = [
        event
        for event in events_for_change(change.old, change.new, observed_at=change.observed_at)
        if not needs_marketing_consent(event) or _consented(str(event.member_id))
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


@observed(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _consents.clear()
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
