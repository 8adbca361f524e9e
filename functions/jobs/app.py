"""The daily jobs: expiry, birthday bonus, tenure milestones, promotion announcements.

Each `*_schedule` handler is invoked by its EventBridge schedule and takes the event's
`time` as now (never the wall clock, so any day can be replayed). The member jobs fan out
over the work queue, one message per shard of the sparse due index; `worker_handler`
processes a shard until the invocation runs short of time, then queues the rest (the
cursor) as a new message. Every step is idempotent, so a crash halfway is resumed by SQS's
redelivery without granting, expiring or warning twice."""

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
from loyalty.runtime import expiry_service, promotions, scheduled_awards

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Stop taking new pages with this much of the invocation left.
SAFETY_MARGIN_MS = 20_000
MEMBER_JOBS = ("expiry", "birthday", "tenure")


def _queue() -> WorkQueue:
    return WorkQueue(os.environ["WORK_QUEUE_URL"])


def _fan_out(job: str, event: dict[str, Any]) -> dict[str, Any]:
    now = format_instant(parse_instant(event["time"]))
    _queue().send([{"job": job, "shard": shard, "now": now} for shard in range(EXPIRY_SHARDS)])
    logger.info("job run queued", job=job, now=now, shards=EXPIRY_SHARDS)
    return {"job": job, "now": now, "queued": EXPIRY_SHARDS}


@logger.inject_lambda_context(clear_state=True)
def expiry_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _fan_out("expiry", event)


@logger.inject_lambda_context(clear_state=True)
def birthday_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _fan_out("birthday", event)


@logger.inject_lambda_context(clear_state=True)
def tenure_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _fan_out("tenure", event)


@logger.inject_lambda_context(clear_state=True)
def promotions_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = parse_instant(event["time"])
    announced = promotions().announce(now)
    logger.info("promotions checked", now=format_instant(now), announced=announced)
    return {"now": format_instant(now), "announced": announced}


def _process(record: SQSRecord, context: LambdaContext) -> None:
    work = json.loads(record.body)
    job, shard, now = work["job"], int(work["shard"]), parse_instant(work["now"])
    if job not in MEMBER_JOBS:
        raise ValueError(f"unknown job {job!r}")

    def time_left() -> bool:
        return context.get_remaining_time_in_millis() > SAFETY_MARGIN_MS

    cursor = work.get("cursor")
    if job == "expiry":
        run = expiry_service().run_shard(shard, now, cursor=cursor, time_left=time_left)
    else:
        run = scheduled_awards().run_shard(job, shard, now, cursor=cursor, time_left=time_left)
    if not run.done:
        _queue().send([{**work, "cursor": run.cursor}])
    logger.info(
        "job shard processed",
        job=job,
        shard=shard,
        now=work["now"],
        members=run.members,
        points=run.points,
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
