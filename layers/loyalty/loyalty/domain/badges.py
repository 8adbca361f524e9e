"""Badges and challenges: operator-defined conditions over what the ledger already records,
and what one change of the table (a stream record's images) counts towards them.

A badge has a condition from a closed set (`BadgeCondition`), optional points and an
optional window of UTC dates; a badge with a window is a challenge (only events inside the
window count). Counting conditions keep per-member progress as a *set* of the events (or
categories) counted, so a redelivered stream record adds nothing: the count is the set's size.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from loyalty.domain.calendar import add_months, parse_instant
from loyalty.domain.rules import TIER_ORDER, JsonInt, TierName
from loyalty.domain.validation import BADGE_ID_PATTERN

BadgeId = Annotated[str, StringConstraints(pattern=BADGE_ID_PATTERN)]
# A counting condition counts at most this many events: the progress item holds their ids.
MAX_COUNT = 100
# The reason of a badge's ledger entry (its reference is the badge id).
BADGE_REASON = "badge"

CountKind = Literal["reviews", "orders", "referrals", "shares", "categories"]
ActivityKind = Literal["reviews", "orders", "referrals", "shares", "profile"]
# The period a whole-life counter is kept under (a calendar-month counter: "YYYY-MM").
ALL_TIME = "all"


def _iso_date(value: object) -> object:
    """A date is a "YYYY-MM-DD" string (not a number read as a timestamp)."""
    if value is not None and not isinstance(value, (str, date)):
        raise ValueError("must be a date string, YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class BadgeModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class CountCondition(BadgeModel):
    """`count` distinct events of a kind: reviews (of distinct products), orders, completed
    referrals (as the referrer), awarded shares, or `categories` (distinct product
    categories bought in). With `per: calendarMonth`, all within one calendar month (UTC)."""

    kind: CountKind
    count: JsonInt = Field(ge=1, le=MAX_COUNT)
    per: Literal["calendarMonth"] | None = None


class TierCondition(BadgeModel):
    """The member's tier reaches `tier` (or a higher one)."""

    kind: Literal["tier"]
    tier: TierName


class TenureCondition(BadgeModel):
    """`months` calendar months as a member (seen on the member's next activity)."""

    kind: Literal["tenure"]
    months: JsonInt = Field(ge=1, le=600)


BadgeCondition = Annotated[
    CountCondition | TierCondition | TenureCondition, Field(discriminator="kind")
]


class BadgeWindow(BadgeModel):
    """From `startsOn` through `endsOn`, UTC dates, both included."""

    starts_on: IsoDate
    ends_on: IsoDate

    @model_validator(mode="after")
    def _in_order(self) -> BadgeWindow:
        if self.ends_on < self.starts_on:
            raise ValueError("window.endsOn must not be before window.startsOn")
        return self

    def contains(self, moment: datetime) -> bool:
        return self.starts_on <= moment.astimezone(UTC).date() <= self.ends_on


