"""Request and response bodies of the HTTP API (contract: "Storefront API"), camelCase on
the wire. The OpenAPI document is generated from these."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from loyalty.domain.calendar import format_instant
from loyalty.domain.coupons import Coupon, CouponStatus
from loyalty.domain.rewards import REWARD_ID_PATTERN, RewardId, RewardKind
from loyalty.domain.rules import (
    JsonInt,
    Multiplier,
    OrderMilestone,
    ReferralRules,
    SeasonalWindow,
    TenureMilestone,
    TierName,
    TierRule,
)
from loyalty.domain.validation import BADGE_ID_PATTERN, MEMBER_ID_PATTERN, ExternalId
from loyalty.services import clock

MemberId = Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)]
# Path parameters, as the contract writes them (checked before any route runs).
MemberIdPath = Annotated[
    str,
    Path(
        pattern=MEMBER_ID_PATTERN,
        min_length=1,
        max_length=64,
        description="The member's id: 1-64 characters of A-Z a-z 0-9 . _ @ - "
        "(percent-encoded in the URL where needed: `pat%40shop.io`).",
    ),
]
RewardIdPath = Annotated[
    str,
    Path(
        pattern=REWARD_ID_PATTERN,
        min_length=1,
        max_length=64,
        description="1-64 characters of a-z 0-9 - _ . , a letter or digit first.",
    ),
]
BadgeIdPath = Annotated[
    str,
    Path(
        pattern=BADGE_ID_PATTERN,
        min_length=1,
        max_length=64,
        description="1-64 characters of a-z 0-9 - _ . , a letter or digit first.",
    ),
]
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_EMAIL = rf"^[^@\s\x00-\x1f]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$"
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=_EMAIL)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-.]{5,32}$")]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")
]
ReferralCodeText = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9]{4,32}$")
]
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://[^\s]+$")
]


# ISO 8601 in UTC with a Z, as the contract writes times (`2026-11-27T10:00:00Z`).
Instant = Annotated[datetime, PlainSerializer(format_instant, return_type=str, when_used="json")]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def fingerprint(self) -> str:
        """What an Idempotency-Key is checked against: the same request body, the same
        fingerprint (field order and spelling aside)."""
        document = json.dumps(self.model_dump(by_alias=True), sort_keys=True)
        return hashlib.sha256(document.encode()).hexdigest()


def _iso_date(value: object) -> object:
    """A date is a "YYYY-MM-DD" string (not a number read as a timestamp)."""
    if value is not None and not isinstance(value, (str, date)):
        raise ValueError("must be a date string, YYYY-MM-DD")
    return value


Birthday = Annotated[date, BeforeValidator(_iso_date)]


def _birthday(value: date | None) -> date | None:
    # Today by the services' clock, in UTC (not the machine's local date).
    if value is not None and not date(1900, 1, 1) <= value <= clock.utc_now().date():
        raise ValueError("must be a past date after 1900-01-01")
    return value


_BIRTHDAY_DOC = "YYYY-MM-DD, from 1900-01-01 to today."
# The schema's part of the range: the years 1900 to 2099 (today is checked by the server).
_BIRTHDAY_SCHEMA: JsonDict = {
    "pattern": r"^(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
    "format": "date",
}


class EnrollRequest(ApiModel):
    member_id: MemberId
    name: Name
    email: Email
    phone: Phone | None = None
    birthday: Birthday | None = Field(
        default=None, description=_BIRTHDAY_DOC, json_schema_extra=_BIRTHDAY_SCHEMA
    )
    referral_code: ReferralCodeText | None = None
    marketing_consent: StrictBool | None = Field(
        default=None,
        description="Opt-in to marketing events (birthday, milestone, tier, expiring points). "
        "Absent: no change (a new member has not opted in).",
    )

    _check_birthday = field_validator("birthday")(_birthday)


DisplayName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class LeaderboardUpdate(ApiModel):
    """The leaderboard choice (docs/leaderboard.md); absent fields stay."""

    # Absent: None (a default is not validated); `null` is not a boolean: a 422.
    opt_in: StrictBool = Field(  # type: ignore[assignment]
        default=None, description="Appear on the leaderboard (off until the member opts in)."
    )
    display_name: DisplayName | None = Field(
        default=None,
        description="The name shown on the leaderboard: 1-32 printable characters, not an "
        "email address. `null` removes it (refused while opted in).",
    )


class LeaderboardBody(ApiModel):
    opt_in: bool = Field(description="Listed on the leaderboard (off by default).")
    display_name: str | None = Field(description="The name shown there, the member's choice.")


class ProfileUpdate(ApiModel):
    """The fields to change; absent ones stay. `null` removes phone or birthday (name and
    email cannot be removed: `null` is refused for them)."""

    # Absent: None (a default is not validated); `null` is not a Name or an Email: a 422.
    name: Name = Field(default=None)  # type: ignore[assignment]
    email: Email = Field(default=None)  # type: ignore[assignment]
    phone: Phone | None = None
    birthday: Birthday | None = Field(
        default=None, description=_BIRTHDAY_DOC, json_schema_extra=_BIRTHDAY_SCHEMA
    )
    marketing_consent: StrictBool | None = None
    leaderboard: LeaderboardUpdate = Field(  # type: ignore[assignment]
        default=None,
        description="Opt in to (or out of) the leaderboard, and the display name shown there.",
    )

    _check_birthday = field_validator("birthday")(_birthday)


class NextTierBody(ApiModel):
    name: TierName
    points_needed: int


class ExpiringBody(ApiModel):
    points: int
    expires_at: Instant


MoneyText = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,10}\.\d{2}$", "examples": ["50.00"]}),
]
# A line's amount: up to 100,000 × a price of up to ten digits.
LineAmountText = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,16}\.\d{2}$", "examples": ["50.00"]}),
]
# A multiplier as the rules document writes it: a decimal string ("1.25").
MultiplierText = Annotated[
    Decimal,
    PlainSerializer(lambda value: str(value), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["1.25"]}),
]


class TierBenefitsBody(ApiModel):
    """A tier's benefits as data (the program rules' tier): for the storefront to apply
    and show."""

    member_discount_percent: int = Field(description="0-100: the tier's member discount.")
    free_shipping_threshold: MoneyText | None = Field(
        description="Orders from this amount ship free for the tier; null: no such benefit."
    )
    early_access_hours: int = Field(
        description="How many hours before everyone the tier sees and earns a promotion."
    )
    earning_multiplier: MultiplierText = Field(
        description="Multiplies the tier's purchase points (1 to 10)."
    )
    perks: list[str] = Field(description="The tier's benefits in words (as `tierBenefits`).")


class MemberViewBody(ApiModel):
    member_id: str
    name: str | None
    email: str | None
    tier: TierName
    balance: int
    pending_points: int
    tier_points: int
    next_tier: NextTierBody | None
    expiring: list[ExpiringBody]
    referral_code: str | None
    enrolled_at: Instant
    tier_benefits: list[str] = Field(description="The benefits of the member's current tier.")
    marketing_consent: bool
    benefits: TierBenefitsBody = Field(
        description="The benefits of the member's current tier, as data."
    )
    leaderboard: LeaderboardBody = Field(description="The member's leaderboard choice.")


class ActivityBody(ApiModel):
    entry_id: str
    type: Literal["earn", "redeem", "expire", "reverse", "adjust"]
    reason: str
    points: int
    occurred_at: Instant
    reference: str


class ActivityPage(ApiModel):
    items: list[ActivityBody]
    next_cursor: str | None


class RewardBody(ApiModel):
    reward_id: str
    name: str
    kind: RewardKind
    cost: int
    min_tier: TierName
    discount_percent: int | None = None
    stock: int | None = None


class RewardList(ApiModel):
    items: list[RewardBody]


class RedemptionRequest(ApiModel):
    reward_id: RewardId


class RedemptionBody(ApiModel):
    redemption_id: str
    reward_id: str
    points_spent: int
    balance: int
    coupon_code: str
    coupon_expires_at: Instant | None = Field(
        default=None, description="When the coupon expires unused (programme's couponValidityDays)."
    )


class ReviewRequest(ApiModel):
    product_id: ShortText
    review_id: ShortText


class ShareRequest(ApiModel):
    platform: Annotated[
        str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9_\-]+$")
    ]
    url: Url


class AwardBody(ApiModel):
    points_awarded: int
    balance: int


class ReferralsBody(ApiModel):
    referral_code: str | None
    completed: int
    pending: int
    points_earned: int


class PublicProgramBody(ApiModel):
    """The public part of the program rules in force: how points are earned, the tiers and
    their benefits, how long points last. What only operators need (the document's
    `version`, when expiry warnings go out) stays in `GET /admin/program`."""

    points_per_dollar: int
    category_multipliers: dict[str, Multiplier]
    seasonal_multipliers: list[SeasonalWindow]
    first_purchase_bonus: int
    review_points: int
    social_share_points: int
    social_share_monthly_cap: int
    referral: ReferralRules
    order_milestones: list[OrderMilestone]
    tenure_milestones: list[TenureMilestone]
    birthday_bonus: int
    tiers: list[TierRule]
    expiry_months: int
    pending_hold_days: int


# ---- operator and privacy API ------------------------------------------------------------

# Free text an operator writes into the ledger and the audit trail: which stay after an
# erasure, so they must not carry personal data (no email addresses, no phone numbers).
# Phone numbers as people write them (+1 555 123 4567, (555) 123-4567, 555-123-4567); a bare
# run of digits is let through, as order and ticket numbers look just like that. A guard
# against slips, not a guarantee: docs/operations.md asks operators for no personal data.
_PHONE_LIKE = re.compile(
    r"\+\d[\d ()\-.]{6,}\d|\(\d{3}\)\s?\d{3}[\-. ]\d{4}|\b\d{3}[\-. ]\d{3}[\-. ]\d{4}\b"
)


def _no_contact_details(value: str) -> str:
    if "@" in value or _PHONE_LIKE.search(value):
        raise ValueError("must not contain personal data (an email address or phone number)")
    return value


AuditReason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=200, pattern=r"^[^\x00-\x1f]+$"
    ),
    AfterValidator(_no_contact_details),
]


class AdjustmentRequest(ApiModel):
    points: int = Field(description="Signed, non-zero.", ge=-10_000_000, le=10_000_000, strict=True)
    reason: AuditReason = Field(
        description="Shown to the member in their activity; no personal data (no emails or "
        "phone numbers)."
    )

    @field_validator("points")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must be a non-zero integer")
        return value


class AdjustmentBody(ApiModel):
    entry_id: str
    points: int
    balance: int


class RewardUpsert(ApiModel):
    """A reward as the operator writes it; the id is the path's. `discountPercent` is
    required for kind `discount` and refused for the others."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"kind": {"const": "discount"}}},
            "then": {
                "required": ["discountPercent"],
                "properties": {"discountPercent": {"type": "integer"}},
            },
            "else": {"properties": {"discountPercent": {"type": "null"}}},
        }
    )

    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    kind: RewardKind
    cost: JsonInt = Field(ge=1, le=10_000_000)
    min_tier: TierName = "Bronze"
    discount_percent: JsonInt | None = Field(default=None, ge=1, le=100)
    stock: JsonInt | None = Field(default=None, ge=0)
    active: StrictBool = True


