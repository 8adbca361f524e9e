"""The wall clock, in one place: services read it through this module at call time, so a
test or a replay tool pins "now" for all of them at once (scheduled jobs never use it:
they take the schedule's time)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
