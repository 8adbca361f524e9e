"""The program's rules as data: every number of the contract's default program, overridable
per deployment and validated at load. Field names are camelCase on the wire."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

from annotated_types import Ge
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from loyalty.domain.calendar import black_friday, cyber_monday
from loyalty.domain.validation import Money

TierName = Literal["Bronze", "Silver", "Gold"]
TIER_ORDER: tuple[TierName, ...] = ("Bronze", "Silver", "Gold")

_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_NAMED_ANCHORS = {"black-friday": black_friday, "cyber-monday": cyber_monday}


def _json_integer(value: object) -> object:
    """An integer as JSON Schema has it: a number without a fraction (5 or 5.0), never a
    boolean or a string ("5")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError("must be an integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
NonNegativeInt = Annotated[int, Ge(0), BeforeValidator(_json_integer)]
Multiplier = Annotated[Decimal, Field(gt=0, le=100, max_digits=8, decimal_places=4)]
# A tier's earning multiplier: never below 1 (a tier never earns less than Bronze's rate).
TierMultiplier = Annotated[Decimal, Field(ge=1, le=10, max_digits=6, decimal_places=4)]
# How long before a promotion opens for everyone it opens for a tier: at most a week.
MAX_EARLY_ACCESS_HOURS = 168


class RulesModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class SeasonalWindow(RulesModel):
    """A calendar window in which purchase points are multiplied. `start` and `end` are
    inclusive and are either `MM-DD` or a named anchor computed for each year
    (`black-friday`, `cyber-monday`). A window whose end precedes its start spans new year."""

    name: str = Field(min_length=1, max_length=64)
    start: str
    end: str
    multiplier: Multiplier
    early_access: StrictBool = Field(
        default=True,
        description="Whether tiers with earlyAccessHours get a head start on this window "
        "(false: it opens for every tier at once).",
    )

    @field_validator("start", "end")
    @classmethod
    def _anchor(cls, value: str) -> str:
        if value in _NAMED_ANCHORS:
            return value
        if _MONTH_DAY.match(value):
            month, day = map(int, value.split("-"))
            date(2024, month, day)  # raises for 02-30 and the like; 2024 admits 02-29
            return value
        raise ValueError("must be MM-DD, 'black-friday' or 'cyber-monday'")

    def _resolve(self, anchor: str, year: int) -> date:
        named = _NAMED_ANCHORS.get(anchor)
        if named is not None:
            return named(year)
        month, day = map(int, anchor.split("-"))
        if (month, day) == (2, 29) and not _is_leap(year):
            return date(year, 2, 28)
        return date(year, month, day)

    def occurrence(self, day: date) -> tuple[date, date] | None:
        """The window's start and end dates around `day`, if `day` falls inside it."""
        for start_year in (day.year - 1, day.year):
            start = self._resolve(self.start, start_year)
            end = self._resolve(self.end, start_year)
            if end < start:
                end = self._resolve(self.end, start_year + 1)
            if start <= day <= end:
                return start, end
        return None

    def contains(self, day: date) -> bool:
        return self.occurrence(day) is not None

    def head_start(self, early_access_hours: int) -> timedelta:
        """How long before its start the window opens for a tier with `early_access_hours`."""
        return timedelta(hours=early_access_hours if self.early_access else 0)

    def opening_around(self, at: datetime, early_access_hours: int = 0) -> Opening | None:
        """The occurrence of the window open at the instant `at` for a tier with
        `early_access_hours` of head start (None when closed for that tier then)."""
        for opening in self._openings(at.year - 1, at.year + 1, early_access_hours):
            if opening.opens_at <= at < opening.ends_at:
                return opening
        return None

    def next_opening(self, at: datetime, early_access_hours: int = 0) -> Opening:
        """The occurrence open at `at` for the tier, or else the next one to open for it."""
        openings = self._openings(at.year - 1, at.year + 2, early_access_hours)
        return next(opening for opening in openings if at < opening.ends_at)

    def _openings(
        self, first_year: int, last_year: int, early_access_hours: int
    ) -> tuple[Opening, ...]:
        return _window_openings(self, first_year, last_year, early_access_hours)


@dataclass(frozen=True, slots=True)
class Opening:
    """One occurrence of a seasonal window for a tier: it opens for the tier at `opens_at`
    (its head start before `opens_for_everyone_at`, the start date's midnight UTC) and ends
    at `ends_at` (the midnight UTC after its end date, exclusive)."""

    window: SeasonalWindow
    opens_at: datetime
    opens_for_everyone_at: datetime
    ends_at: datetime


# Every award asks which windows are open at its instant: the occurrences of a window depend
# only on the window and the years, so they are worked out once per container, not per order.
@lru_cache(maxsize=512)
def _window_openings(
    window: SeasonalWindow, first_year: int, last_year: int, early_access_hours: int
) -> tuple[Opening, ...]:
    openings = []
    for start_year in range(first_year, last_year + 1):
        start = window._resolve(window.start, start_year)
        end = window._resolve(window.end, start_year)
        if end < start:
            end = window._resolve(window.end, start_year + 1)
        everyone = datetime.combine(start, time(), UTC)
        openings.append(
            Opening(
                window=window,
                opens_at=everyone - window.head_start(early_access_hours),
                opens_for_everyone_at=everyone,
                ends_at=datetime.combine(end + timedelta(days=1), time(), UTC),
            )
        )
    return tuple(openings)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# The tiers' benefits as data when a document leaves them out (documents written before
# they existed stay valid and keep what their tiers' words promise): (memberDiscountPercent,
# earlyAccessHours) by tier; freeShippingThreshold is none and earningMultiplier 1 for all.
# Early access is opt-in (0 hours by default): the contract's seasonal double points are for
# orders placed in the windows themselves, so a head start changes what members earn and is
# the operator's decision (e.g. Silver 24, Gold 48).
_TIER_BENEFIT_DEFAULTS: dict[str, tuple[int, int]] = {
    "Bronze": (0, 0),
    "Silver": (0, 0),
    "Gold": (15, 0),
}


class TierRule(RulesModel):
    name: TierName
    min_points: NonNegativeInt
    benefits: list[str] = Field(
        default_factory=list, description="The tier's perks in words, for people to read."
    )
    member_discount_percent: JsonInt = Field(
        default=0, ge=0, le=100, description="The member discount the shop gives the tier."
    )
    free_shipping_threshold: Money | None = Field(
        default=None,
        description="Orders from this amount ship free for the tier (null: no such benefit).",
    )
    early_access_hours: JsonInt = Field(
        default=0,
        ge=0,
        le=MAX_EARLY_ACCESS_HOURS,
        description="How many hours before everyone the tier sees (and earns) a seasonal "
        "promotion.",
    )
    earning_multiplier: TierMultiplier = Field(
        default=Decimal(1), description="Multiplies the tier's purchase points (1 to 10)."
    )

    @model_validator(mode="before")
    @classmethod
    def _tier_defaults(cls, data: Any) -> Any:
        """Fields a document leaves out take the defaults of the tier it names."""
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or name not in _TIER_BENEFIT_DEFAULTS:
            return data  # not a tier of ours: validation says what is wrong with it
        discount, early = _TIER_BENEFIT_DEFAULTS[name]
        filled = dict(data)
        for field_name, alias, value in (
            ("member_discount_percent", "memberDiscountPercent", discount),
            ("early_access_hours", "earlyAccessHours", early),
        ):
            if field_name not in filled and alias not in filled:
                filled[alias] = value
        return filled


class OrderMilestone(RulesModel):
    order_count: JsonInt = Field(ge=1)
    points: NonNegativeInt


class TenureMilestone(RulesModel):
    months: JsonInt = Field(ge=1, le=600)
    points: NonNegativeInt


class ReferralRules(RulesModel):
    referrer_points: NonNegativeInt = 70
    referee_points: NonNegativeInt = 70
    referrer_monthly_cap: NonNegativeInt = 10


def _tier_schema(name: str, min_points: JsonDict) -> JsonDict:
    """The JSON Schema of the tier list's entry for `name` (the document's `tiers`)."""
    return {
        "type": "object",
        "required": ["name", "minPoints"],
        "additionalProperties": False,
        "properties": {
            "name": {"const": name},
            "minPoints": min_points,
            "benefits": {"type": "array", "items": {"type": "string"}},
            "memberDiscountPercent": {"type": "integer", "minimum": 0, "maximum": 100},
            "freeShippingThreshold": {
                "anyOf": [{"type": "string", "pattern": r"^\d{1,10}\.\d{2}$"}, {"type": "null"}]
            },
            "earlyAccessHours": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_EARLY_ACCESS_HOURS,
            },
            "earningMultiplier": {
                "anyOf": [{"type": "number", "minimum": 1, "maximum": 10}, {"type": "string"}]
            },
        },
    }


