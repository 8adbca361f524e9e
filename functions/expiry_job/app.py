"""The daily expiry job.

`schedule_handler` is invoked by the EventBridge schedule: it takes the event's `time` as
now (never the wall clock, so a day can be replayed) and fans the run out over the work
queue, one message per shard of the sparse expiry index. `worker_handler` consumes the work
queue: it processes a shard until the invocation runs short of time, then queues the rest
(the cursor) as a new message. Every step is idempotent, so a crash halfway is resumed by
SQS's redelivery without expiring or warning twice."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.dal.keys import EXPIRY_SHARDS
from loyalty.dal.work_queue import WorkQueue
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.runtime import expiry_service

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Stop taking new pages with this much of the invocation left.
SAFETY_MARGIN_MS = 20_000


def _queue() -> WorkQueue:
    return WorkQueue(os.environ["WORK_QUEUE_URL"])


@logger.inject_lambda_context(clear_state=True)
def schedule_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = parse_instant(event["time"])
    messages = [
        {"job": "expiry", "shard": shard, "now": format_instant(now)}
        for shard in range(EXPIRY_SHARDS)
    ]
    _queue().send(messages)
    logger.info("expiry run queued", now=format_instant(now), shards=EXPIRY_SHARDS)
    return {"now": format_instant(now), "queued": len(messages)}


def _process(record: SQSRecord, context: LambdaContext) -> None:
    work = json.loads(record.body)
    now = parse_instant(work["now"])
    run = expiry_service().run_shard(
        int(work["shard"]),
        now,
        cursor=work.get("cursor"),
        time_left=lambda: context.get_remaining_time_in_millis() > SAFETY_MARGIN_MS,
    )
    if not run.done:
        _queue().send([{**work, "cursor": run.cursor}])
    logger.info(
        "expiry shard processed",
        shard=run.shard,
        now=work["now"],
        members=run.members,
        expired_points=run.expired_points,
        warnings=run.warnings,
        continued=not run.done,
    )


@logger.inject_lambda_context(clear_state=True)
def worker_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=lambda record: _process(record, context),
        processor=processor,
        context=context,
    )
