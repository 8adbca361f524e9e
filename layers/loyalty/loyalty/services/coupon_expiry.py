"""The daily coupons job: warn about issued coupons `COUPON_WARNING_DAYS` before they expire
(`coupon.expiring`) and mark them `expired` on their date (`coupon.expired`; their points are
not returned), for the members due only (the sparse index, never a scan). A run takes the
schedule's time as now; running it twice for the same time changes nothing more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loyalty.domain.coupons import (
    Coupon,
    CouponExpiryPlan,
    plan_coupon_expiry,
    plan_coupon_void,
)
from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.rules import ProgramRules
from loyalty.services.jobs import MemberFailed, ShardRun, run_shard
from loyalty.services.retry import MAX_ATTEMPTS, attempts

if TYPE_CHECKING:
    from loyalty.domain.ports import CouponJobStore


class CouponExpiryService:
    def __init__(
        self, store: CouponJobStore, rules: Callable[[], ProgramRules] = ProgramRules
    ) -> None:
        self._store = store
        self._rules = rules

    def run_shard(
        self,
        shard: int,
        now: datetime,
        *,
        cursor: dict[str, Any] | None = None,
        time_left: Callable[[], bool] = lambda: True,
        on_failure: MemberFailed | None = None,
    ) -> ShardRun:
        """One shard of the coupons due; the run's `points` are always 0 (an expired
        coupon's points are not returned). A member that fails is set aside in the run's
        `failed` (see `run_shard`)."""

        def process(member_id: str, at: datetime) -> int:
            self.process_member(member_id, at)
            return 0

        return run_shard(
            self._store,
            "coupons",
            shard,
            now,
            process,
            cursor=cursor,
            time_left=time_left,
            on_failure=on_failure,
        )

    def process_member(self, member_id: str, now: datetime) -> int:
        """Expire and warn the member's coupons due, a step (one transaction) at a time,
        until nothing is due: the number of coupons expired or warned. Every committed step
        makes progress, so only conflicts (a coupon used meanwhile) are counted."""
        done = 0
        retries = attempts(MAX_ATTEMPTS)
        next(retries)
        returns_points = self._rules().coupon_expiry_returns_points
        while True:
            plan = plan_coupon_expiry(self._store.member_coupons(member_id), now)
            if plan.empty:
                return done
            try:
                if returns_points and plan.expire:
                    # Each coupon's points back, one transaction each (each moves the totals).
                    self._expire_returning_points(member_id, plan.expire[0], now)
                    done += 1
                    continue
                self._store.commit_coupon_expiry(plan, now)
            except ConcurrentUpdate:
                if next(retries, None) is None:
                    raise ConcurrentUpdate(
                        f"member '{member_id}' coupons kept changing during the coupons run"
                    ) from None
                continue
            done += len(plan.expire) + len(plan.warn)
            if plan.complete:
                return done

    def _expire_returning_points(self, member_id: str, coupon: Coupon, now: datetime) -> None:
        member, lots = self._store.get_member_with_settled_lots(member_id)
        if member is None or member.erased:
            # No one to give the points to: expire it as the default does.
            self._store.commit_coupon_expiry(CouponExpiryPlan((coupon,), (), True), now)
            return
        settled = [lot for lot in lots if lot.settled]
        plan = plan_coupon_void(coupon, coupon.code, member, settled, now, on_expiry=True)
        self._store.commit_coupon_void(plan, now)
