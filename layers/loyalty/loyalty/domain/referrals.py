"""Referral completion: when a referred customer's first order completes, both sides earn
(70 and 70 by default), once per referred customer, within the referrer's monthly cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from loyalty.domain.ledger import (
    EarningBuilder,
    LedgerEntry,
    MemberChange,
    MemberState,
    PointsLot,
)

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules


@dataclass(frozen=True, slots=True)
class ReferralPlan:
    referrer_id: str
    referee_id: str
    code: str | None
    order_id: str
    referrer_points: int
    referee_points: int
    referrer: MemberChange
    referee: MemberChange
    entries: tuple[LedgerEntry, ...]
    lots: tuple[PointsLot, ...]
    month: str
    capped: bool


@dataclass(frozen=True, slots=True)
class ReferralDecision:
    """Who referred the new customer, or why nobody earns."""

    referrer_id: str | None
    code: str | None
    refusal: str | None = None


def decide_referrer(
    referee: MemberState, order_code: str | None, code_owner: str | None
) -> ReferralDecision:
    """The code given at sign-up wins; otherwise the code on the first order. Self-referrals
    and unknown codes are refused (and only logged: the order itself stands)."""
    if referee.referred_by is not None:
        return ReferralDecision(referee.referred_by, None)
    if order_code is None:
        return ReferralDecision(None, None, "no referral")
    if code_owner is None:
        return ReferralDecision(None, order_code, "unknown referral code")
    if code_owner == referee.member_id:
        return ReferralDecision(None, order_code, "self-referral")
    return ReferralDecision(code_owner, order_code)


def plan_referral(
    rules: ProgramRules,
    *,
    referrer: MemberState,
    referee: MemberState,
    code: str | None,
    order_id: str,
    occurred_at: datetime,
    now: datetime,
) -> ReferralPlan:
    month = occurred_at.strftime("%Y-%m")
    completed = referrer.referrals_count if referrer.referrals_month == month else 0
    capped = completed >= rules.referral.referrer_monthly_cap
    referrer_points = 0 if capped else rules.referral.referrer_points
    identity = f"referral\x1f{referee.member_id}"

    referrer_side = EarningBuilder(rules, referrer.member_id, now)
    referrer_side.earn(
        reason="referral-referrer",
        points=referrer_points,
        occurred_at=occurred_at,
        reference=order_id,
        details={"refereeId": referee.member_id},
        identity=identity,
    )
    referee_side = EarningBuilder(rules, referee.member_id, now)
    referee_side.earn(
        reason="referral-referee",
        points=rules.referral.referee_points,
        occurred_at=occurred_at,
        reference=order_id,
        details={"referrerId": referrer.member_id},
        identity=identity,
    )

    def change(member: MemberState, side: EarningBuilder, **counters: object) -> MemberChange:
        return MemberChange(
            member_id=member.member_id,
            expected_version=member.version,
            expiry_due_before=member.expiry_due_at,
            tier=rules.tier_for(member.tier_points + side.earned),
            balance=side.lot_points,
            lot_total=side.lot_points,
            tier_points=side.earned,
            **counters,  # type: ignore[arg-type]
        )

    return ReferralPlan(
        referrer_id=referrer.member_id,
        referee_id=referee.member_id,
        code=code,
        order_id=order_id,
        referrer_points=referrer_points,
        referee_points=rules.referral.referee_points,
        referrer=change(
            referrer, referrer_side, referrals_month=month, referrals_count=completed + 1
        ),
        referee=change(referee, referee_side),
        entries=(*referrer_side.entries, *referee_side.entries),
        lots=(*referrer_side.lots, *referee_side.lots),
        month=month,
        capped=capped,
    )
