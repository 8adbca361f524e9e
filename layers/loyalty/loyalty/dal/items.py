"""The item codec: Python values to DynamoDB JSON and back (`to_ddb`, `from_ddb`), and each
stored item to and from its domain model (`member_from_item`, `entry_item`, ...). Keys come
from `keys`; no requests here (those are `table`'s)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from loyalty.dal import keys
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.domain.coupons import Coupon
from loyalty.domain.ledger import (
    LedgerEntry,
    LotRef,
    MemberState,
    NewMember,
    OrderRecord,
    PointsLot,
)
from loyalty.domain.schedules import Schedule

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: _serializer.serialize(_drop_none(value))
        for name, value in item.items()
        if value is not None
    }


def _drop_none(value: Any) -> Any:
    # Absent, not NULL: nested maps keep only the attributes that have a value.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def from_ddb(item: Mapping[str, Any]) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def item_key(pk: str, sk: str) -> dict[str, Any]:
    """The key attributes of an item, encoded."""
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def schedule_from_item(item: Item) -> Schedule:
    step = item.get("step")
    return Schedule(item["job"], parse_instant(item["dueAt"]), int(step) if step else None)


def new_profile_item(new: NewMember, recorded_at: str) -> Item:
    return {
        "PK": keys.member_pk(new.member_id),
        "SK": keys.PROFILE_SK,
        "itemType": "member",
        "memberId": new.member_id,
        "enrolledAt": format_instant(new.enrolled_at),
        "enrolledBy": new.enrolled_by,
        "referralCode": new.referral_code,
        "version": 1,
        "balance": 0,
        "pendingPoints": 0,
        "tierPoints": 0,
        "tier": "Bronze",
        "lotTotal": 0,
        "debited": 0,
        "settledEarned": 0,
        "orderCount": 0,
        "createdAt": recorded_at,
        "updatedAt": recorded_at,
    }


def referral_code_item(new: NewMember) -> Item:
    return {
        "PK": keys.referral_code_pk(new.referral_code),
        "SK": keys.REFERRAL_CODE_SK,
        "itemType": "referralCode",
        "code": new.referral_code,
        "memberId": new.member_id,
    }


def lot_ref_item(lot: LotRef | None) -> Item | None:
    if lot is None:
        return None
    return {
        "lotId": lot.lot_id,
        "expiresAt": format_instant(lot.expires_at),
        "availableAt": format_instant(lot.available_at) if lot.available_at else None,
    }


def lot_ref_from(item: Mapping[str, Any] | None) -> LotRef | None:
    if not item:
        return None
    available = item.get("availableAt")
    return LotRef(
        str(item["lotId"]),
        parse_instant(str(item["expiresAt"])),
        parse_instant(str(available)) if available else None,
    )


def order_item(order: OrderRecord, recorded_at: str) -> Item:
    return {
        "PK": keys.order_pk(order.order_id),
        "SK": keys.ORDER_SK,
        "itemType": "order",
        "orderId": order.order_id,
        "memberId": order.member_id,
        "occurredAt": format_instant(order.occurred_at),
        "eligibleAmount": str(order.eligible_amount),
        "purchasePoints": order.purchase_points,
        "pointsPerDollar": order.points_per_dollar,
        "seasonalMultiplier": str(order.seasonal_multiplier),
        "rulesVersion": order.rules_version,
        "purchaseLot": lot_ref_item(order.purchase_lot),
        "orderNumber": order.order_number,
        "firstPurchaseBonus": order.first_purchase_bonus,
        "bonusLot": lot_ref_item(order.bonus_lot),
        "referralCode": order.referral_code,
        "refundedAmount": str(order.refunded_amount),
        "reversedPoints": order.reversed_points,
        "bonusReversed": order.bonus_reversed,
        "refundCount": order.refund_count,
        "firstOrder": order.first_order,
        # Map keys are attribute names, which DynamoDB refuses empty: the uncategorised
        # amount has an attribute of its own. An order of $0.00 has neither: no attribute
        # rather than an empty map, which the stream of DynamoDB Local hands over as `{}`,
        # a value no deserializer accepts.
        "categoryAmounts": {
            category: str(amount) for category, amount in order.category_amounts if category
        }
        or None,
        "uncategorisedAmount": next(
            (str(amount) for category, amount in order.category_amounts if category is None),
            None,
        ),
        "tier": order.tier,
        "recordedAt": recorded_at,
        # Listed by the day it occurred, for the program preview (keys: "GSI1").
        "GSI1PK": keys.order_day_gsi_pk(order.occurred_at),
        "GSI1SK": keys.order_day_gsi_sk(order.occurred_at, order.order_id),
    }


def order_from_item(item: Item) -> OrderRecord:
    return OrderRecord(
        order_id=item["orderId"],
        member_id=item["memberId"],
        occurred_at=parse_instant(item["occurredAt"]),
        eligible_amount=Decimal(item["eligibleAmount"]),
        purchase_points=int(item["purchasePoints"]),
        points_per_dollar=int(item["pointsPerDollar"]),
        seasonal_multiplier=Decimal(item["seasonalMultiplier"]),
        rules_version=int(item["rulesVersion"]),
        purchase_lot=lot_ref_from(item.get("purchaseLot")),
        order_number=int(item["orderNumber"]) if item.get("orderNumber") is not None else None,
        first_purchase_bonus=int(item["firstPurchaseBonus"]),
        bonus_lot=lot_ref_from(item.get("bonusLot")),
        referral_code=item.get("referralCode"),
        refunded_amount=Decimal(item["refundedAmount"]),
        reversed_points=int(item["reversedPoints"]),
        bonus_reversed=bool(item["bonusReversed"]),
        refund_count=int(item["refundCount"]),
        first_order=bool(item.get("firstOrder", False)),
        category_amounts=tuple(
            (category or None, Decimal(amount))
            for category, amount in (item.get("categoryAmounts") or {}).items()
        )
        + (
            ((None, Decimal(item["uncategorisedAmount"])),)
            if item.get("uncategorisedAmount")
            else ()
        ),
        tier=item.get("tier"),
    )


def member_from_item(item: Item) -> MemberState:
    return MemberState(
        member_id=item["memberId"],
        enrolled_at=parse_instant(item["enrolledAt"]),
        version=int(item["version"]),
        balance=int(item["balance"]),
        pending_points=int(item.get("pendingPoints", 0)),
        tier_points=int(item["tierPoints"]),
        tier=item["tier"],
        lot_total=int(item["lotTotal"]),
        debited=int(item["debited"]),
        settled_earned=int(item.get("settledEarned", 0)),
        order_count=int(item["orderCount"]),
        referral_code=item.get("referralCode"),
        name=item.get("name"),
        email=item.get("email"),
        phone=item.get("phone"),
        birthday=date.fromisoformat(item["birthday"]) if item.get("birthday") else None,
        shares_month=item.get("sharesMonth"),
        shares_count=int(item.get("sharesCount", 0)),
        referred_by=item.get("referredBy"),
        referrals_month=item.get("referralsMonth"),
        referrals_count=int(item.get("referralsCount", 0)),
        marketing_consent=bool(item.get("marketingConsent", False)),
        enrolled_by=item.get("enrolledBy", "api"),
        first_order_id=item.get("firstOrderId"),
        first_order_at=parse_instant(item["firstOrderAt"]) if item.get("firstOrderAt") else None,
        erased_at=parse_instant(item["erasedAt"]) if item.get("erasedAt") else None,
        leaderboard_opt_in=bool(item.get("leaderboardOptIn", False)),
        leaderboard_name=item.get("leaderboardName"),
        expiry_due_at=parse_instant(item["expiryDueAt"]) if item.get("expiryDueAt") else None,
    )


def expiry_due_fields(member_id: str, due_at: datetime) -> Item:
    """The profile's listing on the expiry job's index (keys.EXPIRY_INDEX)."""
    return {
        "expiryDueAt": format_instant(due_at),
        "GSI2PK": keys.member_expiry_gsi_pk(member_id),
        "GSI2SK": keys.member_expiry_gsi_sk(due_at, member_id),
    }


def entry_item(entry: LedgerEntry, recorded_at: str) -> Item:
    return {
        "PK": keys.member_pk(entry.member_id),
        "SK": keys.entry_sk(entry.entry_id),
        "itemType": "entry",
        "entryId": entry.entry_id,
        "memberId": entry.member_id,
        "entryType": entry.type,
        "reason": entry.reason,
        "points": entry.points,
        "occurredAt": format_instant(entry.occurred_at),
        "reference": entry.reference,
        "details": dict(entry.details),
        "recordedAt": recorded_at,
    }


def entry_from_item(item: Item) -> LedgerEntry:
    return LedgerEntry(
        entry_id=item["entryId"],
        member_id=item["memberId"],
        type=item["entryType"],
        reason=item["reason"],
        points=int(item["points"]),
        occurred_at=parse_instant(item["occurredAt"]),
        reference=item["reference"],
        details={str(k): str(v) for k, v in item.get("details", {}).items()},
    )


def lot_item(lot: PointsLot, recorded_at: str) -> Item:
    return {
        "PK": keys.member_pk(lot.member_id),
        "SK": keys.lot_sk(lot.expires_at, lot.lot_id),
        "itemType": "lot",
        "lotId": lot.lot_id,
        "memberId": lot.member_id,
        "points": lot.points,
        "originalPoints": lot.original_points,
        "earnedAt": format_instant(lot.earned_at),
        "expiresAt": format_instant(lot.expires_at),
        "reason": lot.reason,
        "reference": lot.reference,
        "warnAt": format_instant(lot.warn_at) if lot.warn_at else None,
        "availableAt": format_instant(lot.available_at) if lot.available_at else None,
        "recordedAt": recorded_at,
    }


def settled_lot_item(lot: PointsLot, expired_points: int, recorded_at: str) -> Item:
    """A lot as it is kept once settled: under its settled key, with the part of it that
    expired (a later refund reverses only the rest)."""
    item = {
        **lot_item(lot, recorded_at),
        "SK": keys.lot_sk(lot.expires_at, lot.lot_id, settled=True),
        "settledAt": recorded_at,
        "expiredPoints": expired_points,
    }
    if lot.warned:
        item["warnedAt"] = recorded_at  # that it was warned; the warning item has the time
    return item


def lot_from_item(item: Item) -> PointsLot:
    return PointsLot(
        lot_id=item["lotId"],
        member_id=item["memberId"],
        points=int(item["points"]),
        original_points=int(item["originalPoints"]),
        earned_at=parse_instant(item["earnedAt"]),
        expires_at=parse_instant(item["expiresAt"]),
        reason=item["reason"],
        reference=item["reference"],
        warn_at=parse_instant(item["warnAt"]) if item.get("warnAt") else None,
        warned="warnedAt" in item,
        settled="settledAt" in item,
        available_at=parse_instant(item["availableAt"]) if item.get("availableAt") else None,
        expired_points=int(item.get("expiredPoints", 0)),
    )


def instant_or_none(value: Any) -> datetime | None:
    return parse_instant(str(value)) if value else None


def coupon_from_item(item: Item) -> Coupon:
    """A coupon from its own item or from its copy on the member's redemption."""
    return Coupon(
        code=item["couponCode"],
        member_id=item["memberId"],
        redemption_id=item["redemptionId"],
        reward_id=item["rewardId"],
        reward_name=item.get("rewardName"),
        kind=item.get("rewardKind"),
        discount_percent=int(item["discountPercent"]) if item.get("discountPercent") else None,
        points=int(item["pointsSpent"]),
        status=item.get("couponStatus", "issued"),
        issued_at=parse_instant(str(item.get("issuedAt") or item["recordedAt"])),
        expires_at=instant_or_none(item.get("couponExpiresAt")),
        used_at=instant_or_none(item.get("couponUsedAt")),
        used_by_order=item.get("couponUsedBy"),
        voided_at=instant_or_none(item.get("couponVoidedAt")),
        returned_points=int(item["couponReturned"]) if "couponReturned" in item else None,
        expired_points=int(item["couponExpired"]) if "couponExpired" in item else None,
        warned_at=instant_or_none(item.get("couponWarnedAt")),
        expired_at=instant_or_none(item.get("couponExpiredAt")),
    )
