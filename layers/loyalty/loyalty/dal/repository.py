"""The only code that calls DynamoDB. It maps domain plans to items (keys from `keys`) and
writes each plan in one `TransactWriteItems`, the business event's dedupe marker conditional
in the same transaction as the points."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from loyalty.dal import keys
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.domain.errors import (
    AlreadyRewarded,
    ConcurrentUpdate,
    DuplicateEvent,
    EmailTaken,
    InsufficientPoints,
    OutOfStock,
    StoreBusy,
    VersionConflict,
)
from loyalty.domain.expiry import ExpiryPlan
from loyalty.domain.ledger import (
    EarnPlan,
    LedgerEntry,
    LotReduction,
    LotRef,
    MemberChange,
    MemberState,
    NewMember,
    OrderAwardPlan,
    OrderRecord,
    PointsLot,
    PreviousFirstOrder,
    RefundPlan,
    SpendPlan,
)
from loyalty.domain.members import EnrollmentPlan
from loyalty.domain.operations import AdjustmentPlan, AuditRecord, ErasurePlan
from loyalty.domain.referrals import ReferralPlan
from loyalty.domain.rewards import Redemption, RedemptionPlan, Reward
from loyalty.domain.rules import ProgramRules
from loyalty.domain.schedules import Schedule, ScheduleChange, ScheduledJob

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
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


def _from_ddb(item: Mapping[str, Any]) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def query_between(
    client: DynamoDBClient, table_name: str, member_id: str, low: str, high: str
) -> Iterator[Item]:
    """A member's items with sort keys from `low` to `high`, consistent, every page: the
    ranges of adjacent sort keys (keys.VIEW_RANGE, ...) that one Query reads together."""
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
        "ExpressionAttributeValues": _to_ddb(
            {":pk": keys.member_pk(member_id), ":low": low, ":high": high}
        ),
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
    }
    while True:
        response = client.query(**arguments)
        yield from (_from_ddb(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


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

    def _get(
        self, pk: str, sk: str, *, consistent: bool = True, projection: str | None = None
    ) -> Item | None:
        """One item by key, deserialized; None when it does not exist."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": _key(pk, sk),
            "ConsistentRead": consistent,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if projection is not None:
            arguments["ProjectionExpression"] = projection
        raw = self.client.get_item(**arguments).get("Item")
        return _from_ddb(raw) if raw is not None else None

    def get_member(self, member_id: str) -> MemberState | None:
        item = self._get(keys.member_pk(member_id), keys.PROFILE_SK)
        return _member_from_item(item) if item else None

    def get_member_and_order(
        self, member_id: str, order_id: str
    ) -> tuple[MemberState | None, OrderRecord | None]:
        """Both in one BatchGetItem (a refund needs the order's record and the profile)."""
        wanted = [
            _key(keys.member_pk(member_id), keys.PROFILE_SK),
            _key(keys.order_pk(order_id), keys.ORDER_SK),
        ]
        found = self._batch_get(wanted)
        member = next((item for item in found if item["SK"] == keys.PROFILE_SK), None)
        order = next((item for item in found if item["SK"] == keys.ORDER_SK), None)
        return (
            _member_from_item(member) if member else None,
            _order_from_item(order) if order else None,
        )

    def _batch_get(self, wanted: list[dict[str, Any]]) -> list[Item]:
        """Items by key in one BatchGetItem (again only for keys it left unprocessed)."""
        found: list[Item] = []
        request: dict[str, Any] = {self.table_name: {"Keys": wanted, "ConsistentRead": True}}
        while request:
            response = self.client.batch_get_item(
                RequestItems=request, ReturnConsumedCapacity="TOTAL"
            )
            found.extend(_from_ddb(item) for item in response["Responses"].get(self.table_name, []))
            request = cast(dict[str, Any], response.get("UnprocessedKeys") or {})
        return found

    def get_lots(self, member_id: str, refs: Iterable[LotRef | None]) -> dict[str, PointsLot]:
        """The named lots as they are now, by lot id (one BatchGetItem; none for no lots)."""
        wanted = {
            ref.lot_id: _key(keys.member_pk(member_id), keys.lot_sk(ref.expires_at, ref.lot_id))
            for ref in refs
            if ref is not None
        }
        if not wanted:
            return {}
        return {
            lot.lot_id: lot
            for lot in (_lot_from_item(item) for item in self._batch_get(list(wanted.values())))
        }

    def get_previous_first_order(self, member: MemberState) -> PreviousFirstOrder | None:
        """The member's recorded first order, its bonus lot and the tenure schedule: what an
        earlier order needs to take over as the first (two reads; only on that rare path)."""
        if member.first_order_id is None:
            return None
        found = self._batch_get(
            [
                _key(keys.order_pk(member.first_order_id), keys.ORDER_SK),
                _key(keys.member_pk(member.member_id), keys.schedule_sk("tenure")),
            ]
        )
        order = next((item for item in found if item["SK"] == keys.ORDER_SK), None)
        if order is None:
            return None
        record = _order_from_item(order)
        schedule = next((item for item in found if item["SK"] != keys.ORDER_SK), None)
        lots = self.get_lots(member.member_id, [record.bonus_lot])
        return PreviousFirstOrder(
            record,
            lots.get(record.bonus_lot.lot_id) if record.bonus_lot else None,
            _schedule_from_item(schedule) if schedule else None,
        )

    def get_order(self, order_id: str) -> OrderRecord | None:
        item = self._get(keys.order_pk(order_id), keys.ORDER_SK)
        return _order_from_item(item) if item else None

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
        handover = plan.handover
        if handover is not None:
            # The previous first order gives way: its record (as read: still first, no
            # refund since), the bonus lot it hands over, the tenure schedule moved.
            previous = handover.after
            bonus_lot = _lot_ref_item(previous.bonus_lot)
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _key(keys.order_pk(previous.order_id), keys.ORDER_SK),
                        "UpdateExpression": (
                            "SET firstOrder = :false, firstPurchaseBonus = :bonus, "
                            + ("bonusLot = :lot, " if bonus_lot else "")
                            + "updatedAt = :now"
                            + ("" if bonus_lot else " REMOVE bonusLot")
                        ),
                        "ConditionExpression": "firstOrder = :true AND refundCount = :count",
                        "ExpressionAttributeValues": _to_ddb(
                            {
                                ":false": False,
                                ":true": True,
                                ":bonus": previous.first_purchase_bonus,
                                ":lot": bonus_lot,
                                ":count": handover.before.refund_count,
                                ":now": recorded_at,
                            }
                        ),
                    }
                }
            )
            if handover.bonus_reduction is not None:
                actions.append(
                    self._lot_reduction(
                        plan.member.member_id, handover.bonus_reduction, recorded_at
                    )
                )
            if handover.tenure is not None:
                actions.append(
                    self._schedule_action(plan.member.member_id, handover.tenure, recorded_at)
                )
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
            "requestedAmount": str(plan.requested_amount),
            "refundedAmount": str(plan.applied_amount),
            "cappedAmount": str(plan.capped_amount),
            "expiredPoints": plan.expired_points,
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
            self._lot_reduction(order.member_id, reduction, recorded_at)
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
        actions = [
            _put(self.table_name, marker, must_be_new=True),
            self._spend_update(plan, recorded_at),
            _put(self.table_name, _entry_item(plan.entry, recorded_at)),
        ]
        self._transact(
            actions,
            {
                0: DuplicateEvent("the event has already been recorded"),
                1: InsufficientPoints("the balance does not cover the points"),
            },
        )

    def _spend_update(self, plan: SpendPlan, recorded_at: str) -> dict[str, Any]:
        """The profile's side of spending: only if the balance covers the points now (and the
        account is open)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(plan.member_id), keys.PROFILE_SK),
                "UpdateExpression": "SET updatedAt = :now ADD balance :minus, debited :points",
                "ConditionExpression": (
                    "attribute_exists(PK) AND attribute_not_exists(erasedAt) AND balance >= :points"
                ),
                "ExpressionAttributeValues": _to_ddb(
                    {":now": recorded_at, ":minus": -plan.points, ":points": plan.points}
                ),
            }
        }

    # ---- members ------------------------------------------------------------------------

    def get_member_with_lots(self, member_id: str) -> tuple[MemberState | None, list[PointsLot]]:
        """The profile and its lots in one Query (their sort keys are adjacent)."""
        member: MemberState | None = None
        lots: list[PointsLot] = []
        for item in query_between(self.client, self.table_name, member_id, *keys.VIEW_RANGE):
            if item["SK"] == keys.PROFILE_SK:
                member = _member_from_item(item)
            elif item["SK"].startswith(keys.LOT_PREFIX):
                lots.append(_lot_from_item(item))
        return member, lots

    def page_entries(
        self, member_id: str, limit: int, after_entry_id: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        """One page of the ledger, newest first; the id to continue after, if more remain.
        One entry more than the page is read, so the last page never offers an empty next
        one; consistent, so a member sees a redemption made a moment ago."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": _to_ddb(
                {":pk": keys.member_pk(member_id), ":prefix": keys.ENTRY_PREFIX}
            ),
            "ScanIndexForward": False,
            "Limit": limit + 1,
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after_entry_id is not None:
            arguments["ExclusiveStartKey"] = _key(
                keys.member_pk(member_id), keys.entry_sk(after_entry_id)
            )
        response = self.client.query(**arguments)
        entries = [_entry_from_item(_from_ddb(item)) for item in response.get("Items", [])]
        if len(entries) > limit:
            return entries[:limit], entries[limit - 1].entry_id
        return entries, None

    def referral_owner(self, code: str) -> str | None:
        item = self._get(keys.referral_code_pk(code), keys.REFERRAL_CODE_SK, consistent=False)
        return str(item["memberId"]) if item else None

    def list_referrals(self, member_id: str) -> list[Item]:
        """The referrals a member made: `{refereeId, status, points}` each."""
        return [
            {
                "refereeId": item["refereeId"],
                "status": item["status"],
                "points": int(item.get("points", 0)),
            }
            for item in self._query_prefix(keys.member_pk(member_id), keys.REFERRAL_PREFIX)
        ]

    def commit_enrollment(self, plan: EnrollmentPlan, now: datetime) -> None:
        """Create the member (with referral code and email lock) or update the profile of a
        known one. Raises EmailTaken, or ConcurrentUpdate (read again and re-plan)."""
        recorded_at = format_instant(now)
        profile = plan.profile
        personal: Item = {
            "name": profile.name,
            "email": profile.email,
            "phone": profile.phone,
            "birthday": profile.birthday.isoformat() if profile.birthday else None,
        }
        email_lock = {
            "Put": {
                "TableName": self.table_name,
                "Item": _to_ddb(
                    {
                        "PK": keys.email_pk(profile.email or ""),
                        "SK": keys.EMAIL_SK,
                        "itemType": "emailLock",
                        "memberId": plan.member_id,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(PK) OR memberId = :member",
                "ExpressionAttributeValues": _to_ddb({":member": plan.member_id}),
            }
        }
        actions: list[dict[str, Any]] = []
        failures: dict[int, Exception] = {}
        if profile.email:
            actions.append(email_lock)
            failures[0] = EmailTaken("the email belongs to another member")
        referral_fields: Item = {}
        if plan.referral is not None:
            referral_fields = {"referredBy": plan.referral.referrer_id}
        if profile.marketing_consent is not None:
            # Given or not, never removed by omission: only an explicit choice changes it.
            referral_fields["marketingConsent"] = profile.marketing_consent
        if plan.new_member is not None:
            item = _new_profile_item(plan.new_member, recorded_at) | personal | referral_fields
            actions += [
                _put(self.table_name, item, must_be_new=True),
                _put(self.table_name, _referral_code_item(plan.new_member), must_be_new=True),
            ]
            tenure = plan.new_member.tenure
            if tenure is not None and tenure.due_at is not None:
                actions.append(self._schedule_action(plan.member_id, tenure, recorded_at))
        else:
            values: Item = {":now": recorded_at}
            sets = ["updatedAt = :now"]
            removes = []
            for name, value in (personal | referral_fields).items():
                if value is None:
                    removes.append(name)
                else:
                    sets.append(f"#{name} = :{name}")
                    values[f":{name}"] = value
            expression = "SET " + ", ".join(sets)
            if removes:
                expression += " REMOVE " + ", ".join(f"#{name}" for name in removes)
            condition = "attribute_exists(PK) AND attribute_not_exists(erasedAt)"
            if plan.referral is not None:
                condition += " AND attribute_not_exists(referredBy) AND orderCount = :zero"
                values[":zero"] = 0
            names = {f"#{name}": name for name in (personal | referral_fields)}
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _key(keys.member_pk(plan.member_id), keys.PROFILE_SK),
                        "UpdateExpression": expression,
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": _to_ddb(values),
                    }
                }
            )
            if plan.previous_email and plan.previous_email != profile.email:
                actions.append(
                    {
                        "Delete": {
                            "TableName": self.table_name,
                            "Key": _key(keys.email_pk(plan.previous_email), keys.EMAIL_SK),
                            "ConditionExpression": "attribute_not_exists(PK) OR memberId = :m",
                            "ExpressionAttributeValues": _to_ddb({":m": plan.member_id}),
                        }
                    }
                )
        if plan.birthday_schedule is not None:
            actions.append(
                self._schedule_action(plan.member_id, plan.birthday_schedule, recorded_at)
            )
        if plan.referral is not None:
            referral = {
                "PK": keys.member_pk(plan.referral.referrer_id),
                "SK": keys.referral_sk(plan.member_id),
                "itemType": "referral",
                "referrerId": plan.referral.referrer_id,
                "refereeId": plan.member_id,
                "code": plan.referral.code,
                "status": "pending",
                "points": 0,
                "createdAt": recorded_at,
            }
            actions.append(_put(self.table_name, referral, must_be_new=True))
        self._transact(actions, failures)

    # ---- one-time earnings (reviews, shares, ...) -----------------------------------------

    def commit_earning(self, plan: EarnPlan, now: datetime) -> None:
        """One transaction: the event's marker (conditional), the profile, entries, lots.
        Raises AlreadyRewarded or ConcurrentUpdate."""
        recorded_at = format_instant(now)
        marker = {
            "PK": keys.member_pk(plan.member.member_id),
            "SK": keys.dedupe_sk(plan.dedupe.kind, plan.dedupe.value),
            "itemType": f"{plan.dedupe.kind}Marker",
            "memberId": plan.member.member_id,
            "points": plan.points,
            "recordedAt": recorded_at,
        }
        actions = [
            _put(self.table_name, marker, must_be_new=True),
            *self._member_actions(plan.member, recorded_at),
            *[_put(self.table_name, _entry_item(entry, recorded_at)) for entry in plan.entries],
            *[_put(self.table_name, _lot_item(lot, recorded_at)) for lot in plan.lots],
        ]
        if plan.schedule is not None:
            actions.append(self._schedule_action(plan.member.member_id, plan.schedule, recorded_at))
        self._transact(actions, {0: AlreadyRewarded("already rewarded")})

    # ---- expiry ---------------------------------------------------------------------------

    def due_members(
        self, job: str, shard: int, now: datetime, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Members due for a daily job (for expiry: a lot to warn about or expire) in one
        shard of the sparse index; the key to continue after, if the page was full."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK < :upper",
            "ExpressionAttributeValues": _to_ddb(
                {":pk": keys.due_pk(job, shard), ":upper": keys.due_upper_bound(now)}
            ),
            "ProjectionExpression": "memberId",
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after:
            arguments["ExclusiveStartKey"] = after
        response = self.client.query(**arguments)
        members = list(dict.fromkeys(_from_ddb(item)["memberId"] for item in response["Items"]))
        return members, response.get("LastEvaluatedKey")

    def get_schedule(self, member_id: str, job: ScheduledJob) -> Schedule | None:
        item = self._get(keys.member_pk(member_id), keys.schedule_sk(job))
        return _schedule_from_item(item) if item else None

    def put_schedule(self, member_id: str, change: ScheduleChange, now: datetime) -> None:
        self._transact([self._schedule_action(member_id, change, format_instant(now))], {})

    def _schedule_action(
        self, member_id: str, change: ScheduleChange, recorded_at: str
    ) -> dict[str, Any]:
        key = _key(keys.member_pk(member_id), keys.schedule_sk(change.job))
        if change.due_at is None:
            return {"Delete": {"TableName": self.table_name, "Key": key}}
        item = {
            "PK": keys.member_pk(member_id),
            "SK": keys.schedule_sk(change.job),
            "itemType": "schedule",
            "job": change.job,
            "memberId": member_id,
            "dueAt": format_instant(change.due_at),
            "step": change.step,
            "GSI1PK": keys.schedule_gsi_pk(change.job, member_id),
            "GSI1SK": keys.schedule_gsi_sk(change.due_at, member_id),
            "updatedAt": recorded_at,
        }
        return _put(self.table_name, item)

    def record_promotion(
        self, name: str, start: date, end: date, multiplier: Decimal, now: datetime
    ) -> bool:
        """The promotion's announcement, once per window occurrence; True when new."""
        promotion_id = f"{name}-{start.isoformat()}"
        item = {
            "PK": keys.promotion_pk(promotion_id),
            "SK": keys.PROMOTION_SK,
            "itemType": "promotion",
            "promotionId": promotion_id,
            "name": name,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "multiplier": str(multiplier),
            "createdAt": format_instant(now),
        }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_to_ddb(item),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def commit_expiry(self, plan: ExpiryPlan, now: datetime) -> None:
        """One transaction per step, exactly `plan.actions` actions: the profile (guarded:
        nothing spent or earned since it was read), the expiry entry, released lots, settled
        lots leaving the index with their expired part, warned lots moving on to their
        expiry, and a warning item per warned lot (published by the stream)."""
        recorded_at = format_instant(now)
        member = plan.member
        profile = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(member.member_id), keys.PROFILE_SK),
                "UpdateExpression": (
                    "SET updatedAt = :now ADD balance :balance, debited :expired, "
                    "settledEarned :settled, lotTotal :released, pendingPoints :unheld"
                ),
                "ConditionExpression": (
                    "version = :version AND debited = :debited AND settledEarned = :settledBefore"
                ),
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":now": recorded_at,
                        ":balance": plan.released_points - plan.expired_points,
                        ":expired": plan.expired_points,
                        ":settled": plan.settled_points,
                        ":released": plan.released_points,
                        ":unheld": -plan.released_points,
                        ":version": member.version,
                        ":debited": member.debited,
                        ":settledBefore": member.settled_earned,
                    }
                ),
            }
        }
        actions: list[dict[str, Any]] = [profile]
        if plan.entry is not None:
            actions.append(_put(self.table_name, _entry_item(plan.entry, recorded_at)))
        actions += [self._release_action(lot, recorded_at) for lot in plan.released]
        for settled in plan.settled:
            lot = settled.lot
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _key(
                            keys.member_pk(member.member_id),
                            keys.lot_sk(lot.expires_at, lot.lot_id),
                        ),
                        # The lot's expired part: a later refund reverses only the rest.
                        "UpdateExpression": (
                            "SET settledAt = :now, expiredPoints = :expired REMOVE GSI1PK, GSI1SK"
                        ),
                        "ConditionExpression": "attribute_not_exists(settledAt)",
                        "ExpressionAttributeValues": _to_ddb(
                            {":now": recorded_at, ":expired": settled.expired_points}
                        ),
                    }
                }
            )
        warned = [(w.lot, w.points) for w in plan.warnings] + [
            (lot, 0) for lot in plan.warned_without_points
        ]
        for lot, points in warned:
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _key(
                            keys.member_pk(member.member_id),
                            keys.lot_sk(lot.expires_at, lot.lot_id),
                        ),
                        "UpdateExpression": "SET warnedAt = :now, GSI1SK = :next",
                        "ConditionExpression": "attribute_not_exists(warnedAt)",
                        "ExpressionAttributeValues": _to_ddb(
                            {
                                ":now": recorded_at,
                                ":next": keys.lot_due_gsi_sk(
                                    lot.expires_at, member.member_id, lot.lot_id
                                ),
                            }
                        ),
                    }
                }
            )
            if points:
                warning = {
                    "PK": keys.member_pk(member.member_id),
                    "SK": keys.warning_sk(lot.lot_id),
                    "itemType": "expiryWarning",
                    "memberId": member.member_id,
                    "lotId": lot.lot_id,
                    "points": points,
                    "expiresAt": format_instant(lot.expires_at),
                    "recordedAt": recorded_at,
                }
                actions.append(_put(self.table_name, warning, must_be_new=True))
        self._transact(actions, {})

    # ---- referrals ----------------------------------------------------------------------

    def commit_referral(self, plan: ReferralPlan, now: datetime) -> None:
        """One transaction: the referral (created, or pending → completed: exactly once per
        referred customer), both profiles under their version guards, entries and lots.
        Raises AlreadyRewarded when the referral was completed before."""
        recorded_at = format_instant(now)
        referral = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(plan.referrer_id), keys.referral_sk(plan.referee_id)),
                "UpdateExpression": (
                    "SET itemType = :type, referrerId = :referrer, refereeId = :referee, "
                    "#status = :completed, points = :points, orderId = :order, "
                    "completedAt = :now, capped = :capped, "
                    "code = if_not_exists(code, :code), createdAt = if_not_exists(createdAt, :now)"
                ),
                "ConditionExpression": "attribute_not_exists(PK) OR #status = :pending",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":type": "referral",
                        ":referrer": plan.referrer_id,
                        ":referee": plan.referee_id,
                        ":completed": "completed",
                        ":pending": "pending",
                        ":points": plan.referrer_points,
                        ":order": plan.order_id,
                        ":now": recorded_at,
                        ":capped": plan.capped,
                        ":code": plan.code or "",
                    }
                ),
            }
        }
        referred = {
            "PK": keys.member_pk(plan.referee_id),
            "SK": keys.REFERRED_SK,
            "itemType": "referred",
            "referrerId": plan.referrer_id,
            "orderId": plan.order_id,
            "recordedAt": recorded_at,
        }
        actions = [
            referral,
            _put(self.table_name, referred, must_be_new=True),
            *self._member_actions(plan.referrer, recorded_at),
            *self._member_actions(plan.referee, recorded_at),
            *[_put(self.table_name, _entry_item(entry, recorded_at)) for entry in plan.entries],
            *[_put(self.table_name, _lot_item(lot, recorded_at)) for lot in plan.lots],
        ]
        done = AlreadyRewarded("the referral was already completed")
        self._transact(actions, {0: done, 1: done})

    def referral_completed_by(self, referee_id: str) -> str | None:
        """The order whose referral completed for this customer, if one did."""
        item = self._get(keys.member_pk(referee_id), keys.REFERRED_SK)
        return str(item["orderId"]) if item else None

    def record_referral_refusal(
        self, referee_id: str, order_id: str, code: str | None, reason: str, now: datetime
    ) -> None:
        """Once per order: the stream publishes it as `referral.refused`."""
        refusal = {
            "PK": keys.member_pk(referee_id),
            "SK": keys.referral_refusal_sk(order_id),
            "itemType": "referralRefusal",
            "refereeId": referee_id,
            "orderId": order_id,
            "code": code,
            "reason": reason,
            "recordedAt": format_instant(now),
        }
        # Already there: recorded by an earlier delivery of the same stream record.
        with contextlib.suppress(DuplicateEvent):
            self._transact([_put(self.table_name, refusal, must_be_new=True)])

    # ---- rewards and redemptions ------------------------------------------------------------

    def list_rewards(self) -> list[Reward]:
        return [
            _reward_from_item(item)
            for item in self._query_prefix(keys.CATALOG_PK, keys.REWARD_PREFIX)
        ]

    def get_member_and_reward(
        self, member_id: str, reward_id: str
    ) -> tuple[MemberState | None, Reward | None]:
        """Both in one BatchGetItem: a redemption reads once."""
        wanted = [
            _key(keys.member_pk(member_id), keys.PROFILE_SK),
            _key(keys.CATALOG_PK, keys.reward_sk(reward_id)),
        ]
        found = self._batch_get(wanted)
        member = next((item for item in found if item["SK"] == keys.PROFILE_SK), None)
        reward = next((item for item in found if item["PK"] == keys.CATALOG_PK), None)
        return (
            _member_from_item(member) if member else None,
            _reward_from_item(reward) if reward else None,
        )

    def put_reward(self, reward: Reward, now: datetime) -> bool:
        """Create or replace a catalog item; True when it was new."""
        item = {
            "PK": keys.CATALOG_PK,
            "SK": keys.reward_sk(reward.reward_id),
            "itemType": "reward",
            **reward.model_dump(by_alias=True),
            "updatedAt": format_instant(now),
        }
        response = self.client.put_item(
            TableName=self.table_name, Item=_to_ddb(item), ReturnValues="ALL_OLD"
        )
        return "Attributes" not in response

    def commit_redemption(self, plan: RedemptionPlan, now: datetime) -> None:
        """One transaction: the redemption (its marker, keyed by the redemption id), the
        profile (only if its balance is the one read and its tier still covers the
        reward), the entry, the coupon
        (unique), and the stock when the reward has one."""
        recorded_at = format_instant(now)
        spend = plan.spend
        marker = {
            "PK": keys.member_pk(spend.member_id),
            "SK": keys.spend_sk(plan.redemption_id),
            "itemType": "redemption",
            "redemptionId": plan.redemption_id,
            "memberId": spend.member_id,
            "rewardId": plan.reward.reward_id,
            "pointsSpent": spend.points,
            "balance": plan.balance_after,
            "couponCode": plan.coupon_code,
            "requestFingerprint": plan.request_fingerprint,
            "entryId": spend.entry.entry_id,
            "recordedAt": recorded_at,
        }
        profile_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(spend.member_id), keys.PROFILE_SK),
                "UpdateExpression": "SET updatedAt = :now ADD balance :minus, debited :points",
                # The balance exactly as read (and covering the cost: the plan checked it),
                # so the balance the redemption leaves, answered and recorded, is exact.
                "ConditionExpression": (
                    "attribute_exists(PK) AND balance = :read AND tierPoints >= :tierPoints"
                ),
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":now": recorded_at,
                        ":minus": -spend.points,
                        ":points": spend.points,
                        ":read": plan.balance_after + spend.points,
                        ":tierPoints": plan.min_tier_points,
                    }
                ),
            }
        }
        coupon = {
            "PK": keys.coupon_pk(plan.coupon_code),
            "SK": keys.COUPON_SK,
            "itemType": "coupon",
            "couponCode": plan.coupon_code,
            "memberId": spend.member_id,
            "redemptionId": plan.redemption_id,
            "rewardId": plan.reward.reward_id,
            "status": "issued",
            "issuedAt": recorded_at,
        }
        actions = [
            _put(self.table_name, marker, must_be_new=True),
            profile_update,
            _put(self.table_name, _entry_item(spend.entry, recorded_at)),
            _put(self.table_name, coupon, must_be_new=True),
        ]
        failures: dict[int, Exception] = {
            0: DuplicateEvent("the redemption has already been recorded"),
            # The balance or tier changed since it was read: read again; the new plan
            # refuses (InsufficientPoints, TierTooLow) if they no longer cover the reward.
            1: ConcurrentUpdate("the balance changed since it was read"),
        }
        if plan.reward.stock is not None:
            failures[len(actions)] = OutOfStock(f"'{plan.reward.reward_id}' is out of stock")
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _key(keys.CATALOG_PK, keys.reward_sk(plan.reward.reward_id)),
                        "UpdateExpression": "ADD stock :minus",
                        "ConditionExpression": "stock > :zero",
                        "ExpressionAttributeValues": _to_ddb({":minus": -1, ":zero": 0}),
                    }
                }
            )
        self._transact(actions, failures)

    def get_redemption(self, member_id: str, redemption_id: str) -> Redemption | None:
        item = self._get(keys.member_pk(member_id), keys.spend_sk(redemption_id))
        if not item:
            return None
        return Redemption(
            redemption_id=item["redemptionId"],
            member_id=item["memberId"],
            reward_id=item["rewardId"],
            points_spent=int(item["pointsSpent"]),
            balance=int(item["balance"]),
            coupon_code=item["couponCode"],
            request_fingerprint=item["requestFingerprint"],
        )

    # ---- operators: audit trail, adjustments, catalog, program rules -------------------

    def _audit_put(self, audit: AuditRecord) -> dict[str, Any]:
        item = {
            "PK": keys.audit_pk(audit.at),
            "SK": keys.audit_sk(audit.at, audit.audit_id),
            "itemType": "audit",
            "auditId": audit.audit_id,
            "actor": audit.actor,
            "action": audit.action,
            "target": audit.target,
            "reason": audit.reason,
            "details": dict(audit.details),
            "recordedAt": format_instant(audit.at),
        }
        return _put(self.table_name, item, must_be_new=True)

    def list_audit(self, month: datetime, limit: int) -> list[Item]:
        """A month's audit trail, newest first."""
        response = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.audit_pk(month)}},
            ScanIndexForward=False,
            Limit=limit,
        )
        hidden = {"PK", "SK", "itemType"}
        return [
            {name: value for name, value in _from_ddb(item).items() if name not in hidden}
            for item in response.get("Items", [])
        ]

    def commit_adjustment(self, plan: AdjustmentPlan, now: datetime) -> None:
        """One transaction: the adjustment's marker (once per Idempotency-Key, for good), the
        points (an earning, or a spend the balance must cover), the audit record. Raises
        DuplicateEvent, InsufficientPoints or ConcurrentUpdate."""
        recorded_at = format_instant(now)
        marker = {
            "PK": keys.member_pk(plan.member_id),
            "SK": keys.adjustment_sk(plan.adjustment_id),
            "itemType": "adjustmentMarker",
            "memberId": plan.member_id,
            "entryId": plan.entry.entry_id,
            "points": plan.points,
            "requestFingerprint": plan.request_fingerprint,
            "recordedAt": recorded_at,
        }
        actions = [_put(self.table_name, marker, must_be_new=True)]
        failures: dict[int, Exception] = {0: DuplicateEvent("the adjustment was already made")}
        if plan.earn is not None:
            actions += [
                *self._member_actions(plan.earn.member, recorded_at),
                *[_put(self.table_name, _entry_item(e, recorded_at)) for e in plan.earn.entries],
                *[_put(self.table_name, _lot_item(lot, recorded_at)) for lot in plan.earn.lots],
            ]
        else:
            assert plan.spend is not None
            failures[len(actions)] = InsufficientPoints(
                "the adjustment would take the balance below zero"
            )
            actions += [
                self._spend_update(plan.spend, recorded_at),
                _put(self.table_name, _entry_item(plan.spend.entry, recorded_at)),
            ]
        actions.append(self._audit_put(plan.audit))
        self._transact(actions, failures)

    def get_adjustment(self, member_id: str, adjustment_id: str) -> Item | None:
        return self._get(keys.member_pk(member_id), keys.adjustment_sk(adjustment_id))

    def get_reward(self, reward_id: str) -> Reward | None:
        item = self._get(keys.CATALOG_PK, keys.reward_sk(reward_id))
        return _reward_from_item(item) if item else None

    def save_reward(
        self, reward: Reward, *, stored_before: bool, audit: AuditRecord, now: datetime
    ) -> None:
        """Create or replace a catalog item with its audit record; conditional on what was
        read (another operator's concurrent create or retire is not overwritten blindly)."""
        item = {
            "PK": keys.CATALOG_PK,
            "SK": keys.reward_sk(reward.reward_id),
            "itemType": "reward",
            **reward.model_dump(by_alias=True),
            "updatedAt": format_instant(now),
        }
        put = _put(self.table_name, item)
        put["Put"]["ConditionExpression"] = (
            "attribute_exists(PK)" if stored_before else "attribute_not_exists(PK)"
        )
        self._transact([put, self._audit_put(audit)], {})

    def get_program(self) -> ProgramRules | None:
        """The operator's current rules document, if one was ever saved."""
        item = self._get(keys.PROGRAM_PK, keys.CURRENT_RULES_SK)
        if item is None:
            return None
        return ProgramRules.model_validate_json(item["document"])

    def put_program(
        self, rules: ProgramRules, *, replaces: int | None, audit: AuditRecord, now: datetime
    ) -> None:
        """Save `rules` as the current document and as its own version (kept for good), only
        if the current one is still version `replaces` (None: none saved yet)."""
        recorded_at = format_instant(now)
        document = rules.model_dump_json(by_alias=True)
        fields = {
            "itemType": "programRules",
            "version": rules.version,
            "document": document,
            "updatedAt": recorded_at,
            "updatedBy": audit.actor,
        }
        current = _put(
            self.table_name, {"PK": keys.PROGRAM_PK, "SK": keys.CURRENT_RULES_SK, **fields}
        )
        if replaces is None:
            current["Put"]["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            current["Put"]["ConditionExpression"] = "version = :replaces"
            current["Put"]["ExpressionAttributeValues"] = _to_ddb({":replaces": replaces})
        history = _put(
            self.table_name,
            {"PK": keys.PROGRAM_PK, "SK": keys.rules_version_sk(rules.version), **fields},
            must_be_new=True,
        )
        self._transact(
            [current, history, self._audit_put(audit)],
            {
                0: VersionConflict("the rules were changed meanwhile: reload and try again"),
                1: VersionConflict("that version of the rules already exists"),
            },
        )

    # ---- privacy ----------------------------------------------------------------------------

    def consented(self, member_id: str) -> bool:
        """The member's marketing consent (False for an unknown or erased member)."""
        item = self._get(
            keys.member_pk(member_id),
            keys.PROFILE_SK,
            consistent=False,
            projection="marketingConsent, erasedAt",
        )
        return bool(item and item.get("marketingConsent") and not item.get("erasedAt"))

    def member_id_by_email(self, normalized_email: str) -> str | None:
        item = self._get(keys.email_pk(normalized_email), keys.EMAIL_SK)
        return str(item["memberId"]) if item else None

    def export_member(self, member_id: str) -> tuple[Item | None, list[LedgerEntry]]:
        """The profile as stored (every personal field held) and every ledger entry, oldest
        first."""
        profile = self._get(keys.member_pk(member_id), keys.PROFILE_SK)
        entries = [
            _entry_from_item(item)
            for item in self._query_prefix(keys.member_pk(member_id), keys.ENTRY_PREFIX)
        ]
        return profile, entries

    def commit_erasure(self, plan: ErasurePlan, now: datetime) -> None:
        """One transaction: the profile loses its personal fields and its balance (forfeited
        by the entry), the lookups by personal data and the job schedules go, held lots are
        released into the forfeiture, and the audit record is written. Raises
        ConcurrentUpdate when the member changed since it was read."""
        recorded_at = format_instant(now)
        member = plan.member
        pending = plan.forfeited_pending
        profile = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(member.member_id), keys.PROFILE_SK),
                "UpdateExpression": (
                    "SET erasedAt = :now, updatedAt = :now, marketingConsent = :no "
                    "REMOVE #name, email, phone, birthday, referralCode "
                    "ADD version :one, balance :balance, pendingPoints :pending, "
                    "lotTotal :released, debited :debited"
                ),
                "ConditionExpression": "version = :expected AND attribute_not_exists(erasedAt)",
                "ExpressionAttributeNames": {"#name": "name"},
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":now": recorded_at,
                        ":no": False,
                        ":one": 1,
                        ":balance": -plan.forfeited_balance,
                        ":pending": -pending,
                        ":released": pending,
                        ":debited": plan.forfeited_balance + pending,
                        ":expected": member.version,
                    }
                ),
            }
        }
        actions: list[dict[str, Any]] = [profile, self._audit_put(plan.audit)]
        if plan.entry is not None:
            actions.append(_put(self.table_name, _entry_item(plan.entry, recorded_at)))
        deletions = [
            (keys.member_pk(member.member_id), keys.schedule_sk("birthday")),
            (keys.member_pk(member.member_id), keys.schedule_sk("tenure")),
        ]
        if member.email:
            deletions.append((keys.email_pk(member.email), keys.EMAIL_SK))
        if member.referral_code:
            deletions.append((keys.referral_code_pk(member.referral_code), keys.REFERRAL_CODE_SK))
        actions += [
            {"Delete": {"TableName": self.table_name, "Key": _key(pk, sk)}} for pk, sk in deletions
        ]
        actions += [self._release_action(lot, recorded_at) for lot in plan.released_lots]
        self._transact(actions, {})

    def _lot_reduction(
        self, member_id: str, reduction: LotReduction, recorded_at: str
    ) -> dict[str, Any]:
        """Points taken back from a lot, only if the lot is still as the plan read it: the
        same points, held or not, settled or not (a concurrent release, settlement or
        refund makes the writer read and plan again)."""
        held = (
            "attribute_exists(availableAt)"
            if reduction.pending
            else ("attribute_not_exists(availableAt)")
        )
        settled = (
            "attribute_exists(settledAt)"
            if reduction.settled
            else ("attribute_not_exists(settledAt)")
        )
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(
                    keys.member_pk(member_id),
                    keys.lot_sk(reduction.lot.expires_at, reduction.lot.lot_id),
                ),
                "UpdateExpression": "ADD points :minus SET updatedAt = :now",
                "ConditionExpression": f"points = :before AND {held} AND {settled}",
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":minus": -reduction.points,
                        ":before": reduction.points_before,
                        ":now": recorded_at,
                    }
                ),
            }
        }

    def _release_action(self, lot: PointsLot, recorded_at: str) -> dict[str, Any]:
        """A lot leaves the return-window hold: listed again under its next due date (its
        warning or expiry), once (only while it is still held)."""
        unheld = replace(lot, available_at=None)
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(lot.member_id), keys.lot_sk(lot.expires_at, lot.lot_id)),
                "UpdateExpression": "SET releasedAt = :now, GSI1SK = :next REMOVE availableAt",
                "ConditionExpression": "attribute_exists(availableAt)",
                "ExpressionAttributeValues": _to_ddb(
                    {
                        ":now": recorded_at,
                        ":next": keys.lot_due_gsi_sk(
                            unheld.next_action_at, lot.member_id, lot.lot_id
                        ),
                    }
                ),
            }
        }

    def _member_actions(self, change: MemberChange, recorded_at: str) -> list[dict[str, Any]]:
        if change.new_member is not None:
            first_order = (
                {
                    "firstOrderId": change.first_order[0],
                    "firstOrderAt": format_instant(change.first_order[1]),
                }
                if change.first_order
                else {}
            )
            profile = (
                _new_profile_item(change.new_member, recorded_at)
                | first_order
                | {
                    "balance": change.balance,
                    "tierPoints": change.tier_points,
                    "tier": change.tier,
                    "lotTotal": change.lot_total,
                    "debited": change.debited,
                    "orderCount": change.order_count,
                    "pendingPoints": change.pending_points,
                }
            )
            actions = [
                _put(self.table_name, profile, must_be_new=True),
                _put(self.table_name, _referral_code_item(change.new_member), must_be_new=True),
            ]
            if change.new_member.tenure is not None and change.new_member.tenure.due_at:
                actions.append(
                    self._schedule_action(change.member_id, change.new_member.tenure, recorded_at)
                )
            return actions
        sets = "SET tier = :tier, updatedAt = :now"
        values: Item = {
            ":tier": change.tier,
            ":now": recorded_at,
            ":one": 1,
            ":balance": change.balance,
            ":lotTotal": change.lot_total,
            ":tierPoints": change.tier_points,
            ":debited": change.debited,
            ":orderCount": change.order_count,
            ":pendingPoints": change.pending_points,
            ":settledEarned": change.settled_earned,
            ":expected": change.expected_version,
        }
        if change.first_order is not None:
            sets += ", firstOrderId = :firstOrderId, firstOrderAt = :firstOrderAt"
            values |= {
                ":firstOrderId": change.first_order[0],
                ":firstOrderAt": format_instant(change.first_order[1]),
            }
        if change.enrolled_at is not None:
            sets += ", enrolledAt = :enrolledAt"
            values[":enrolledAt"] = format_instant(change.enrolled_at)
        if change.shares_month is not None:
            sets += ", sharesMonth = :sharesMonth, sharesCount = :sharesCount"
            values |= {":sharesMonth": change.shares_month, ":sharesCount": change.shares_count}
        if change.referrals_month is not None:
            sets += ", referralsMonth = :referralsMonth, referralsCount = :referralsCount"
            values |= {
                ":referralsMonth": change.referrals_month,
                ":referralsCount": change.referrals_count,
            }
        update = {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(keys.member_pk(change.member_id), keys.PROFILE_SK),
                "UpdateExpression": (
                    f"{sets} ADD version :one, balance :balance, lotTotal :lotTotal, "
                    "tierPoints :tierPoints, debited :debited, orderCount :orderCount, "
                    "pendingPoints :pendingPoints, settledEarned :settledEarned"
                ),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": _to_ddb(values),
            }
        }
        return [update]

    def _transact(
        self,
        actions: list[dict[str, Any]],
        failures: Mapping[int, Exception] | None = None,
    ) -> None:
        """Write all actions or none. `failures` names, by action index, the domain error a
        failed condition means; the business event's marker is action 0 by convention, so
        by default its failing condition means the event was already recorded. A throttled
        write is StoreBusy (nothing written; retry later)."""
        try:
            self.client.transact_write_items(
                TransactItems=actions,  # type: ignore[arg-type]
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as error:
            raise _write_error(error, failures) from None


# The store's "not now" answers: throttled, over a request limit, or a write in conflict with
# a transaction in flight. Nothing was written; the caller may try again shortly.
_BUSY_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
_BUSY_REASONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


def _write_error(error: ClientError, failures: Mapping[int, Exception] | None) -> Exception:
    """The domain error a failed TransactWriteItems means (the ClientError itself if none)."""
    code = error.response.get("Error", {}).get("Code")
    if code in _BUSY_CODES:
        return StoreBusy("the ledger is busy; try again shortly")
    if code != "TransactionCanceledException":
        return error
    reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons", []))
    meanings = (
        failures
        if failures is not None
        else {0: DuplicateEvent("the event has already been recorded")}
    )
    for index, reason in enumerate(reasons):
        if reason.get("Code") == "ConditionalCheckFailed" and index in meanings:
            return meanings[index]
    if any(reason.get("Code") in _BUSY_REASONS for reason in reasons):
        return StoreBusy("the ledger is busy; try again shortly")
    # Anything else (a version guard, a code collision, a conflicting transaction) is
    # resolved by reading again and planning anew.
    return ConcurrentUpdate("the member changed during the write")


def _schedule_from_item(item: Item) -> Schedule:
    step = item.get("step")
    return Schedule(item["job"], parse_instant(item["dueAt"]), int(step) if step else None)


def _new_profile_item(new: NewMember, recorded_at: str) -> Item:
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


def _referral_code_item(new: NewMember) -> Item:
    return {
        "PK": keys.referral_code_pk(new.referral_code),
        "SK": keys.REFERRAL_CODE_SK,
        "itemType": "referralCode",
        "code": new.referral_code,
        "memberId": new.member_id,
    }


def _put(table_name: str, item: Mapping[str, Any], *, must_be_new: bool = False) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table_name, "Item": _to_ddb(item)}
    if must_be_new:
        put["ConditionExpression"] = "attribute_not_exists(PK)"
    return {"Put": put}


