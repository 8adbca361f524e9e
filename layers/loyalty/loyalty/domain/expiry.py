"""The expiry job's rules: points expire `expiryMonths` after they were earned, the unspent
part only (spending uses the soonest-expiring points first), with a warning
`expiryWarningDays` before."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from loyalty.domain.ledger import (
    LedgerEntry,
    MemberState,
    PointsLot,
    make_entry_id,
    unspent_per_lot,
)

# A step is written as one TransactWriteItems, which DynamoDB caps at 100 actions (and 4 MB).
# Every item a step writes is well under 1 KB (keys, ids and a few numbers), so 100 actions
# stay far under 4 MB: the action count is the only budget (a unit test sizes the largest step).
MAX_ACTIONS_PER_STEP = 100
# What each part of a step costs in actions.
PROFILE_ACTIONS = 1  # the profile's totals, under its guards: every step has it
ENTRY_ACTIONS = 1  # the `expire` entry: reserved whenever a step settles lots
RELEASE_ACTIONS = 1  # a held lot's update
SETTLE_ACTIONS = 2  # a settled lot moves: its live item deleted, its settled item put
WARNING_ACTIONS = 2  # the warned lot's update and its warning item
SILENT_WARNING_ACTIONS = 1  # a warned lot with nothing unspent: its update only


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    lot: PointsLot
    points: int


@dataclass(frozen=True, slots=True)
class SettledLot:
    """A lot the step settles, with the part of it that expires (the rest was spent)."""

    lot: PointsLot
    expired_points: int


@dataclass(frozen=True, slots=True)
class ExpiryPlan:
    member: MemberState
    released: tuple[PointsLot, ...]
    released_points: int
    settled: tuple[SettledLot, ...]
    settled_points: int
    expired_points: int
    entry: LedgerEntry | None
    warnings: tuple[ExpiryWarning, ...]
    warned_without_points: tuple[PointsLot, ...]
    # False when something due was left for another step (the budget ran out, or a lot
    # released by this step is already due for its warning or expiry).
    complete: bool
    # When the job must next look at the member once this step is written: the earliest
    # next action of the live lots it leaves; None when none is left (off the index).
    next_due_at: datetime | None = None

    @property
    def empty(self) -> bool:
        """Nothing to write: nothing due, and the member's due time already right (a member
        listed too early, say after a refund emptied a lot, is moved on to its real one)."""
        return (
            not (self.released or self.settled or self.warnings or self.warned_without_points)
            and self.next_due_at == self.member.expiry_due_at
        )

    @property
    def actions(self) -> int:
        """The actions of the step's transaction (the repository writes exactly these)."""
        return (
            PROFILE_ACTIONS
            + (ENTRY_ACTIONS if self.entry is not None else 0)
            + RELEASE_ACTIONS * len(self.released)
            + SETTLE_ACTIONS * len(self.settled)
            + WARNING_ACTIONS * len(self.warnings)
            + SILENT_WARNING_ACTIONS * len(self.warned_without_points)
        )