class AdminRewardBody(RewardBody):
    active: bool


class AdminRewardList(ApiModel):
    items: list[AdminRewardBody]


class MemberSearchResult(ApiModel):
    items: list[MemberViewBody]


class ExportProfile(ApiModel):
    member_id: str
    name: str | None
    email: str | None
    phone: str | None
    birthday: str | None
    marketing_consent: bool
    enrolled_at: str | None
    enrolled_by: str | None
    referral_code: str | None
    referred_by: str | None
    tier: str | None
    tier_points: int | None
    balance: int | None
    pending_points: int | None
    order_count: int | None
    leaderboard: LeaderboardBody


class ExportBody(ApiModel):
    profile: ExportProfile
    activity: list[ActivityBody]
    coupons: list[CouponBody] = Field(
        default_factory=list,
        description="Every coupon the member's redemptions issued, newest first, with its "
        "status now.",
    )


class AuditRecordBody(ApiModel):
    audit_id: str
    actor: str
    action: str
    target: str
    reason: str
    details: dict[str, str]
    recorded_at: str


class AuditTrail(ApiModel):
    items: list[AuditRecordBody]


class ErrorBody(ApiModel):
    message: str
    errors: list[dict[str, str]] | None = None


_ENTRY_ID = re.compile(r"^\d{19}-[0-9a-f]{12}$")


