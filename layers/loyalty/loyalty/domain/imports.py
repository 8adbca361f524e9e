"""Bulk import of members and opening balances (docs/import.md): the rows of a file (CSV or
JSON Lines, in this service's columns or mapped from another platform's export), each
validated on its own, and the pure planning of what one row writes and what its undo writes.

A row lands at most once: its key is the batch id and its row number (`RowKey`), written in
the same transaction as its points. Its points are an earning like any other
(`EarningBuilder`): one lot, earned at the row's date, expiring on the program's schedule;
an amount older than the program's expiry is expired on arrival, as a late order's is.

Lifetime points (the tier basis from the old program) raise `tierPoints` without adding
balance: the import's entry carries the extra basis in its details (`tierBasis`), so the
history still explains the tier basis (earned − reversed + imported basis)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from loyalty.domain.ledger import (
    EarningBuilder,
    LedgerEntry,
    LotReduction,
    MemberChange,
    MemberState,
    PointsLot,
    make_entry_id,
)
from loyalty.domain.members import (
    EnrollmentPlan,
    ProfileData,
    normalize_email,
    plan_enrollment,
)
from loyalty.domain.validation import MEMBER_ID_PATTERN

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules

ImportFormat = Literal["native", "smile", "loyaltylion"]
FORMATS: tuple[ImportFormat, ...] = ("native", "smile", "loyaltylion")
IMPORT_REASON = "import"
UNDO_REASON = "import-undone"
# The entry detail that carries tier basis added (or, negative, removed) beyond the entry's
# own points: the ledger model and docs/design.md's tier-basis invariant read it.
TIER_BASIS_DETAIL = "tierBasis"
BATCH_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$"
MAX_POINTS = 100_000_000

_EMAIL = r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+$"  # noqa: E501


class ImportRow(BaseModel):
    """One member's opening position, as this service's own columns name it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    member_id: Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)] = Field(
        alias="memberId"
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    email: Annotated[str, StringConstraints(max_length=254, pattern=_EMAIL)] | None = None
    birthday: date | None = None
    marketing_consent: bool | None = Field(default=None, alias="marketingConsent")
    points: int = Field(default=0, ge=0, le=MAX_POINTS)
    earned_at: datetime | None = Field(default=None, alias="earnedAt")
    lifetime_points: int | None = Field(default=None, ge=0, le=MAX_POINTS, alias="lifetimePoints")

    def tier_basis(self) -> int:
        """What the row adds to the tier basis: its lifetime points, else its points."""
        return self.lifetime_points if self.lifetime_points is not None else self.points


@dataclass(frozen=True, slots=True)
class ParsedRow:
    number: int  # 1-based among the file's data rows: the row's key in its batch
    line: int  # where the row starts in the file (1-based), for the report
    row: ImportRow
    earned_at: datetime


@dataclass(frozen=True, slots=True)
class InvalidRow:
    number: int
    line: int
    reason: str


class FileError(ValueError):
    """The file as a whole cannot be read (no header, not CSV nor JSON Lines)."""


# ---- reading a file ---------------------------------------------------------------------


def read_rows(
    text: str,
    fmt: ImportFormat = "native",
    *,
    now: datetime,
    default_earned_at: datetime | None = None,
) -> Iterator[ParsedRow | InvalidRow]:
    """Every data row of the file, valid or not, in file order. JSON Lines when the first
    non-blank character is `{`, else CSV with a header row. A row without an earned date
    takes `default_earned_at` (default: `now`); a date after `now` is refused."""
    stripped = text.lstrip("\ufeff \t\r\n")
    records = _json_lines(text) if stripped.startswith("{") else _csv_records(text)
    mapping = _MAPPINGS[fmt]
    for number, (line, record) in enumerate(records, start=1):
        if isinstance(record, str):
            yield InvalidRow(number, line, record)
            continue
        try:
            fields = mapping(record)
            row = ImportRow.model_validate(fields)
        except (ValidationError, ValueError) as error:
            yield InvalidRow(number, line, _reason(error))
            continue
        problem = _row_problem(row)
        if problem:
            yield InvalidRow(number, line, problem)
            continue
        earned_at = _utc(row.earned_at) if row.earned_at is not None else default_earned_at or now
        if earned_at > now:
            yield InvalidRow(number, line, "earnedAt: after the time of the import")
            continue
        yield ParsedRow(number, line, row, earned_at)


def _json_lines(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield line_number, f"not JSON: {error.msg}"
            continue
        if not isinstance(value, dict):
            yield line_number, "not a JSON object"
            continue
        yield line_number, value


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    line = 1
    for values in reader:
        start, line = line, reader.line_num + 1
        if not any(value.strip() for value in values):
            continue
        if header is None:
            header = [name.strip() for name in values]
            if len(set(header)) != len(header):
                raise FileError("the header row names a column twice")
            continue
        if len(values) != len(header):
            yield start, f"{len(values)} values for {len(header)} columns"
            continue
        yield (
            start,
            {
                name: value.strip()
                for name, value in zip(header, values, strict=True)
                if value.strip()
            },
        )
    if header is None:
        raise FileError("the file has no header row (CSV) and no JSON object (JSON Lines)")


# A failed pattern in words (pydantic's message names the regular expression).
_PATTERN_WORDS = {
    "memberId": "not a member id (1 to 64 letters, digits, '-', '_', '.' or '@')",
    "email": "not an email address",
}


def _reason(error: Exception) -> str:
    """Field names and reasons only: the values may be personal data."""
    if isinstance(error, ValidationError):
        problems = []
        for item in error.errors(include_url=False, include_input=False, include_context=False):
            field = ".".join(str(part) for part in item["loc"]) or "row"
            message = item["msg"]
            if item["type"] == "string_pattern_mismatch":
                message = _PATTERN_WORDS.get(field, "not in the expected format")
            elif item["type"] == "extra_forbidden":
                message = "not a column of this format (docs/import.md)"
            problems.append(f"{field}: {message}")
        return "; ".join(problems)
    return str(error)


def _row_problem(row: ImportRow) -> str | None:
    if row.lifetime_points is not None and row.lifetime_points < row.points:
        return "lifetimePoints: must be at least the row's points (they are part of it)"
    return None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---- platform mappings ----------------------------------------------------------------------


def _native(record: Mapping[str, Any]) -> dict[str, Any]:
    return dict(record)


def _name(first: Any, last: Any) -> str | None:
    name = " ".join(str(part).strip() for part in (first, last) if part and str(part).strip())
    return name or None


def _smile(record: Mapping[str, Any]) -> dict[str, Any]:
    """Smile.io's customer export (its customer object's fields, one column each): `id`,
    `first_name`, `last_name`, `email`, `state`, `date_of_birth` (year 1004: year unknown),
    `points_balance`, `created_at`. Smile's `id` is Smile's own: a `member_id` column, when
    added, names the storefront's customer instead."""
    state = str(record.get("state", "member")).strip().lower()
    if state == "disabled":
        raise ValueError("state: disabled in Smile.io (excluded from the program): not imported")
    member_id = record.get("member_id") or record.get("id")
    return _drop_none(
        {
            "memberId": member_id,
            "name": _name(record.get("first_name"), record.get("last_name")),
            "email": record.get("email"),
            "birthday": record.get("date_of_birth"),
            "points": record.get("points_balance", 0),
            "earnedAt": record.get("points_earned_at"),
        }
    )


_MONTH_DAY = re.compile(r"^(\d{1,2})[-/](\d{1,2})$")


def _loyaltylion(record: Mapping[str, Any]) -> dict[str, Any]:
    """LoyaltyLion's customer export: `merchant_id` (the storefront's customer id), `email`,
    `first_name`, `last_name`, `points_approved` (the spendable balance), `points_pending`
    (not imported: not yet approved there), `points_spent`, `enrolled_at`, `birthday`
    (`MM-DD`, or a full date), `state`. Lifetime points (the tier basis) are approved +
    pending + spent."""
    approved = _count(record.get("points_approved"), "points_approved")
    lifetime = (
        approved
        + _count(record.get("points_pending"), "points_pending")
        + _count(record.get("points_spent"), "points_spent")
    )
    birthday = record.get("birthday")
    if isinstance(birthday, str) and (match := _MONTH_DAY.match(birthday.strip())):
        # No year in the export: 1004, as Smile.io marks an unknown year (only the month counts).
        birthday = f"1004-{int(match.group(1)):02d}-{int(match.group(2)):02d}"
    return _drop_none(
        {
            "memberId": record.get("merchant_id"),
            "name": _name(record.get("first_name"), record.get("last_name")),
            "email": record.get("email"),
            "birthday": birthday,
            "points": approved,
            "lifetimePoints": lifetime,
            "earnedAt": record.get("points_earned_at"),
        }
    )


def _count(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}: not a whole number") from None
    if number < 0:
        raise ValueError(f"{name}: must not be negative")
    return number


def _drop_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value not in (None, "")}


_MAPPINGS = {"native": _native, "smile": _smile, "loyaltylion": _loyaltylion}


# ---- planning one row ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowKey:
    batch_id: str
    number: int

    @property
    def reference(self) -> str:
        return f"{self.batch_id}#{self.number}"


@dataclass(frozen=True, slots=True)
class ImportRowPlan:
    """What one row writes, in one transaction: its marker (`key`), the member's enrollment
    when the member is new (profile, email lock, schedules), the counters' change, the
    entries and the lot."""

    key: RowKey
    member_id: str
    enrollment: EnrollmentPlan | None
    change: MemberChange
    entries: tuple[LedgerEntry, ...]
    lots: tuple[PointsLot, ...]
    points: int
    tier_basis: int
    expired_on_arrival: int

    @property
    def created(self) -> bool:
        return self.enrollment is not None


def plan_import_row(
    rules: ProgramRules,
    member: MemberState | None,
    parsed: ParsedRow,
    batch_id: str,
    now: datetime,
) -> ImportRowPlan:
    """A new member is enrolled as POST /members would enroll them, with the row's personal
    fields; a known member's profile is left as it is (only points and tier basis change)."""
    row = parsed.row
    key = RowKey(batch_id, parsed.number)
    enrollment = None
    if member is None:
        profile = ProfileData(
            name=row.name,
            # Stored and locked as enrolment stores it (POST /members normalises it too).
            email=normalize_email(row.email) if row.email else None,
            birthday=row.birthday,
            marketing_consent=row.marketing_consent,
        )
        enrollment = plan_enrollment(
            rules, row.member_id, None, profile, referral_code=None, referral_owner=None, now=now
        )
        if enrollment.new_member is not None:
            enrollment = replace(
                enrollment, new_member=replace(enrollment.new_member, enrolled_by="import")
            )
    extra_basis = row.tier_basis() - row.points
    details = {"batchId": batch_id, "row": str(parsed.number)}
    if extra_basis:
        details[TIER_BASIS_DETAIL] = str(extra_basis)
    builder = EarningBuilder(rules, row.member_id, now)
    builder.earn(
        reason=IMPORT_REASON,
        points=row.points,
        occurred_at=parsed.earned_at,
        reference=key.reference,
        details=details,
    )
    entries = list(builder.entries)
    if row.points == 0 and extra_basis:
        # No points, only a tier basis: a zero-point entry keeps the history explaining it.
        entries.append(
            LedgerEntry(
                entry_id=make_entry_id(parsed.earned_at, key.reference, IMPORT_REASON),
                member_id=row.member_id,
                type="earn",
                reason=IMPORT_REASON,
                points=0,
                occurred_at=parsed.earned_at,
                reference=key.reference,
                details={**details, "rulesVersion": str(rules.version)},
            )
        )
    tier_points_before = member.tier_points if member else 0
    change = MemberChange(
        member_id=row.member_id,
        expected_version=member.version if member else None,
        expiry_due_before=member.expiry_due_at if member else None,
        tier=rules.tier_for(tier_points_before + row.tier_basis()),
        balance=builder.lot_points,
        lot_total=builder.lot_points,
        tier_points=row.tier_basis(),
        new_member=enrollment.new_member if enrollment is not None else None,
    )
    return ImportRowPlan(
        key=key,
        member_id=row.member_id,
        enrollment=enrollment,
        change=change,
        entries=tuple(entries),
        lots=tuple(builder.lots),
        points=row.points,
        tier_basis=row.tier_basis(),
        expired_on_arrival=row.points - builder.lot_points,
    )


# ---- undoing one row ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LandedRow:
    """What a row's marker records: enough to undo exactly its effect."""

    key: RowKey
    member_id: str
    points: int
    tier_basis: int
    lot_id: str | None
    lot_expires_at: datetime | None
    created_member: bool
    undone: bool = False


@dataclass(frozen=True, slots=True)
class UndoPlan:
    key: RowKey
    member_id: str
    change: MemberChange | None  # None: nothing to change (an erased member's row)
    entry: LedgerEntry | None
    reduction: LotReduction | None
    points_removed: int  # open points taken back
    debt: int  # spent points taken back: the balance goes that far below what it was
    tier_basis_removed: int


def plan_import_undo(
    rules: ProgramRules,
    member: MemberState | None,
    landed: LandedRow,
    lot: PointsLot | None,
    now: datetime,
) -> UndoPlan:
    """Take back exactly the row's effect, as a refund reverses an order's lot: its points
    still open are removed, the ones already spent become debt (later earnings pay it
    first), the ones the expiry job already expired stay expired. The whole tier basis the
    row added is removed. An erased member's account is closed: nothing changes."""
    if member is None or member.erased:
        return UndoPlan(landed.key, landed.member_id, None, None, None, 0, 0, 0)
    taken = max(lot.reversible, 0) if lot is not None else 0
    reduction = LotReduction.of(lot, taken) if lot is not None and taken else None
    spendable = taken if reduction is not None and not reduction.pending else 0
    settled = taken if reduction is not None and reduction.settled else 0
    open_before = max(member.balance, 0)
    balance_after = member.balance - spendable
    debt = max(0, -balance_after) - max(0, -member.balance)
    removed_open = min(spendable, open_before)
    extra = landed.tier_basis - taken
    details = {"batchId": landed.key.batch_id, "row": str(landed.key.number)}
    if extra:
        details[TIER_BASIS_DETAIL] = str(-extra)
    entry = None
    if taken or extra:
        entry = LedgerEntry(
            entry_id=make_entry_id(now, landed.key.reference, UNDO_REASON),
            member_id=landed.member_id,
            type="reverse",
            reason=UNDO_REASON,
            points=-taken,
            occurred_at=now,
            reference=landed.key.reference,
            details=details,
        )
    change = MemberChange(
        member_id=landed.member_id,
        expected_version=member.version,
        expiry_due_before=member.expiry_due_at,
        tier=rules.tier_for(member.tier_points - landed.tier_basis),
        balance=-spendable,
        lot_total=-spendable,
        settled_earned=-settled,
        tier_points=-landed.tier_basis,
        pending_points=-(taken - spendable) if reduction is not None else 0,
    )
    return UndoPlan(
        landed.key,
        landed.member_id,
        change,
        entry,
        reduction,
        removed_open,
        max(debt, 0),
        landed.tier_basis,
    )


def tier_basis_of(entries: Iterable[LedgerEntry]) -> int:
    """The tier basis entries carry beyond their points (imported lifetime points)."""
    return sum(int(entry.details.get(TIER_BASIS_DETAIL, "0")) for entry in entries)
