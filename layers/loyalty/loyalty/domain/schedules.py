"""When a member is next due for a daily job: the birthday bonus (once per calendar year, any
day of the birthday month) and tenure milestones (2 months as a member by default). Each
member has one schedule item per job in a sparse index sorted by that instant, so a job reads
only the members due, and a missed run is caught up by the next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from loyalty.domain.calendar import add_months

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules

ScheduledJob = Literal["birthday", "tenure"]


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """Put the member's schedule item for `job` at `due_at` (with `step`: the tenure months
    awaited), or delete it when `due_at` is None."""

    job: ScheduledJob
    due_at: datetime | None
    step: int | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    job: ScheduledJob
    due_at: datetime
    step: int | None = None


def birthday_due(birthday: date, now: datetime) -> datetime:
    """Now, in the birthday month; otherwise the start of the next birthday month."""
    if now.month == birthday.month:
        return now
    year = now.year if birthday.month > now.month else now.year + 1
    return datetime(year, birthday.month, 1, tzinfo=UTC)


def tenure_schedule(
    rules: ProgramRules, enrolled_at: datetime, after_months: int = 0
) -> ScheduleChange:
    """The next tenure milestone after `after_months`, or no schedule when none is left."""
    upcoming = sorted(m.months for m in rules.tenure_milestones if m.months > after_months)
    if not upcoming:
        return ScheduleChange("tenure", None)
    return ScheduleChange("tenure", add_months(enrolled_at, upcoming[0]), upcoming[0])