def encode_cursor(entry_id: str) -> str:
    return base64.urlsafe_b64encode(entry_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    """The entry id a cursor continues after; None for anything we did not issue."""
    try:
        entry_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return entry_id if _ENTRY_ID.match(entry_id) else None


# ---- program KPIs (GET /admin/kpis) ----------------------------------------------------------


class MembersByTierBody(ApiModel):
    bronze: int = Field(alias="Bronze")
    silver: int = Field(alias="Silver")
    gold: int = Field(alias="Gold")


class ActiveMembersBody(ApiModel):
    days30: int = Field(description="Members with a ledger entry (not an expiry) in 30 days.")
    days90: int = Field(description="The same over 90 days.")


class DailyFiguresBody(ApiModel):
    day: date = Field(alias="date")
    issued: int
    redeemed: int
    expired: int


class KpisBody(ApiModel):
    """The program's figures, kept from the ledger as it changes (a few seconds behind)."""

    members: int = Field(description="Members enrolled and not erased.")
    members_by_tier: MembersByTierBody
    points_issued: int = Field(description="The sum of all positive entries.")
    points_redeemed: int
    points_expired: int
    points_outstanding: int = Field(description="The sum of all balances, pending included.")
    redemption_rate: float = Field(description="pointsRedeemed / pointsIssued (0 if none).")
    outstanding_by_expiry_month: dict[str, int] = Field(
        description='Unspent points by the month they expire in ("YYYY-MM").'
    )
    enrollments_by_month: dict[str, int] = Field(
        description="Enrollments by month (erased members included: history does not change)."
    )
    active_members: ActiveMembersBody
    daily: list[DailyFiguresBody] = Field(
        description="Points issued, redeemed, expired per day (by the entries' date), the "
        "last 90 days, oldest first."
    )
    as_of: Instant


class PreviewFiguresBody(ApiModel):
    orders: int = Field(description="Orders replayed.")
    awarded: int = Field(description="Purchase points and first-purchase bonuses awarded.")
    would_award: int = Field(description="What the draft rules would have awarded instead.")
    difference: int = Field(description="wouldAward - awarded.")


class PreviewByTierBody(ApiModel):
    bronze: PreviewFiguresBody = Field(alias="Bronze")
    silver: PreviewFiguresBody = Field(alias="Silver")
    gold: PreviewFiguresBody = Field(alias="Gold")


class ProgramPreviewBody(ApiModel):
    """The orders of a recent period replayed under draft rules; nothing is written. Replayed:
    purchase points (categories, points per dollar, seasonal windows) and the first-purchase
    bonus; not milestones, referrals or other earnings. Refunds are not subtracted."""

    start: Instant = Field(description="The period replayed: orders that occurred from here...")
    end: Instant = Field(description="...to here (now).")
    draft_version: int = Field(description="The version the draft was based on.")
    total: PreviewFiguresBody
    by_tier: PreviewByTierBody = Field(
        description="By the member's tier when the order was awarded."
    )
    truncated: bool = Field(
        description="True when the period held more orders than a preview reads (5,000): "
        "only the newest were replayed."
    )
    rules_versions: list[int] = Field(
        description="The rules versions the replayed orders were awarded under."
    )


COUPON_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9\-]{0,63}$"
CouponCodePath = Annotated[
    str,
    Path(
        pattern=COUPON_CODE_PATTERN,
        min_length=1,
        max_length=64,
        description="A coupon code as issued (`LOY-XXXX-XXXX-XXXX`; case does not matter).",
    ),
]


