"""The daily jobs other than expiry: birthday bonus, tenure milestones, promotion
announcements. Each takes the schedule's time as now and is safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from loyalty.dal.keys import due_index_shards
from loyalty.domain.errors import AlreadyRewarded, ConcurrentUpdate
from loyalty.domain.ledger import DedupeKey, EarnPlan, plan_earning
from loyalty.domain.schedules import ScheduleChange, ScheduledJob, birthday_due, tenure_schedule
from loyalty.services.retry import attempts

if TYPE_CHECKING:
    from loyalty.domain.ports import DueIndex, JobStore
    from loyalty.domain.rules import ProgramRules

PAGE_SIZE = 100
# This many members failing one after another is no longer one member's trouble but the
# store's (throttling, an outage): the shard fails as a whole and SQS retries it, rather
# than setting the whole shard aside member by member.
MAX_CONSECUTIVE_FAILURES = 10

# Told of each member set aside and its error, while the error is being handled.
MemberFailed = Callable[[str, Exception], None]


@dataclass(slots=True)
class ShardRun:
    """What one shard's run did, and where to continue if it had to stop. `failed` are the
    members set aside: each failed, the others were served; they are for a retry on their
    own."""

    job: str
    shard: int
    members: int = 0
    points: int = 0
    cursor: dict[str, Any] | None = None
    done: bool = False
    failed: list[str] = field(default_factory=list)


def run_shard(
    store: DueIndex,
    job: str,
    shard: int,
    now: datetime,
    process: Callable[[str, datetime], int],
    *,
    cursor: dict[str, Any] | None = None,
    time_left: Callable[[], bool] = lambda: True,
    on_failure: MemberFailed | None = None,
) -> ShardRun:
    """Process a shard's due members page by page while `time_left()`; when it says no,
    return the cursor to continue from (the work queue carries it on). A member whose
    processing raises is set aside (`failed`, `on_failure`) and the shard goes on: one
    member's damaged data or endless conflicts never keep the others from their run."""
    run = ShardRun(job, shard)
    consecutive_failures = 0
    while True:
        members, cursor = store.due_members(job, shard, now, PAGE_SIZE, cursor)
        for member_id in members:
            run.members += 1
            try:
                run.points += process(member_id, now)
            except Exception as error:
                consecutive_failures += 1
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                    raise
                run.failed.append(member_id)
                if on_failure is not None:
                    on_failure(member_id, error)
            else:
                consecutive_failures = 0
        if cursor is None:
            run.done = True
            return run
        if not time_left():
            run.cursor = cursor
            return run


