"""The program preview: orders replayed under draft rules (pure, no I/O)."""

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.ledger import (
    MAX_RECORDED_CATEGORIES,
    MemberState,
    category_amounts,
    plan_order_award,
)
from loyalty.domain.orders import parse_order_message
from loyalty.domain.program_preview import preview_program, replayed_purchase_points
from loyalty.domain.rules import ProgramRules, SeasonalWindow
from tests.support.events import completed

pytestmark = pytest.mark.calendar  # fixed business dates: must hold on any day

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
START = datetime(2026, 10, 29, tzinfo=UTC)
# No seasonal window: the dates below must not depend on the default Black Friday week.
RULES = ProgramRules(seasonal_multipliers=[])


def order(order_id="o-1", at="2026-11-10T10:00:00Z", lines=None):
    lines = lines or [{"sku": "S", "category": "shoes", "quantity": 1, "unitPrice": "10.00"}]
    body = {**completed(order_id, "c-1", at=at), "lines": lines}
    return parse_order_message(json.dumps(body))


def line(category, price, quantity=1):
    return {"sku": f"S-{category}", "category": category, "quantity": quantity, "unitPrice": price}


def member(tier="Bronze", tier_points=0):
    return MemberState(
        member_id="c-1",
        enrolled_at=datetime(2026, 1, 5, tzinfo=UTC),
        version=3,
        balance=tier_points,
        pending_points=0,
        tier_points=tier_points,
        tier=tier,
        lot_total=tier_points,
        debited=0,
        settled_earned=0,
        order_count=2,
        referral_code="ABCDEFGH",
        first_order_id="o-0",
        first_order_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


def recorded(order_message, rules=RULES, who=None):
    return plan_order_award(rules, who, order_message, NOW).order


def test_the_order_record_keeps_the_amount_per_category_and_the_tier_it_was_awarded_at():
    record = recorded(
        order(lines=[line("shoes", "10.00", 2), line("hats", "5.50"), line(None, "1.25")]),
        who=member("Gold", 6000),
    )

    assert dict(record.category_amounts) == {
        "shoes": Decimal("20.00"),
        "hats": Decimal("5.50"),
        None: Decimal("1.25"),
    }
    assert record.tier == "Gold"
    assert recorded(order()).tier == "Bronze"  # a new member's first order


def test_beyond_sixteen_categories_the_smallest_are_folded_into_the_uncategorised_amount():
    lines = [line(f"c{n:02d}", f"{n}.00") for n in range(1, 21)]  # 20 categories, $1..$20
    amounts = dict(category_amounts(order(lines=lines)))

    assert len([c for c in amounts if c is not None]) == MAX_RECORDED_CATEGORIES
    assert amounts[None] == Decimal("10.00")  # $1 + $2 + $3 + $4 folded
    assert sum(amounts.values()) == Decimal("210.00")  # nothing lost


def test_a_draft_doubling_points_per_dollar_doubles_purchase_points_but_not_the_bonus():
    first = recorded(order("o-1", lines=[line("shoes", "10.00")]))  # 1000 + 150 bonus
    repeat = recorded(order("o-2", lines=[line("shoes", "5.00")]), who=member("Silver", 2000))
    draft = RULES.model_copy(update={"points_per_dollar": 200, "version": 8})

    preview = preview_program(draft, [first, repeat], start=START, end=NOW)

    assert (preview.total.orders, preview.total.awarded) == (2, 1000 + 150 + 500)
    assert preview.total.would_award == 2000 + 150 + 1000
    assert preview.total.difference == 1500
    assert (preview.by_tier["Bronze"].awarded, preview.by_tier["Bronze"].would_award) == (
        1150,
        2150,
    )
    assert (preview.by_tier["Silver"].orders, preview.by_tier["Silver"].difference) == (1, 500)
    assert preview.by_tier["Gold"].orders == 0
    assert preview.draft_version == 8


def test_category_multipliers_of_the_draft_apply_to_each_category_amount():
    record = recorded(
        order(lines=[line("shoes", "10.00"), line("hats", "3.33"), line(None, "1.01")]),
        who=member(),
    )
    draft = RULES.model_copy(update={"category_multipliers": {"shoes": Decimal("1.5")}})

    # floor((10.00 × 1.5 + 3.33 + 1.01) × 100) = 1934
    assert replayed_purchase_points(draft, record) == 1934
    assert record.purchase_points == 1434


def test_a_seasonal_window_of_the_draft_applies_by_the_day_the_order_occurred():
    inside = recorded(order("o-1", at="2026-11-10T23:59:59Z"), who=member())
    outside = recorded(order("o-2", at="2026-11-11T00:00:00Z"), who=member())
    window = SeasonalWindow(name="Singles day", start="11-10", end="11-10", multiplier=3)
    draft = RULES.model_copy(update={"seasonal_multipliers": [window]})

    assert replayed_purchase_points(draft, inside) == 3000
    assert replayed_purchase_points(draft, outside) == 1000


def test_a_draft_changing_the_first_purchase_bonus_changes_first_orders_only():
    first = recorded(order("o-1"))
    repeat = recorded(order("o-2"), who=member())
    draft = RULES.model_copy(update={"first_purchase_bonus": 500})

    preview = preview_program(draft, [first, repeat], start=START, end=NOW)

    assert preview.total.difference == 500 - 150


def test_an_order_recorded_without_category_amounts_replays_as_one_uncategorised_amount():
    record = replace(
        recorded(order(lines=[line("shoes", "10.00")]), who=member()), category_amounts=()
    )
    draft = RULES.model_copy(update={"category_multipliers": {"shoes": Decimal(2)}})

    assert replayed_purchase_points(draft, record) == 1000


cents = st.integers(min_value=1, max_value=500_000).map(lambda c: f"{Decimal(c) / 100:.2f}")
lines_strategy = st.lists(
    st.tuples(st.sampled_from(["shoes", "hats", "bags", None]), cents, st.integers(1, 5)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    lines=lines_strategy,
    day=st.integers(0, 364),
    rate=st.integers(0, 500),
    multiplier=st.sampled_from(["1", "1.5", "2", "0.25"]),
    first=st.booleans(),
)
def test_replaying_under_the_rules_in_force_awards_exactly_what_was_awarded(
    lines, day, rate, multiplier, first
):
    """The preview's baseline is exact: the draft equal to the rules in force changes nothing,
    whatever the categories, amounts, dates and seasonal windows."""
    rules = ProgramRules(
        points_per_dollar=rate,
        category_multipliers={"shoes": Decimal(multiplier), "bags": Decimal("1.25")},
    )  # with the default seasonal windows (Black Friday week, 20-25 December)
    at = datetime(2027, 1, 1, 12, tzinfo=UTC).replace(day=1)
    at = at.fromordinal(at.toordinal() + day).replace(hour=12, tzinfo=UTC)
    message = order(
        at=at.isoformat().replace("+00:00", "Z"),
        lines=[line(c, p, q) for c, p, q in lines],
    )
    record = recorded(message, rules, None if first else member())

    preview = preview_program(rules, [record], start=START, end=NOW)

    assert preview.total.difference == 0
    assert preview.total.awarded == record.purchase_points + record.first_purchase_bonus


def test_the_replay_applies_the_drafts_multiplier_and_early_access_for_the_orders_tier():
    gold = recorded(
        order(at="2026-11-10T10:00:00Z", lines=[line("shoes", "10.00")]), who=member("Gold", 6000)
    )
    bronze = recorded(order("o-2", lines=[line("shoes", "10.00")]), who=member("Bronze", 10))
    draft = ProgramRules.model_validate(
        {
            "seasonalMultipliers": [],
            "tiers": [
                {"name": "Bronze", "minPoints": 0},
                {"name": "Silver", "minPoints": 1001},
                {
                    "name": "Gold",
                    "minPoints": 5001,
                    "earningMultiplier": "1.25",
                    "earlyAccessHours": 48,
                },
            ],
        }
    )
    assert replayed_purchase_points(draft, gold) == 1250
    assert replayed_purchase_points(draft, bronze) == 1000
    # A sale opening on the 11th: Gold's 48 h head start covers the 10th at 10:00, Bronze's none.
    sale = SeasonalWindow(name="sale", start="11-11", end="11-12", multiplier=Decimal(2))
    with_sale = draft.model_copy(update={"seasonal_multipliers": [sale]})
    assert replayed_purchase_points(with_sale, gold) == 2500
    assert replayed_purchase_points(with_sale, bronze) == 1000
    preview = preview_program(with_sale, [gold, bronze], start=START, end=NOW)
    assert (preview.by_tier["Gold"].would_award, preview.by_tier["Gold"].awarded) == (2500, 1000)
    # What a Gold order earned under a multiplier replays the same under the same rules.
    earned = recorded(
        order("o-3", lines=[line("shoes", "3.33", 3)]), rules=draft, who=member("Gold", 6000)
    )
    assert earned.purchase_points == replayed_purchase_points(draft, earned) == 1248
