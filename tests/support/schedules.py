"""Scheduled events as EventBridge Scheduler / rules deliver them to a job handler."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest


def scheduled_event(time: str, rule: str = "loyalty-daily-expiry") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{rule}"],
        "detail": {},
    }


class CapturedQueue:
    """Stands in for the jobs' SQS work queue: keeps what is sent, delivers it on demand
    to the worker handler, in batches as SQS would."""

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []

    def send(self, messages: list[dict[str, Any]]) -> None:
        self.pending.extend(messages)

    def drain(self, context: Any = None) -> int:
        from functions.jobs import app as jobs
        from tests.support.events import FakeLambdaContext, sqs_event

        delivered = 0
        while self.pending:
            batch, self.pending = self.pending[:10], self.pending[10:]
            event = sqs_event(*[json.dumps(message) for message in batch])
            response = jobs.worker_handler(event, context or FakeLambdaContext())
            assert response["batchItemFailures"] == []
            delivered += len(batch)
        return delivered


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> CapturedQueue:
    from loyalty import runtime

    captured = CapturedQueue()
    monkeypatch.setattr(runtime, "work_queue", lambda: captured)
    return captured


def run_daily(queue: CapturedQueue, job: str, time: str, context: Any = None) -> None:
    """The job's schedule fires at `time`; its work is processed to the end."""
    from functions.jobs import app as jobs
    from tests.support.events import FakeLambdaContext

    getattr(jobs, f"{job}_schedule")(scheduled_event(time), FakeLambdaContext())
    queue.drain(context)  # promotions run inline: nothing queued
