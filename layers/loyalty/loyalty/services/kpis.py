"""Program KPIs: the projector that keeps the aggregates from the table's stream, and the
report the operators read (a fixed, small read, never proportional to the members)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from loyalty.dal.events_bus import entry_fact, stream_attributes
from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.kpis import (
    MAX_ACTIONS,
    ActivityState,
    Counters,
    EntriesAlreadyCounted,
    EntriesProjection,
    EntryFact,
    KpiReport,
    MemberProjection,
    MemberSnapshot,
    build_report,
    first_reported_day,
    project_entries,
    project_member,
)
from loyalty.services import clock as wall_clock
from loyalty.services.retry import attempts

# Entries and members per transaction: a batch of the stream takes a few transactions on
# the aggregate items, not one per entry (see docs/design.md, "KPIs").
ENTRIES_PER_WRITE = 40
MEMBERS_PER_WRITE = 30


class KpiStore(Protocol):
    def activity_states(self, member_ids: Iterable[str]) -> dict[str, ActivityState]: ...

    def member_snapshot(self, member_id: str) -> MemberSnapshot: ...

    def read_aggregates(self, since: date) -> tuple[Counters, dict[date, Counters]]: ...

    def commit_entries(self, projection: EntriesProjection, now: datetime) -> None:
        """Raises EntriesAlreadyCounted or ConcurrentUpdate."""

    def commit_members(self, projections: Sequence[MemberProjection], now: datetime) -> None:
        """Raises ConcurrentUpdate."""


@dataclass(frozen=True, slots=True)
class ProjectionResult:
    entries_counted: int
    entries_seen_before: int
    members_changed: int


class KpiProjector:
    def __init__(self, store: KpiStore, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._clock = clock or (lambda: wall_clock.utc_now())

    def project_records(self, records: Sequence[Mapping[str, Any]]) -> ProjectionResult:
        """Stream records as Lambda delivers them: each inserted ledger entry counted, each
        changed member's contribution brought up to date (other items are skipped)."""
        entries: list[EntryFact] = []
        members: list[str] = []
        for record in records:
            change = record.get("dynamodb") or {}
            image = change.get("NewImage") or change.get("OldImage") or {}
            item_type = stream_attributes(image, "itemType").get("itemType")
            if item_type == "entry" and record.get("eventName") == "INSERT":
                entries.append(entry_fact(image))
            elif item_type == "member":
                members.append(str(stream_attributes(image, "memberId")["memberId"]))
        return self.project(entries, members)

    def project(self, entries: Sequence[EntryFact], member_ids: Sequence[str]) -> ProjectionResult:
        """Count the new entries (once each, however often delivered) and bring the
        contribution of the changed members up to date."""
        counted = seen = 0
        unique = list({entry.entry_id: entry for entry in entries}.values())
        for start in range(0, len(unique), ENTRIES_PER_WRITE):
            new, old = self._count(unique[start : start + ENTRIES_PER_WRITE])
            counted += new
            seen += old
        changed = 0
        distinct = list(dict.fromkeys(member_ids))
        for start in range(0, len(distinct), MEMBERS_PER_WRITE):
            changed += self._refresh(distinct[start : start + MEMBERS_PER_WRITE])
        return ProjectionResult(counted, seen, changed)

    def _count(self, entries: list[EntryFact]) -> tuple[int, int]:
        """(entries counted now, entries found counted before)."""
        seen = 0
        for _ in attempts():
            if not entries:
                return 0, seen
            projection = project_entries(
                entries, self._store.activity_states(e.member_id for e in entries)
            )
            if projection.actions > MAX_ACTIONS:
                # Many days or members in one chunk: halve it.
                half = len(entries) // 2
                first, second = self._count(entries[:half]), self._count(entries[half:])
                return first[0] + second[0], seen + first[1] + second[1]
            try:
                self._store.commit_entries(projection, self._clock())
            except EntriesAlreadyCounted as known:
                # A redelivery: drop what was counted before and write the rest.
                seen += len(known.entry_ids)
                entries = [e for e in entries if e.entry_id not in known.entry_ids]
                continue
            except ConcurrentUpdate:
                continue
            return len(entries), seen
        raise ConcurrentUpdate("the KPI aggregates kept changing")

    def _refresh(self, member_ids: list[str]) -> int:
        for _ in attempts():
            projections = [
                projection
                for projection in (
                    project_member(self._store.member_snapshot(member_id))
                    for member_id in member_ids
                )
                if projection is not None
            ]
            if not projections:
                return 0
            try:
                self._store.commit_members(projections, self._clock())
            except ConcurrentUpdate:
                continue
            return len(projections)
        raise ConcurrentUpdate("the members' KPI state kept changing")


class KpiService:
    def __init__(self, store: KpiStore, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._clock = clock or (lambda: wall_clock.utc_now())

    def report(self) -> KpiReport:
        now = self._clock()
        totals, days = self._store.read_aggregates(first_reported_day(now))
        return build_report(totals, days, now)
