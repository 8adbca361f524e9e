"""A shard run of a daily member job: one member's failure never aborts the others; a store
failing for everyone still fails the shard as a whole (SQS retries it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from loyalty.services.jobs import MAX_CONSECUTIVE_FAILURES, run_shard

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

NOW = datetime(2027, 2, 10, tzinfo=UTC)


class DuePages:
    """A due index of one shard, served in pages of two members."""

    def __init__(self, members: list[str]) -> None:
        self.members = members

    def due_members(
        self, job: str, shard: int, now: datetime, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[str], dict[str, Any] | None]:
        start = after["next"] if after else 0
        following = start + 2
        return self.members[start:following], (
            {"next": following} if following < len(self.members) else None
        )


def process_failing(*broken: str):
    def process(member_id: str, now: datetime) -> int:
        if member_id in broken:
            raise ValueError(f"damaged profile of {member_id}")
        return 10

    return process


def test_a_failing_member_is_set_aside_and_the_rest_of_the_shard_is_served():
    told: list[tuple[str, str]] = []
    run = run_shard(
        DuePages(["a", "b", "c", "d", "e"]),
        "expiry",
        3,
        NOW,
        process_failing("b", "e"),
        on_failure=lambda member_id, error: told.append((member_id, type(error).__name__)),
    )
    assert run.done and run.members == 5 and run.points == 30
    assert run.failed == ["b", "e"]
    assert told == [("b", "ValueError"), ("e", "ValueError")]


def test_a_run_short_of_time_reports_its_failures_with_its_cursor():
    run = run_shard(
        DuePages(["a", "b", "c"]), "tenure", 0, NOW, process_failing("a"), time_left=lambda: False
    )
    assert not run.done and run.cursor == {"next": 2}
    assert run.failed == ["a"] and run.points == 10


def test_a_store_failing_for_everyone_fails_the_whole_shard():
    members = [f"m-{n}" for n in range(MAX_CONSECUTIVE_FAILURES + 5)]
    # Failures with a success between them are each one member's: the shard goes on.
    alternate = members[::2]
    run = run_shard(DuePages(members), "birthday", 1, NOW, process_failing(*alternate))
    assert run.done and run.failed == alternate
    # As many in a row: the store, not a member; SQS retries the shard.
    with pytest.raises(ValueError):
        run_shard(DuePages(members), "birthday", 1, NOW, process_failing(*members))
