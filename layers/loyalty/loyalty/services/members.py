"""Members: enrollment, the member view, activity, referrals, reviews and social shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loyalty.domain.errors import (
    ConcurrentUpdate,
    LimitReached,
    MemberErased,
    MemberNotFound,
)
from loyalty.domain.leaderboard import LeaderboardChange, LeaderboardChoice, apply_change
from loyalty.domain.ledger import (
    DedupeKey,
    LedgerEntry,
    MemberState,
    earning_tier,
    plan_earning,
)
from loyalty.domain.members import MemberView, ProfileData, member_view, plan_enrollment
from loyalty.domain.ports import MemberStore
from loyalty.domain.quotes import CartLine, Promotions, Quote, promotions_for, quote_order
from loyalty.services.base import RulesService
from loyalty.services.retry import attempts

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules, TierName


@dataclass(frozen=True, slots=True)
class Enrollment:
    created: bool
    view: MemberView


@dataclass(frozen=True, slots=True)
class Award:
    points_awarded: int
    balance: int


@dataclass(frozen=True, slots=True)
class ReferralSummary:
    referral_code: str | None
    completed: int
    pending: int
    points_earned: int


class MemberService(RulesService[MemberStore]):
    def enroll(self, member_id: str, profile: ProfileData, referral_code: str | None) -> Enrollment:
        owner = self._store.referral_owner(referral_code) if referral_code else None
        for _ in attempts():
            now = self._clock()
            member = self._store.get_member(member_id)
            if member is not None and member.erased:
                raise MemberErased(
                    f"member '{member_id}' was erased at their request and cannot be re-enrolled"
                )
            plan = plan_enrollment(
                self._rules(),
                member_id,
                member,
                profile,
                referral_code=referral_code,
                referral_owner=owner,
                now=now,
            )
            try:
                self._store.commit_enrollment(plan, now)
            except ConcurrentUpdate:
                continue
            return Enrollment(plan.created, self.view(member_id))
        raise ConcurrentUpdate("the member kept changing during enrollment")

    def update_profile(self, member_id: str, changes: dict[str, Any]) -> MemberView:
        """Change some personal fields; a field given as null is removed (phone, birthday).
        `leaderboard` (a LeaderboardChange) changes the leaderboard choice, checked against
        the email the member will have (InvalidDisplayName: nothing changes)."""
        fields = {name: value for name, value in changes.items() if name != "leaderboard"}
        leaderboard: LeaderboardChange | None = changes.get("leaderboard")
        for _ in attempts():
            now = self._clock()
            member = self._require(member_id)
            current = {
                "name": member.name,
                "email": member.email,
                "phone": member.phone,
                "birthday": member.birthday,
            }
            profile = ProfileData(**(current | fields))
            if leaderboard is not None or (member.leaderboard_name and "email" in fields):
                choice = apply_change(
                    LeaderboardChoice(member.leaderboard_opt_in, member.leaderboard_name),
                    leaderboard or LeaderboardChange(),
                    profile.email,
                )
                profile = replace(profile, leaderboard=choice)
            plan = plan_enrollment(
                self._rules(),
                member_id,
                member,
                profile,
                referral_code=None,
                referral_owner=None,
                now=now,
            )
            try:
                self._store.commit_enrollment(plan, now)
            except ConcurrentUpdate:
                continue
            return self.view(member_id)
        raise ConcurrentUpdate("the member kept changing during the update")

    def view(self, member_id: str) -> MemberView:
        member, lots = self._store.get_member_with_lots(member_id)
        if member is None or member.erased:
            raise MemberNotFound(f"no member '{member_id}'")
        return member_view(self._rules(), member, lots)

    def program(self) -> ProgramRules:
        """The rules in force, for the public part a member may read (GET /program)."""
        return self._rules()

    def quote(self, member_id: str | None, lines: Sequence[CartLine], at: datetime | None) -> Quote:
        """What an order of `lines` at `at` (default: now) would earn, and which of the
        member's coupons it could use: one read (the member's profile and coupons, one
        Query), none for a guest; nothing is written. An unknown member is quoted as a guest
        (their first order would enroll them); an erased one is not found."""
        member, coupons = (
            self._store.get_member_with_coupons(member_id) if member_id is not None else (None, [])
        )
        if member is not None and member.erased:
            raise MemberNotFound(f"no member '{member_id}'")
        when = at or self._clock()
        return quote_order(self._rules(), member_id, member, lines, when, coupons)

    def promotions(self, member_id: str | None, tier: TierName | None) -> Promotions:
        """The promotions as `tier` sees them, or as the member's tier does (one read; an
        unknown member sees them as a guest, Bronze); Bronze when neither is given."""
        rules = self._rules()
        if member_id is not None:
            tier = earning_tier(rules, self._known(member_id))
        return promotions_for(rules, tier or "Bronze", self._clock())

    def _known(self, member_id: str) -> MemberState | None:
        """The member, None when unknown; an erased member is not found."""
        member = self._store.get_member(member_id)
        if member is not None and member.erased:
            raise MemberNotFound(f"no member '{member_id}'")
        return member

    def activity(
        self, member_id: str, limit: int, after_entry_id: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        # The profile decides (an erased member's ledger stays, but they answer 404).
        self._require(member_id)
        return self._store.page_entries(member_id, limit, after_entry_id)

    def referrals(self, member_id: str) -> ReferralSummary:
        member = self._require(member_id)
        referrals = self._store.list_referrals(member_id)
        return ReferralSummary(
            referral_code=member.referral_code,
            completed=sum(1 for r in referrals if r["status"] == "completed"),
            pending=sum(1 for r in referrals if r["status"] == "pending"),
            points_earned=sum(int(r["points"]) for r in referrals),
        )

    def award_review(self, member_id: str, product_id: str, review_id: str) -> Award:
        """50 points (by default) once per product per member, whatever the review id."""
        return self._award(
            member_id,
            reason="product-review",
            points=lambda rules, _member, _now: rules.review_points,
            reference=review_id,
            dedupe=DedupeKey("review", product_id),
            details={"productId": product_id},
        )

    def award_share(self, member_id: str, platform: str, url: str) -> Award:
        """80 points (by default) per shared URL, once per URL, up to the monthly cap."""

        def points(rules: ProgramRules, member: MemberState, now: datetime) -> int:
            month = now.strftime("%Y-%m")
            count = member.shares_count if member.shares_month == month else 0
            if count >= rules.social_share_monthly_cap:
                raise LimitReached(
                    f"the monthly cap of {rules.social_share_monthly_cap} awarded shares is reached"
                )
            return rules.social_share_points

        return self._award(
            member_id,
            reason="social-share",
            points=points,
            reference=url,
            dedupe=DedupeKey("share", url),
            details={"platform": platform},
            counts_share=True,
        )

    def _award(
        self,
        member_id: str,
        *,
        reason: str,
        points: Callable[[ProgramRules, MemberState, datetime], int],
        reference: str,
        dedupe: DedupeKey,
        details: dict[str, str],
        counts_share: bool = False,
    ) -> Award:
        for _ in attempts():
            now = self._clock()
            member = self._require(member_id)
            rules = self._rules()
            awarded = points(rules, member, now)
            month = now.strftime("%Y-%m")
            shares = member.shares_count if member.shares_month == month else 0
            plan = plan_earning(
                rules,
                member,
                reason=reason,
                points=awarded,
                reference=reference,
                occurred_at=now,
                now=now,
                dedupe=dedupe,
                details=details,
                shares_month=month if counts_share else None,
                shares_count=shares + 1 if counts_share else None,
            )
            try:
                self._store.commit_earning(plan, now)
            except ConcurrentUpdate:
                continue
            return Award(plan.points, member.balance + plan.member.balance)
        raise ConcurrentUpdate("the member kept changing during the award")

    def _require(self, member_id: str) -> MemberState:
        member = self._store.get_member(member_id)
        if member is None or member.erased:
            raise MemberNotFound(f"no member '{member_id}'")
        return member
