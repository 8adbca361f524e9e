"""Bulk import of members and opening balances, and its undo (docs/import.md).

Each row is planned by the domain (`plan_import_row`) and written in one transaction with its
marker, so a row lands at most once whatever happens: an import killed halfway and run again
with the same batch id skips the rows that landed (one Query of the batch's markers up front)
and writes the others. An undo takes back exactly the batch's rows, once each, resumable the
same way. A dry run reads what it needs (the batch's markers, the members, the email locks)
and writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from loyalty.domain.errors import ConcurrentUpdate, DuplicateEvent, EmailTaken
from loyalty.domain.imports import (
    InvalidRow,
    LandedRow,
    ParsedRow,
    UndoPlan,
    plan_import_row,
    plan_import_undo,
)
from loyalty.domain.ledger import member_after
from loyalty.domain.members import normalize_email
from loyalty.domain.ports import ImportStore
from loyalty.services.base import RulesService
from loyalty.services.retry import attempts

if TYPE_CHECKING:
    from loyalty.domain.ledger import MemberState
    from loyalty.domain.rules import ProgramRules

# Rows read and written per round and worker: one BatchGetItem of their members (100 keys),
# then a transaction each.
CHUNK_ROWS = 100

Progress = Callable[[int], None]


@dataclass(slots=True)
class ImportReport:
    batch_id: str
    dry_run: bool
    rows: int = 0
    imported: int = 0  # landed by this run (or, in a dry run, would land)
    already_landed: int = 0  # skipped: landed by an earlier run of the batch
    members_created: int = 0
    points: int = 0  # opening points of the rows imported
    expired_on_arrival: int = 0  # of those, older than the program's expiry
    tier_basis: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)


@dataclass(slots=True)
class UndoReport:
    batch_id: str
    dry_run: bool
    rows: int = 0  # rows of the batch that had landed
    undone: int = 0  # undone by this run (or, in a dry run, would be)
    already_undone: int = 0
    points_removed: int = 0  # open points taken back
    debt: int = 0  # spent points taken back: balances went that far below zero
    tier_basis_removed: int = 0
    erased_members: int = 0  # rows of erased members: nothing to take back
    members_created: list[str] = field(default_factory=list)  # they stay enrolled


@dataclass(frozen=True, slots=True)
class _Landed:
    points: int
    expired_on_arrival: int
    tier_basis: int
    created: bool


# What became of one row written: landed now, landed before (another run), or refused.
_Outcome = _Landed | InvalidRow | None


class ImportService(RulesService[ImportStore]):
    """`workers` rows are written at a time (threads; one member's rows always by the same
    thread, in file order): a transaction's round trip, not the CPU, bounds one writer."""

    def __init__(
        self,
        store: ImportStore,
        rules: Callable[[], ProgramRules],
        clock: Callable[[], datetime] | None = None,
        *,
        workers: int = 1,
    ) -> None:
        super().__init__(store, rules, clock)
        self._workers = max(1, workers)

    def run(
        self,
        batch_id: str,
        rows: Iterable[ParsedRow | InvalidRow],
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        report = ImportReport(batch_id, dry_run)
        landed = set(self._store.landed_rows(batch_id))
        # A dry run remembers what earlier rows of the file would have done.
        created: set[str] = set()
        claimed: dict[str, str] = {}
        size = CHUNK_ROWS * self._workers
        chunk: list[ParsedRow | InvalidRow] = []
        with ThreadPoolExecutor(self._workers, thread_name_prefix="import") as pool:
            for row in rows:
                chunk.append(row)
                if len(chunk) == size:
                    self._chunk(report, chunk, landed, created, claimed, pool)
                    if progress:
                        progress(len(chunk))
                    chunk = []
            if chunk:
                self._chunk(report, chunk, landed, created, claimed, pool)
                if progress:
                    progress(len(chunk))
        report.invalid.sort(key=lambda row: row.number)
        return report

    def _chunk(
        self,
        report: ImportReport,
        chunk: list[ParsedRow | InvalidRow],
        landed: set[int],
        created: set[str],
        claimed: dict[str, str],
        pool: ThreadPoolExecutor,
    ) -> None:
        report.rows += len(chunk)
        todo: list[ParsedRow] = []
        for row in chunk:
            if isinstance(row, InvalidRow):
                report.invalid.append(row)
            elif row.number in landed:
                report.already_landed += 1
            else:
                todo.append(row)
        if not todo:
            return
        members = self._store.get_members(row.row.member_id for row in todo)
        if report.dry_run:
            self._rehearse(report, todo, members, created, claimed)
            return
        lanes: dict[int, list[ParsedRow]] = {}
        for row in todo:
            lanes.setdefault(hash(row.row.member_id) % self._workers, []).append(row)
        batch_id = report.batch_id
        for outcomes in pool.map(lambda lane: self._lane(batch_id, lane, members), lanes.values()):
            for outcome in outcomes:
                if isinstance(outcome, InvalidRow):
                    report.invalid.append(outcome)
                elif outcome is None:
                    report.already_landed += 1  # landed meanwhile by another run of the batch
                else:
                    _count(
                        report,
                        outcome.points,
                        outcome.expired_on_arrival,
                        outcome.tier_basis,
                        outcome.created,
                    )

    def _lane(
        self, batch_id: str, rows: list[ParsedRow], members: dict[str, MemberState]
    ) -> list[_Outcome]:
        """One thread's rows, in file order."""
        written: set[str] = set()
        return [self._land(batch_id, row, members, written) for row in rows]

    def _land(
        self,
        batch_id: str,
        row: ParsedRow,
        members: dict[str, MemberState],
        written: set[str],
    ) -> _Outcome:
        member_id = row.row.member_id
        member = members.get(member_id)
        for attempt in attempts():
            if attempt or member_id in written:
                # The chunk's read is stale: a race lost, or an earlier row of this member.
                member = self._store.get_member(member_id)
            if member is not None and member.erased:
                return _refused(row, "the member was erased at their request")
            now = self._clock()
            plan = plan_import_row(self._rules(), member, row, batch_id, now)
            try:
                self._store.commit_import_row(plan, now)
            except ConcurrentUpdate:
                continue
            except DuplicateEvent:
                return None
            except EmailTaken:
                return _refused(row, "email: belongs to another member")
            written.add(member_id)
            return _Landed(plan.points, plan.expired_on_arrival, plan.tier_basis, plan.created)
        raise ConcurrentUpdate(f"member '{member_id}' kept changing during the import")

    def _rehearse(
        self,
        report: ImportReport,
        todo: list[ParsedRow],
        members: dict[str, MemberState],
        created: set[str],
        claimed: dict[str, str],
    ) -> None:
        new_emails = {
            normalize_email(row.row.email)
            for row in todo
            if row.row.email and row.row.member_id not in members
        }
        owners = self._store.email_owners(new_emails) if new_emails else {}
        now = self._clock()
        rules = self._rules()
        for row in todo:
            member_id = row.row.member_id
            member = members.get(member_id)
            if member is not None and member.erased:
                report.invalid.append(_refused(row, "the member was erased at their request"))
                continue
            creates = member is None and member_id not in created
            if creates and row.row.email:
                email = normalize_email(row.row.email)
                owner = claimed.get(email) or owners.get(email)
                if owner not in (None, member_id):
                    report.invalid.append(_refused(row, "email: belongs to another member"))
                    continue
                claimed[email] = member_id
            plan = plan_import_row(rules, member, row, report.batch_id, now)
            if creates:
                created.add(member_id)
            _count(report, plan.points, plan.expired_on_arrival, plan.tier_basis, creates)

    # ---- undo ----------------------------------------------------------------------------

    def undo(
        self, batch_id: str, *, dry_run: bool = False, progress: Progress | None = None
    ) -> UndoReport:
        """Every landed row of the batch not yet undone, `workers` at a time (a member's rows
        by one worker, in row order)."""
        report = UndoReport(batch_id, dry_run)
        # A dry run writes nothing, so a member's next row is planned against the member as
        # the rows before it would leave them (their debt adds up as the real run's would).
        # A member's rows are all in one lane, so no two threads touch one member's state.
        planned: dict[str, MemberState] | None = {} if dry_run else None
        rows = sorted(self._store.landed_rows(batch_id).values(), key=_number)
        size = CHUNK_ROWS * self._workers
        with ThreadPoolExecutor(self._workers, thread_name_prefix="undo") as pool:
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                lanes: dict[int, list[LandedRow]] = {}
                for landed in chunk:
                    report.rows += 1
                    if landed.created_member:
                        report.members_created.append(landed.member_id)
                    if landed.undone:
                        report.already_undone += 1
                    else:
                        lanes.setdefault(hash(landed.member_id) % self._workers, []).append(landed)
                for plans in pool.map(
                    lambda lane: [self._undo_row(landed, planned) for landed in lane],
                    lanes.values(),
                ):
                    for plan in plans:
                        if plan is None:
                            report.already_undone += 1  # undone meanwhile by another run
                            continue
                        report.undone += 1
                        report.points_removed += plan.points_removed
                        report.debt += plan.debt
                        report.tier_basis_removed += plan.tier_basis_removed
                        report.erased_members += plan.change is None
                if progress:
                    progress(len(chunk))
        return report

    def _undo_row(
        self, landed: LandedRow, planned: dict[str, MemberState] | None
    ) -> UndoPlan | None:
        """Undoes the row, or with `planned` (a dry run) only plans it, against and into
        the members planned so far."""
        for _ in attempts():
            now = self._clock()
            member = (planned or {}).get(landed.member_id) or self._store.get_member(
                landed.member_id
            )
            lot = (
                self._store.get_lot(landed.member_id, landed.lot_id, landed.lot_expires_at)
                if landed.lot_id and landed.lot_expires_at
                else None
            )
            plan = plan_import_undo(self._rules(), member, landed, lot, now)
            if planned is not None:
                if member is not None and plan.change is not None:
                    planned[landed.member_id] = member_after(member, plan.change)
                return plan
            try:
                self._store.commit_import_undo(plan, now)
            except ConcurrentUpdate:
                continue
            except DuplicateEvent:
                return None
            return plan
        raise ConcurrentUpdate(f"member '{landed.member_id}' kept changing during the undo")


def _refused(row: ParsedRow, reason: str) -> InvalidRow:
    return InvalidRow(row.number, row.line, reason)


def _count(report: ImportReport, points: int, expired: int, basis: int, created: bool) -> None:
    report.imported += 1
    report.points += points
    report.expired_on_arrival += expired
    report.tier_basis += basis
    report.members_created += created


def _number(landed: LandedRow) -> int:
    return landed.key.number
