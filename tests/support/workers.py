"""Functions run in separate processes by concurrency tests (spawned: importable by name).

Each one first takes the parent's environment and clocks (``follow_the_parent``): the table,
the services' pinned "now" and, under ``--fake-today``, the faked wall clock."""

from __future__ import annotations

import os
from typing import Any

from tests.support.timetravel import FAKE_NOW_ENV, SERVICES_NOW_ENV, follow_the_parent, iso


def redeem_in_process(
    environment: dict[str, str], member_id: str, reward_id: str, barrier: Any
) -> tuple[int, Any]:
    os.environ.update(environment)
    follow_the_parent()
    from functions.redemption import app
    from tests.support.http import call, http_event, member_token

    event = http_event(
        "POST",
        "/members/{memberId}/redemptions",
        {"memberId": member_id},
        body={"rewardId": reward_id},
        claims=member_token(member_id),
    )
    barrier.wait(timeout=60)  # everyone imported and ready: go at once
    reply = call(app.handler, event)
    return reply.status, reply.body


def deliver_in_process(
    environment: dict[str, str], bodies: list[dict[str, Any]], barrier: Any
) -> list[dict[str, str]]:
    """One Lambda instance: a batch of order messages through the purchase-award handler."""
    os.environ.update(environment)
    follow_the_parent()
    from functions.purchase_award import app
    from tests.support.events import FakeLambdaContext, sqs_event

    event = sqs_event(*bodies)
    barrier.wait(timeout=60)
    failures: list[dict[str, str]] = app.handler(event, FakeLambdaContext())["batchItemFailures"]
    return failures


def lambda_environment() -> dict[str, str]:
    """What a spawned 'Lambda instance' needs to reach the test's table, and the services'
    "now" of this process (pinned by the test) to pin there too."""
    from loyalty.services import clock

    names = (
        "TABLE_NAME",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    )
    environment = {name: os.environ[name] for name in names}
    environment |= {"POWERTOOLS_LOG_LEVEL": "ERROR", SERVICES_NOW_ENV: iso(clock.utc_now())}
    if FAKE_NOW_ENV in os.environ:
        environment[FAKE_NOW_ENV] = os.environ[FAKE_NOW_ENV]
    return environment
