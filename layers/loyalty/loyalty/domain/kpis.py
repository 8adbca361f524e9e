"""Program KPIs and the points liability, kept up to date from the table's stream: the pure
part (what one batch of changes adds to the aggregates, and the report read from them).

Two kinds of change feed the aggregates (see docs/design.md, "KPIs"):

- a new ledger entry adds its figures (issued, redeemed, expired, outstanding) to the totals
  and to the day it occurred on, and may move its member's last-activity day. Each entry is
  counted once: the data access writes a marker keyed by the entry in the same transaction.
- a member's profile change recomputes that member's *contribution* (counted as a member,
  its tier, its enrollment month, its unspent points by expiry month) from the current
  profile and lots; the difference from the contribution applied before goes to the totals.
  Replaying a profile change finds no difference, so it changes nothing.

Counters are plain `{name: int}` maps so that any delta is applied with one ADD.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from loyalty.domain.errors import LoyaltyError
from loyalty.domain.ledger import EntryType, MemberState, PointsLot, unspent_per_lot
from loyalty.domain.rules import TIER_ORDER, TierName

Counters = dict[str, int]

ISSUED = "issued"
REDEEMED = "redeemed"
EXPIRED = "expired"
OUTSTANDING = "outstanding"
MEMBERS = "members"
LAST_ACTIVE = "lastActive"  # on a day: members whose last activity is that day
TIER_PREFIX = "tier#"
ENROLLED_PREFIX = "enrolled#"
EXPIRING_PREFIX = "expiring#"

DAILY_DAYS = 90
ACTIVE_WINDOWS = (30, 90)
# DynamoDB's limit on the actions of one transaction.
MAX_ACTIONS = 100


class EntriesAlreadyCounted(LoyaltyError):
    """Some entries of a write were counted before (a redelivered stream record)."""

    def __init__(self, entry_ids: Iterable[str]) -> None:
        self.entry_ids = frozenset(entry_ids)
        super().__init__(f"{len(self.entry_ids)} entries were already counted")


def month_of(moment: datetime | date) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def add_into(total: Counters, delta: Mapping[str, int], sign: int = 1) -> None:
    for name, value in delta.items():
        total[name] = total.get(name, 0) + sign * value


def difference(after: Mapping[str, int], before: Mapping[str, int]) -> Counters:
    """`after - before`, only the counters that change."""
    delta: Counters = {}
    for name in after.keys() | before.keys():
        change = after.get(name, 0) - before.get(name, 0)
        if change:
            delta[name] = change
    return delta


# ---- ledger entries ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryFact:
    """What the KPIs need of one ledger entry (no reason, no reference, no personal data)."""

    entry_id: str
    member_id: str
    type: EntryType
    points: int
    occurred_at: datetime

    @property
    def day(self) -> date:
        return self.occurred_at.date()

    @property
    def figures(self) -> Counters:
        """The contract's definitions: issued is every positive entry, redeemed and expired
        the absolute `redeem` and `expire` entries, outstanding the sum of all entries. A
        voided coupon's `redeem` entry (positive) undoes a redemption: it lowers the points
        redeemed and issues nothing."""
        figures = {OUTSTANDING: self.points}
        if self.points > 0 and self.type != "redeem":
            figures[ISSUED] = self.points
        if self.type == "redeem":
            figures[REDEEMED] = -self.points
        if self.type == "expire":
            figures[EXPIRED] = -self.points
        return figures

    @property
    def is_activity(self) -> bool:
        # An expiry is the program acting on a member who did nothing: it does not make
        # them active.
        return self.type != "expire"


@dataclass(frozen=True, slots=True)
class ActivityState:
    """Per member: the day of the last activity (the day bucket the member is counted in)
    and whether the account is closed (erased: no longer counted as active)."""

    last_active: date | None = None
    closed: bool = False

    @property
    def counted_day(self) -> date | None:
        return None if self.closed else self.last_active


@dataclass(frozen=True, slots=True)
class ActivityMove:
    """A member's last-activity day moves later; written only if the member's activity
    state is still `before` (as read)."""

    member_id: str
    before: ActivityState
    after: date


@dataclass(frozen=True, slots=True)
class EntriesProjection:
    entries: tuple[EntryFact, ...]
    totals: Counters
    days: dict[date, Counters]
    moves: tuple[ActivityMove, ...]

    @property
    def actions(self) -> int:
        """Items one transaction writes for it: a marker per entry, a move per member, the
        totals and the days."""
        return len(self.entries) + len(self.moves) + 1 + len(self.days)


def project_entries(
    entries: Sequence[EntryFact], states: Mapping[str, ActivityState]
) -> EntriesProjection:
    """What `entries` (each distinct, none counted yet) add to the aggregates, given each
    member's activity state as read."""
    unique = tuple({entry.entry_id: entry for entry in entries}.values())
    totals: Counters = {}
    days: dict[date, Counters] = {}
    latest: dict[str, date] = {}
    for entry in unique:
        figures = entry.figures
        add_into(totals, figures)
        add_into(
            days.setdefault(entry.day, {}), {k: v for k, v in figures.items() if k != OUTSTANDING}
        )
        if entry.is_activity:
            latest[entry.member_id] = max(entry.day, latest.get(entry.member_id, entry.day))
    moves = []
    for member_id, day in sorted(latest.items()):
        state = states.get(member_id, ActivityState())
        if state.last_active is not None and day <= state.last_active:
            continue
        moves.append(ActivityMove(member_id, state, day))
        if not state.closed:
            if state.last_active is not None:
                add_into(days.setdefault(state.last_active, {}), {LAST_ACTIVE: -1})
            add_into(days.setdefault(day, {}), {LAST_ACTIVE: 1})
    return EntriesProjection(
        unique, totals, {day: c for day, c in days.items() if any(c.values())}, tuple(moves)
    )