def _default_seasons() -> list[SeasonalWindow]:
    return [
        SeasonalWindow(
            name="black-friday-to-cyber-monday",
            start="black-friday",
            end="cyber-monday",
            multiplier=Decimal(2),
        ),
        SeasonalWindow(name="holidays", start="12-20", end="12-25", multiplier=Decimal(2)),
    ]


def _default_tiers() -> list[TierRule]:
    return [
        TierRule(name="Bronze", min_points=0, benefits=[]),
        TierRule(
            name="Silver",
            min_points=1001,
            benefits=["Early access to sales", "Priority support"],
        ),
        TierRule(
            name="Gold",
            min_points=5001,
            benefits=[
                "15% member discount",
                "VIP events",
                "Early access to sales",
                "Personalised recommendations",
            ],
            member_discount_percent=15,
        ),
    ]


class ProgramRules(RulesModel):
    """The whole rules document. `version` identifies the document each earned amount was
    computed with; it is recorded on every earn entry."""

    version: JsonInt = Field(default=1, ge=1)
    points_per_dollar: JsonInt = Field(default=100, ge=0, le=100_000)
    category_multipliers: dict[str, Multiplier] = Field(default_factory=dict)
    seasonal_multipliers: list[SeasonalWindow] = Field(default_factory=_default_seasons)
    first_purchase_bonus: NonNegativeInt = 150
    review_points: NonNegativeInt = 50
    social_share_points: NonNegativeInt = 80
    social_share_monthly_cap: NonNegativeInt = 5
    referral: ReferralRules = Field(default_factory=ReferralRules)
    order_milestones: list[OrderMilestone] = Field(
        default_factory=lambda: [OrderMilestone(order_count=100, points=1000)]
    )
    tenure_milestones: list[TenureMilestone] = Field(
        default_factory=lambda: [TenureMilestone(months=2, points=200)]
    )
    birthday_bonus: NonNegativeInt = 1500
    tiers: list[TierRule] = Field(
        default_factory=_default_tiers,
        description="Exactly Bronze (from 0 points), Silver, Gold, in that order, with "
        "strictly increasing minPoints.",
        json_schema_extra={
            "minItems": 3,
            "maxItems": 3,
            "prefixItems": [
                _tier_schema("Bronze", {"const": 0}),
                _tier_schema("Silver", {"type": "integer", "minimum": 1}),
                _tier_schema("Gold", {"type": "integer", "minimum": 2}),
            ],
        },
    )
    expiry_months: JsonInt = Field(default=12, ge=1, le=120)
    expiry_warning_days: JsonInt = Field(default=30, ge=0, le=365)
    pending_hold_days: JsonInt = Field(default=0, ge=0, le=365)
    coupon_validity_days: JsonInt = Field(
        default=90, ge=1, le=3650, description="A coupon expires this many days after issue."
    )
    coupon_expiry_returns_points: StrictBool = Field(
        default=False,
        description="When a coupon expires unused, its points go back to the member as a void "
        "would return them (false: they stay spent).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProgramRules:
        names = [tier.name for tier in self.tiers]
        if names != list(TIER_ORDER):
            raise ValueError("tiers must be exactly Bronze, Silver, Gold in that order")
        if self.tiers[0].min_points != 0:
            raise ValueError("the Bronze tier must start at 0 points")
        thresholds = [tier.min_points for tier in self.tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must strictly increase")
        counts = [m.order_count for m in self.order_milestones]
        if len(counts) != len(set(counts)):
            raise ValueError("order milestones must have distinct order counts")
        months = [m.months for m in self.tenure_milestones]
        if len(months) != len(set(months)):
            raise ValueError("tenure milestones must have distinct month counts")
        return self

    def seasonal_multiplier(self, day: date) -> Decimal:
        """The largest multiplier of the windows containing `day` (windows do not stack)."""
        return max(
            (window.multiplier for window in self.seasonal_multipliers if window.contains(day)),
            default=Decimal(1),
        )

    def seasonal_multiplier_at(self, at: datetime, tier: TierName | None = None) -> Decimal:
        """The largest multiplier of the windows open at the instant `at` for `tier` (with
        its early access; None: for everyone, as `seasonal_multiplier` of the UTC date)."""
        opening = self.seasonal_opening_at(at, tier)
        return opening.window.multiplier if opening is not None else Decimal(1)

    def seasonal_opening_at(self, at: datetime, tier: TierName | None = None) -> Opening | None:
        """The window (occurrence) whose multiplier applies at `at` for `tier`: the largest
        of those open then (windows do not stack); the first listed on a tie."""
        hours = self.tier(tier).early_access_hours if tier is not None else 0
        best: Opening | None = None
        for window in self.seasonal_multipliers:
            opening = window.opening_around(at, hours)
            if opening is not None and (best is None or window.multiplier > best.window.multiplier):
                best = opening
        return best

    def tier(self, name: TierName) -> TierRule:
        return next(tier for tier in self.tiers if tier.name == name)

    def tier_multiplier(self, name: TierName) -> Decimal:
        return self.tier(name).earning_multiplier

    def category_multiplier(self, category: str | None) -> Decimal:
        if category is None:
            return Decimal(1)
        return self.category_multipliers.get(category, Decimal(1))

    def tier_for(self, tier_points: int) -> TierName:
        current: TierName = "Bronze"
        for tier in self.tiers:
            if tier_points >= tier.min_points:
                current = tier.name
        return current

    def next_tier(self, tier_points: int) -> TierRule | None:
        for tier in self.tiers:
            if tier.min_points > tier_points:
                return tier
        return None

    def order_milestone_points(self, order_count: int) -> int:
        return sum(m.points for m in self.order_milestones if m.order_count == order_count)