class BadgeDefinition(BadgeModel):
    """A badge as the operator writes it; the id is the path's. `active: false` retires it:
    no longer evaluated nor shown as open; members keep what they earned."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"\S")]
    description: Annotated[str, StringConstraints(max_length=280)] = ""
    condition: BadgeCondition
    points: JsonInt = Field(default=0, ge=0, le=1_000_000)
    window: BadgeWindow | None = None
    active: StrictBool = True


class Badge(BadgeDefinition):
    badge_id: BadgeId

    @property
    def challenge(self) -> bool:
        return self.window is not None

    @property
    def target(self) -> int:
        """How many events the condition counts (1 for a tier or tenure condition)."""
        return self.condition.count if isinstance(self.condition, CountCondition) else 1


# ---- what a change of the table counts ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Activity:
    """One committed change, as badges see it: a member did something at `at`."""

    member_id: str
    kind: ActivityKind
    event_id: str
    at: datetime
    categories: tuple[str, ...] = ()
    tier: str | None = None
    enrolled_at: datetime | None = None


Image = Mapping[str, Any]


def activity_of(old: Image | None, new: Image | None) -> Activity | None:
    """The activity one stream record (old and new images, deserialized) stands for; None
    for a change that counts for no badge."""
    if new is None:
        return None
    item_type = new.get("itemType")
    if item_type == "order" and old is None:
        amounts = new.get("categoryAmounts")
        categories = tuple(sorted(amounts)) if isinstance(amounts, Mapping) else ()
        return Activity(
            str(new["memberId"]),
            "orders",
            str(new["orderId"]),
            parse_instant(str(new["occurredAt"])),
            categories=categories,
        )
    if item_type in ("reviewMarker", "shareMarker") and old is None:
        kind: ActivityKind = "reviews" if item_type == "reviewMarker" else "shares"
        # The marker's key names the business event (the product, the URL's hash).
        return Activity(
            str(new["memberId"]), kind, str(new["SK"]), parse_instant(str(new["recordedAt"]))
        )
    if item_type == "referral":
        was_completed = old is not None and old.get("status") == "completed"
        if new.get("status") != "completed" or was_completed or not new.get("completedAt"):
            return None
        return Activity(
            str(new["referrerId"]),
            "referrals",
            str(new["refereeId"]),
            parse_instant(str(new["completedAt"])),
        )
    if item_type == "member" and not new.get("erasedAt") and new.get("updatedAt"):
        return Activity(
            str(new["memberId"]),
            "profile",
            str(new.get("version", "")),
            parse_instant(str(new["updatedAt"])),
            tier=str(new.get("tier", "")),
            enrolled_at=parse_instant(str(new["enrolledAt"])),
        )
    return None


@dataclass(frozen=True, slots=True)
class BadgeStep:
    """What an activity does to a badge: adds `values` to the progress of `period` (a
    counting condition), or meets the condition at once (`values` empty)."""

    badge: Badge
    period: str = ALL_TIME
    values: tuple[str, ...] = ()

    @property
    def counts(self) -> bool:
        return bool(self.values)


def step_for(badge: Badge, activity: Activity) -> BadgeStep | None:
    """How `activity` moves `badge` on for its member; None when it does not."""
    if not badge.active:
        return None
    if badge.window is not None and not badge.window.contains(activity.at):
        return None
    condition = badge.condition
    if isinstance(condition, CountCondition):
        if condition.kind == "categories":
            values = activity.categories if activity.kind == "orders" else ()
        else:
            values = (activity.event_id,) if activity.kind == condition.kind else ()
        if not values:
            return None
        period = period_of(condition, activity.at)
        return BadgeStep(badge, period, values)
    if activity.kind != "profile":
        return None
    if isinstance(condition, TierCondition):
        tiers: tuple[str, ...] = TIER_ORDER
        reached = activity.tier in tiers and tiers.index(activity.tier) >= tiers.index(
            condition.tier
        )
        return BadgeStep(badge) if reached else None
    if activity.enrolled_at is not None and (
        add_months(activity.enrolled_at, condition.months) <= activity.at
    ):
        return BadgeStep(badge)
    return None


def period_of(condition: CountCondition, at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m") if condition.per == "calendarMonth" else ALL_TIME


def progress_expires_at(period: str) -> datetime | None:
    """A calendar month's counter is of no use once the month is over: kept 40 days more."""
    if period == ALL_TIME:
        return None
    start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    return add_months(start, 1) + timedelta(days=40)


# ---- what a member sees ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EarnedBadge:
    badge_id: str
    name: str
    description: str
    points: int
    earned_at: datetime
    challenge: bool


@dataclass(frozen=True, slots=True)
class BadgeProgress:
    """An open badge or challenge: `progress` of `target` counted (2 of 3)."""

    badge_id: str
    name: str
    description: str
    points: int
    progress: int
    target: int
    challenge: bool
    starts_on: date | None
    ends_on: date | None


@dataclass(frozen=True, slots=True)
class MemberBadges:
    earned: tuple[EarnedBadge, ...]
    progress: tuple[BadgeProgress, ...]


@dataclass(frozen=True, slots=True)
class BadgeStanding:
    """A member's badge items: the badges earned (id -> when, points) and the counted values
    per (badge id, period)."""

    earned: Mapping[str, tuple[datetime, int]]
    counted: Mapping[tuple[str, str], frozenset[str]]


def member_badges(badges: list[Badge], standing: BadgeStanding, today: datetime) -> MemberBadges:
    """The earned badges (newest first; a retired badge earned stays) and the open ones: active,
    not earned, counting, and whose window (if any) has not ended."""
    by_id = {badge.badge_id: badge for badge in badges}
    earned = []
    for badge_id, (earned_at, points) in standing.earned.items():
        badge = by_id.get(badge_id)
        earned.append(
            EarnedBadge(
                badge_id=badge_id,
                name=badge.name if badge else badge_id,
                description=badge.description if badge else "",
                points=points,
                earned_at=earned_at,
                challenge=badge.challenge if badge else False,
            )
        )
    earned.sort(key=lambda e: (e.earned_at, e.badge_id), reverse=True)
    progress = []
    for badge in sorted(badges, key=lambda b: b.badge_id):
        condition = badge.condition
        if not badge.active or badge.badge_id in standing.earned:
            continue
        if not isinstance(condition, CountCondition):
            continue
        if badge.window is not None and badge.window.ends_on < today.astimezone(UTC).date():
            continue
        counted = standing.counted.get((badge.badge_id, period_of(condition, today)), frozenset())
        progress.append(
            BadgeProgress(
                badge_id=badge.badge_id,
                name=badge.name,
                description=badge.description,
                points=badge.points,
                progress=min(len(counted), condition.count),
                target=condition.count,
                challenge=badge.challenge,
                starts_on=badge.window.starts_on if badge.window else None,
                ends_on=badge.window.ends_on if badge.window else None,
            )
        )
    return MemberBadges(tuple(earned), tuple(progress))
