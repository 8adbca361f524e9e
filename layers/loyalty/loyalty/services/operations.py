"""The operator's side of the program: point adjustments, the rewards catalog, the program
rules and member lookup (admin scope), and a member's privacy rights (export, erasure).
Every change is written together with its audit record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loyalty.domain.errors import (
    ConcurrentUpdate,
    DuplicateEvent,
    IdempotencyKeyReused,
    MemberNotFound,
)
from loyalty.domain.members import MemberView, member_view, normalize_email
from loyalty.domain.operations import (
    AdjustmentResult,
    AuditRecord,
    next_program_version,
    plan_adjustment,
    plan_erasure,
)
from loyalty.domain.ports import OperatorStore, PrivacyStore, ProgramStore
from loyalty.domain.program_preview import ProgramPreview, preview_program
from loyalty.domain.rewards import DEFAULT_REWARDS, Reward, full_catalog
from loyalty.services import clock as wall_clock
from loyalty.services.base import RulesService
from loyalty.services.retry import attempts

if TYPE_CHECKING:
    from loyalty.domain.coupons import Coupon
    from loyalty.domain.ledger import LedgerEntry, MemberState
    from loyalty.domain.rules import ProgramRules


class OperatorService(RulesService[OperatorStore]):
    def adjust(
        self,
        member_id: str,
        points: int,
        reason: str,
        *,
        actor: str,
        idempotency_key: str,
        request_fingerprint: str,
    ) -> AdjustmentResult:
        """Add or take points, once per Idempotency-Key: a retry with the same body answers
        the first result and changes nothing; the same key with another body is refused."""
        for _ in attempts():
            now = self._clock()
            member = _open_member(self._store.get_member(member_id), member_id)
            plan = plan_adjustment(
                self._rules(),
                member,
                points=points,
                reason=reason,
                actor=actor,
                idempotency_key=idempotency_key,
                request_fingerprint=request_fingerprint,
                now=now,
            )
            try:
                self._store.commit_adjustment(plan, now)
            except ConcurrentUpdate:
                continue
            except DuplicateEvent:
                return self._replay(member, plan.adjustment_id, request_fingerprint)
            return AdjustmentResult(plan.entry.entry_id, points, member.balance + points)
        raise ConcurrentUpdate("the member kept changing during the adjustment")

    def _replay(
        self, member: MemberState, adjustment_id: str, request_fingerprint: str
    ) -> AdjustmentResult:
        marker = self._store.get_adjustment(member.member_id, adjustment_id)
        if marker is None:  # pragma: no cover - the marker is what refused the write
            raise ConcurrentUpdate("the adjustment could not be read back")
        if marker["requestFingerprint"] != request_fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different adjustment request"
            )
        return AdjustmentResult(str(marker["entryId"]), int(marker["points"]), member.balance)

    def all_rewards(self) -> list[Reward]:
        """The whole catalog, retired rewards included (the storefront sees active ones)."""
        return sorted(
            full_catalog(self._store.list_rewards()),
            key=lambda reward: (not reward.active, reward.reward_id),
        )

    def save_reward(self, reward: Reward, *, actor: str, reason: str) -> bool:
        """Create or replace a reward; True when it is new to the catalog (a contract
        default that was never stored counts as existing)."""
        for _ in attempts():
            now = self._clock()
            stored = self._store.get_reward(reward.reward_id)
            created = stored is None and all(
                default.reward_id != reward.reward_id for default in DEFAULT_REWARDS
            )
            audit = AuditRecord(
                actor=actor,
                action="reward.created" if created else "reward.updated",
                target=reward.reward_id,
                reason=reason,
                at=now,
                details={"cost": str(reward.cost), "active": str(reward.active).lower()},
            )
            try:
                self._store.save_reward(
                    reward, stored_before=stored is not None, audit=audit, now=now
                )
            except ConcurrentUpdate:
                continue
            return created
        raise ConcurrentUpdate("the reward kept changing")

    def find_by_email(self, email: str) -> list[MemberView]:
        member_id = self._store.member_id_by_email(normalize_email(email))
        if member_id is None:
            return []
        member, lots = self._store.get_member_with_lots(member_id)
        if member is None or member.erased:
            return []
        return [member_view(self._rules(), member, lots)]

    def audit_trail(self, month: datetime | None, limit: int) -> list[dict[str, Any]]:
        """A month's audit records; this month (by the services' clock) when none is given."""
        return self._store.list_audit(month or self._clock(), limit)


# An operator's preview reads at most this many orders (about 2 MB, a few hundred read units).
PREVIEW_ORDER_LIMIT = 5000


class ProgramService:
    """The rules document: the deployment's default (PROGRAM_RULES) until an operator saves
    one; each save is a new version, kept for good."""

    def __init__(
        self,
        store: ProgramStore,
        default_rules: Callable[[], ProgramRules],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._default_rules = default_rules
        self._clock = clock or (lambda: wall_clock.utc_now())

    def current(self) -> ProgramRules:
        return self._store.get_program() or self._default_rules()

    def update(
        self, proposed: ProgramRules, *, based_on: int | None, actor: str, reason: str
    ) -> ProgramRules:
        now = self._clock()
        stored = self._store.get_program()
        current = stored or self._default_rules()
        new = next_program_version(current, proposed, based_on=based_on)
        audit = AuditRecord(
            actor=actor,
            action="program.updated",
            target="program",
            reason=reason,
            at=now,
            details={"version": str(new.version), "previousVersion": str(current.version)},
        )
        self._store.put_program(
            new, replaces=stored.version if stored else None, audit=audit, now=now
        )
        return new

    def preview(self, draft: ProgramRules, *, days: int) -> ProgramPreview:
        """The orders of the last `days` days (at most PREVIEW_ORDER_LIMIT, the newest)
        replayed under `draft`, against what they were awarded. Reads only; `draft` is
        validated as a save would be, but not saved."""
        end = self._clock()
        start = end - timedelta(days=days)
        orders, truncated = self._store.orders_between(start, end, PREVIEW_ORDER_LIMIT)
        return preview_program(draft, orders, start=start, end=end, truncated=truncated)


@dataclass(frozen=True, slots=True)
class MemberExport:
    profile: dict[str, Any]
    activity: list[LedgerEntry]
    # The coupons the member's redemptions issued, newest first, as of `at`.
    coupons: list[Coupon]
    at: datetime


# The profile's fields an export shows: every personal field held, and the standing.
_EXPORTED_FIELDS = (
    "memberId",
    "name",
    "email",
    "phone",
    "birthday",
    "marketingConsent",
    "enrolledAt",
    "enrolledBy",
    "referralCode",
    "referredBy",
    "tier",
    "tierPoints",
    "balance",
    "pendingPoints",
    "orderCount",
)


class PrivacyService:
    def __init__(
        self,
        store: PrivacyStore,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock or (lambda: wall_clock.utc_now())

    def export(self, member_id: str) -> MemberExport:
        profile, entries = self._store.export_member(member_id)
        if profile is None or profile.get("erasedAt"):
            raise MemberNotFound(f"no member '{member_id}'")
        _, coupons = self._store.get_member_with_coupons(member_id)  # the coupons list's read
        exported = {name: profile.get(name) for name in _EXPORTED_FIELDS}
        exported["marketingConsent"] = bool(profile.get("marketingConsent", False))
        exported["leaderboard"] = {
            "optIn": bool(profile.get("leaderboardOptIn", False)),
            "displayName": profile.get("leaderboardName"),
        }
        return MemberExport(exported, entries, coupons, self._clock())

    def erase(self, member_id: str, *, actor: str) -> None:
        for _ in attempts():
            now = self._clock()
            member, lots = self._store.get_member_with_lots(member_id)
            member = _open_member(member, member_id)
            plan = plan_erasure(member, lots, actor=actor, now=now)
            try:
                self._store.commit_erasure(plan, now)
            except ConcurrentUpdate:
                continue
            return
        raise ConcurrentUpdate("the member kept changing during the erasure")


def _open_member(member: MemberState | None, member_id: str) -> MemberState:
    """An erased member is gone for every purpose but the program's totals."""
    if member is None or member.erased:
        raise MemberNotFound(f"no member '{member_id}'")
    return member
