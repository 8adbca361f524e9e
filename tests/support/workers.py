"""Functions run in separate processes by concurrency tests (spawned: importable by name)."""

from __future__ import annotations

import os
from typing import Any


def redeem_in_process(
    environment: dict[str, str], member_id: str, reward_id: str, barrier: Any
) -> tuple[int, Any]:
    os.environ.update(environment)
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
