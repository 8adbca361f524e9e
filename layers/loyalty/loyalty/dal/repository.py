"""The only code that calls DynamoDB. It maps domain plans to items (keys from `keys`) and
writes each plan in one `TransactWriteItems`, the business event's dedupe marker conditional
in the same transaction as the points."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from loyalty.dal import keys
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.domain.errors import ConcurrentUpdate, DuplicateEvent, InsufficientPoints
from loyalty.domain.ledger import (
    LedgerEntry,
    LotRef,
    MemberChange,
    MemberState,
    OrderAwardPlan,
    OrderRecord,
    PointsLot,
    RefundPlan,
    SpendPlan,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items() if value is not None}


def _from_ddb(item: Mapping[str, Any]) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def default_client() -> DynamoDBClient:
    # Standard retry mode backs off on throttling; endpoint from AWS_ENDPOINT_URL_DYNAMODB.
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3)
    return boto3.client("dynamodb", config=config)


class DynamoLedgerRepository:
    """Ledger persistence on the single table."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self.client = client or default_client()

    # ---- reads -------------------------------------------------------------------------

    def get_member(self, member_id: str) -> MemberState | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_key(keys.member_pk(member_id), keys.PROFILE_SK),
            ConsistentRead=True,
            ReturnConsumedCapacity="TOTAL",
        )
        item = response.get("Item")
        return _member_from_item(_from_ddb(item)) if item else None

    def get_member_and_order(
        self, member_id: str, order_id: str
    ) -> tuple[MemberState | None, OrderRecord | None]:
        """Both in one BatchGetItem (a refund needs the order's record and the profile)."""
        wanted = [
            _key(keys.member_pk(member_id), keys.PROFILE_SK),
            _key(keys.order_pk(order_id), keys.ORDER_SK),
        ]
        found: list[Item] = []
        request: dict[str, Any] = {self.table_name: {"Keys": wanted, "ConsistentRead": True}}
        while request:
            response = self.client.batch_get_item(
                RequestItems=request, ReturnConsumedCapacity="TOTAL"
            )
            found.extend(_from_ddb(item) for item in response["Responses"].get(self.table_name, []))
            request = cast(dict[str, Any], response.get("UnprocessedKeys") or {})
        member = next((item for item in found if item["SK"] == keys.PROFILE_SK), None)
        order = next((item for item in found if item["SK"] == keys.ORDER_SK), None)
        return (
            _member_from_item(member) if member else None,
            _order_from_item(order) if order else None,
        )

    def get_order(self, order_id: str) -> OrderRecord | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_key(keys.order_pk(order_id), keys.ORDER_SK),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _order_from_item(_from_ddb(item)) if item else None

    def list_entries(self, member_id: str) -> list[LedgerEntry]:
        """The member's whole ledger, oldest first."""
        return [
            _entry_from_item(item)
            for item in self._query_prefix(keys.member_pk(member_id), keys.ENTRY_PREFIX)
        ]

    def list_lots(self, member_id: str) -> list[PointsLot]:
        return [
            _lot_from_item(item)
            for item in self._query_prefix(keys.member_pk(member_id), keys.LOT_PREFIX)
        ]

    def _query_prefix(self, pk: str, prefix: str) -> Iterator[Item]:
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**arguments)
            yield from (_from_ddb(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ---- writes ------------------------------------------------------------------------

    def commit_order_award(self, plan: OrderAwardPlan, now: datetime) -> None:
        """One transaction: the order record (dedupe marker), the profile, entries, lots."""
        recorded_at = format_instant(now)
        actions = [
            _put(self.table_name, _order_item(plan.order, recorded_at), must_be_new=True),
            *self._member_actions(plan.member, recorded_at),
            *[_put(self.table_name, _entry_item(entry, recorded_at)) for entry in plan.entries],
            *[_put(self.table_name, _lot_item(lot, recorded_at)) for lot in plan.lots],
        ]
        self._transact(actions)

    def commit_refund(self, plan: RefundPlan, now: datetime) -> None:
        """One transaction: the refund marker, the order record (guarded by its refund count),
        the profile, reversal entries and the lots they lower."""
        recorded_at = format_instant(now)
        order = plan.order_after
        marker = {
            "PK": keys.order_pk(order.order_id),
            "SK": keys.refund_sk(plan.refund_id),
            "itemType": "refund",
            "refundId": plan.refund_id,
            "orderId": order.order_id,
            "memberId": order.member_id,
            "refundedAmount": str(order.refunded_amount - plan.order_before.refunded_amount),
            "points": plan.points,
            "recordedAt": recorded_at,
        }
        order_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.order_pk(order.order_id), keys.ORDER_SK),
                "UpdateExpression": (
                    "SET refundedAmount = :refunded, reversedPoints = :reversed, "
                    "bonusReversed = :bonus, refundCount = :count, updatedAt = :now"
                ),
                "ConditionExpression": "refundCount = :expected",
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":refunded": str(order.refunded_amount),
                        ":reversed": order.reversed_points,
                        ":bonus": order.bonus_reversed,
                        ":count": order.refund_count,
                        ":expected": plan.order_before.refund_count,
                        ":now": recorded_at,
                    }
                ),
            }
        }
        lot_updates = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _key(
                        keys.member_pk(order.member_id),
                        keys.lot_sk(reduction.lot.expires_at, reduction.lot.lot_id),
                    ),
                    "UpdateExpression": "ADD points :minus SET updatedAt = :now",
                    "ConditionExpression": "points >= :points",
                    "ExpressionAttributeValues": _to_ddb(
                        {
                            ":minus": -reduction.points,
                            ":points": reduction.points,
                            ":now": recorded_at,
                        }
                    ),
                }
            }
            for reduction in plan.lot_reductions
        ]
        actions = [
            _put(self.table_name, marker, must_be_new=True),
            order_update,
            *self._member_actions(plan.member, recorded_at),
            *[_put(self.table_name, _entry_item(entry, recorded_at)) for entry in plan.entries],
            *lot_updates,
        ]
        self._transact(actions)

    def commit_spend(self, plan: SpendPlan, now: datetime) -> None:
        """One transaction: the spend marker, the profile (only if the balance covers the
        points at this moment), the entry. Raises InsufficientPoints or DuplicateEvent."""
        recorded_at = format_instant(now)
        marker = {
            "PK": keys.member_pk(plan.member_id),
            "SK": keys.spend_sk(plan.entry.reference),
            "itemType": "spend",
            "memberId": plan.member_id,
            "entryId": plan.entry.entry_id,
            "points": plan.points,
            "recordedAt": recorded_at,
        }
        profile_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(plan.member_id), keys.PROFILE_SK),
                "UpdateExpression": ("SET updatedAt = :now ADD balance :minus, debited :points"),
                "ConditionExpression": "attribute_exists(PK) AND balance >= :points",
                "ExpressionAttributeValues": _to_ddb(
                    {":now": recorded_at, ":minus": -plan.points, ":points": plan.points}
                ),
            }
        }
        actions = [
            _put(self.table_name, marker, must_be_new=True),
            profile_update,
            _put(self.table_name, _entry_item(plan.entry, recorded_at)),
        ]
        self._transact(actions, balance_guard_at=1)

    def _member_actions(self, change: MemberChange, recorded_at: str) -> list[dict[str, Any]]:
        if change.new_member is not None:
            new = change.new_member
            profile: Item = {
                "PK": keys.member_pk(change.member_id),
                "SK": keys.PROFILE_SK,
                "itemType": "member",
                "memberId": change.member_id,
                "enrolledAt": format_instant(new.enrolled_at),
                "enrolledBy": new.enrolled_by,
                "referralCode": new.referral_code,
                "version": 1,
                "balance": change.balance,
                "pendingPoints": 0,
                "tierPoints": change.tier_points,
                "tier": change.tier,
                "lotTotal": change.lot_total,
                "debited": change.debited,
                "settledEarned": 0,
                "orderCount": change.order_count,
                "createdAt": recorded_at,
                "updatedAt": recorded_at,
            }
            code = {
                "PK": keys.referral_code_pk(new.referral_code),
                "SK": keys.REFERRAL_CODE_SK,
                "itemType": "referralCode",
                "code": new.referral_code,
                "memberId": change.member_id,
            }
            return [
                _put(self.table_name, profile, must_be_new=True),
                _put(self.table_name, code, must_be_new=True),
            ]
        update = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(change.member_id), keys.PROFILE_SK),
                "UpdateExpression": (
                    "SET tier = :tier, updatedAt = :now "
                    "ADD version :one, balance :balance, lotTotal :lotTotal, "
                    "tierPoints :tierPoints, debited :debited, orderCount :orderCount"
                ),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":tier": change.tier,
                        ":now": recorded_at,
                        ":one": 1,
                        ":balance": change.balance,
                        ":lotTotal": change.lot_total,
                        ":tierPoints": change.tier_points,
                        ":debited": change.debited,
                        ":orderCount": change.order_count,
                        ":expected": change.expected_version,
                    }
                ),
            }
        }
        return [update]

    def _transact(
        self, actions: list[dict[str, Any]], *, balance_guard_at: int | None = None
    ) -> None:
        """Write all actions or none. The business event's marker is always the first action:
        its condition failing means the event was already recorded. `balance_guard_at` names
        the action whose condition is the balance check."""
        try:
            self.client.transact_write_items(
                TransactItems=actions,  # type: ignore[arg-type]
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons", []))
            codes = [reason.get("Code") or "None" for reason in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                raise DuplicateEvent("the event has already been recorded") from None
            if (
                balance_guard_at is not None
                and len(codes) > balance_guard_at
                and codes[balance_guard_at] == "ConditionalCheckFailed"
            ):
                raise InsufficientPoints("the balance does not cover the points") from None
            # Anything else (a version guard, a referral-code collision, a conflicting
            # transaction) is resolved by reading again and planning anew.
            raise ConcurrentUpdate("the member changed during the write") from None


def _put(table_name: str, item: Mapping[str, Any], *, must_be_new: bool = False) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table_name, "Item": _to_ddb(item)}
    if must_be_new:
        put["ConditionExpression"] = "attribute_not_exists(PK)"
    return {"Put": put}


def _lot_ref_item(lot: LotRef | None) -> Item | None:
    if lot is None:
        return None
    return {"lotId": lot.lot_id, "expiresAt": format_instant(lot.expires_at)}


def _lot_ref_from(item: Mapping[str, Any] | None) -> LotRef | None:
    if not item:
        return None
    return LotRef(str(item["lotId"]), parse_instant(str(item["expiresAt"])))


def _order_item(order: OrderRecord, recorded_at: str) -> Item:
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
        "purchaseLot": _lot_ref_item(order.purchase_lot),
        "orderNumber": order.order_number,
        "firstPurchaseBonus": order.first_purchase_bonus,
        "bonusLot": _lot_ref_item(order.bonus_lot),
        "referralCode": order.referral_code,
        "refundedAmount": str(order.refunded_amount),
        "reversedPoints": order.reversed_points,
        "bonusReversed": order.bonus_reversed,
        "refundCount": order.refund_count,
        "recordedAt": recorded_at,
    }


