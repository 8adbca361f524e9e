"""What operators do to the program, planned purely: point adjustments, the audit trail of
every operator change, program-rules versions, and a member's erasure (GDPR/CCPA)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from loyalty.domain.errors import InvalidMessage, VersionConflict
from loyalty.domain.ledger import (
    DedupeKey,
    EarnPlan,
    LedgerEntry,
    MemberState,
    PointsLot,
    SpendPlan,
    make_entry_id,
    plan_earning,
    plan_spend,
)

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules

# The most pending (return-window) lots an erasure rewrites in its one transaction; a
# member with more is erased in a later attempt once the daily job has released some.
MAX_PENDING_LOTS_ERASED = 80


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who changed what, when and why: written in the same transaction as the change.
    `target` and `details` name ids only (member id, reward id, rules version), never
    personal data."""

    actor: str
    action: str
    target: str
    reason: str
    at: datetime
    details: Mapping[str, str] = field(default_factory=dict)
    audit_id: str = field(default_factory=lambda: uuid.uuid4().hex)


# ---- point adjustments -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdjustmentPlan:
    """A signed adjustment, once per Idempotency-Key: a positive one earns a lot (it counts
    towards the tier, like any earning); a negative one is spent like a redemption, only
    if the balance covers it at the moment of the write."""

    member_id: str
    adjustment_id: str
    points: int
    request_fingerprint: str
    earn: EarnPlan | None
    spend: SpendPlan | None
    audit: AuditRecord

    @property
    def entry(self) -> LedgerEntry:
        if self.earn is not None:
            return self.earn.entries[0]
        assert self.spend is not None
        return self.spend.entry


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    entry_id: str
    points: int
    balance: int


def adjustment_id_for(member_id: str, idempotency_key: str) -> str:
    """The adjustment's identity: the same key for the same member is the same adjustment,
    forever (the ledger writes its marker once)."""
    return hashlib.sha256(f"{member_id}\x1f{idempotency_key}".encode()).hexdigest()[:32]


def plan_adjustment(
    rules: ProgramRules,
    member: MemberState,
    *,
    points: int,
    reason: str,
    actor: str,
    idempotency_key: str,
    request_fingerprint: str,
    now: datetime,
) -> AdjustmentPlan:
    if points == 0:
        raise InvalidMessage("points must be a non-zero integer")
    adjustment_id = adjustment_id_for(member.member_id, idempotency_key)
    details = {"actor": actor, "adjustmentId": adjustment_id}
    audit = AuditRecord(
        actor=actor,
        action="points.adjusted",
        target=member.member_id,
        reason=reason,
        at=now,
        details={"points": str(points), "adjustmentId": adjustment_id},
    )
    earn = spend = None
    if points > 0:
        earn = plan_earning(
            rules,
            member,
            reason=reason,
            points=points,
            reference=f"adjustment:{adjustment_id}",
            occurred_at=now,
            now=now,
            dedupe=DedupeKey("adjustment", adjustment_id),
            details=details,
            entry_type="adjust",
        )
    else:
        spend = plan_spend(
            member.member_id,
            -points,
            entry_type="adjust",
            reason=reason,
            reference=f"adjustment:{adjustment_id}",
            occurred_at=now,
            details=details,
        )
    return AdjustmentPlan(
        member.member_id, adjustment_id, points, request_fingerprint, earn, spend, audit
    )


# ---- program rules versions ----------------------------------------------------------------


def next_program_version(
    current: ProgramRules, proposed: ProgramRules, *, based_on: int | None
) -> ProgramRules:
    """The proposed document as the next version. `based_on` is the version the operator
    edited (the `version` they sent back): editing a stale copy is refused, not merged."""
    if based_on is not None and based_on != current.version:
        raise VersionConflict(
            f"the document was edited from version {based_on}, "
            f"but the current version is {current.version}: reload it and apply the change again"
        )
    return proposed.model_copy(update={"version": current.version + 1})


# ---- erasure -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    """Erase a member's personal data and close the account: the remaining balance (and
    points still held for the return window) is forfeited by one `adjust` entry, so the
    ledger keeps summing to the balance, which is then 0; held lots are released into that
    forfeiture so no later job can bring points back."""

    member: MemberState
    entry: LedgerEntry | None
    forfeited_balance: int
    forfeited_pending: int
    released_lots: tuple[PointsLot, ...]
    audit: AuditRecord


def plan_erasure(
    member: MemberState, lots: list[PointsLot], *, actor: str, now: datetime
) -> ErasurePlan:
    pending = tuple(lot for lot in lots if lot.pending and not lot.settled)
    if len(pending) > MAX_PENDING_LOTS_ERASED:
        raise InvalidMessage("too many points held for the return window; try again tomorrow")
    forfeited_pending = sum(lot.points for lot in pending)
    forfeited = member.balance + forfeited_pending
    entry = None
    if forfeited:
        entry = LedgerEntry(
            entry_id=make_entry_id(now, f"erasure\x1f{member.member_id}", "forfeited"),
            member_id=member.member_id,
            type="adjust",
            # A debt (negative balance) is written off the same way, with the opposite sign.
            reason="erasure-forfeit",
            points=-forfeited,
            occurred_at=now,
            reference="erasure",
            details={"actor": actor},
        )
    audit = AuditRecord(
        actor=actor,
        action="member.erased",
        target=member.member_id,
        reason="data subject erasure request",
        at=now,
        details={"forfeitedPoints": str(forfeited)},
    )
    return ErasurePlan(member, entry, member.balance, forfeited_pending, pending, audit)
