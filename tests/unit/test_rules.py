from datetime import date
from decimal import Decimal

import pytest

from loyalty.domain.rules import ProgramRules
from loyalty.settings import ConfigurationError, load_rules

pytestmark = pytest.mark.calendar  # business dates: must hold on any day


def test_defaults_are_the_contract_program():
    rules = ProgramRules()
    assert rules.points_per_dollar == 100
    assert rules.first_purchase_bonus == 150
    assert rules.review_points == 50
    assert (rules.referral.referrer_points, rules.referral.referee_points) == (70, 70)
    assert (rules.social_share_points, rules.social_share_monthly_cap) == (80, 5)
    assert rules.order_milestone_points(100) == 1000
    assert rules.order_milestone_points(99) == 0
    assert [(m.months, m.points) for m in rules.tenure_milestones] == [(2, 200)]
    assert rules.birthday_bonus == 1500
    assert rules.expiry_months == 12
    assert rules.expiry_warning_days == 30
    assert rules.pending_hold_days == 0


@pytest.mark.parametrize(
    ("points", "tier"),
    [(0, "Bronze"), (1000, "Bronze"), (1001, "Silver"), (5000, "Silver"), (5001, "Gold")],
)
def test_tier_thresholds(points, tier):
    assert ProgramRules().tier_for(points) == tier


def test_next_tier_and_points_needed():
    rules = ProgramRules()
    assert rules.next_tier(200).name == "Silver"
    assert rules.next_tier(200).min_points - 200 == 801
    assert rules.next_tier(5001) is None


@pytest.mark.parametrize(
    ("day", "multiplier"),
    [
        (date(2026, 11, 26), 1),  # Thanksgiving
        (date(2026, 11, 27), 2),  # Black Friday 2026
        (date(2026, 11, 29), 2),
        (date(2026, 11, 30), 2),  # Cyber Monday
        (date(2026, 12, 1), 1),
        (date(2026, 12, 19), 1),
        (date(2026, 12, 20), 2),
        (date(2026, 12, 25), 2),
        (date(2026, 12, 26), 1),
        (date(2027, 11, 26), 2),  # Black Friday 2027 moves with Thanksgiving
        (date(2027, 11, 25), 1),
    ],
)
def test_default_seasonal_windows(day, multiplier):
    assert ProgramRules().seasonal_multiplier(day) == Decimal(multiplier)


def test_a_window_may_span_the_new_year_and_overlaps_take_the_largest():
    rules = ProgramRules.model_validate(
        {
            "seasonalMultipliers": [
                {"name": "winter", "start": "12-30", "end": "01-02", "multiplier": "1.5"},
                {"name": "new-year", "start": "01-01", "end": "01-01", "multiplier": 3},
            ]
        }
    )
    assert rules.seasonal_multiplier(date(2026, 12, 31)) == Decimal("1.5")
    assert rules.seasonal_multiplier(date(2027, 1, 1)) == Decimal(3)
    assert rules.seasonal_multiplier(date(2027, 1, 2)) == Decimal("1.5")
    assert rules.seasonal_multiplier(date(2027, 1, 3)) == Decimal(1)


def test_a_deployment_overrides_any_subset_of_the_rules():
    rules = load_rules('{"pointsPerDollar": 10, "categoryMultipliers": {"shoes": 3}}')
    assert rules.points_per_dollar == 10
    assert rules.category_multiplier("shoes") == Decimal(3)
    assert rules.category_multiplier("hats") == Decimal(1)
    assert rules.first_purchase_bonus == 150


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ('{"pointsPerDollar": -1}', "pointsPerDollar"),
        ('{"tiers": [{"name": "Gold", "minPoints": 0}]}', "Bronze, Silver, Gold"),
        (
            '{"tiers": [{"name": "Bronze", "minPoints": 0}, {"name": "Silver", "minPoints": 10},'
            ' {"name": "Gold", "minPoints": 10}]}',
            "strictly increase",
        ),
        (
            '{"seasonalMultipliers": [{"name": "x", "start": "02-30", "end": "03-01",'
            ' "multiplier": 2}]}',
            "start",
        ),
        (
            '{"seasonalMultipliers": [{"name": "x", "start": "easter", "end": "03-01",'
            ' "multiplier": 2}]}',
            "start",
        ),
        ('{"pointsPerDolar": 5}', "pointsPerDolar"),
        ("not json", "invalid"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(document, reason):
    with pytest.raises(ConfigurationError, match="PROGRAM_RULES is invalid") as refused:
        load_rules(document)
    assert reason.lower() in str(refused.value).lower()