def plan_expiry(member: MemberState, lots: list[PointsLot], now: datetime) -> ExpiryPlan:
    """One step, within MAX_ACTIONS_PER_STEP: release the points whose return window has
    passed, then settle the lots that have expired (soonest first), then warn about those
    about to; a part is only planned when everything before it fitted. Settling lots
    expires what spending has not consumed of them. Held (pending) lots take no part in
    spending or expiry."""
    budget = MAX_ACTIONS_PER_STEP - PROFILE_ACTIONS

    releasable = [
        lot
        for lot in lots
        if not lot.settled and lot.available_at is not None and lot.available_at <= now
    ]
    released = tuple(releasable[: budget // RELEASE_ACTIONS])
    budget -= RELEASE_ACTIONS * len(released)
    complete = len(released) == len(releasable) and not any(
        _due_after_release(lot, now) for lot in released
    )

    open_lots = sorted(
        (lot for lot in lots if not lot.settled and not lot.pending),
        key=lambda lot: (lot.expires_at, lot.lot_id),
    )
    expiring = [lot for lot in open_lots if lot.expires_at <= now]
    due: list[PointsLot] = []
    if complete and expiring:
        due = expiring[: max(0, budget - ENTRY_ACTIONS) // SETTLE_ACTIONS]
        budget -= ENTRY_ACTIONS + SETTLE_ACTIONS * len(due)
        complete = len(due) == len(expiring)
    settled = _settle(member, due)
    settled_points = sum(lot.points for lot in due)
    expired = sum(part.expired_points for part in settled)

    settled_ids = {lot.lot_id for lot in due}
    live = [lot for lot in open_lots if lot.lot_id not in settled_ids]
    unspent = unspent_per_lot(
        live,
        settled_earned=member.settled_earned + settled_points,
        debited=member.debited + expired,
    )
    warnings: list[ExpiryWarning] = []
    silent: list[PointsLot] = []
    if complete:
        for lot in live:
            if lot.warned or lot.warn_at is None or lot.warn_at > now:
                continue
            cost = WARNING_ACTIONS if unspent[lot.lot_id] else SILENT_WARNING_ACTIONS
            if cost > budget:
                complete = False
                break
            budget -= cost
            if unspent[lot.lot_id]:
                warnings.append(ExpiryWarning(lot, unspent[lot.lot_id]))
            else:
                silent.append(lot)

    return ExpiryPlan(
        next_due_at=_next_due(lots, released, settled_ids, warnings, silent),
        member=member,
        released=released,
        released_points=sum(lot.points for lot in released),
        settled=settled,
        settled_points=settled_points,
        expired_points=expired,
        entry=_expire_entry(member, due, expired, now),
        warnings=tuple(warnings),
        warned_without_points=tuple(silent),
        complete=complete,
    )


def _next_due(
    lots: list[PointsLot],
    released: tuple[PointsLot, ...],
    settled_ids: set[str],
    warnings: list[ExpiryWarning],
    silent: list[PointsLot],
) -> datetime | None:
    """The earliest next action of the live lots once the step is written."""
    released_ids = {lot.lot_id for lot in released}
    warned_ids = {w.lot.lot_id for w in warnings} | {lot.lot_id for lot in silent}
    after = [
        replace(
            lot,
            available_at=None if lot.lot_id in released_ids else lot.available_at,
            warned=lot.warned or lot.lot_id in warned_ids,
        ).next_action_at
        for lot in lots
        if not lot.settled and lot.lot_id not in settled_ids
    ]
    return min(after, default=None)


def _settle(member: MemberState, due: list[PointsLot]) -> tuple[SettledLot, ...]:
    """Each lot's expired part: spending consumed the first `debited - settledEarned` points
    of the live lots, soonest-expiring first, so of these (the soonest) only the rest
    expires. Their sum is the step's expired total."""
    unspent = unspent_per_lot(due, settled_earned=member.settled_earned, debited=member.debited)
    return tuple(SettledLot(lot, unspent[lot.lot_id]) for lot in due)


def _expire_entry(
    member: MemberState, due: list[PointsLot], expired: int, now: datetime
) -> LedgerEntry | None:
    if not expired:
        return None
    identity = hashlib.sha256("\x1f".join(lot.lot_id for lot in due).encode()).hexdigest()
    return LedgerEntry(
        entry_id=make_entry_id(now, f"expiry\x1f{identity}", "expired"),
        member_id=member.member_id,
        type="expire",
        reason="expired",
        points=-expired,
        occurred_at=now,
        reference=f"expiry-{now:%Y-%m-%d}",
        details={"lots": str(len(due))},
    )


def _due_after_release(lot: PointsLot, now: datetime) -> bool:
    """A released lot the same run must look at again (its warning or expiry is due): it
    cannot be, in the step that releases it (one action per item per transaction)."""
    return replace(lot, available_at=None).next_action_at <= now
