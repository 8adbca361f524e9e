"""The leaderboard (docs/leaderboard.md): the projector that keeps each member's points earned
per period from the table's stream, the refresher that builds the boards from the best scores
every minute, and the board the API reads (one GetItem, whatever the number of members)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from loyalty.dal.events_bus import entry_fact, stream_attributes
from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.kpis import EntriesAlreadyCounted, EntryFact
from loyalty.domain.leaderboard import (
    PERIODS,
    Board,
    Contender,
    MemberStanding,
    Period,
    ScoreWrite,
    build_board,
    earned_points,
    month_start,
    period_key_of,
    project_member,
)
from loyalty.services import clock as wall_clock
from loyalty.services.retry import attempts

# Entries of one member per transaction (a marker each, plus a few scores): well under
# DynamoDB's 100 actions.
ENTRIES_PER_WRITE = 40
# The profile attributes whose change moves a member on or off the board.
CHOICE_ATTRIBUTES = ("leaderboardOptIn", "leaderboardName", "erasedAt")


class LeaderboardStore(Protocol):
    def standing(self, member_id: str) -> MemberStanding: ...

    def commit_scores(
        self,
        member_id: str,
        entry_ids: Sequence[str],
        writes: Sequence[ScoreWrite],
        now: datetime,
    ) -> None:
        """Raises EntriesAlreadyCounted or ConcurrentUpdate."""

    def contenders(self, period_key: str) -> list[Contender]: ...

    def save_board(self, board: Board) -> bool: ...

    def board(self, period: Period) -> Board | None: ...


@dataclass(frozen=True, slots=True)
class ProjectionResult:
    entries_counted: int
    entries_seen_before: int
    members_changed: int


class LeaderboardProjector:
    def __init__(
        self, store: LeaderboardStore, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._store = store
        self._clock = clock or (lambda: wall_clock.utc_now())

    def project_records(self, records: Sequence[Mapping[str, Any]]) -> ProjectionResult:
        """Stream records as Lambda delivers them: each inserted ledger entry that earns or
        reverses points counted once for its member, and each member whose leaderboard choice
        (or erasure) changed re-listed; anything else is skipped."""
        entries: dict[str, list[EntryFact]] = {}
        changed: list[str] = []
        for record in records:
            change = record.get("dynamodb") or {}
            new = change.get("NewImage") or {}
            old = change.get("OldImage") or {}
            item_type = stream_attributes(new or old, "itemType").get("itemType")
            if item_type == "entry" and record.get("eventName") == "INSERT":
                fact = entry_fact(new)
                if earned_points(fact):
                    entries.setdefault(fact.member_id, []).append(fact)
            elif item_type == "member" and stream_attributes(
                new, *CHOICE_ATTRIBUTES
            ) != stream_attributes(old, *CHOICE_ATTRIBUTES):
                changed.append(str(stream_attributes(new or old, "memberId")["memberId"]))
        counted = seen = members = 0
        for member_id in dict.fromkeys([*entries, *changed]):
            new_count, old_count, wrote = self.project(member_id, entries.get(member_id, []))
            counted += new_count
            seen += old_count
            members += wrote
        return ProjectionResult(counted, seen, members)

    def project(self, member_id: str, entries: Sequence[EntryFact]) -> tuple[int, int, bool]:
        """Count the member's new entries (once each, however often delivered) and list the
        scores as the member's choice says: (entries counted, entries seen before, whether
        anything was written)."""
        unique = list({entry.entry_id: entry for entry in entries}.values())
        counted = seen = 0
        wrote = False
        chunks = [
            unique[i : i + ENTRIES_PER_WRITE] for i in range(0, len(unique), ENTRIES_PER_WRITE)
        ]
        for chunk in chunks or [[]]:
            new, old, written = self._commit(member_id, chunk)
            counted += new
            seen += old
            wrote = wrote or written
        return counted, seen, wrote

    def _commit(self, member_id: str, entries: list[EntryFact]) -> tuple[int, int, bool]:
        seen = 0
        for _ in attempts():
            standing = self._store.standing(member_id)
            writes = project_member(standing, entries)
            if not writes and not entries:
                return 0, seen, False
            try:
                self._store.commit_scores(
                    member_id, [e.entry_id for e in entries], writes, self._clock()
                )
            except EntriesAlreadyCounted as known:
                # A redelivery: drop what was counted before and write the rest.
                seen += len(known.entry_ids)
                entries = [e for e in entries if e.entry_id not in known.entry_ids]
                continue
            except ConcurrentUpdate:
                continue
            return len(entries), seen, True
        raise ConcurrentUpdate("the member's leaderboard scores kept changing")


class LeaderboardRefresher:
    def __init__(self, store: LeaderboardStore) -> None:
        self._store = store

    def refresh(self, now: datetime) -> list[Board]:
        """Both boards from the best scores, as of `now` (the scheduled event's time: the
        month rolls over by it, never by the wall clock). A run older than the last one
        changes nothing."""
        boards = []
        for period in PERIODS:
            board = build_board(period, self._store.contenders(period_key_of(period, now)), now)
            if self._store.save_board(board):
                boards.append(board)
        return boards


class LeaderboardService:
    def __init__(
        self, store: LeaderboardStore, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._store = store
        self._clock = clock or (lambda: wall_clock.utc_now())

    def board(self, period: Period, limit: int) -> Board:
        """The top `limit` of the board as last refreshed (an empty board before the first
        refresh)."""
        board = self._store.board(period)
        if board is None:
            start = month_start(self._clock()) if period == "month" else None
            return Board(period, start, None, ())
        return board.top(limit)
