"""The leaderboard's pure part: the display name rules, points earned per period, the scores
to write, and the board's ranks (no I/O)."""

from datetime import UTC, datetime

import pytest

from loyalty.domain.kpis import EntryFact
from loyalty.domain.leaderboard import (
    BOARD_SIZE,
    Contender,
    InvalidDisplayName,
    LeaderboardChange,
    LeaderboardChoice,
    MemberStanding,
    Score,
    ScoreWrite,
    apply_change,
    build_board,
    check_display_name,
    period_key_of,
    project_member,
)

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

DECEMBER = datetime(2026, 12, 5, 10, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)


def entry(entry_id: str, kind: str, points: int, at: datetime = DECEMBER) -> EntryFact:
    return EntryFact(entry_id, "m-1", kind, points, at)  # type: ignore[arg-type]


# ---- the choice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", " ", "x" * 33, "bell\x07", "line\nbreak", "pat@shop.io", "PAT@SHOP.IO"]
)
def test_a_display_name_that_cannot_be_shown_is_refused(name):
    with pytest.raises(InvalidDisplayName):
        check_display_name(name, "pat@shop.io")


def test_a_display_name_is_shown_trimmed():
    assert check_display_name("  Pat the Great ", "pat@shop.io") == "Pat the Great"
    assert check_display_name("x" * 32, None) == "x" * 32


def test_opting_in_needs_a_name_given_now_or_before():
    with pytest.raises(InvalidDisplayName):
        apply_change(LeaderboardChoice(), LeaderboardChange(opt_in=True), None)
    before = LeaderboardChoice(False, "Pat")
    assert apply_change(before, LeaderboardChange(opt_in=True), None) == LeaderboardChoice(
        True, "Pat"
    )


def test_the_name_may_be_cleared_only_when_not_opted_in():
    opted = LeaderboardChoice(True, "Pat")
    with pytest.raises(InvalidDisplayName):
        apply_change(opted, LeaderboardChange(clear_name=True), None)
    assert apply_change(
        opted, LeaderboardChange(opt_in=False, clear_name=True), None
    ) == LeaderboardChoice(False, None)


def test_a_kept_name_that_becomes_the_members_email_is_refused():
    with pytest.raises(InvalidDisplayName):
        apply_change(LeaderboardChoice(True, "patshop"), LeaderboardChange(), "PATSHOP")


# ---- scores -------------------------------------------------------------------------------


OPTED_IN = LeaderboardChoice(True, "Pat")


def standing(choice: LeaderboardChoice | None = OPTED_IN, **scores: Score) -> MemberStanding:
    return MemberStanding("m-1", choice, scores)


def test_earnings_and_refund_reversals_count_in_their_month_and_all_time():
    writes = project_member(
        standing(),
        [
            entry("e1", "earn", 1000),
            entry("e2", "earn", 150, NOVEMBER),
            entry("e3", "reverse", -300),
            entry("e4", "redeem", -500),
            entry("e5", "expire", -100),
            entry("e6", "adjust", 400),
        ],
    )

    assert writes == [
        ScoreWrite("m-1", "2026-11", 150, None, "Pat"),
        ScoreWrite("m-1", "2026-12", 700, None, "Pat"),
        ScoreWrite("m-1", "all", 850, None, "Pat"),
    ]


def test_scores_add_to_what_is_stored_and_unchanged_ones_are_not_written():
    stored = standing(
        all=Score("all", 1000, 3, "Pat"), **{"2026-11": Score("2026-11", 1000, 2, "Pat")}
    )

    writes = project_member(stored, [entry("e1", "earn", 50)])

    assert writes == [
        ScoreWrite("m-1", "2026-12", 50, None, "Pat"),
        ScoreWrite("m-1", "all", 1050, 3, "Pat"),
    ]


@pytest.mark.parametrize(
    "choice",
    [None, LeaderboardChoice(False, "Pat"), LeaderboardChoice(False, None)],
    ids=["erased", "opted-out", "never"],
)
def test_a_member_who_is_not_in_is_unlisted_everywhere(choice):
    stored = standing(
        choice, all=Score("all", 1000, 3, "Pat"), **{"2026-11": Score("2026-11", 900, 2, "Pat")}
    )

    writes = project_member(stored, [])

    assert [(w.period_key, w.listed_as) for w in writes] == [("2026-11", None), ("all", None)]


def test_a_score_of_zero_or_less_is_not_listed():
    writes = project_member(standing(), [entry("e1", "reverse", -300)])

    assert {w.listed_as for w in writes} == {None}


# ---- the board ----------------------------------------------------------------------------


def test_equal_points_share_a_rank_and_are_listed_by_display_name():
    now = datetime(2026, 12, 10, 12, tzinfo=UTC)
    contenders = [
        Contender("m-1", "zed", 500),
        Contender("m-2", "Amy", 500),
        Contender("m-3", "Top", 900),
        Contender("m-4", "amy", 500),
        Contender("m-5", "Low", 10),
    ]

    board = build_board("month", contenders, now)

    assert [(r.rank, r.display_name, r.points) for r in board.rows] == [
        (1, "Top", 900),
        (2, "Amy", 500),
        (2, "amy", 500),
        (2, "zed", 500),
        (5, "Low", 10),
    ]
    assert board.period_start == datetime(2026, 12, 1, tzinfo=UTC)
    assert build_board("all", contenders, now).period_start is None


def test_the_board_keeps_the_best_hundred():
    contenders = [Contender(f"m-{i}", f"n{i:03d}", i) for i in range(1, 251)]

    board = build_board("all", contenders, datetime(2026, 12, 10, tzinfo=UTC))

    assert len(board.rows) == BOARD_SIZE
    assert board.rows[0].points == 250 and board.rows[-1].points == 151
    assert len(board.top(10).rows) == 10


def test_the_month_is_the_month_of_the_time_given():
    assert period_key_of("month", datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "2026-12"
    assert period_key_of("month", datetime(2027, 1, 1, tzinfo=UTC)) == "2027-01"
    assert period_key_of("all", datetime(2027, 1, 1, tzinfo=UTC)) == "all"
