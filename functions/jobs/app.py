"""The daily jobs: expiry, birthday bonus, tenure milestones, coupons (warning and expiry),
promotion announcements.

Each `*_schedule` handler is invoked by its EventBridge schedule and takes the event's
`time` as now (never the wall clock, so any day can be replayed). The member jobs fan out
over the work queue, one message per shard of the sparse due index; `worker_handler`
processes a shard until the invocation runs short of time, then queues the rest (the
cursor) as a new message. A member that fails is set aside: the shard goes on, and the member
is queued as a message of its own (`memberId`), which SQS retries and finally dead-letters
alone. Every step is idempotent, so a crash halfway is resumed by SQS's
redelivery without granting, expiring or warning twice."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.coupon_expiry
import loyalty.services.expiry
import loyalty.services.jobs  # noqa: F401
from loyalty import observability
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.domain.schedules import ScheduledJob
from loyalty.observability import observed
from loyalty.runtime import (
    coupon_expiry_service,
    expiry_service,
    job_runs,
    promotions,
    scheduled_awards,
)

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Stop taking new pages with this much of the invocation left.
SAFETY_MARGIN_MS = 20_000
MEMBER_JOBS = ("expiry", "birthday", "tenure", "coupons")


def run_id_of(job: str, now: str) -> str:
    """A run's id: the job and the schedule's time, so a retried schedule is the same run."""
    return f"{job}-{now}"


def _fan_out(job: str, event: dict[str, Any]) -> dict[str, Any]:
    now = format_instant(parse_instant(event["time"]))
    run_id = run_id_of(job, now)
    logger.append_keys(job=job, run_id=run_id)
    shards = job_runs().start(job, now, run_id)
    observability.job_run_queued(job)
    logger.info("job run queued", now=now, shards=shards)
    return {"job": job, "now": now, "queued": shards}


@observed(logger)
def expiry_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _fan_out("expiry", event)


@observed(logger)
def birthday_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _fan_out("birthday", event)


@observed(logger)
def tenure_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _fan_out("tenure", event)


@observed(logger)
def coupons_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _fan_out("coupons", event)


@observed(logger)
def promotions_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = parse_instant(event["time"])
    logger.append_keys(job="promotions", run_id=run_id_of("promotions", format_instant(now)))
    announced = promotions().announce(now)
    logger.info("promotions checked", now=format_instant(now), announced=announced)
    return {"now": format_instant(now), "announced": announced}


def _process(record: SQSRecord, context: LambdaContext) -> None:
    try:
        _process_work(record, context)
    except Exception:
        receive_count = int(record.attributes.approximate_receive_count or 0)
        observability.message_failed("job-work", receive_count)
        raise


def _process_work(record: SQSRecord, context: LambdaContext) -> None:
    work = json.loads(record.body)
    job, now = work["job"], parse_instant(work["now"])
    # The run's id on every log line of its fan-out (messages queued before runs had ids: the
    # id they would have had).
    work["runId"] = work.get("runId") or run_id_of(job, work["now"])
    logger.append_keys(job=job, run_id=work["runId"], shard=work.get("shard"))
    if job not in MEMBER_JOBS:
        raise ValueError(f"unknown job {job!r}")
    if "memberId" in work:
        _process_member(job, work["memberId"], now)
    else:
        _process_shard(work, job, int(work["shard"]), now, context)


def _process_member(job: str, member_id: str, now: datetime) -> None:
    """A member a shard run set aside, alone: a failure raises, so SQS retries this message
    and finally dead-letters it (its body names the member)."""
    if job == "expiry":
        points = expiry_service().process_member(member_id, now)[0]
    elif job == "coupons":
        coupon_expiry_service().process_member(member_id, now)
        points = 0  # an expired coupon's points are not returned
    else:
        points = scheduled_awards().process_member(cast(ScheduledJob, job), member_id, now)
    observability.job_members(job, processed=1, points=points)
    logger.info("job member processed", member_id=member_id, points=points)


def _process_shard(
    work: dict[str, Any], job: str, shard: int, now: datetime, context: LambdaContext
) -> None:
    def time_left() -> bool:
        return context.get_remaining_time_in_millis() > SAFETY_MARGIN_MS

    def set_aside(member_id: str, error: Exception) -> None:
        # The error's type only: its message may quote a profile field (personal data).
        logger.warning(
            "job member failed, set aside",
            member_id=member_id,
            error=type(error).__name__,
        )

    cursor = work.get("cursor")
    if job == "expiry":
        run = expiry_service().run_shard(
            shard, now, cursor=cursor, time_left=time_left, on_failure=set_aside
        )
    elif job == "coupons":
        run = coupon_expiry_service().run_shard(
            shard, now, cursor=cursor, time_left=time_left, on_failure=set_aside
        )
    else:
        run = scheduled_awards().run_shard(
            cast(ScheduledJob, job),
            shard,
            now,
            cursor=cursor,
            time_left=time_left,
            on_failure=set_aside,
        )
    # Queued before the shard's message is acknowledged: if sending fails, SQS redelivers the
    # shard, whose members are processed again idempotently.
    job_runs().follow_up(work, run)
    observability.job_members(
        job,
        processed=run.members,
        points=run.points,
        set_aside=len(run.failed),
        continued=not run.done,
    )
    logger.info(
        "job shard processed",
        now=work["now"],
        members=run.members,
        points=run.points,
        failed=len(run.failed),
        continued=not run.done,
    )


@observed(logger)
def worker_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=lambda record: _process(record, context),
        processor=processor,
        context=context,
    )
