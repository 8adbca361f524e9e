"""The pure planning of earnings and refunds (no I/O)."""

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty.domain.errors import InvalidMessage
from loyalty.domain.ledger import (
    MemberState,
    OrderAwardPlan,
    PointsLot,
    PreviousFirstOrder,
    make_entry_id,
    plan_order_award,
    plan_refund,
    purchase_points,
    unspent_by_expiry,
)
from loyalty.domain.orders import parse_order_message
from loyalty.domain.rules import ProgramRules
from tests.support.events import completed, refunded
from tests.support.rules import early_access_rules

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
RULES = ProgramRules()
EARLY = early_access_rules()


def order(order_id="o-1", member_id="c-1", at="2026-11-10T10:00:00Z", lines=None, **extra):
    lines = lines or [{"sku": "S", "category": "shoes", "quantity": 1, "unitPrice": "10.00"}]
    body = {**completed(order_id, member_id, at=at, **extra), "lines": lines}
    return parse_order_message(json.dumps(body))


def refund(amount, refund_id="r-1", order_id="o-1", member_id="c-1", at="2026-11-20T10:00:00Z"):
    return parse_order_message(json.dumps(refunded(order_id, refund_id, member_id, amount, at)))


def member_after(plan: OrderAwardPlan, previous: MemberState | None = None) -> MemberState:
    base = previous or MemberState(
        member_id=plan.member.member_id,
        enrolled_at=plan.order.occurred_at,
        version=0,
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
    return replace(
        base,
        version=base.version + 1,
        balance=base.balance + plan.member.balance,
        tier_points=base.tier_points + plan.member.tier_points,
        tier=plan.member.tier,
        lot_total=base.lot_total + plan.member.lot_total,
        order_count=base.order_count + 1,
    )


def line(price, quantity=1, category=None):
    return {"sku": "S", "category": category, "quantity": quantity, "unitPrice": price}


def test_purchase_points_are_floored_once_per_order():
    # 3 × 0.33 = 0.99 dollars → 99 points; flooring per line would lose nothing here, but
    # 1.005-style fractions only appear with multipliers: 0.99 × 1.5 = 1.485 → 148.
    rules = ProgramRules.model_validate({"categoryMultipliers": {"toys": "1.5"}})
    plain = order(lines=[line("0.33", 3)])
    assert purchase_points(RULES, plain).points == 99
    multiplied = order(lines=[line("0.33", 3, "toys")])
    assert purchase_points(rules, multiplied).points == 148
    mixed = order(lines=[line("0.01", 1, "toys"), line("0.01", 1, "toys")])
    assert purchase_points(rules, mixed).points == 3  # 2 × 1.5 = 3.0, not 1 + 1


def test_category_and_seasonal_multipliers_combine():
    rules = ProgramRules.model_validate({"categoryMultipliers": {"shoes": 3}})
    black_friday = order(at="2026-11-27T10:00:00Z", lines=[line("10.00", 2, "shoes"), line("5.00")])
    calculation = purchase_points(rules, black_friday)
    assert calculation.seasonal_multiplier == 2
    assert calculation.points == (2000 * 3 + 500) * 2


def test_first_order_earns_purchase_points_and_the_first_purchase_bonus():
    plan = plan_order_award(RULES, None, order(lines=[line("19.99", 2)]), NOW)
    reasons = [(entry.reason, entry.points) for entry in plan.entries]
    assert reasons == [("purchase", 3998), ("first-purchase-bonus", 150)]
    assert plan.member.new_member is not None
    assert plan.member.balance == plan.member.tier_points == 4148
    assert plan.member.tier == "Silver"
    assert [lot.points for lot in plan.lots] == [3998, 150]
    assert all(lot.expires_at == datetime(2027, 11, 10, 10, tzinfo=UTC) for lot in plan.lots)
    assert plan.order.first_purchase_bonus == 150
    assert plan.entries[0].details["rulesVersion"] == "1"


def test_second_order_has_no_bonus_and_the_hundredth_reaches_the_milestone():
    first = plan_order_award(RULES, None, order(), NOW)
    member = member_after(first)
    second = plan_order_award(RULES, member, order("o-2"), NOW)
    assert [entry.reason for entry in second.entries] == ["purchase"]
    assert second.member.expected_version == member.version
    ninety_nine = replace(member, order_count=99)
    hundredth = plan_order_award(RULES, ninety_nine, order("o-100"), NOW)
    assert [(e.reason, e.points) for e in hundredth.entries] == [
        ("purchase", 1000),
        ("order-milestone-100", 1000),
    ]
    hundred_first = plan_order_award(RULES, replace(member, order_count=100), order("o-101"), NOW)
    assert [e.reason for e in hundred_first.entries] == ["purchase"]


def test_an_order_older_than_the_expiry_period_earns_and_expires_at_once():
    plan = plan_order_award(RULES, None, order(at="2025-10-01T00:00:00Z"), NOW)
    assert sum(entry.points for entry in plan.entries) == 0
    assert {entry.type for entry in plan.entries} == {"earn", "expire"}
    assert plan.lots == ()
    assert plan.member.balance == 0
    assert plan.member.tier_points == 1150  # earned, so it counts towards the tier


def test_entry_ids_are_deterministic_and_time_sortable():
    earlier = make_entry_id(datetime(2026, 1, 1, tzinfo=UTC), "o-9", "purchase")
    later = make_entry_id(datetime(2026, 1, 2, tzinfo=UTC), "o-1", "purchase")
    assert earlier == make_entry_id(datetime(2026, 1, 1, tzinfo=UTC), "o-9", "purchase")
    assert earlier < later


def _awarded(lines, previous=None):
    plan = plan_order_award(RULES, previous, order(lines=lines), NOW)
    return plan, member_after(plan, previous)


def lots_of(plan: OrderAwardPlan) -> dict[str, PointsLot]:
    """The order's lots as the refund reads them (just written, untouched)."""
    return {lot.lot_id: lot for lot in plan.lots}


def test_partial_refunds_reverse_in_proportion_and_never_more_than_earned():
    plan, member = _awarded([line("30.00")])  # 3000 + 150 bonus
    record = plan.order
    lots = lots_of(plan)
    first = plan_refund(RULES, member, record, refund("10.00", "r-1"), NOW, lots)
    assert [(e.reason, e.points) for e in first.entries] == [("refund", -1000)]
    second = plan_refund(RULES, member, first.order_after, refund("10.00", "r-2"), NOW, lots)
    assert second.points == -1000
    third = plan_refund(RULES, member, second.order_after, refund("10.00", "r-3"), NOW, lots)
    # The third makes it a full refund of the first order: the bonus goes too.
    assert [(e.reason, e.points) for e in third.entries] == [
        ("refund", -1000),
        ("refund-first-purchase-bonus", -150),
    ]
    fourth = plan_refund(RULES, member, third.order_after, refund("5.00", "r-4"), NOW, lots)
    assert fourth.entries == ()
    assert (fourth.applied_amount, fourth.capped_amount) == (Decimal("0.00"), Decimal("5.00"))


def test_rounding_of_partial_refunds_adds_up_to_the_full_reversal():
    plan, member = _awarded([line("0.03")])  # 3 points
    record = plan.order
    reversed_points = 0
    for index in range(3):
        step = plan_refund(RULES, member, record, refund("0.01", f"r-{index}"), NOW, lots_of(plan))
        reversed_points -= sum(e.points for e in step.entries if e.reason == "refund")
        record = step.order_after
    assert reversed_points == 3


def test_a_refund_reverses_at_the_rate_recorded_when_the_points_were_earned():
    plan, member = _awarded([line("10.00")])  # earned at 100 points per dollar
    cheaper = ProgramRules.model_validate({"pointsPerDollar": 1})
    result = plan_refund(cheaper, member, plan.order, refund("5.00"), NOW, lots_of(plan))
    assert result.points == -500


def test_a_refund_reverses_the_seasonal_points_actually_earned():
    plan = plan_order_award(RULES, None, order(at="2026-11-27T10:00:00Z"), NOW)
    member = member_after(plan)
    result = plan_refund(RULES, member, plan.order, refund("10.00"), NOW, lots_of(plan))
    assert [(e.reason, e.points) for e in result.entries] == [
        ("refund", -2000),
        ("refund-first-purchase-bonus", -150),
    ]


def test_a_full_refund_of_a_later_order_keeps_the_first_purchase_bonus():
    _, member = _awarded([line("10.00")])
    second = plan_order_award(RULES, member, order("o-2"), NOW)
    member = member_after(second, member)
    result = plan_refund(
        RULES, member, second.order, refund("10.00", order_id="o-2"), NOW, lots_of(second)
    )
    assert [e.reason for e in result.entries] == ["refund"]


def test_a_refund_for_another_members_order_is_invalid():
    plan, member = _awarded([line("10.00")])
    with pytest.raises(InvalidMessage, match="memberId"):
        plan_refund(RULES, member, plan.order, refund("1.00", member_id="c-2"), NOW, lots_of(plan))


def test_a_refund_takes_back_only_the_spent_part_of_a_settled_lot():
    # 1000 + 150 earned, 1000 spent; the expiry job settled both lots: the purchase lot had
    # been spent, the bonus lot's 150 expired.
    plan, member = _awarded([line("10.00")])
    purchase, bonus = plan.lots
    lots = {
        purchase.lot_id: replace(purchase, settled=True, expired_points=0),
        bonus.lot_id: replace(bonus, settled=True, expired_points=150),
    }
    much_later = datetime(2027, 12, 1, tzinfo=UTC)
    result = plan_refund(RULES, member, plan.order, refund("10.00"), much_later, lots)
    assert [(e.reason, e.points) for e in result.entries] == [("refund", -1000)]
    assert result.expired_points == 150  # gone: neither the balance nor the tier again
    assert (result.member.balance, result.member.settled_earned) == (-1000, -1000)
    assert result.member.tier_points == -1000


def test_an_order_that_expired_on_arrival_has_nothing_left_to_reverse():
    plan = plan_order_award(RULES, None, order(at="2025-01-10T10:00:00Z"), NOW)
    member = member_after(plan)
    result = plan_refund(RULES, member, plan.order, refund("10.00"), NOW, lots_of(plan))
    assert result.entries == ()
    assert result.expired_points == 1150
    assert result.member.tier_points == 0


def test_an_earlier_order_processed_later_takes_over_the_first_purchase_bonus():
    late = plan_order_award(RULES, None, order("o-late", at="2026-11-09T10:00:00Z"), NOW)
    member = replace(
        member_after(late),
        enrolled_by="order",
        first_order_id="o-late",
        first_order_at=late.order.occurred_at,
    )
    previous = PreviousFirstOrder(late.order, late.lots[1], None)
    early = plan_order_award(
        RULES, member, order("o-early", at="2026-11-01T10:00:00Z"), NOW, previous_first=previous
    )
    assert early.order.first_order and early.order.first_purchase_bonus == 150
    assert early.handover is not None
    assert early.handover.after.first_purchase_bonus == 0
    assert not early.handover.after.first_order
    assert [(e.reason, e.points) for e in early.entries] == [
        ("purchase", 1000),
        ("first-purchase-bonus", 150),
        ("first-purchase-bonus-moved", -150),
    ]
    assert (early.member.balance, early.member.tier_points) == (1000, 1000)
    assert early.member.enrolled_at == datetime(2026, 11, 1, 10, tzinfo=UTC)


def _lot(lot_id, points, expires):
    at = datetime.fromisoformat(expires).replace(tzinfo=UTC)
    return PointsLot(lot_id, "c-1", points, points, at, at, "purchase", lot_id)


def test_spending_is_attributed_to_the_soonest_expiring_lots_first():
    lots = [
        _lot("b", 200, "2027-03-01"),
        _lot("a", 100, "2027-01-01"),
        _lot("c", 300, "2027-05-01"),
    ]
    unspent = unspent_by_expiry(lots, settled_earned=0, debited=150)
    assert [(e.points, e.expires_at.month) for e in unspent] == [(150, 3), (300, 5)]


def test_debt_consumes_new_lots_first():
    lots = [_lot("a", 100, "2027-01-01")]
    assert unspent_by_expiry(lots, settled_earned=0, debited=250) == []
    lots.append(_lot("b", 400, "2027-06-01"))
    assert [e.points for e in unspent_by_expiry(lots, settled_earned=0, debited=250)] == [250]


def test_money_never_passes_through_floats():
    # As floats, 0.29 x 100 = 28.999999999999996 (floored to 28) and 3 x 0.29 x 100 =
    # 86.99999999999999 (86): only exact decimal money earns the 29 and 87 points due.
    single = purchase_points(RULES, order(lines=[line("0.29", 1)]))
    assert single.eligible_amount == Decimal("0.29")
    assert single.points == 29
    three = purchase_points(RULES, order(lines=[line("0.29", 3)]))
    assert three.eligible_amount == Decimal("0.87")
    assert three.points == 87


# ---- the tier's earning multiplier and early access (issue #13) ---------------------------

GOLD_125 = ProgramRules.model_validate(
    {
        "tiers": [
            {"name": "Bronze", "minPoints": 0},
            {"name": "Silver", "minPoints": 1001, "earningMultiplier": "1.1"},
            {"name": "Gold", "minPoints": 5001, "earningMultiplier": "1.25"},
        ]
    }
)


def gold_member(tier_points=6000):
    first = plan_order_award(GOLD_125, None, order("o-0", at="2026-10-01T10:00:00Z"), NOW)
    return replace(member_after(first), tier_points=tier_points, tier="Gold")


def test_a_gold_member_earns_the_gold_multiplier_and_the_entry_records_it():
    # 3 × $3.33 = $9.99 → 999 × 1.25 = 1248.75 → 1248 (floored once)
    plan = plan_order_award(GOLD_125, gold_member(), order("o-1", lines=[line("3.33", 3)]), NOW)
    purchase = plan.entries[0]
    assert (purchase.reason, purchase.points) == ("purchase", 1248)
    assert purchase.details["tierMultiplier"] == "1.25"
    assert purchase.details["tier"] == "Gold"
    assert purchase.details["seasonalMultiplier"] == "1"
    assert plan.order.purchase_points == 1248
    assert plan.order.tier == "Gold"


def test_the_tier_is_the_members_tier_before_the_order():
    # A Bronze member whose order takes them to Gold earns this order at Bronze's rate.
    bronze = replace(gold_member(tier_points=0), tier="Bronze")
    plan = plan_order_award(GOLD_125, bronze, order("o-1", lines=[line("60.00")]), NOW)
    assert plan.entries[0].points == 6000
    assert plan.entries[0].details["tierMultiplier"] == "1"
    assert plan.member.tier == "Gold"
    silver = replace(bronze, tier_points=1001, tier="Silver")
    assert plan_order_award(GOLD_125, silver, order("o-2"), NOW).entries[0].points == 1100


def test_a_refund_reverses_exactly_what_the_multiplied_order_earned():
    member = gold_member()
    plan = plan_order_award(GOLD_125, member, order("o-1", lines=[line("3.33", 3)]), NOW)
    lots = {lot.lot_id: lot for lot in plan.lots}
    # Even once the rules have dropped the multiplier, the refund takes back what was earned.
    later = ProgramRules()
    full = plan_refund(later, member_after(plan, member), plan.order, refund("9.99"), NOW, lots)
    assert full.points == -1248
    half = plan_refund(later, member_after(plan, member), plan.order, refund("4.99"), NOW, lots)
    assert half.points == -(1248 * 499 // 999)


def test_early_access_earns_the_seasonal_multiplier_at_the_tier_of_the_order():
    """With early access on (opt-in): Silver 24 h, Gold 48 h."""
    # Wednesday 2026-11-25 10:00: Black Friday (the 27th) is 38 hours away.
    wednesday = order("o-1", at="2026-11-25T10:00:00Z", lines=[line("10.00")])
    bronze = replace(gold_member(tier_points=0), tier="Bronze")
    silver = replace(bronze, tier_points=2000, tier="Silver")
    gold = gold_member()
    assert plan_order_award(EARLY, bronze, wednesday, NOW).entries[0].points == 1000
    assert plan_order_award(EARLY, silver, wednesday, NOW).entries[0].points == 1000
    gold_plan = plan_order_award(EARLY, gold, wednesday, NOW)
    assert gold_plan.entries[0].points == 2000
    assert gold_plan.entries[0].details["seasonalMultiplier"] == "2"
    # Both at once: Gold's early access and Gold's multiplier.
    gold_125_early = ProgramRules.model_validate(
        {
            "tiers": [
                {"name": "Bronze", "minPoints": 0},
                {"name": "Silver", "minPoints": 1001},
                {
                    "name": "Gold",
                    "minPoints": 5001,
                    "earningMultiplier": "1.25",
                    "earlyAccessHours": 48,
                },
            ]
        }
    )
    assert plan_order_award(gold_125_early, gold, wednesday, NOW).entries[0].points == 2500
    # Early access is opt-in: under the default rules Gold waits for Black Friday too.
    assert plan_order_award(RULES, gold, wednesday, NOW).entries[0].points == 1000
    # A new member's first order earns at Bronze.
    assert plan_order_award(EARLY, None, wednesday, NOW).entries[0].points == 1000
