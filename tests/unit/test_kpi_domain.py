"""The KPIs' pure part: what entries and member changes add to the aggregates, and the
report built from them (no I/O)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from loyalty.domain.kpis import (
    ActivityState,
    EntryFact,
    MemberSnapshot,
    build_report,
    contribution_of,
    project_entries,
    project_member,
)
from loyalty.domain.ledger import MemberState, PointsLot

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)


def entry(entry_id, points, kind="earn", member_id="c-1", at="2026-12-01T10:00:00Z"):
    occurred = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return EntryFact(entry_id, member_id, kind, points, occurred)


def member(**changes):
    base = MemberState(
        member_id="c-1",
        enrolled_at=datetime(2026, 3, 5, tzinfo=UTC),
        version=3,
        balance=0,
        pending_points=0,
        tier_points=0,
        tier="Bronze",
        lot_total=0,
        debited=0,
        settled_earned=0,
        order_count=0,
        referral_code="ABCDEFGH",
    )
    return replace(base, **changes)


def lot(lot_id, points, expires, *, pending=False, settled=False):
    expires_at = datetime.fromisoformat(expires).replace(tzinfo=UTC)
    return PointsLot(
        lot_id=lot_id,
        member_id="c-1",
        points=points,
        original_points=points,
        earned_at=expires_at - timedelta(days=365),
        expires_at=expires_at,
        reason="purchase",
        reference="o-1",
        settled=settled,
        available_at=expires_at - timedelta(days=300) if pending else None,
    )


# ---- entries --------------------------------------------------------------------------------


def test_each_entry_type_adds_the_contract_figures():
    projection = project_entries(
        [
            entry("e1", 1000),
            entry("e2", -500, "redeem"),
            entry("e3", -200, "expire"),
            entry("e4", -100, "reverse"),
            entry("e5", 50, "adjust"),
            entry("e6", -30, "adjust"),
        ],
        {},
    )
    assert projection.totals == {
        "issued": 1050,  # every positive entry, earned or adjusted
        "redeemed": 500,
        "expired": 200,
        "outstanding": 1000 - 500 - 200 - 100 + 50 - 30,
    }
    assert projection.days[date(2026, 12, 1)] == {
        "issued": 1050,
        "redeemed": 500,
        "expired": 200,
        "lastActive": 1,
    }


def test_a_voided_coupon_lowers_the_points_redeemed_and_issues_nothing():
    projection = project_entries(
        [
            entry("e1", 2000),
            entry("e2", -1000, "redeem"),
            entry("e3", 1000, "redeem"),  # the coupon voided: its points back
            entry("e4", -300, "expire"),  # of which some had expired since
        ],
        {},
    )
    assert projection.totals == {
        "issued": 2000,
        "redeemed": 0,
        "expired": 300,
        "outstanding": 1700,
    }


def test_an_entry_delivered_twice_in_one_batch_counts_once():
    projection = project_entries([entry("e1", 100), entry("e1", 100)], {})
    assert projection.totals["issued"] == 100
    assert len(projection.entries) == 1


def test_a_member_is_counted_on_the_day_of_its_last_activity_only():
    state = {"c-1": ActivityState(last_active=date(2026, 11, 20))}
    later = project_entries([entry("e1", 100, at="2026-12-02T09:00:00Z")], state)
    assert later.days[date(2026, 11, 20)] == {"lastActive": -1}
    assert later.days[date(2026, 12, 2)]["lastActive"] == 1
    assert [(m.before.last_active, m.after) for m in later.moves] == [
        (date(2026, 11, 20), date(2026, 12, 2))
    ]

    # A late entry dated before the last activity moves nothing.
    earlier = project_entries([entry("e2", 100, at="2026-11-01T09:00:00Z")], state)
    assert earlier.moves == ()
    assert "lastActive" not in earlier.days[date(2026, 11, 1)]


def test_an_expiry_is_not_activity_and_a_closed_account_is_not_counted():
    expired = project_entries([entry("e1", -10, "expire")], {})
    assert expired.moves == ()
    assert "lastActive" not in expired.days[date(2026, 12, 1)]

    closed = {"c-1": ActivityState(last_active=date(2026, 11, 1), closed=True)}
    projection = project_entries([entry("e2", 10)], closed)
    assert [m.after for m in projection.moves] == [date(2026, 12, 1)]
    assert date(2026, 11, 1) not in projection.days
    assert "lastActive" not in projection.days[date(2026, 12, 1)]


# ---- members ---------------------------------------------------------------------------------


def test_unspent_points_by_expiry_month_spend_the_soonest_expiring_first():
    lots = [
        lot("a", 300, "2027-01-15"),
        lot("b", 500, "2027-01-31"),
        lot("c", 400, "2027-03-01"),
        lot("d", 250, "2027-04-01", pending=True),  # held: owed in full
        lot("z", 900, "2026-11-01", settled=True),  # expired and settled: gone
    ]
    # 900 settled; 1100 debited: 200 beyond the settled lot, taken from January first.
    counted = contribution_of(member(tier="Silver", settled_earned=900, debited=1100), lots)
    assert counted == {
        "members": 1,
        "tier#Silver": 1,
        "enrolled#2026-03": 1,
        "expiring#2027-01": 100 + 500,
        "expiring#2027-03": 400,
        "expiring#2027-04": 250,
    }


def test_an_erased_member_keeps_only_its_enrollment():
    erased = member(tier="Gold", erased_at=NOW, debited=300)
    assert contribution_of(erased, [lot("a", 300, "2027-01-15")]) == {"enrolled#2026-03": 1}


def test_a_member_change_moves_the_totals_by_the_difference_once():
    before = {"members": 1, "tier#Bronze": 1, "enrolled#2026-03": 1, "expiring#2027-01": 300}
    snapshot = MemberSnapshot(
        "c-1",
        member(tier="Silver", debited=100),
        (lot("a", 300, "2027-01-15"), lot("b", 1000, "2027-02-01")),
        counted=before,
        version=4,
    )
    projection = project_member(snapshot)
    assert projection is not None
    assert projection.totals == {
        "tier#Bronze": -1,
        "tier#Silver": 1,
        "expiring#2027-01": -100,
        "expiring#2027-02": 1000,
    }
    assert projection.expected_version == 4

    # Replayed once applied: nothing left to change.
    assert project_member(replace(snapshot, counted=projection.counted)) is None


def test_erasure_takes_the_member_out_of_its_last_activity_day():
    snapshot = MemberSnapshot(
        "c-1",
        member(erased_at=NOW),
        (),
        counted={"members": 1, "tier#Bronze": 1, "enrolled#2026-03": 1},
        version=2,
        activity=ActivityState(last_active=date(2026, 12, 9)),
    )
    projection = project_member(snapshot)
    assert projection is not None
    assert projection.totals == {"members": -1, "tier#Bronze": -1}
    assert projection.days == {date(2026, 12, 9): {"lastActive": -1}}
    assert projection.closed


# ---- the report --------------------------------------------------------------------------------


def test_the_report_zero_fills_90_days_oldest_first_and_counts_active_windows():
    days = {
        date(2026, 12, 10): {"issued": 100, "lastActive": 2},
        date(2026, 11, 11): {"redeemed": 50, "lastActive": 1},  # 30th day back: in both
        date(2026, 11, 10): {"expired": 7, "lastActive": 4},  # 31st day back: 90 only
        date(2026, 9, 12): {"issued": 1, "lastActive": 8},  # 90th day back
    }
    report = build_report(
        {"issued": 1000, "redeemed": 250, "expiring#2027-01": 0, "expiring#2027-02": 5},
        days,
        NOW,
    )
    assert len(report.daily) == 90
    assert report.daily[0].day == date(2026, 9, 12)
    assert report.daily[-1].day == date(2026, 12, 10)
    assert (report.daily[-1].issued, report.daily[-1].redeemed) == (100, 0)
    assert sum(d.expired for d in report.daily) == 7
    assert report.active_members == {"days30": 3, "days90": 15}
    assert report.redemption_rate == 0.25
    assert report.outstanding_by_expiry_month == {"2027-02": 5}
    assert report.members_by_tier == {"Bronze": 0, "Silver": 0, "Gold": 0}


def test_the_redemption_rate_is_zero_when_nothing_was_issued():
    assert build_report({}, {}, NOW).redemption_rate == 0