# ---- members -------------------------------------------------------------------------------


def unspent_by_expiry_month(member: MemberState, lots: Iterable[PointsLot]) -> Counters:
    """The member's unspent points by the month they expire in: live lots after spending
    (soonest-expiring first, as the ledger attributes it), and points held for the return
    window in full (they are owed, and expire with their lot)."""
    live = [lot for lot in lots if not lot.settled]
    unspent = unspent_per_lot(
        [lot for lot in live if not lot.pending],
        settled_earned=member.settled_earned,
        debited=member.debited,
    )
    by_month: Counters = {}
    for lot in live:
        points = lot.points if lot.pending else unspent[lot.lot_id]
        if points:
            add_into(by_month, {month_of(lot.expires_at): points})
    return by_month


def contribution_of(member: MemberState | None, lots: Iterable[PointsLot]) -> Counters:
    """What one member adds to the program totals now. An erased member no longer counts
    as a member (nor in a tier); its enrollment stays in the month it happened."""
    if member is None:
        return {}
    counters: Counters = {f"{ENROLLED_PREFIX}{month_of(member.enrolled_at)}": 1}
    if not member.erased:
        counters[MEMBERS] = 1
        counters[f"{TIER_PREFIX}{member.tier}"] = 1
    for month, points in unspent_by_expiry_month(member, lots).items():
        counters[f"{EXPIRING_PREFIX}{month}"] = points
    return counters


@dataclass(frozen=True, slots=True)
class MemberSnapshot:
    """A member as the projector reads it: profile and lots now, and what the projection
    holds for it (the contribution applied to the totals, its version, its activity)."""

    member_id: str
    member: MemberState | None
    lots: tuple[PointsLot, ...]
    counted: Mapping[str, int] = field(default_factory=dict)
    version: int | None = None
    activity: ActivityState = ActivityState()


@dataclass(frozen=True, slots=True)
class MemberProjection:
    """The member's new contribution (written only if the projection's item is still at
    `expected_version` and its activity as read) and what changes in the aggregates."""

    member_id: str
    expected_version: int | None
    expected_activity: ActivityState
    counted: Counters
    closed: bool
    totals: Counters
    days: dict[date, Counters]


def project_member(snapshot: MemberSnapshot) -> MemberProjection | None:
    """None when the member's contribution is already what the totals hold."""
    counted = contribution_of(snapshot.member, snapshot.lots)
    totals = difference(counted, snapshot.counted)
    # An erased member (or a profile deleted outright) is no longer counted as active.
    closed = snapshot.member is None or snapshot.member.erased
    days: dict[date, Counters] = {}
    activity = snapshot.activity
    if closed != activity.closed and activity.last_active is not None:
        # Closing takes the member out of its last-activity day; reopening puts it back.
        days[activity.last_active] = {LAST_ACTIVE: -1 if closed else 1}
    if not totals and closed == activity.closed:
        return None
    return MemberProjection(
        member_id=snapshot.member_id,
        expected_version=snapshot.version,
        expected_activity=activity,
        counted=counted,
        closed=closed,
        totals=totals,
        days=days,
    )


# ---- the report ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyFigures:
    day: date
    issued: int
    redeemed: int
    expired: int


@dataclass(frozen=True, slots=True)
class KpiReport:
    members: int
    members_by_tier: dict[TierName, int]
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_outstanding: int
    redemption_rate: float
    outstanding_by_expiry_month: dict[str, int]
    enrollments_by_month: dict[str, int]
    active_members: dict[str, int]
    daily: tuple[DailyFigures, ...]
    as_of: datetime


def first_reported_day(now: datetime) -> date:
    """The first day of the daily series (and of the longest activity window)."""
    return now.date() - timedelta(days=max(DAILY_DAYS, *ACTIVE_WINDOWS) - 1)


def _by_prefix(totals: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {
        name.removeprefix(prefix): value
        for name, value in sorted(totals.items())
        if name.startswith(prefix) and value
    }


def build_report(
    totals: Mapping[str, int], days: Mapping[date, Mapping[str, int]], now: datetime
) -> KpiReport:
    """The KPIs from the aggregate items: the totals and the day items from
    `first_reported_day(now)` on (later days, dated in the future, count as active)."""
    today = now.date()
    issued = totals.get(ISSUED, 0)
    redeemed = totals.get(REDEEMED, 0)
    daily = []
    for offset in range(DAILY_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        figures = days.get(day, {})
        daily.append(
            DailyFigures(
                day, figures.get(ISSUED, 0), figures.get(REDEEMED, 0), figures.get(EXPIRED, 0)
            )
        )
    active = {
        f"days{window}": sum(
            figures.get(LAST_ACTIVE, 0)
            for day, figures in days.items()
            if day > today - timedelta(days=window)
        )
        for window in ACTIVE_WINDOWS
    }
    return KpiReport(
        members=totals.get(MEMBERS, 0),
        members_by_tier={tier: totals.get(f"{TIER_PREFIX}{tier}", 0) for tier in TIER_ORDER},
        points_issued=issued,
        points_redeemed=redeemed,
        points_expired=totals.get(EXPIRED, 0),
        points_outstanding=totals.get(OUTSTANDING, 0),
        redemption_rate=redeemed / issued if issued else 0.0,
        outstanding_by_expiry_month=_by_prefix(totals, EXPIRING_PREFIX),
        enrollments_by_month=_by_prefix(totals, ENROLLED_PREFIX),
        active_members=active,
        daily=tuple(daily),
        as_of=now,
    )
