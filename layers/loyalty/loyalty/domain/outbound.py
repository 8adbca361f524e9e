"""Outbound domain events, derived from the table's stream (an outbox).

Every change the service commits is one item written in a DynamoDB transaction; the table's
stream carries each committed item change, exactly the committed ones, and keeps retrying
until it is handled. `events_for_change` turns one such change (the old and new images,
already plain Python) into the domain events marketing and notification tools receive, so an
event is never published for a change that was not committed, and never lost for one that was.

Rules of every event:
- `event_id` is stable: derived from the item's key and the event kind (and, for a tier
  change, the profile's new `version`), so a redelivered stream record yields the same id
  and consumers dedupe on `detail.eventId`.
- The detail is built from an allow-list of fields: member id, numbers, reasons and
  references. Never a name, email, phone or birthday, whatever the image holds.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

# Detail types (the EventBridge `detail-type` of each event); docs/events.md is the catalog.
POINTS_EARNED: Final = "points.earned"
POINTS_REDEEMED: Final = "points.redeemed"
POINTS_REVERSED: Final = "points.reversed"
POINTS_EXPIRED: Final = "points.expired"
POINTS_ADJUSTED: Final = "points.adjusted"
POINTS_EXPIRING: Final = "points.expiring"
TIER_CHANGED: Final = "tier.changed"
BIRTHDAY_BONUS_GRANTED: Final = "birthday.bonus-granted"
MILESTONE_REACHED: Final = "milestone.reached"
REFERRAL_COMPLETED: Final = "referral.completed"
REFERRAL_REFUSED: Final = "referral.refused"
PROMOTION_STARTED: Final = "promotion.started"
COUPON_ISSUED: Final = "coupon.issued"
COUPON_USED: Final = "coupon.used"
COUPON_VOIDED: Final = "coupon.voided"
COUPON_EXPIRING: Final = "coupon.expiring"
COUPON_EXPIRED: Final = "coupon.expired"
BADGE_EARNED: Final = "badge.earned"
CHALLENGE_COMPLETED: Final = "challenge.completed"

DETAIL_TYPES: Final = (
    POINTS_EARNED,
    POINTS_REDEEMED,
    POINTS_REVERSED,
    POINTS_EXPIRED,
    POINTS_ADJUSTED,
    POINTS_EXPIRING,
    TIER_CHANGED,
    BIRTHDAY_BONUS_GRANTED,
    MILESTONE_REACHED,
    REFERRAL_COMPLETED,
    REFERRAL_REFUSED,
    PROMOTION_STARTED,
    COUPON_ISSUED,
    COUPON_USED,
    COUPON_VOIDED,
    COUPON_EXPIRING,
    COUPON_EXPIRED,
    BADGE_EARNED,
    CHALLENGE_COMPLETED,
)

# The `itemType`s that can produce an event (template.yaml's stream FilterCriteria lists the
# same ones, so the publisher only wakes for them).
SOURCE_ITEM_TYPES: Final = (
    "entry",
    "member",
    "expiryWarning",
    "referral",
    "referralRefusal",
    "promotion",
    "coupon",
    "badgeMarker",
)

# Fields that are personal data: never copied into an event (the details are allow-lists;
# this set is what the tests and `assert_no_personal_data` check against).
PERSONAL_FIELDS: Final = frozenset({"name", "email", "phone", "birthday"})

_ENTRY_EVENTS: Final = {
    "earn": POINTS_EARNED,
    "redeem": POINTS_REDEEMED,
    "reverse": POINTS_REVERSED,
    "expire": POINTS_EXPIRED,
    "adjust": POINTS_ADJUSTED,
}
_BIRTHDAY_REASON: Final = "birthday-bonus"
_MILESTONE_PREFIXES: Final = {"order-milestone-": "order", "tenure-milestone-": "tenure"}
_TIER_ORDER: Final = ("Bronze", "Silver", "Gold")
_FIRST_TIER: Final = _TIER_ORDER[0]
# Attributes that say when an item's change happened, most specific first.
_TIME_FIELDS: Final = ("occurredAt", "completedAt", "updatedAt", "createdAt", "recordedAt")

Image = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    """One domain event: `detail` is JSON-ready (str, int, None, lists and dicts of them)."""

    event_id: str
    detail_type: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def member_id(self) -> str | None:
        value = self.detail.get("memberId")
        return str(value) if value is not None else None


def event_id(pk: str, sk: str, kind: str, *qualifiers: str) -> str:
    """A UUID-formatted id (RFC 9562 version 8) from sha256 of the item's key, the event kind
    and any qualifier: the same change redelivered gives the same id."""
    material = "\x1f".join((pk, sk, kind, *qualifiers)).encode()
    raw = bytearray(hashlib.sha256(material).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8 (custom)
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC variant
    return str(uuid.UUID(bytes=bytes(raw)))


def events_for_change(
    old: Image | None, new: Image | None, *, observed_at: str | None = None
) -> list[OutboundEvent]:
    """The domain events of one stream record (old and new images, deserialized).

    `observed_at` (the record's approximate creation time, ISO 8601) is the `occurredAt` of
    events whose item has no time of its own. Deletions and unrelated items yield nothing.
    """
    if new is None:
        return []
    item_type = new.get("itemType")
    if item_type == "entry":
        return _entry_events(new, observed_at) if old is None else []
    if item_type == "member":
        return _tier_events(old, new, observed_at)
    if item_type == "expiryWarning":
        return [_expiring_event(new, observed_at)] if old is None else []
    if item_type == "referral":
        return _referral_events(old, new, observed_at)
    if item_type == "referralRefusal":
        return [_referral_refused_event(new, observed_at)] if old is None else []
    if item_type == "promotion":
        return [_promotion_event(new, observed_at)] if old is None else []
    if item_type == "coupon":
        return _coupon_events(old, new, observed_at)
    if item_type == "badgeMarker":
        return _badge_events(new, observed_at) if old is None else []
    return []


# Events whose purpose is marketing to one member: published only for members who opted in
# (`marketingConsent`). Ledger movements (points.*) are the member's account history, which
# notification tools send as service messages; program-wide events name no member.
# A coupon's life (issued, used, voided, expired) is account history too; its expiry
# warning, like the points' (`points.expiring`), is marketing.
MARKETING_DETAIL_TYPES: Final = frozenset(
    {
        BIRTHDAY_BONUS_GRANTED,
        MILESTONE_REACHED,
        TIER_CHANGED,
        POINTS_EXPIRING,
        COUPON_EXPIRING,
        BADGE_EARNED,
        CHALLENGE_COMPLETED,
    }
)


def needs_marketing_consent(event: OutboundEvent) -> bool:
    """Whether `event` may be published only with its member's marketing consent."""
    return event.detail_type in MARKETING_DETAIL_TYPES and event.member_id is not None


def assert_no_personal_data(event: OutboundEvent) -> None:
    """Raise ValueError when a personal field appears among the detail's keys."""
    leaked = PERSONAL_FIELDS.intersection(event.detail)
    if leaked:
        raise ValueError(f"personal fields in {event.detail_type}: {sorted(leaked)}")


# ---- per item type ----------------------------------------------------------------------


def _entry_events(entry: Image, observed_at: str | None) -> list[OutboundEvent]:
    kind = _ENTRY_EVENTS.get(str(entry.get("entryType")))
    if kind is None:
        return []
    reason = str(entry.get("reason", ""))
    base = {
        "memberId": _text(entry.get("memberId")),
        "occurredAt": _occurred_at(entry, observed_at),
        "entryId": _text(entry.get("entryId")),
        "points": _int(entry.get("points")),
        "reason": reason,
        "reference": _text(entry.get("reference")),
    }
    if kind == POINTS_REVERSED:
        details = entry.get("details")
        refund_id = details.get("refundId") if isinstance(details, Mapping) else None
        base["refundId"] = _text(refund_id)
    events = [_event(entry, kind, base)]
    if kind != POINTS_EARNED:
        return events
    if reason == _BIRTHDAY_REASON:
        events.append(_event(entry, BIRTHDAY_BONUS_GRANTED, base))
    for prefix, milestone in _MILESTONE_PREFIXES.items():
        if reason.startswith(prefix):
            suffix = reason.removeprefix(prefix)
            count = int(suffix) if suffix.isdecimal() else None
            events.append(
                _event(entry, MILESTONE_REACHED, base | {"milestone": milestone, "count": count})
            )
    return events


def _tier_events(old: Image | None, new: Image, observed_at: str | None) -> list[OutboundEvent]:
    before = old.get("tier") if old is not None else _FIRST_TIER
    after = new.get("tier")
    if before is None or after is None or before == after:
        return []
    version = _text(new.get("version")) or ""
    detail = {
        "memberId": _text(new.get("memberId")),
        "occurredAt": _occurred_at(new, observed_at),
        "from": str(before),
        "to": str(after),
        "direction": _direction(str(before), str(after)),
        "tierPoints": _int(new.get("tierPoints")),
        "version": _int(new.get("version")),
    }
    return [_event(new, TIER_CHANGED, detail, version)]


def _expiring_event(warning: Image, observed_at: str | None) -> OutboundEvent:
    detail = {
        "memberId": _text(warning.get("memberId")),
        "occurredAt": _occurred_at(warning, observed_at),
        "lotId": _text(warning.get("lotId")),
        "points": _int(warning.get("points")),
        "expiresAt": _text(warning.get("expiresAt")),
    }
    return _event(warning, POINTS_EXPIRING, detail)


def _referral_events(old: Image | None, new: Image, observed_at: str | None) -> list[OutboundEvent]:
    was_completed = old is not None and old.get("status") == "completed"
    if new.get("status") != "completed" or was_completed:
        return []
    detail = {
        "memberId": _text(new.get("referrerId")),
        "occurredAt": _occurred_at(new, observed_at),
        "referrerId": _text(new.get("referrerId")),
        "refereeId": _text(new.get("refereeId")),
        "points": _int(new.get("points")),
    }
    return [_event(new, REFERRAL_COMPLETED, detail)]


def _referral_refused_event(refusal: Image, observed_at: str | None) -> OutboundEvent:
    detail = {
        "memberId": _text(refusal.get("refereeId")),
        "occurredAt": _occurred_at(refusal, observed_at),
        "refereeId": _text(refusal.get("refereeId")),
        "orderId": _text(refusal.get("orderId")),
        "referralCode": _text(refusal.get("code")),
        "reason": _text(refusal.get("reason")),
    }
    return _event(refusal, REFERRAL_REFUSED, detail)


def _promotion_event(promotion: Image, observed_at: str | None) -> OutboundEvent:
    detail = {
        "occurredAt": _occurred_at(promotion, observed_at),
        "promotionId": _text(promotion.get("promotionId")),
        # Not `name`: no detail key may look like a personal field.
        "promotionName": _text(promotion.get("name")),
        "start": _text(promotion.get("start")),
        "end": _text(promotion.get("end")),
        "multiplier": _decimal_text(promotion.get("multiplier")),
    }
    return _event(promotion, PROMOTION_STARTED, detail)


# The coupon item's status changes (from `issued`) and the event each makes, with the
# attribute that says when it happened.
_COUPON_CHANGES: Final = {
    "used": (COUPON_USED, "couponUsedAt"),
    "voided": (COUPON_VOIDED, "couponVoidedAt"),
    "expired": (COUPON_EXPIRED, "couponExpiredAt"),
}


def _coupon_events(old: Image | None, new: Image, observed_at: str | None) -> list[OutboundEvent]:
    """The coupon item (`COUPON#<code>`, not its copy on the redemption): inserted → issued;
    its status from issued to used, voided or expired; its expiry warning recorded."""

    def detail(time_field: str) -> dict[str, Any]:
        value = new.get(time_field)
        return {
            "memberId": _text(new.get("memberId")),
            "occurredAt": value if isinstance(value, str) and value else observed_at,
            "code": _text(new.get("couponCode")),
            "rewardId": _text(new.get("rewardId")),
            "kind": _text(new.get("rewardKind")),
            "discountPercent": _int(new.get("discountPercent")),
            "points": _int(new.get("pointsSpent")),
            "expiresAt": _text(new.get("couponExpiresAt")),
        }

    if old is None:
        return [_event(new, COUPON_ISSUED, detail("issuedAt"))]
    events: list[OutboundEvent] = []
    status, before = new.get("couponStatus"), old.get("couponStatus")
    if before == "issued" and status in _COUPON_CHANGES:
        kind, time_field = _COUPON_CHANGES[str(status)]
        extra: dict[str, Any] = {}
        if kind == COUPON_USED:
            extra = {"orderId": _text(new.get("couponUsedBy"))}
        elif kind == COUPON_VOIDED:
            extra = {
                "pointsReturned": _int(new.get("couponReturned")),
                "pointsExpired": _int(new.get("couponExpired")),
            }
        events.append(_event(new, kind, detail(time_field) | extra))
    if status == "issued" and not old.get("couponWarnedAt") and new.get("couponWarnedAt"):
        events.append(_event(new, COUPON_EXPIRING, detail("couponWarnedAt")))
    return events


def _badge_events(marker: Image, observed_at: str | None) -> list[OutboundEvent]:
    """A badge's marker inserted: `badge.earned`, and for a badge with a window (a
    challenge) also `challenge.completed`. The points themselves are a `points.earned`."""
    detail = {
        "memberId": _text(marker.get("memberId")),
        "occurredAt": _occurred_at(marker, observed_at),
        "badgeId": _text(marker.get("badgeId")),
        "points": _int(marker.get("points")),
        "challenge": marker.get("challenge") is True,
    }
    events = [_event(marker, BADGE_EARNED, detail)]
    if marker.get("challenge") is True:
        events.append(_event(marker, CHALLENGE_COMPLETED, detail))
    return events


# ---- helpers ----------------------------------------------------------------------------


def _event(item: Image, kind: str, detail: Mapping[str, Any], *qualifiers: str) -> OutboundEvent:
    identifier = event_id(str(item.get("PK", "")), str(item.get("SK", "")), kind, *qualifiers)
    return OutboundEvent(identifier, kind, {"eventId": identifier, **detail})


def _occurred_at(item: Image, observed_at: str | None) -> str | None:
    for name in _TIME_FIELDS:
        value = item.get(name)
        if isinstance(value, str) and value:
            return value
    return observed_at


def _direction(before: str, after: str) -> str | None:
    if before in _TIER_ORDER and after in _TIER_ORDER:
        return "up" if _TIER_ORDER.index(after) > _TIER_ORDER.index(before) else "down"
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return _decimal_text(value)
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(Decimal(str(value)))
    except ArithmeticError:
        return None


def _decimal_text(value: Any) -> str | None:
    """A number as a plain decimal string (`2`, `1.5`), never a float."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")
