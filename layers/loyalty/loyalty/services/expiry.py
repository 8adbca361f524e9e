"""The daily expiry job: settle expired lots (expire their unspent points) and warn about
lots expiring soon, for the members due only (a sparse index, never a scan). A run takes
the schedule's time as now; running it twice for the same time changes nothing more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.expiry import plan_expiry
from loyalty.domain.ports import ExpiryStore
from loyalty.services.jobs import ShardRun, run_shard
from loyalty.services.retry import attempts


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
        """One shard of the due index; `points` of the run are the points expired."""
        return run_shard(
            self._store,
            "expiry",
            shard,
            now,
            lambda member_id, at: self.process_member(member_id, at)[0],
            cursor=cursor,
            time_left=time_left,
        )

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
            if plan.complete:
                return expired, warned  # no need to read again to find nothing left
        raise ConcurrentUpdate(f"member '{member_id}' kept changing during expiry")
