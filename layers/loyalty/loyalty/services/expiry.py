"""The daily expiry job: settle expired lots (expire their unspent points) and warn about
lots expiring soon, for the members due only (a sparse index, never a scan). A run takes
the schedule's time as now; running it twice for the same time changes nothing more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.expiry import plan_expiry
from loyalty.services.jobs import MemberFailed, ShardRun, run_shard
from loyalty.services.retry import MAX_ATTEMPTS, attempts

if TYPE_CHECKING:
    from loyalty.domain.ports import ExpiryStore


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
        on_failure: MemberFailed | None = None,
    ) -> ShardRun:
        """One shard of the due index; `points` of the run are the points expired. A member
        that fails is set aside in the run's `failed` (see `run_shard`)."""
        return run_shard(
            self._store,
            "expiry",
            shard,
            now,
            lambda member_id, at: self.process_member(member_id, at)[0],
            cursor=cursor,
            time_left=time_left,
            on_failure=on_failure,
        )

    def process_member(self, member_id: str, now: datetime) -> tuple[int, int]:
        """Settle and warn for one member, a step (one transaction) at a time, until nothing
        is due. Every committed step makes progress, so only conflicts are counted."""
        expired = warned = 0
        retries = attempts(MAX_ATTEMPTS)
        next(retries)  # the first attempt; each conflict takes the next (after a pause)
        while True:
            member, lots = self._store.get_member_with_lots(member_id)
            if member is None:
                return expired, warned
            plan = plan_expiry(member, lots, now)
            if plan.empty:
                return expired, warned
            try:
                self._store.commit_expiry(plan, now)
            except ConcurrentUpdate:
                if next(retries, None) is None:
                    raise ConcurrentUpdate(
                        f"member '{member_id}' kept changing during expiry"
                    ) from None
                continue
            expired += plan.expired_points
            warned += len(plan.warnings)
            if plan.complete:
                return expired, warned  # no need to read again to find nothing left
