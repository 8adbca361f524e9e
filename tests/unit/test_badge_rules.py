"""Badge rules, pure: what a change of the table counts for, windows at their edges, and what a
member sees (loyalty.domain.badges)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from loyalty.domain.badges import (
    Badge,
    BadgeStanding,
    activity_of,
    member_badges,
    step_for,
)


def badge(badge_id: str = "b", **fields: object) -> Badge:
    body = {"name": "B", "condition": {"kind": "orders", "count": 3}} | fields
    return Badge.model_validate({"badgeId": badge_id, **body})


def order(order_id: str, at: str, categories: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "itemType": "order",
        "orderId": order_id,
        "memberId": "m-1",
        "occurredAt": at,
        "categoryAmounts": categories,
    }


def profile(tier: str, updated_at: str, enrolled_at: str = "2026-01-15T10:00:00Z") -> dict:
    return {
        "itemType": "member",
        "memberId": "m-1",
        "version": 7,
        "tier": tier,
        "enrolledAt": enrolled_at,
        "updatedAt": updated_at,
    }


def test_a_challenge_window_includes_both_of_its_dates_in_utc():
    challenge = badge(window={"startsOn": "2026-12-01", "endsOn": "2026-12-14"})
    inside = ("2026-12-01T00:00:00Z", "2026-12-14T23:59:59Z")
    outside = ("2026-11-30T23:59:59Z", "2026-12-15T00:00:00Z")
    for at in inside:
        assert step_for(challenge, activity_of(None, order("o", at))) is not None, at
    for at in outside:
        assert step_for(challenge, activity_of(None, order("o", at))) is None, at


def test_only_an_orders_insert_counts_and_categories_count_each_once():
    explorer = badge(condition={"kind": "categories", "count": 3})
    inserted = activity_of(None, order("o-1", "2026-12-01T10:00:00Z", {"shoes": "1", "hats": "2"}))
    step = step_for(explorer, inserted)
    assert step is not None and step.values == ("hats", "shoes")
    refunded = activity_of(
        order("o-1", "2026-12-01T10:00:00Z"), order("o-1", "2026-12-01T10:00:00Z")
    )
    assert refunded is None  # a refund modifies the record: it is not another order


def test_a_per_month_counter_is_kept_per_calendar_month():
    monthly = badge(condition={"kind": "orders", "count": 5, "per": "calendarMonth"})
    step = step_for(monthly, activity_of(None, order("o", "2026-12-31T23:00:00Z")))
    assert step is not None and step.period == "2026-12"


def test_tier_and_tenure_are_met_from_the_profile():
    gold = badge(condition={"kind": "tier", "tier": "Silver"})
    year = badge(condition={"kind": "tenure", "months": 12})
    assert step_for(gold, activity_of(None, profile("Gold", "2026-03-01T00:00:00Z")))
    assert not step_for(gold, activity_of(None, profile("Bronze", "2026-03-01T00:00:00Z")))
    assert not step_for(year, activity_of(None, profile("Bronze", "2027-01-15T09:59:59Z")))
    assert step_for(year, activity_of(None, profile("Bronze", "2027-01-15T10:00:00Z")))
    erased = profile("Gold", "2027-02-01T00:00:00Z") | {"erasedAt": "2027-02-01T00:00:00Z"}
    assert activity_of(None, erased) is None


def test_a_retired_badge_counts_nothing():
    retired = badge(active=False)
    assert step_for(retired, activity_of(None, order("o", "2026-12-01T10:00:00Z"))) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"condition": {"kind": "orders", "count": 3, "tier": "Gold"}},
        {"condition": {"kind": "tenure", "months": 12, "per": "calendarMonth"}},
        {"points": True},
        {"window": {"startsOn": "2026-12-02", "endsOn": "2026-12-01"}},
        {"name": "   "},
    ],
)
def test_an_invalid_definition_is_refused(fields):
    with pytest.raises(ValidationError):
        badge(**fields)


def test_a_member_sees_earned_badges_newest_first_and_open_ones_with_progress():
    first = badge("first", condition={"kind": "reviews", "count": 1})
    challenge = badge("dec", window={"startsOn": "2026-12-01", "endsOn": "2026-12-14"})
    ended = badge("nov", window={"startsOn": "2026-11-01", "endsOn": "2026-11-30"})
    gold = badge("gold", condition={"kind": "tier", "tier": "Gold"})
    standing = BadgeStanding(
        earned={"first": (datetime(2026, 12, 2, tzinfo=UTC), 50)},
        counted={("dec", "all"): frozenset({"o-1", "o-2"})},
    )

    seen = member_badges(
        [first, challenge, ended, gold], standing, datetime(2026, 12, 10, tzinfo=UTC)
    )

    assert [(e.badge_id, e.points) for e in seen.earned] == [("first", 50)]
    assert [(p.badge_id, p.progress, p.target, p.challenge) for p in seen.progress] == [
        ("dec", 2, 3, True)
    ]
