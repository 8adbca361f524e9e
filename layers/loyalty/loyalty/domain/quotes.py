"""What a cart would earn, and the promotions as a tier sees them. Pure: the caller reads the
member (one profile, or none for a guest) and the rules; nothing here reads or writes.

A quote is the award's arithmetic (`purchase_points`) on lines that are not an order yet:
each line's amount × its category multiplier × pointsPerDollar × the seasonal multiplier open
for the member's tier at `at` (early access included) × the tier's earning multiplier, summed
and floored once; plus the first-purchase bonus when the member has no order yet (or is a
guest: the order would enroll them) and an order-count milestone the order would reach."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from loyalty.domain.ledger import MemberState, earning_tier, floor_points, purchase_rates

if TYPE_CHECKING:
    from loyalty.domain.coupons import Coupon
    from loyalty.domain.rules import ProgramRules, SeasonalWindow, TierName


@dataclass(frozen=True, slots=True)
class CartLine:
    sku: str
    category: str | None
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class QuotedLine:
    line: CartLine
    category_multiplier: Decimal
    # The line's share of the order's points before the order's one rounding down.
    points: Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    member_id: str | None
    # No member by that id (or none given): the order would enroll a new member.
    guest: bool
    tier: TierName
    at: datetime
    rules_version: int
    points_per_dollar: int
    seasonal_multiplier: Decimal
    # The promotion the seasonal multiplier comes from (None: none is open), and whether it
    # is open for this tier only thanks to its early access.
    promotion: str | None
    early_access: bool
    tier_multiplier: Decimal
    lines: tuple[QuotedLine, ...]
    purchase_points: int
    first_purchase_bonus: int
    milestone_points: int
    member_discount_percent: int
    free_shipping_threshold: Decimal | None
    # The member's coupons usable at `at` (active: issued, not expired), newest first.
    coupons: tuple[Coupon, ...] = ()

    @property
    def total_points(self) -> int:
        return self.purchase_points + self.first_purchase_bonus + self.milestone_points


def quote_order(
    rules: ProgramRules,
    member_id: str | None,
    member: MemberState | None,
    lines: Sequence[CartLine],
    at: datetime,
    coupons: Sequence[Coupon] = (),
) -> Quote:
    """What an order of `lines` placed at `at` would earn `member` (None: a guest, Bronze,
    whose first order it would be), as `plan_order_award` would award it."""
    tier = earning_tier(rules, member)
    seasonal, tier_multiplier = purchase_rates(rules, at, tier)
    opening = rules.seasonal_opening_at(at, tier)
    quoted = tuple(
        QuotedLine(
            line,
            rules.category_multiplier(line.category),
            line.amount
            * rules.category_multiplier(line.category)
            * rules.points_per_dollar
            * seasonal
            * tier_multiplier,
        )
        for line in lines
    )
    weighted = sum(
        (line.amount * rules.category_multiplier(line.category) for line in lines), Decimal(0)
    )
    order_number = (member.order_count if member is not None else 0) + 1
    benefits = rules.tier(tier)
    return Quote(
        member_id=member_id,
        guest=member is None,
        tier=tier,
        at=at,
        rules_version=rules.version,
        points_per_dollar=rules.points_per_dollar,
        seasonal_multiplier=seasonal,
        promotion=opening.window.name if opening is not None else None,
        early_access=opening is not None and at < opening.opens_for_everyone_at,
        tier_multiplier=tier_multiplier,
        lines=quoted,
        purchase_points=floor_points(weighted, rules.points_per_dollar, seasonal, tier_multiplier),
        first_purchase_bonus=rules.first_purchase_bonus if order_number == 1 else 0,
        milestone_points=rules.order_milestone_points(order_number),
        member_discount_percent=benefits.member_discount_percent,
        free_shipping_threshold=benefits.free_shipping_threshold,
        coupons=tuple(coupon for coupon in coupons if coupon.status_at(at) == "active"),
    )


@dataclass(frozen=True, slots=True)
class PromotionView:
    """A seasonal window's current or next occurrence, as one tier sees it."""

    window: SeasonalWindow
    opens_for_you_at: datetime
    opens_for_everyone_at: datetime
    ends_at: datetime
    open_now: bool

    @property
    def name(self) -> str:
        return self.window.name

    @property
    def multiplier(self) -> Decimal:
        return self.window.multiplier


@dataclass(frozen=True, slots=True)
class Promotions:
    tier: TierName
    early_access_hours: int
    at: datetime
    items: tuple[PromotionView, ...]


def promotions_for(rules: ProgramRules, tier: TierName, now: datetime) -> Promotions:
    """Each window's occurrence open now for `tier`, or else its next one, soonest first."""
    hours = rules.tier(tier).early_access_hours
    views = []
    for window in rules.seasonal_multipliers:
        opening = window.next_opening(now, hours)
        views.append(
            PromotionView(
                window=window,
                opens_for_you_at=opening.opens_at,
                opens_for_everyone_at=opening.opens_for_everyone_at,
                ends_at=opening.ends_at,
                open_now=opening.opens_at <= now,
            )
        )
    views.sort(key=lambda view: (view.opens_for_you_at, view.name))
    return Promotions(tier=tier, early_access_hours=hours, at=now, items=tuple(views))
