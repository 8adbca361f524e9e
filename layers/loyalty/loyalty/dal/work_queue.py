"""The jobs' work queue (SQS): the only code that sends to it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class WorkQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs")

    def send(self, messages: list[dict[str, Any]]) -> None:
        """Send the work items, ten to a batch; raise if any was not accepted (the schedule
        retries the run, and processing is idempotent)."""
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            response = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": json.dumps(message, sort_keys=True)}
                    for index, message in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} work items were not queued")
