"""The daily expiry job: settle expired lots (expire their unspent points) and warn about
lots expiring soon, for the members due only (a sparse index, never a scan). A run takes
the schedule's time as now; running it twice for the same time changes nothing more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.expiry import plan_expiry
from loyalty.domain.ports import ExpiryStore
from loyalty.services.retry import attempts

PAGE_SIZE = 100


@dataclass(slots=True)
class ShardRun:
    """What one shard's run did, and where to continue if it had to stop."""

    shard: int
    members: int = 0
    expired_points: int = 0
    warnings: int = 0
    cursor: dict[str, Any] | None = None
    done: bool = False
    failed_members: list[str] = field(default_factory=list)


class ExpiryService:
    def __init__(self, store: ExpiryStore) -> None:
        self._store = store

    def run_shard(
        self,
        shard: int,
        now: datetime,
        *,
        cursor: dict[str, Any] | None = None,
        time_left: Callable[[], bool] = lambda: True,
    ) -> ShardRun:
        """Process the shard's due members page by page while `time_left()`; when it says
        no, return the cursor to continue from (the work queue carries it on)."""
        run = ShardRun(shard)
        while True:
            members, cursor = self._store.due_lot_members(shard, now, PAGE_SIZE, cursor)
            for member_id in members:
                run.members += 1
                expired, warned = self.process_member(member_id, now)
                run.expired_points += expired
                run.warnings += warned
            if cursor is None:
                run.done = True
                return run
            if not time_left():
                run.cursor = cursor
                return run

    def process_member(self, member_id: str, now: datetime) -> tuple[int, int]:
        """Settle and warn for one member, in bounded steps, until nothing is due."""
        expired = warned = 0
        for _ in attempts(limit=50):
            member, lots = self._store.get_member_with_lots(member_id)
            if member is None:
                return expired, warned
            plan = plan_expiry(member, lots, now)
            if plan.empty:
                return expired, warned
            try:
                self._store.commit_expiry(plan, now)
            except ConcurrentUpdate:
                continue
            expired += plan.expired_points
            warned += len(plan.warnings)
        raise ConcurrentUpdate(f"member '{member_id}' kept changing during expiry")
