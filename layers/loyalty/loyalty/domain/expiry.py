"""The expiry job's rules: points expire `expiryMonths` after they were earned, the unspent
part only (spending uses the soonest-expiring points first), with a warning
`expiryWarningDays` before."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from loyalty.domain.ledger import (
    LedgerEntry,
    MemberState,
    PointsLot,
    make_entry_id,
    unspent_per_lot,
)

# One transaction holds at most 100 actions: settle and warn in bounded steps.
MAX_LOTS_PER_STEP = 40


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    lot: PointsLot
    points: int


@dataclass(frozen=True, slots=True)
class ExpiryPlan:
    member: MemberState
    released: tuple[PointsLot, ...]
    released_points: int
    settled: tuple[PointsLot, ...]
    settled_points: int
    expired_points: int
    entry: LedgerEntry | None
    warnings: tuple[ExpiryWarning, ...]
    warned_without_points: tuple[PointsLot, ...]

    @property
    def complete(self) -> bool:
        """Nothing was left for another step (no list was cut at the step's bound)."""
        return all(
            len(part) < MAX_LOTS_PER_STEP
            for part in (
                self.released,
                self.settled,
                (*self.warnings, *self.warned_without_points),
            )
        )

    @property
    def empty(self) -> bool:
        return not (self.released or self.settled or self.warnings or self.warned_without_points)


def plan_expiry(member: MemberState, lots: list[PointsLot], now: datetime) -> ExpiryPlan:
    """Release the points whose return window has passed, settle the lots that have expired
    (soonest first, a bounded step at a time) and warn about those about to. Settling lots
    whose total is S expires `max(0, settledEarned + S - debited)`: what spending has not
    consumed of them. Held (pending) lots take no part in spending or expiry."""
    released = tuple(
        lot
        for lot in lots
        if not lot.settled and lot.available_at is not None and lot.available_at <= now
    )[:MAX_LOTS_PER_STEP]
    open_lots = sorted(
        (lot for lot in lots if not lot.settled and not lot.pending),
        key=lambda lot: (lot.expires_at, lot.lot_id),
    )
    due = tuple(lot for lot in open_lots if lot.expires_at <= now)[:MAX_LOTS_PER_STEP]
    settled_points = sum(lot.points for lot in due)
    expired = max(0, member.settled_earned + settled_points - member.debited)
    entry = None
    if expired:
        identity = hashlib.sha256("\x1f".join(lot.lot_id for lot in due).encode()).hexdigest()
        entry = LedgerEntry(
            entry_id=make_entry_id(now, f"expiry\x1f{identity}", "expired"),
            member_id=member.member_id,
            type="expire",
            reason="expired",
            points=-expired,
            occurred_at=now,
            reference=f"expiry-{now:%Y-%m-%d}",
            details={"lots": str(len(due))},
        )

    settled_ids = {lot.lot_id for lot in due}
    live = [lot for lot in open_lots if lot.lot_id not in settled_ids]
    unspent = unspent_per_lot(
        live,
        settled_earned=member.settled_earned + settled_points,
        debited=member.debited + expired,
    )
    to_warn = [
        lot for lot in live if not lot.warned and lot.warn_at is not None and lot.warn_at <= now
    ][:MAX_LOTS_PER_STEP]
    warnings = tuple(
        ExpiryWarning(lot, unspent[lot.lot_id]) for lot in to_warn if unspent[lot.lot_id]
    )
    silent = tuple(lot for lot in to_warn if not unspent[lot.lot_id])
    return ExpiryPlan(
        member=member,
        released=released,
        released_points=sum(lot.points for lot in released),
        settled=due,
        settled_points=settled_points,
        expired_points=expired,
        entry=entry,
        warnings=warnings,
        warned_without_points=silent,
    )
