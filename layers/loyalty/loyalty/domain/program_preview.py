"""What a draft of the program rules would have changed: the orders of the last days replayed
under the draft, against what they were awarded. Pure: no reads, no writes, no clock.

Replayed: the purchase points (amount per category × category multiplier × points per dollar
× the seasonal multiplier open for the order's tier at its instant, early access included, ×
that tier's earning multiplier, floored once per order, as `purchase_points`)
and the first-purchase bonus of each first order. Not replayed: milestones, referrals and the
other earnings, which do not follow from the orders alone; refunds are ignored on both sides
(the comparison is of what was awarded, not of what is kept)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loyalty.domain.ledger import OrderRecord, floor_points, purchase_rates
from loyalty.domain.rules import TIER_ORDER, ProgramRules, TierName

MAX_PREVIEW_DAYS = 90


@dataclass(slots=True)
class PreviewFigures:
    orders: int = 0
    awarded: int = 0
    would_award: int = 0

    @property
    def difference(self) -> int:
        return self.would_award - self.awarded

    def add(self, awarded: int, would_award: int) -> None:
        self.orders += 1
        self.awarded += awarded
        self.would_award += would_award


@dataclass(frozen=True, slots=True)
class ProgramPreview:
    start: datetime
    end: datetime
    draft_version: int
    total: PreviewFigures
    by_tier: dict[TierName, PreviewFigures]
    # True when only the newest `limit` orders of the period were replayed.
    truncated: bool = False
    rules_versions: tuple[int, ...] = field(default=())


def replayed_purchase_points(draft: ProgramRules, order: OrderRecord) -> int:
    """The purchase points `order` would have earned under `draft`, at the member's tier when
    it was awarded (Bronze for orders recorded before tiers were kept on orders). Orders
    recorded before amounts were kept per category replay as one uncategorised amount."""
    amounts = order.category_amounts or ((None, order.eligible_amount),)
    weighted = sum(
        (amount * draft.category_multiplier(category) for category, amount in amounts),
        Decimal(0),
    )
    seasonal, tier_multiplier = purchase_rates(draft, order.occurred_at, order.tier or "Bronze")
    return floor_points(weighted, draft.points_per_dollar, seasonal, tier_multiplier)


def preview_program(
    draft: ProgramRules,
    orders: Iterable[OrderRecord],
    *,
    start: datetime,
    end: datetime,
    truncated: bool = False,
) -> ProgramPreview:
    """Replays `orders` under `draft`; per tier (the member's tier when the order was awarded;
    Bronze for orders recorded before tiers were kept on orders) and in total."""
    total = PreviewFigures()
    by_tier: dict[TierName, PreviewFigures] = {tier: PreviewFigures() for tier in TIER_ORDER}
    versions: set[int] = set()
    for order in orders:
        awarded = order.purchase_points + order.first_purchase_bonus
        would_award = replayed_purchase_points(draft, order) + (
            draft.first_purchase_bonus if order.first_order else 0
        )
        total.add(awarded, would_award)
        by_tier[order.tier or "Bronze"].add(awarded, would_award)
        versions.add(order.rules_version)
    return ProgramPreview(
        start=start,
        end=end,
        draft_version=draft.version,
        total=total,
        by_tier=by_tier,
        truncated=truncated,
        rules_versions=tuple(sorted(versions)),
    )
