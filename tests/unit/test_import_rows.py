"""Reading an import file and planning its rows (loyalty/domain/imports.py, docs/import.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from loyalty.domain.imports import (
    FileError,
    InvalidRow,
    LandedRow,
    ParsedRow,
    RowKey,
    plan_import_row,
    plan_import_undo,
    read_rows,
    tier_basis_of,
)
from loyalty.domain.ledger import MemberState
from loyalty.domain.rules import ProgramRules

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)
RULES = ProgramRules()


def rows(text: str, fmt: str = "native") -> list[ParsedRow | InvalidRow]:
    return list(read_rows(text, fmt, now=NOW))  # type: ignore[arg-type]


def test_csv_rows_are_numbered_by_position_and_located_by_line():
    read = rows('memberId,points\n\nc-1,10\nc-2,x\n"c-3",5\n')
    assert [(r.number, r.line) for r in read] == [(1, 3), (2, 4), (3, 5)]
    assert isinstance(read[1], InvalidRow)
    assert read[1].reason.startswith("points:")


def test_json_lines_report_a_broken_line_and_go_on():
    read = rows('{"memberId": "c-1", "points": 1}\nnot json\n{"memberId": "c 2"}\n')
    assert isinstance(read[0], ParsedRow)
    assert isinstance(read[1], InvalidRow) and read[1].reason.startswith("not JSON")
    assert isinstance(read[2], InvalidRow)
    assert read[2].reason.startswith("memberId: not a member id")


def test_an_unknown_column_makes_the_row_invalid():
    (row,) = rows("memberId,earnedAT\nc-1,2026-01-01\n")
    assert isinstance(row, InvalidRow)
    assert row.reason == "earnedAT: not a column of this format (docs/import.md)"


def test_a_file_without_a_header_or_with_a_doubled_column_is_refused():
    with pytest.raises(FileError):
        rows("\n\n")
    with pytest.raises(FileError):
        rows("memberId,memberId\nc-1,c-1\n")


def test_smile_rows_map_and_a_disabled_customer_is_not_imported():
    read = rows(
        "id,first_name,last_name,email,state,date_of_birth,points_balance\n"
        "7,Fern,Lind,fern@example.com,member,1004-05-27,640\n"
        "8,Gus,,gus@example.com,disabled,,10\n",
        "smile",
    )
    first = read[0]
    assert isinstance(first, ParsedRow)
    assert (first.row.member_id, first.row.name, first.row.points) == ("7", "Fern Lind", 640)
    assert first.row.birthday is not None and first.row.birthday.month == 5
    assert isinstance(read[1], InvalidRow) and "disabled" in read[1].reason


def test_loyaltylion_lifetime_points_are_approved_pending_and_spent():
    (row,) = rows(
        "merchant_id,email,points_approved,points_pending,points_spent,birthday\n"
        "1001,ivy@example.com,500,200,500,06-22\n",
        "loyaltylion",
    )
    assert isinstance(row, ParsedRow)
    assert (row.row.points, row.row.lifetime_points) == (500, 1200)
    assert row.row.birthday is not None and (row.row.birthday.month, row.row.birthday.day) == (
        6,
        22,
    )


def parsed(points: int, earned: datetime, lifetime: int | None = None) -> ParsedRow:
    (row,) = rows(
        "memberId,points,earnedAt,lifetimePoints\n"
        f"c-1,{points},{earned.isoformat()},{'' if lifetime is None else lifetime}\n"
    )
    assert isinstance(row, ParsedRow)
    return row


def test_a_new_members_row_enrolls_them_and_earns_a_lot_on_the_programs_schedule():
    plan = plan_import_row(
        RULES, None, parsed(300, datetime(2026, 6, 1, tzinfo=UTC), 900), "b", NOW
    )
    assert plan.created and plan.change.new_member is not None
    assert plan.change.new_member.enrolled_by == "import"
    assert [lot.expires_at for lot in plan.lots] == [datetime(2027, 6, 1, tzinfo=UTC)]
    assert (plan.change.balance, plan.change.tier_points, plan.expired_on_arrival) == (300, 900, 0)
    assert tier_basis_of(plan.entries) + sum(e.points for e in plan.entries) == 900


def test_points_older_than_the_expiry_expire_on_arrival():
    plan = plan_import_row(RULES, None, parsed(300, datetime(2025, 6, 1, tzinfo=UTC)), "b", NOW)
    assert plan.lots == ()
    assert [(e.type, e.points) for e in plan.entries] == [("earn", 300), ("expire", -300)]
    assert (plan.change.balance, plan.change.tier_points, plan.expired_on_arrival) == (0, 300, 300)


def member(balance: int, tier_points: int) -> MemberState:
    return MemberState(
        member_id="c-1",
        enrolled_at=NOW,
        version=3,
        balance=balance,
        pending_points=0,
        tier_points=tier_points,
        tier="Bronze",
        lot_total=1200,
        debited=1200 - balance,
        settled_earned=0,
        order_count=0,
        referral_code="ABCDEFGH",
    )


def test_an_undo_removes_open_points_and_makes_spent_ones_debt():
    plan = plan_import_row(
        RULES, None, parsed(1200, datetime(2026, 11, 1, tzinfo=UTC), 6000), "b", NOW
    )
    (lot,) = plan.lots
    landed = LandedRow(RowKey("b", 1), "c-1", 1200, 6000, lot.lot_id, lot.expires_at, True)
    undo = plan_import_undo(RULES, member(200, 6000), landed, lot, NOW)
    assert (undo.points_removed, undo.debt, undo.tier_basis_removed) == (200, 1000, 6000)
    assert undo.change is not None and undo.change.balance == -1200
    assert undo.entry is not None and (undo.entry.type, undo.entry.points) == ("reverse", -1200)
    assert tier_basis_of([undo.entry]) == -4800
    # The expired part of a settled lot stays expired: only the spent part is taken back.
    settled = replace(lot, settled=True, expired_points=700)
    undo = plan_import_undo(RULES, member(0, 6000), landed, settled, NOW)
    assert (undo.points_removed, undo.debt) == (0, 500)
    assert undo.change is not None and undo.change.settled_earned == -500
