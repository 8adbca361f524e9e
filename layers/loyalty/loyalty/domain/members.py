"""Members: enrollment (with a pending referral) and the member view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from loyalty.domain.errors import ReferralRefused
from loyalty.domain.leaderboard import LeaderboardChoice
from loyalty.domain.ledger import (
    ExpiringPoints,
    MemberState,
    NewMember,
    PointsLot,
    new_referral_code,
    unspent_by_expiry,
)
from loyalty.domain.schedules import ScheduleChange, birthday_due, tenure_schedule

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules, TierName, TierRule


@dataclass(frozen=True, slots=True)
class ProfileData:
    """The personal data of a member: held on the profile only, never in the ledger."""

    name: str | None
    email: str | None
    phone: str | None = None
    birthday: date | None = None
    # None: not given (an existing choice stands); consent is opt-in, so absent means no.
    marketing_consent: bool | None = None
    # None: not given (the choice stands); see loyalty.domain.leaderboard.
    leaderboard: LeaderboardChoice | None = None


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class PendingReferral:
    referrer_id: str
    code: str


@dataclass(frozen=True, slots=True)
class EnrollmentPlan:
    member_id: str
    profile: ProfileData
    new_member: NewMember | None
    previous_email: str | None
    referral: PendingReferral | None
    birthday_schedule: ScheduleChange | None = None

    @property
    def created(self) -> bool:
        return self.new_member is not None


def plan_enrollment(
    rules: ProgramRules,
    member_id: str,
    member: MemberState | None,
    profile: ProfileData,
    *,
    referral_code: str | None,
    referral_owner: str | None,
    now: datetime,
) -> EnrollmentPlan:
    """A new member is created with a referral code of their own; a member already known
    (enrolled by an order) keeps every point and only gets the profile. A referral code is
    recorded as pending; it is refused when unknown, the member's own, given after the
    member's first order, or naming another referrer than the one already recorded."""
    referral = None
    if referral_code is not None:
        if referral_owner is None:
            raise ReferralRefused("unknown referral code")
        if referral_owner == member_id:
            raise ReferralRefused("a member cannot use their own referral code")
        if member is not None and member.referred_by not in (None, referral_owner):
            raise ReferralRefused("the member was already referred by someone else")
        if member is not None and member.order_count > 0 and member.referred_by is None:
            raise ReferralRefused("a referral code counts only before the first order")
        if member is None or member.referred_by is None:
            referral = PendingReferral(referral_owner, referral_code)
    new_member = None
    if member is None:
        new_member = NewMember(
            member_id, now, "api", new_referral_code(), tenure_schedule(rules, now)
        )
    # The birthday job's schedule follows the birthday (a new one is due this very month
    # when it is the birthday month: a member who enrolls mid-month still gets the bonus).
    previous_birthday = member.birthday if member else None
    birthday_schedule = None
    if profile.birthday != previous_birthday:
        birthday_schedule = ScheduleChange(
            "birthday", birthday_due(profile.birthday, now) if profile.birthday else None
        )
    return EnrollmentPlan(
        member_id=member_id,
        profile=profile,
        new_member=new_member,
        previous_email=member.email if member else None,
        referral=referral,
        birthday_schedule=birthday_schedule,
    )


@dataclass(frozen=True, slots=True)
class NextTier:
    name: TierName
    points_needed: int


@dataclass(frozen=True, slots=True)
class TierBenefits:
    """A tier's benefits as data, for a storefront to apply (the member discount, free
    shipping) and to show (early access, the earning multiplier, the perks in words)."""

    member_discount_percent: int
    free_shipping_threshold: Decimal | None
    early_access_hours: int
    earning_multiplier: Decimal
    perks: list[str]

    @classmethod
    def of(cls, tier: TierRule) -> TierBenefits:
        return cls(
            member_discount_percent=tier.member_discount_percent,
            free_shipping_threshold=tier.free_shipping_threshold,
            early_access_hours=tier.early_access_hours,
            earning_multiplier=tier.earning_multiplier,
            perks=list(tier.benefits),
        )


@dataclass(frozen=True, slots=True)
class MemberView:
    member_id: str
    name: str | None
    email: str | None
    tier: TierName
    balance: int
    pending_points: int
    tier_points: int
    next_tier: NextTier | None
    expiring: list[ExpiringPoints]
    referral_code: str | None
    enrolled_at: datetime
    tier_benefits: list[str]
    marketing_consent: bool
    benefits: TierBenefits
    leaderboard: LeaderboardChoice


def member_view(rules: ProgramRules, member: MemberState, lots: Iterable[PointsLot]) -> MemberView:
    """The member's standing. Expiring points are grouped by UTC expiry date, soonest first,
    each group dated by its earliest expiry instant."""
    by_day: dict[date, ExpiringPoints] = {}
    spendable = [lot for lot in lots if not lot.pending and not lot.settled]
    for group in unspent_by_expiry(
        spendable, settled_earned=member.settled_earned, debited=member.debited
    ):
        day = group.expires_at.date()
        known = by_day.get(day)
        by_day[day] = ExpiringPoints(
            group.points + (known.points if known else 0),
            min(group.expires_at, known.expires_at) if known else group.expires_at,
        )
    upcoming = rules.next_tier(member.tier_points)
    tier = rules.tier_for(member.tier_points)
    return MemberView(
        member_id=member.member_id,
        name=member.name,
        email=member.email,
        tier=tier,
        balance=member.balance,
        pending_points=member.pending_points,
        tier_points=member.tier_points,
        next_tier=(
            NextTier(upcoming.name, upcoming.min_points - member.tier_points) if upcoming else None
        ),
        expiring=[by_day[day] for day in sorted(by_day)],
        referral_code=member.referral_code,
        enrolled_at=member.enrolled_at,
        tier_benefits=next(list(t.benefits) for t in rules.tiers if t.name == tier),
        marketing_consent=member.marketing_consent,
        benefits=TierBenefits.of(rules.tier(tier)),
        leaderboard=LeaderboardChoice(member.leaderboard_opt_in, member.leaderboard_name),
    )
