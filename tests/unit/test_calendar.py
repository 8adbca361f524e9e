from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from loyalty.domain.calendar import (
    add_months,
    black_friday,
    cyber_monday,
    format_instant,
    parse_instant,
    utc,
)

pytestmark = pytest.mark.calendar  # business dates: must hold on any day


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2024, date(2024, 11, 29)),
        (2025, date(2025, 11, 28)),
        (2026, date(2026, 11, 27)),
        (2027, date(2027, 11, 26)),
        (2030, date(2030, 11, 29)),
    ],
)
def test_black_friday_is_the_day_after_the_fourth_thursday_of_november(year, expected):
    assert black_friday(year) == expected
    assert black_friday(year).weekday() == 4  # a Friday


def test_cyber_monday_follows_black_friday():
    assert cyber_monday(2026) == date(2026, 11, 30)
    assert cyber_monday(2026).weekday() == 0


def test_add_months_clamps_to_the_end_of_shorter_months():
    assert add_months(datetime(2026, 1, 31, 8, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 8, tzinfo=UTC
    )
    assert add_months(datetime(2028, 2, 29, tzinfo=UTC), 12) == datetime(2029, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 27, 10, tzinfo=UTC), 12) == datetime(
        2027, 11, 27, 10, tzinfo=UTC
    )
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 2) == datetime(2027, 2, 15, tzinfo=UTC)


def test_instants_are_utc_and_round_trip():
    moment = datetime(2026, 11, 27, 5, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert format_instant(moment) == "2026-11-27T10:00:00Z"
    assert parse_instant("2026-11-27T10:00:00Z") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    precise = datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC)
    assert parse_instant(format_instant(precise)) == precise


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone"):
        utc(datetime(2026, 11, 27))