class CouponBody(ApiModel):
    """A coupon a redemption issued. `status`: `active` (usable until `expiresAt`), `used`
    (by `usedByOrder`), `voided` (its points went back to the member) or `expired`."""

    code: str
    status: Literal["active", "used", "voided", "expired"]
    member_id: str
    reward_id: str
    reward_name: str | None = None
    kind: Literal["discount", "free_shipping", "product"] | None = Field(
        default=None, description="What the checkout applies: the reward's kind."
    )
    discount_percent: int | None = Field(default=None, description="For kind `discount`.")
    points: int = Field(description="The points the redemption spent on it.")
    issued_at: Instant
    expires_at: Instant | None = Field(
        default=None, description="None for coupons issued before coupons expired."
    )
    used_at: Instant | None = None
    used_by_order: str | None = None
    voided_at: Instant | None = None

    @classmethod
    def of(cls, coupon: Coupon, status: CouponStatus, **extra: Any) -> Self:
        """The coupon as the API tells it, its status as of the answer (`Coupon.status_at`)."""
        return cls(
            code=coupon.code,
            status=status,
            member_id=coupon.member_id,
            reward_id=coupon.reward_id,
            reward_name=coupon.reward_name,
            kind=coupon.kind,
            discount_percent=coupon.discount_percent,
            points=coupon.points,
            issued_at=coupon.issued_at,
            expires_at=coupon.expires_at,
            used_at=coupon.used_at,
            used_by_order=coupon.used_by_order,
            voided_at=coupon.voided_at,
            **extra,
        )


