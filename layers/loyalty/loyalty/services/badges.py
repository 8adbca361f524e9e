"""Badges and challenges: the operator's definitions, a member's badges, and their
evaluation from the table's stream (never a scan).

Each stream record that can count (an order recorded, a review or share marker, a referral
completed, a member profile changed) is matched against the active definitions; a counting
condition adds the event to the member's counted set (a set: a redelivery adds nothing); a
condition met grants the badge through the ledger's one-time earning: the marker
`BADGE#<id>` (conditional), the entry, the lot and the profile in one transaction, so the
badge and its points land together, once, however often the stream delivers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loyalty.dal.events_bus import stream_change
from loyalty.domain.badges import (
    BADGE_REASON,
    Badge,
    MemberBadges,
    activity_of,
    member_badges,
    step_for,
)
from loyalty.domain.errors import AlreadyRewarded, ConcurrentUpdate, MemberNotFound
from loyalty.domain.ledger import DedupeKey, plan_earning
from loyalty.domain.operations import AuditRecord
from loyalty.domain.ports import BadgeStore
from loyalty.services.base import RulesService
from loyalty.services.retry import attempts

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules


@dataclass(frozen=True, slots=True)
class BadgeGrant:
    member_id: str
    badge_id: str
    points: int
    challenge: bool


class BadgeService(RulesService[BadgeStore]):
    """`badges` gives the definitions in force (cached per container by the runtime)."""

    def __init__(
        self,
        store: BadgeStore,
        rules: Callable[[], ProgramRules],
        badges: Callable[[], list[Badge]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(store, rules, clock)
        self._badges = badges

    # ---- operators --------------------------------------------------------------------

    def all_badges(self) -> list[Badge]:
        """Every definition, retired ones last."""
        return sorted(self._store.list_badges(), key=lambda b: (not b.active, b.badge_id))

    def save_badge(self, badge: Badge, *, actor: str, reason: str) -> bool:
        """Create or replace a definition with its audit record; True when it is new."""
        for _ in attempts():
            now = self._clock()
            stored = self._store.get_badge(badge.badge_id)
            audit = AuditRecord(
                actor=actor,
                action="badge.created" if stored is None else "badge.updated",
                target=badge.badge_id,
                reason=reason,
                at=now,
                details={
                    "condition": badge.condition.kind,
                    "points": str(badge.points),
                    "active": str(badge.active).lower(),
                },
            )
            try:
                self._store.save_badge(
                    badge, stored_before=stored is not None, audit=audit, now=now
                )
            except ConcurrentUpdate:
                continue
            return stored is None
        raise ConcurrentUpdate("the badge kept changing")

    # ---- members ----------------------------------------------------------------------

    def member_badges(self, member_id: str) -> MemberBadges:
        """The badges the member earned and the open ones' progress (2 of 3)."""
        member = self._store.get_member(member_id)
        if member is None or member.erased:
            raise MemberNotFound(f"no member '{member_id}'")
        standing = self._store.badge_standing(member_id)
        return member_badges(self._badges(), standing, self._clock())

    # ---- evaluation (the stream) ------------------------------------------------------

    def evaluate(self, record: Mapping[str, Any]) -> list[BadgeGrant]:
        """What one stream record (as Lambda delivers it) counts towards, and the badges it
        grants; the same record again grants nothing more."""
        change = stream_change(record)
        activity = activity_of(change.old, change.new)
        if activity is None:
            return []
        steps = [step for badge in self._badges() if (step := step_for(badge, activity))]
        if not steps:
            return []
        standing = self._store.badge_standing(activity.member_id)
        grants = []
        for step in steps:
            badge = step.badge
            if badge.badge_id in standing.earned:
                continue
            if step.counts:
                counted = self._store.add_progress(
                    activity.member_id, badge.badge_id, step.period, step.values, self._clock()
                )
                if counted < badge.target:
                    continue
            if self._grant(activity.member_id, badge):
                grants.append(
                    BadgeGrant(activity.member_id, badge.badge_id, badge.points, badge.challenge)
                )
        return grants

    def _grant(self, member_id: str, badge: Badge) -> bool:
        """The badge's marker, points (if any), entry and profile in one transaction; False
        when the member already has it (a redelivery) or is gone."""
        for _ in attempts():
            now = self._clock()
            member = self._store.get_member(member_id)
            if member is None or member.erased:
                return False
            plan = plan_earning(
                self._rules(),
                member,
                reason=BADGE_REASON,
                points=badge.points,
                reference=badge.badge_id,
                occurred_at=now,
                now=now,
                dedupe=DedupeKey("badge", badge.badge_id),
                details={"badgeId": badge.badge_id},
                marker_fields={"badgeId": badge.badge_id, "challenge": badge.challenge},
            )
            try:
                self._store.commit_earning(plan, now)
            except ConcurrentUpdate:
                continue
            except AlreadyRewarded:
                return False
            return True
        raise ConcurrentUpdate("the member kept changing during the badge grant")
