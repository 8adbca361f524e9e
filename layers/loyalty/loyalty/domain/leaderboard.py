"""The leaderboard, the pure part (docs/leaderboard.md): who may appear and under which name,
what a ledger entry adds to a member's points earned per period, and the board built from the
best scores.

- A member appears only after opting in, under a display name of their choosing (1-32
  printable characters, never an email address); off by default. Opting out, or erasure,
  takes them off the board at the next refresh.
- Points earned in a period: the sum of the member's `earn` entries that occurred in it,
  lowered by the refund reversals (`reverse` entries) that occurred in it; redemption, expiry
  and operator adjustments do not count (as for the tier basis, minus the adjustments: the
  board ranks what members earned, not what an operator granted).
- Periods: `all` (all time) and the calendar month in UTC (`2026-11`), by the entry's
  `occurredAt`. Only scores above zero are listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from loyalty.domain.errors import InvalidMessage

if TYPE_CHECKING:
    from loyalty.domain.kpis import EntryFact

Period = Literal["month", "all"]
PERIODS: tuple[Period, ...] = ("month", "all")
ALL_TIME = "all"
# The board keeps the best 100 (the API's largest `limit`).
BOARD_SIZE = 100
DISPLAY_NAME_MAX = 32

_EMAIL_SHAPED = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidDisplayName(InvalidMessage):
    """A display name the leaderboard cannot show (empty, too long, unprintable, an email
    address), or an opt-in without one."""


@dataclass(frozen=True, slots=True)
class LeaderboardChoice:
    """The member's choice, held on the profile: off by default."""

    opt_in: bool = False
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class LeaderboardChange:
    """A PATCH's `leaderboard`: None leaves a field as it is; `clear_name` removes the name
    (only when not opted in)."""

    opt_in: bool | None = None
    display_name: str | None = None
    clear_name: bool = False


def check_display_name(name: str, email: str | None) -> str:
    """The name as shown (surrounding spaces dropped); raises InvalidDisplayName."""
    shown = name.strip()
    if not 1 <= len(shown) <= DISPLAY_NAME_MAX:
        raise InvalidDisplayName(f"a display name has 1 to {DISPLAY_NAME_MAX} characters")
    if not shown.isprintable():
        raise InvalidDisplayName("a display name has printable characters only")
    if _EMAIL_SHAPED.match(shown) or (email is not None and shown.casefold() == email.casefold()):
        raise InvalidDisplayName("a display name cannot be an email address")
    return shown


def apply_change(
    current: LeaderboardChoice, change: LeaderboardChange, email: str | None
) -> LeaderboardChoice:
    """The member's new choice; raises InvalidDisplayName (an opt-in needs a name)."""
    opt_in = current.opt_in if change.opt_in is None else change.opt_in
    name = None if change.clear_name else (change.display_name or current.display_name)
    if name is not None:
        name = check_display_name(name, email)
    if opt_in and name is None:
        raise InvalidDisplayName("a display name is needed to appear on the leaderboard")
    return LeaderboardChoice(opt_in, name)


# ---- scores (kept by the projector from the stream) ----------------------------------------


def earned_points(entry: EntryFact) -> int:
    """What the entry adds to the points earned (negative for a refund reversal)."""
    if entry.type in ("earn", "reverse"):
        return entry.points
    return 0


def month_key(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Score:
    """A member's points earned in one period as stored, its version and the name it is
    listed under (None: not listed)."""

    period_key: str
    points: int
    version: int
    listed_as: str | None = None


@dataclass(frozen=True, slots=True)
class MemberStanding:
    """What the projector reads of one member: the choice (None: no profile, or erased) and
    the stored scores by period key."""

    member_id: str
    choice: LeaderboardChoice | None
    scores: Mapping[str, Score]


@dataclass(frozen=True, slots=True)
class ScoreWrite:
    """A score to store, if its item is still at `expected_version` (None: absent)."""

    member_id: str
    period_key: str
    points: int
    expected_version: int | None
    listed_as: str | None


def listed_name(choice: LeaderboardChoice | None, points: int) -> str | None:
    if choice is None or not choice.opt_in or not choice.display_name or points <= 0:
        return None
    return choice.display_name


def project_member(standing: MemberStanding, entries: Sequence[EntryFact]) -> list[ScoreWrite]:
    """The scores that change: the new entries' points earned added to their periods, and
    each score listed (or not) as the member's current choice says."""
    totals = {key: score.points for key, score in standing.scores.items()}
    for entry in entries:
        points = earned_points(entry)
        if points:
            for key in (ALL_TIME, month_key(entry.occurred_at)):
                totals[key] = totals.get(key, 0) + points
    writes = []
    for key, points in sorted(totals.items()):
        before = standing.scores.get(key)
        name = listed_name(standing.choice, points)
        if before is not None and before.points == points and before.listed_as == name:
            continue
        writes.append(
            ScoreWrite(
                standing.member_id,
                key,
                points,
                before.version if before is not None else None,
                name,
            )
        )
    return writes


# ---- the board (built by the refresher, read by the API) -----------------------------------


@dataclass(frozen=True, slots=True)
class Contender:
    """A listed score as the index gives it (the member id only breaks ties, never shown)."""

    member_id: str
    display_name: str
    points: int


@dataclass(frozen=True, slots=True)
class BoardRow:
    rank: int
    display_name: str
    points: int


@dataclass(frozen=True, slots=True)
class Board:
    period: Period
    period_start: datetime | None
    refreshed_at: datetime | None  # None: never refreshed yet
    rows: tuple[BoardRow, ...]

    def top(self, limit: int) -> Board:
        return Board(self.period, self.period_start, self.refreshed_at, self.rows[:limit])


def build_board(period: Period, contenders: Iterable[Contender], now: datetime) -> Board:
    """The best BOARD_SIZE scores: most points first; equal points share a rank (1, 2, 2, 4)
    and are listed by display name (then by a hidden, stable key), so the order is the same
    on every refresh."""
    unique = {contender.member_id: contender for contender in contenders}
    ordered = sorted(
        unique.values(),
        key=lambda c: (-c.points, c.display_name.casefold(), c.display_name, c.member_id),
    )[:BOARD_SIZE]
    rows: list[BoardRow] = []
    for position, contender in enumerate(ordered, start=1):
        tied = rows and rows[-1].points == contender.points
        rank = rows[-1].rank if tied else position
        rows.append(BoardRow(rank, contender.display_name, contender.points))
    return Board(
        period=period,
        period_start=month_start(now) if period == "month" else None,
        refreshed_at=now,
        rows=tuple(rows),
    )


def period_key_of(period: Period, now: datetime) -> str:
    """The scores a board is built from: all time, or the month of `now` (the refresher's
    clock: the month rolls over with the time it is given)."""
    return ALL_TIME if period == "all" else month_key(now)