def _order_from_item(item: Item) -> OrderRecord:
    return OrderRecord(
        order_id=item["orderId"],
        member_id=item["memberId"],
        occurred_at=parse_instant(item["occurredAt"]),
        eligible_amount=Decimal(item["eligibleAmount"]),
        purchase_points=int(item["purchasePoints"]),
        points_per_dollar=int(item["pointsPerDollar"]),
        seasonal_multiplier=Decimal(item["seasonalMultiplier"]),
        rules_version=int(item["rulesVersion"]),
        purchase_lot=_lot_ref_from(item.get("purchaseLot")),
        order_number=int(item["orderNumber"]),
        first_purchase_bonus=int(item["firstPurchaseBonus"]),
        bonus_lot=_lot_ref_from(item.get("bonusLot")),
        referral_code=item.get("referralCode"),
        refunded_amount=Decimal(item["refundedAmount"]),
        reversed_points=int(item["reversedPoints"]),
        bonus_reversed=bool(item["bonusReversed"]),
        refund_count=int(item["refundCount"]),
    )


def _member_from_item(item: Item) -> MemberState:
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
    )


def _entry_item(entry: LedgerEntry, recorded_at: str) -> Item:
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


def _entry_from_item(item: Item) -> LedgerEntry:
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


def _lot_item(lot: PointsLot, recorded_at: str) -> Item:
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
        "GSI1PK": keys.lot_expiry_gsi_pk(lot.expires_at.astimezone(UTC).date(), lot.member_id),
        "GSI1SK": keys.lot_expiry_gsi_sk(lot.member_id, lot.lot_id),
        "recordedAt": recorded_at,
    }


def _lot_from_item(item: Item) -> PointsLot:
    return PointsLot(
        lot_id=item["lotId"],
        member_id=item["memberId"],
        points=int(item["points"]),
        original_points=int(item["originalPoints"]),
        earned_at=parse_instant(item["earnedAt"]),
        expires_at=parse_instant(item["expiresAt"]),
        reason=item["reason"],
        reference=item["reference"],
    )