class CouponList(ApiModel):
    items: list[CouponBody] = Field(description="Newest first.")


class CouponCheckBody(CouponBody):
    valid: bool = Field(description="True when the coupon can be used now (by `memberId`).")
    reason: Literal["used", "voided", "expired", "other-member"] | None = Field(
        default=None, description="Why it cannot be used; null when valid."
    )


class CouponUseRequest(ApiModel):
    order_id: ExternalId = Field(description="The order the coupon is used on.")
    member_id: MemberId = Field(description="The member using it: it must be theirs.")


class CouponVoidRequest(ApiModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="Why, for the logs (e.g. the order was cancelled); no personal data.",
    )


class CouponVoidBody(ApiModel):
    coupon: CouponBody
    points_returned: int = Field(description="Back to the balance (or paying a debt).")
    points_expired: int = Field(
        description="Points whose lots expired since the redemption: they stay expired."
    )


# ---- points preview for carts (POST /quotes) and promotions (GET /promotions) ---------------


def _money_text(value: object) -> object:
    """Money as order messages write it: a string with two decimals, never a JSON number."""
    if not isinstance(value, str) or not re.match(r"^\d{1,10}\.\d{2}$", value):
        raise ValueError('must be a decimal string with two decimals, e.g. "12.34"')
    return value


MoneyInput = Annotated[
    Decimal,
    BeforeValidator(_money_text),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,10}\.\d{2}$", "examples": ["19.99"]}),
]


def _instant_text(value: object) -> object:
    """An instant is an ISO 8601 string with an offset (`Z`), never a number."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 instant, e.g. 2026-11-27T10:00:00Z")
    return value


def _with_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset (Z)")
    return value


InstantInput = Annotated[datetime, BeforeValidator(_instant_text), AfterValidator(_with_offset)]
# What the order message's line is (`loyalty.domain.orders.OrderLine`), with its limits.
Sku = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Category = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class QuoteLineRequest(ApiModel):
    """A cart line, as an order message's line."""

    sku: Sku
    category: Category | None = Field(
        default=None, description="For the program's category multipliers."
    )
    quantity: int = Field(ge=1, le=100_000, strict=True)
    unit_price: MoneyInput = Field(description="Net of discounts, as on the order message.")