def _lot_ref_item(lot: LotRef | None) -> Item | None:
    if lot is None:
        return None
    return {
        "lotId": lot.lot_id,
        "expiresAt": format_instant(lot.expires_at),
        "availableAt": format_instant(lot.available_at) if lot.available_at else None,
    }


def _lot_ref_from(item: Mapping[str, Any] | None) -> LotRef | None:
    if not item:
        return None
    available = item.get("availableAt")
    return LotRef(
        str(item["lotId"]),
        parse_instant(str(item["expiresAt"])),
        parse_instant(str(available)) if available else None,
    )


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
        "firstOrder": order.first_order,
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
        first_order=bool(item.get("firstOrder", False)),
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
        "warnAt": format_instant(lot.warn_at) if lot.warn_at else None,
        "availableAt": format_instant(lot.available_at) if lot.available_at else None,
        "GSI1PK": keys.lot_due_gsi_pk(lot.member_id),
        "GSI1SK": keys.lot_due_gsi_sk(lot.next_action_at, lot.member_id, lot.lot_id),
        "recordedAt": recorded_at,
    }


def _reward_from_item(item: Item) -> Reward:
    fields = {name: value for name, value in item.items() if name in _REWARD_FIELDS}
    return Reward.model_validate(fields)


_REWARD_FIELDS = {field.alias or name for name, field in Reward.model_fields.items()}


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
        warn_at=parse_instant(item["warnAt"]) if item.get("warnAt") else None,
        warned="warnedAt" in item,
        settled="settledAt" in item,
        available_at=parse_instant(item["availableAt"]) if item.get("availableAt") else None,
        expired_points=int(item.get("expiredPoints", 0)),
    )
