"""What the domain needs of persistence, as protocols; `loyalty.dal` implements them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from loyalty.domain.badges import Badge, BadgeStanding
    from loyalty.domain.coupons import Coupon, CouponExpiryPlan, CouponUse, CouponVoidPlan
    from loyalty.domain.expiry import ExpiryPlan
    from loyalty.domain.imports import ImportRowPlan, LandedRow, UndoPlan
    from loyalty.domain.ledger import (
        AwardWithoutRead,
        EarnPlan,
        LedgerEntry,
        LotRef,
        MemberState,
        OrderAwardPlan,
        OrderRecord,
        PointsLot,
        PreviousFirstOrder,
        RefundPlan,
    )
    from loyalty.domain.members import EnrollmentPlan
    from loyalty.domain.operations import AdjustmentPlan, AuditRecord, ErasurePlan
    from loyalty.domain.referrals import ReferralPlan
    from loyalty.domain.rewards import Redemption, RedemptionPlan, Reward
    from loyalty.domain.rules import ProgramRules
    from loyalty.domain.schedules import Schedule, ScheduleChange, ScheduledJob


class OrderLedger(Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def get_member_and_order(
        self, member_id: str, order_id: str
    ) -> tuple[MemberState | None, OrderRecord | None]: ...

    def get_lots(self, member_id: str, refs: Iterable[LotRef | None]) -> dict[str, PointsLot]:
        """The named lots as they are now, by lot id."""
        ...

    def get_previous_first_order(self, member: MemberState) -> PreviousFirstOrder | None: ...

    def get_coupons(self, codes: Sequence[str]) -> dict[str, Coupon]: ...

    def commit_order_award(
        self, plan: OrderAwardPlan, now: datetime, coupon_uses: Sequence[CouponUse] = ()
    ) -> None:
        """Raises DuplicateEvent when the order was already recorded, ConcurrentUpdate when
        the member (or a coupon it uses) changed since it was read."""

    def commit_award_without_read(self, plan: AwardWithoutRead, now: datetime) -> None:
        """Raises DuplicateEvent when the order was already recorded, NeedsRead when the
        member's state could change the award."""

    def commit_refund(self, plan: RefundPlan, now: datetime) -> None:
        """Raises DuplicateEvent when the refund was already recorded, ConcurrentUpdate when
        the member or the order changed since they were read."""