class QuoteRequest(ApiModel):
    """A cart: the lines of the order the member is about to place."""

    member_id: MemberId | None = Field(
        default=None,
        description="The customer; absent, or unknown to the program: quoted as a guest "
        "(Bronze, first order).",
    )
    lines: list[QuoteLineRequest] = Field(min_length=1, max_length=1000)
    at: InstantInput | None = Field(
        default=None, description="When the order would be placed (default: now), UTC."
    )


# A decimal as the rules write multipliers: a string ("2", "1.25", "3998.75").
def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


DecimalText = Annotated[
    Decimal,
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["1.25"]}),
]


class QuotedLineBody(ApiModel):
    sku: str
    category: str | None
    quantity: int
    unit_price: MoneyText
    amount: LineAmountText = Field(description="quantity × unitPrice.")
    category_multiplier: DecimalText
    seasonal_multiplier: DecimalText
    tier_multiplier: DecimalText
    points: DecimalText = Field(
        description="amount × categoryMultiplier × pointsPerDollar × seasonalMultiplier × "
        "tierMultiplier, before the order's one rounding down."
    )


class QuoteBody(ApiModel):
    """What the order would earn, as the award would compute it now; nothing is written."""

    member_id: str | None
    guest: bool = Field(description="True when the member is not enrolled (or not given).")
    tier: TierName = Field(description="The tier the order would earn at (Bronze for a guest).")
    at: Instant
    rules_version: int
    points_per_dollar: int
    seasonal_multiplier: DecimalText
    promotion: str | None = Field(description="The seasonal window giving seasonalMultiplier.")
    early_access: bool = Field(
        description="The promotion is open for this tier only, by its early access."
    )
    tier_multiplier: DecimalText
    lines: list[QuotedLineBody]
    purchase_points: int = Field(description="The lines' points summed, rounded down once.")
    first_purchase_bonus: int = Field(description="When this would be the first order.")
    milestone_points: int = Field(description="An order-count milestone this order reaches.")
    total_points: int = Field(description="purchasePoints + firstPurchaseBonus + milestonePoints.")
    member_discount_percent: int = Field(description="The tier's member discount, 0-100.")
    free_shipping_threshold: MoneyText | None = Field(
        description="The tier's free-shipping threshold; null: none."
    )
    coupons: list[CouponBody] = Field(
        default_factory=list,
        description="The member's coupons the order could use (active at `at`), newest first; "
        "none for a guest.",
    )


class PromotionBody(ApiModel):
    name: str
    multiplier: DecimalText
    opens_for_you_at: Instant = Field(
        description="When it opens for the tier asked: its early access before everyone."
    )
    opens_for_everyone_at: Instant
    ends_at: Instant = Field(description="When it closes (exclusive).")
    open_now: bool


class PromotionsBody(ApiModel):
    tier: TierName = Field(description="The tier the promotions are shown for.")
    early_access_hours: int
    at: Instant
    items: list[PromotionBody] = Field(
        description="Each promotion's occurrence open now, or else its next, soonest first."
    )


# ---- the leaderboard (GET /leaderboard) ------------------------------------------------------


class LeaderboardRowBody(ApiModel):
    rank: int = Field(description="1 for the most points; equal points share a rank.")
    display_name: str
    points: int = Field(description="Points earned in the period.")


class LeaderboardBoardBody(ApiModel):
    period: Literal["month", "all"]
    period_start: Instant | None = Field(
        default=None, description="The first instant of the month (`period=month` only)."
    )
    refreshed_at: Instant | None = Field(
        description="When the board was last refreshed (null before its first refresh)."
    )
    items: list[LeaderboardRowBody]


# ---- badges and challenges -----------------------------------------------------------------


class EarnedBadgeBody(ApiModel):
    badge_id: str
    name: str
    description: str
    points: int
    earned_at: Instant
    challenge: bool


class BadgeProgressBody(ApiModel):
    """An open badge or challenge: `progress` of `target` so far (for a per-month condition,
    this calendar month's)."""

    badge_id: str
    name: str
    description: str
    points: int
    progress: int
    target: int
    challenge: bool
    starts_on: date | None
    ends_on: date | None


class MemberBadgesBody(ApiModel):
    earned: list[EarnedBadgeBody]
    progress: list[BadgeProgressBody]
