"""Referral completion, driven by the table's stream: a member's first order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.dal.events_bus import stream_change
from loyalty.domain.calendar import parse_instant
from loyalty.domain.errors import AlreadyRewarded, ConcurrentUpdate
from loyalty.domain.ports import ReferralStore
from loyalty.domain.referrals import decide_referrer, plan_referral
from loyalty.services.base import RulesService
from loyalty.services.retry import attempts


@dataclass(frozen=True, slots=True)
class ReferralOutcome:
    status: str  # completed | duplicate | refused | none
    referrer_id: str | None = None
    reason: str | None = None
    referrer_points: int = 0
    referee_points: int = 0


class ReferralService(RulesService[ReferralStore]):
    def complete_first_order(self, record: Mapping[str, Any]) -> tuple[str, ReferralOutcome] | None:
        """The referral of the member whose first order one stream record (as Lambda
        delivers it) inserted: the member and the outcome; None when the record is not a
        first order's (the stream's filter criteria should have kept it away)."""
        order = stream_change(record).new
        if not order or order.get("itemType") != "order" or order.get("firstOrder") is not True:
            return None
        member_id = str(order["memberId"])
        outcome = self.complete(
            referee_id=member_id,
            order_id=str(order["orderId"]),
            order_code=str(order["referralCode"]) if order.get("referralCode") else None,
            occurred_at=parse_instant(str(order["occurredAt"])),
        )
        return member_id, outcome

    def complete(
        self,
        *,
        referee_id: str,
        order_id: str,
        order_code: str | None,
        occurred_at: datetime,
    ) -> ReferralOutcome:
        """Both sides earn once per referred customer, however often this is called."""
        code_owner = self._store.referral_owner(order_code) if order_code else None
        for _ in attempts():
            now = self._clock()
            referee = self._store.get_member(referee_id)
            if referee is None:  # the order created the member: it exists by now
                raise ConcurrentUpdate(f"member '{referee_id}' is not readable yet")
            if referee.erased:
                return self._refuse(
                    referee_id, order_id, order_code, "the referred member was erased"
                )
            decision = decide_referrer(referee, order_code, code_owner)
            if decision.referrer_id is None:
                if decision.refusal == "no referral":
                    return ReferralOutcome("none", reason=decision.refusal)
                return self._refuse(referee_id, order_id, order_code, decision.refusal)
            referrer = self._store.get_member(decision.referrer_id)
            if referrer is None or referrer.erased:
                return self._refuse(
                    referee_id, order_id, order_code, "the referrer no longer exists"
                )
            plan = plan_referral(
                self._rules(),
                referrer=referrer,
                referee=referee,
                code=decision.code,
                order_id=order_id,
                occurred_at=occurred_at,
                now=now,
            )
            try:
                self._store.commit_referral(plan, now)
            except ConcurrentUpdate:
                continue
            except AlreadyRewarded:
                completed_by = self._store.referral_completed_by(referee_id)
                if completed_by in (None, order_id):
                    return ReferralOutcome("duplicate", referrer.member_id)  # a redelivery
                # Another order of theirs (processed first) already completed a referral.
                return self._refuse(
                    referee_id,
                    order_id,
                    order_code,
                    f"the customer's referral was already completed by order '{completed_by}'",
                )
            return ReferralOutcome(
                "completed",
                referrer.member_id,
                reason="monthly cap reached" if plan.capped else None,
                referrer_points=plan.referrer_points,
                referee_points=plan.referee_points,
            )
        raise ConcurrentUpdate("the members kept changing during the referral")

    def _refuse(
        self, referee_id: str, order_id: str, code: str | None, reason: str | None
    ) -> ReferralOutcome:
        """Nothing is dropped silently: a refused referral is recorded once per order, and the
        stream announces it (`referral.refused`)."""
        reason = reason or "refused"
        self._store.record_referral_refusal(referee_id, order_id, code, reason, self._clock())
        return ReferralOutcome("refused", reason=reason)