class MemberStore(Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def get_member_with_coupons(
        self, member_id: str
    ) -> tuple[MemberState | None, list[Coupon]]: ...

    def get_member_with_lots(
        self, member_id: str
    ) -> tuple[MemberState | None, list[PointsLot]]: ...

    def page_entries(
        self, member_id: str, limit: int, after_entry_id: str | None
    ) -> tuple[list[LedgerEntry], str | None]: ...

    def referral_owner(self, code: str) -> str | None: ...

    def list_referrals(self, member_id: str) -> list[dict[str, Any]]: ...

    def commit_enrollment(self, plan: EnrollmentPlan, now: datetime) -> None: ...

    def commit_earning(self, plan: EarnPlan, now: datetime) -> None: ...


class RewardStore(Protocol):
    def list_rewards(self) -> list[Reward]: ...

    def get_member_and_reward(
        self, member_id: str, reward_id: str
    ) -> tuple[MemberState | None, Reward | None]: ...

    def commit_redemption(self, plan: RedemptionPlan, now: datetime) -> None: ...

    def get_redemption(self, member_id: str, redemption_id: str) -> Redemption | None: ...


class ReferralStore(Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def referral_owner(self, code: str) -> str | None: ...

    def commit_referral(self, plan: ReferralPlan, now: datetime) -> None: ...

    def referral_completed_by(self, referee_id: str) -> str | None: ...

    def record_referral_refusal(
        self, referee_id: str, order_id: str, code: str | None, reason: str, now: datetime
    ) -> None: ...


class DueIndex(Protocol):
    def due_members(
        self, job: str, shard: int, now: datetime, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[str], dict[str, Any] | None]: ...


class ExpiryStore(DueIndex, Protocol):
    def get_member_with_lots(
        self, member_id: str
    ) -> tuple[MemberState | None, list[PointsLot]]: ...

    def commit_expiry(self, plan: ExpiryPlan, now: datetime) -> None: ...


class JobStore(DueIndex, Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def get_schedule(self, member_id: str, job: ScheduledJob) -> Schedule | None: ...

    def put_schedule(self, member_id: str, change: ScheduleChange, now: datetime) -> None: ...

    def commit_earning(self, plan: EarnPlan, now: datetime) -> None: ...

    def record_promotion(
        self, name: str, start: date, end: date, multiplier: Decimal, now: datetime
    ) -> bool: ...


class OperatorStore(Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def get_member_with_lots(
        self, member_id: str
    ) -> tuple[MemberState | None, list[PointsLot]]: ...

    def commit_adjustment(self, plan: AdjustmentPlan, now: datetime) -> None:
        """Raises DuplicateEvent (the key was used), InsufficientPoints, ConcurrentUpdate."""

    def get_adjustment(self, member_id: str, adjustment_id: str) -> dict[str, Any] | None: ...

    def list_rewards(self) -> list[Reward]: ...

    def get_reward(self, reward_id: str) -> Reward | None: ...

    def save_reward(
        self, reward: Reward, *, stored_before: bool, audit: AuditRecord, now: datetime
    ) -> None: ...

    def member_id_by_email(self, normalized_email: str) -> str | None: ...

    def list_audit(self, month: datetime, limit: int) -> list[dict[str, Any]]: ...


class ProgramStore(Protocol):
    def get_program(self) -> ProgramRules | None: ...

    def put_program(
        self, rules: ProgramRules, *, replaces: int | None, audit: AuditRecord, now: datetime
    ) -> None:
        """Raises VersionConflict when the current version is no longer `replaces`."""

    def orders_between(
        self, start: datetime, end: datetime, limit: int
    ) -> tuple[list[OrderRecord], bool]:
        """The orders that occurred in [start, end), newest first, at most `limit`; and True
        when there were more."""
        ...


class PrivacyStore(Protocol):
    def get_member_with_lots(
        self, member_id: str
    ) -> tuple[MemberState | None, list[PointsLot]]: ...

    def export_member(self, member_id: str) -> tuple[dict[str, Any] | None, list[LedgerEntry]]: ...

    def get_member_with_coupons(
        self, member_id: str
    ) -> tuple[MemberState | None, list[Coupon]]: ...

    def commit_erasure(self, plan: ErasurePlan, now: datetime) -> None: ...


class CouponStore(Protocol):
    def get_coupon(self, code: str) -> Coupon | None: ...

    def get_member_with_coupons(
        self, member_id: str
    ) -> tuple[MemberState | None, list[Coupon]]: ...

    def get_member_with_settled_lots(
        self, member_id: str
    ) -> tuple[MemberState | None, list[PointsLot]]:
        """The profile and the member's settled lots (what a void's counterfactual needs)."""

    def commit_coupon_use(self, use: CouponUse, now: datetime) -> None:
        """Raises DuplicateEvent when the coupon is no longer issued."""

    def commit_coupon_void(self, plan: CouponVoidPlan, now: datetime) -> None:
        """Raises CouponUnavailable when the coupon is no longer issued, ConcurrentUpdate
        when the member's totals or a lot changed since they were read."""


class CouponJobStore(DueIndex, Protocol):
    def member_coupons(self, member_id: str) -> list[Coupon]: ...

    def get_member_with_settled_lots(
        self, member_id: str
    ) -> tuple[MemberState | None, list[PointsLot]]:
        """The profile and the member's settled lots (what a void's counterfactual needs)."""

    def commit_coupon_void(self, plan: CouponVoidPlan, now: datetime) -> None: ...

    def commit_coupon_expiry(self, plan: CouponExpiryPlan, now: datetime) -> None:
        """Raises ConcurrentUpdate when a coupon changed since it was read."""


class BadgeStore(Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def commit_earning(self, plan: EarnPlan, now: datetime) -> None:
        """Raises AlreadyRewarded (the marker exists), ConcurrentUpdate."""

    def list_badges(self) -> list[Badge]: ...

    def get_badge(self, badge_id: str) -> Badge | None: ...

    def save_badge(
        self, badge: Badge, *, stored_before: bool, audit: AuditRecord, now: datetime
    ) -> None: ...

    def badge_standing(self, member_id: str) -> BadgeStanding: ...

    def add_progress(
        self, member_id: str, badge_id: str, period: str, values: tuple[str, ...], now: datetime
    ) -> int:
        """Adds `values` to the counted set (idempotent); the set's size."""
        ...


class ImportStore(Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def landed_rows(self, batch_id: str) -> dict[int, LandedRow]: ...

    def get_members(self, member_ids: Iterable[str]) -> dict[str, MemberState]: ...

    def email_owners(self, normalized_emails: Iterable[str]) -> dict[str, str]: ...

    def get_lot(self, member_id: str, lot_id: str, expires_at: datetime) -> PointsLot | None: ...

    def commit_import_row(self, plan: ImportRowPlan, now: datetime) -> None:
        """Raises DuplicateEvent (the row has landed), EmailTaken, ConcurrentUpdate."""

    def commit_import_undo(self, plan: UndoPlan, now: datetime) -> None:
        """Raises DuplicateEvent (the row was undone), ConcurrentUpdate."""
