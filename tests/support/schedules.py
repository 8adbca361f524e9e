"""Scheduled events as EventBridge Scheduler / rules deliver them to a job handler."""

from __future__ import annotations

import uuid
from typing import Any


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