class ScheduledAwards:
    """Birthday bonus and tenure milestones, for the members whose schedule is due."""

    def __init__(self, store: JobStore, rules: Callable[[], ProgramRules]) -> None:
        self._store = store
        self._rules = rules

    def run_shard(
        self,
        job: ScheduledJob,
        shard: int,
        now: datetime,
        *,
        cursor: dict[str, Any] | None = None,
        time_left: Callable[[], bool] = lambda: True,
        on_failure: MemberFailed | None = None,
    ) -> ShardRun:
        """One shard of the job's due members; a member that fails is set aside in the
        run's `failed` (see `run_shard`)."""
        return run_shard(
            self._store,
            job,
            shard,
            now,
            self._process(job),
            cursor=cursor,
            time_left=time_left,
            on_failure=on_failure,
        )

    def process_member(self, job: ScheduledJob, member_id: str, now: datetime) -> int:
        """One member alone (a member set aside by a shard run): the points awarded."""
        return self._process(job)(member_id, now)

    def _process(self, job: ScheduledJob) -> Callable[[str, datetime], int]:
        return self.birthday if job == "birthday" else self.tenure

    def _commit(self, plan: EarnPlan, now: datetime) -> int | None:
        """Write the award with its schedule's move; None when the member changed meanwhile
        (plan again). Already awarded (the marker exists): only the schedule moves on."""
        try:
            self._store.commit_earning(plan, now)
        except ConcurrentUpdate:
            return None
        except AlreadyRewarded:
            if plan.schedule is not None:
                self._store.put_schedule(plan.member.member_id, plan.schedule, now)
            return 0
        return plan.points

    def birthday(self, member_id: str, now: datetime) -> int:
        """The birthday bonus, once per calendar year, on a run in the birthday month."""
        for _ in attempts():
            member = self._store.get_member(member_id)
            schedule = self._store.get_schedule(member_id, "birthday")
            if member is None or schedule is None or schedule.due_at > now:
                return 0
            if member.birthday is None:
                self._store.put_schedule(member_id, ScheduleChange("birthday", None), now)
                return 0
            if now.month != member.birthday.month:
                # A run that missed the whole month (or a changed birthday): next year's.
                due = birthday_due(member.birthday, now)
                self._store.put_schedule(member_id, ScheduleChange("birthday", due), now)
                return 0
            following = ScheduleChange(
                "birthday", datetime(now.year + 1, member.birthday.month, 1, tzinfo=UTC)
            )
            rules = self._rules()
            plan = plan_earning(
                rules,
                member,
                reason="birthday-bonus",
                points=rules.birthday_bonus,
                reference=f"birthday-{now.year}",
                occurred_at=now,
                now=now,
                dedupe=DedupeKey("birthday", str(now.year)),
                schedule=following,
            )
            awarded = self._commit(plan, now)
            if awarded is not None:
                return awarded
        raise ConcurrentUpdate(f"member '{member_id}' kept changing during the birthday run")

    def tenure(self, member_id: str, now: datetime) -> int:
        """The tenure milestone the schedule awaits (catching up any missed run)."""
        for _ in attempts():
            member = self._store.get_member(member_id)
            schedule = self._store.get_schedule(member_id, "tenure")
            if member is None or schedule is None or schedule.due_at > now:
                return 0
            rules = self._rules()
            months = schedule.step or 0
            following = tenure_schedule(rules, member.enrolled_at, after_months=months)
            plan = plan_earning(
                rules,
                member,
                reason=f"tenure-milestone-{months}",
                points=sum(m.points for m in rules.tenure_milestones if m.months == months),
                reference=f"tenure-{months}",
                occurred_at=schedule.due_at,
                now=now,
                dedupe=DedupeKey("tenure", str(months)),
                details={"months": str(months)},
                schedule=following,
            )
            awarded = self._commit(plan, now)
            if awarded is not None:
                return awarded
        raise ConcurrentUpdate(f"member '{member_id}' kept changing during the tenure run")


class Promotions:
    """Announces each double-points window once, on its first day (or the first run inside
    it, if that day's run was missed): an item the stream publishes as `promotion.started`."""

    def __init__(self, store: JobStore, rules: Callable[[], ProgramRules]) -> None:
        self._store = store
        self._rules = rules

    def announce(self, now: datetime) -> list[str]:
        announced = []
        for window in self._rules().seasonal_multipliers:
            occurrence = window.occurrence(now.date())
            if occurrence is None:
                continue
            start, end = occurrence
            if self._store.record_promotion(window.name, start, end, window.multiplier, now):
                announced.append(window.name)
        return announced


class WorkSender(Protocol):
    def send(self, messages: list[dict[str, Any]]) -> None:
        """Queue the work items; raise if any was not accepted."""


class JobRuns:
    """A member job's run on the work queue: a message per shard of the due index, then a
    shard's follow-ups (each member set aside alone, and the rest of the shard when its
    invocation ran short of time)."""

    def __init__(self, queue: WorkSender, shards: int | None = None) -> None:
        self.queue = queue
        self.shards = shards if shards is not None else due_index_shards()

    def start(self, job: str, now: str, run_id: str) -> int:
        """Queue the run's shards; how many were queued."""
        self.queue.send(
            [
                {"job": job, "shard": shard, "now": now, "runId": run_id}
                for shard in range(self.shards)
            ]
        )
        return self.shards

    def follow_up(self, work: dict[str, Any], run: ShardRun) -> None:
        """Queue what the shard's work left: its failed members, each as a message of its
        own, and the shard from its cursor if it is not done."""
        follow_ups = [
            {"job": work["job"], "memberId": member, "now": work["now"], "runId": work["runId"]}
            for member in run.failed
        ]
        if not run.done:
            follow_ups.append({**work, "cursor": run.cursor})
        if follow_ups:
            self.queue.send(follow_ups)
