"""Request and response bodies of the HTTP API (contract: "Storefront API"), camelCase on
the wire. The OpenAPI document is generated from these."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)
from pydantic.alias_generators import to_camel

from loyalty.domain.calendar import format_instant
from loyalty.domain.orders import MEMBER_ID_PATTERN
from loyalty.domain.rewards import RewardId, RewardKind
from loyalty.domain.rules import TierName

MemberId = Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)]
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_EMAIL = rf"^[^@\s\x00-\x1f]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$"
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=_EMAIL)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-.]{5,32}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
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


def _birthday(value: date | None) -> date | None:
    if value is not None and not date(1900, 1, 1) <= value <= date.today():
        raise ValueError("must be a past date after 1900-01-01")
    return value


class EnrollRequest(ApiModel):
    member_id: MemberId
    name: Name
    email: Email
    phone: Phone | None = None
    birthday: date | None = Field(default=None, description="YYYY-MM-DD")
    referral_code: ReferralCodeText | None = None

    _check_birthday = field_validator("birthday")(_birthday)


class ProfileUpdate(ApiModel):
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    birthday: date | None = Field(default=None, description="YYYY-MM-DD")

    _check_birthday = field_validator("birthday")(_birthday)


class NextTierBody(ApiModel):
    name: TierName
    points_needed: int


class ExpiringBody(ApiModel):
    points: int
    expires_at: Instant


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
