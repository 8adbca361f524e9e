"""Calendar arithmetic for program rules. Every rule works on UTC dates (contract)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused because they are ambiguous."""
    if moment.tzinfo is None:
        raise ValueError("datetime must carry a timezone")
    return moment.astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time `months` calendar months later, clamped to the month's last day
    (2026-01-31 + 1 month = 2026-02-28)."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def thanksgiving(year: int) -> date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3)


def black_friday(year: int) -> date:
    """The day after US Thanksgiving (2026-11-27)."""
    return thanksgiving(year) + timedelta(days=1)


def cyber_monday(year: int) -> date:
    """The Monday after Black Friday (2026-11-30)."""
    return black_friday(year) + timedelta(days=3)


def format_instant(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, millisecond precision only when needed."""
    moment = utc(moment)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """Inverse of `format_instant` (accepts any ISO 8601 instant with an offset)."""
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
