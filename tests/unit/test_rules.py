import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from loyalty.domain.rules import ProgramRules
from loyalty.settings import ConfigurationError, load_rules
from tests.support.rules import early_access_rules

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


# ---- tier benefits as data, early access (issue #13) ---------------------------------------


def test_tier_benefits_defaults_match_the_tiers_words():
    tiers = {tier.name: tier for tier in ProgramRules().tiers}
    assert [
        (t.member_discount_percent, t.free_shipping_threshold, t.early_access_hours)
        for t in tiers.values()
    ] == [(0, None, 0), (0, None, 0), (15, None, 0)]  # early access: opt-in
    assert {t.earning_multiplier for t in tiers.values()} == {Decimal(1)}


def test_a_document_written_before_tier_benefits_stays_valid_with_the_tiers_defaults():
    rules = load_rules(
        '{"tiers": [{"name": "Bronze", "minPoints": 0, "benefits": []},'
        ' {"name": "Silver", "minPoints": 2000}, {"name": "Gold", "minPoints": 9000,'
        ' "benefits": ["VIP events"], "earlyAccessHours": 12}]}'
    )
    assert [t.early_access_hours for t in rules.tiers] == [0, 0, 12]
    assert [t.member_discount_percent for t in rules.tiers] == [0, 0, 15]
    assert rules.tier("Gold").benefits == ["VIP events"]


def test_tier_benefits_round_trip_through_the_stored_document():
    rules = load_rules(
        '{"tiers": [{"name": "Bronze", "minPoints": 0},'
        ' {"name": "Silver", "minPoints": 1001, "freeShippingThreshold": "50.00"},'
        ' {"name": "Gold", "minPoints": 5001, "earningMultiplier": "1.25",'
        ' "memberDiscountPercent": 20, "earlyAccessHours": 0}]}'
    )
    again = ProgramRules.model_validate_json(rules.model_dump_json(by_alias=True))
    assert again == rules
    assert again.tier("Silver").free_shipping_threshold == Decimal("50.00")
    assert again.tier_multiplier("Gold") == Decimal("1.25")
    assert (again.tier("Gold").member_discount_percent, again.tier("Gold").early_access_hours) == (
        20,
        0,
    )


@pytest.mark.parametrize(
    "tier",
    [
        {"memberDiscountPercent": 101},
        {"memberDiscountPercent": -1},
        {"memberDiscountPercent": "15"},
        {"earlyAccessHours": 169},
        {"earlyAccessHours": -1},
        {"earningMultiplier": "0.9"},
        {"earningMultiplier": "10.5"},
        {"freeShippingThreshold": 50},
        {"freeShippingThreshold": "50"},
        {"perks": []},
    ],
    ids=lambda tier: str(tier),
)
def test_invalid_tier_benefits_are_refused(tier):
    document = {
        "tiers": [
            {"name": "Bronze", "minPoints": 0},
            {"name": "Silver", "minPoints": 1001},
            {"name": "Gold", "minPoints": 5001, **tier},
        ]
    }
    with pytest.raises(ConfigurationError):
        load_rules(json.dumps(document))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("at", "bronze", "silver", "gold"),
    [
        ("2026-11-24T23:59:59Z", 1, 1, 1),  # more than 48 h before Black Friday 2026
        ("2026-11-25T00:00:00Z", 1, 1, 2),  # Gold's head start: 48 h
        ("2026-11-26T00:00:00Z", 1, 2, 2),  # Silver's: 24 h
        ("2026-11-26T23:59:59Z", 1, 2, 2),
        ("2026-11-27T00:00:00Z", 2, 2, 2),  # open for everyone
        ("2026-11-30T23:59:59Z", 2, 2, 2),  # Cyber Monday, last second
        ("2026-12-01T00:00:00Z", 1, 1, 1),
        ("2026-12-18T00:00:00Z", 1, 1, 2),  # the holidays window, 48 h early
        ("2026-12-25T23:00:00Z", 2, 2, 2),
        ("2026-12-26T00:00:00Z", 1, 1, 1),
    ],
)
def test_early_access_opens_a_window_earlier_for_higher_tiers(at, bronze, silver, gold):
    rules = early_access_rules()  # Silver 24 h, Gold 48 h
    moment = _at(at)
    assert [rules.seasonal_multiplier_at(moment, t) for t in ("Bronze", "Silver", "Gold")] == [
        Decimal(bronze),
        Decimal(silver),
        Decimal(gold),
    ]
    # For everyone (no tier) it is the multiplier of the UTC date, as before.
    assert rules.seasonal_multiplier_at(moment) == rules.seasonal_multiplier(moment.date())
    assert rules.seasonal_multiplier_at(moment) == Decimal(bronze)
    # Under the default rules early access is off: every tier earns as everyone.
    default = ProgramRules()
    assert {default.seasonal_multiplier_at(moment, t) for t in ("Silver", "Gold")} == {
        Decimal(bronze)
    }


def test_a_window_without_early_access_opens_for_every_tier_at_once():
    rules = load_rules(
        '{"seasonalMultipliers": [{"name": "flash", "start": "03-10", "end": "03-10",'
        ' "multiplier": "3", "earlyAccess": false}]}'
    )
    assert rules.seasonal_multiplier_at(_at("2027-03-09T23:00:00Z"), "Gold") == Decimal(1)
    assert rules.seasonal_multiplier_at(_at("2027-03-10T00:00:00Z"), "Bronze") == Decimal(3)


def test_early_access_reaches_across_new_year():
    rules = early_access_rules(
        seasonalMultipliers=[
            {"name": "new-year", "start": "01-01", "end": "01-02", "multiplier": "1.5"}
        ]
    )
    assert rules.seasonal_multiplier_at(_at("2026-12-30T00:00:00Z"), "Gold") == Decimal("1.5")
    assert rules.seasonal_multiplier_at(_at("2026-12-30T00:00:00Z"), "Silver") == Decimal(1)
    opening = rules.seasonal_multipliers[0].next_opening(_at("2026-12-01T00:00:00Z"), 48)
    assert (opening.opens_at, opening.opens_for_everyone_at, opening.ends_at) == (
        _at("2026-12-30T00:00:00Z"),
        _at("2027-01-01T00:00:00Z"),
        _at("2027-01-03T00:00:00Z"),
    )


def test_a_tier_whose_name_is_not_a_string_is_refused_not_a_crash():
    """Found by the fuzzer: `"name": {}` in a tier made the tier-defaults step raise a
    TypeError (a 502) instead of a validation error (a 422)."""
    with pytest.raises(ValidationError):
        ProgramRules.model_validate(
            {
                "tiers": [
                    {"name": "Bronze", "minPoints": 0},
                    {"name": "Silver", "minPoints": 1},
                    {"name": {}, "minPoints": 2},
                ]
            }
        )


def test_coupon_expiry_returns_points_is_a_json_boolean_only():
    """Found by the fuzzer: `0` was taken for false."""
    assert ProgramRules.model_validate(
        {"couponExpiryReturnsPoints": True}
    ).coupon_expiry_returns_points
    for value in (0, 1, "true", None):
        with pytest.raises(ValidationError):
            ProgramRules.model_validate({"couponExpiryReturnsPoints": value})
