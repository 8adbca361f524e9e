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


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, messages: list[dict[str, Any]]) -> None:
        self.messages += messages


def test_a_run_fans_out_to_every_shard_of_the_due_index_as_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loyalty.dal import keys
    from loyalty.services.jobs import JobRuns

    monkeypatch.setenv("DUE_INDEX_SHARDS", "300")
    sent = Sent()
    assert JobRuns(sent).start("expiry", "2027-02-10T00:15:00Z", "run-1") == 300
    assert sorted(message["shard"] for message in sent.messages) == list(range(300))
    # Members land in every shard, and only in those the run reads.
    shards = {keys.shard_of(f"m-{n}", keys.due_index_shards()) for n in range(20_000)}
    assert shards == set(range(300))
    assert keys.member_expiry_gsi_pk("m-1") == f"EXPIRY#{keys.shard_of('m-1', 300)}"


@pytest.mark.parametrize("value", ["0", "1001", "-3", "many", "2.5"])
def test_a_due_index_shard_count_out_of_range_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty.dal import keys

    monkeypatch.setenv("DUE_INDEX_SHARDS", value)
    with pytest.raises(ValueError, match="DUE_INDEX_SHARDS must be 1 to 1000"):
        keys.due_index_shards()


def test_the_due_index_has_128_shards_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty.dal import keys

    monkeypatch.delenv("DUE_INDEX_SHARDS", raising=False)
    assert keys.due_index_shards() == 128
