"""The ledger on the single table: what the services read of members, orders, lots,
schedules, referrals and redemptions, and each plan of the domain (an order's award, a
refund, an enrollment, an earning, an expiry step, a referral, a redemption) written as one
`TransactWriteItems`, the business event's dedupe marker conditional in the same transaction
as the points. The action builders shared with `operations` (the profile's change, a
spend, a lot released or reduced, a schedule) are functions of the table name."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from loyalty.dal import keys
from loyalty.dal.coupons import coupon_use_actions
from loyalty.dal.items import (
    Item,
    entry_from_item,
    entry_item,
    expiry_due_fields,
    from_ddb,
    item_key,
    lot_from_item,
    lot_item,
    lot_ref_item,
    member_from_item,
    new_profile_item,
    order_from_item,
    order_item,
    referral_code_item,
    schedule_from_item,
    settled_lot_item,
    to_ddb,
)
from loyalty.dal.table import TableAccess, put_action, query_between
from loyalty.domain.calendar import format_instant
from loyalty.domain.errors import (
    AlreadyRewarded,
    ConcurrentUpdate,
    DuplicateEvent,
    EmailTaken,
    NeedsRead,
)
from loyalty.domain.ledger import (
    AwardWithoutRead,
    EarnPlan,
    LedgerEntry,
    LotReduction,
    LotRef,
    MemberChange,
    MemberState,
    OrderAwardPlan,
    OrderRecord,
    PointsLot,
    PreviousFirstOrder,
    RefundPlan,
    SpendPlan,
    member_expiry_due,
)

if TYPE_CHECKING:
    from loyalty.domain.coupons import CouponUse
    from loyalty.domain.expiry import ExpiryPlan
    from loyalty.domain.members import EnrollmentPlan
    from loyalty.domain.referrals import ReferralPlan
    from loyalty.domain.schedules import Schedule, ScheduleChange, ScheduledJob


class LedgerStore(TableAccess):
    """The ledger's reads and writes."""

    # ---- reads -------------------------------------------------------------------------

    def get_member(self, member_id: str) -> MemberState | None:
        item = self._get(keys.member_pk(member_id), keys.PROFILE_SK)
        return member_from_item(item) if item else None

    def get_member_and_order(
        self, member_id: str, order_id: str
    ) -> tuple[MemberState | None, OrderRecord | None]:
        """Both in one BatchGetItem (a refund needs the order's record and the profile)."""
        wanted = [
            item_key(keys.member_pk(member_id), keys.PROFILE_SK),
            item_key(keys.order_pk(order_id), keys.ORDER_SK),
        ]
        found = self._batch_get(wanted)
        member = next((item for item in found if item["SK"] == keys.PROFILE_SK), None)
        order = next((item for item in found if item["SK"] == keys.ORDER_SK), None)
        return (
            member_from_item(member) if member else None,
            order_from_item(order) if order else None,
        )

    def get_lots(self, member_id: str, refs: Iterable[LotRef | None]) -> dict[str, PointsLot]:
        """The named lots as they are now, live or settled, by lot id (one BatchGetItem of
        both keys of each; none for no lots)."""
        wanted = [
            item_key(keys.member_pk(member_id), keys.lot_sk(ref.expires_at, ref.lot_id, settled=s))
            for ref in refs
            if ref is not None
            for s in (False, True)
        ]
        if not wanted:
            return {}
        return {
            lot.lot_id: lot for lot in (lot_from_item(item) for item in self._batch_get(wanted))
        }

    def get_previous_first_order(self, member: MemberState) -> PreviousFirstOrder | None:
        """The member's recorded first order, its bonus lot and the tenure schedule: what an
        earlier order needs to take over as the first (two reads; only on that rare path)."""
        if member.first_order_id is None:
            return None
        found = self._batch_get(
            [
                item_key(keys.order_pk(member.first_order_id), keys.ORDER_SK),
                item_key(keys.member_pk(member.member_id), keys.schedule_sk("tenure")),
            ]
        )
        order = next((item for item in found if item["SK"] == keys.ORDER_SK), None)
        if order is None:
            return None
        record = order_from_item(order)
        schedule = next((item for item in found if item["SK"] != keys.ORDER_SK), None)
        lots = self.get_lots(member.member_id, [record.bonus_lot])
        return PreviousFirstOrder(
            record,
            lots.get(record.bonus_lot.lot_id) if record.bonus_lot else None,
            schedule_from_item(schedule) if schedule else None,
        )

    # ---- writes ------------------------------------------------------------------------

    def commit_order_award(
        self, plan: OrderAwardPlan, now: datetime, coupon_uses: Sequence[CouponUse] = ()
    ) -> None:
        """One transaction: the order record (dedupe marker), the profile, entries, lots, and
        the coupons the order uses."""
        recorded_at = format_instant(now)
        actions = [
            put_action(self.table_name, order_item(plan.order, recorded_at), must_be_new=True),
            *member_actions(self.table_name, plan.member, recorded_at, lots=plan.lots),
            *[
                put_action(self.table_name, entry_item(entry, recorded_at))
                for entry in plan.entries
            ],
            *[put_action(self.table_name, lot_item(lot, recorded_at)) for lot in plan.lots],
        ]
        handover = plan.handover
        if handover is not None:
            # The previous first order gives way: its record (as read: still first, no
            # refund since), the bonus lot it hands over, the tenure schedule moved.
            previous = handover.after
            bonus_lot = lot_ref_item(previous.bonus_lot)
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": item_key(keys.order_pk(previous.order_id), keys.ORDER_SK),
                        "UpdateExpression": (
                            "SET firstOrder = :false, firstPurchaseBonus = :bonus, "
                            + ("bonusLot = :lot, " if bonus_lot else "")
                            + "updatedAt = :now"
                            + ("" if bonus_lot else " REMOVE bonusLot")
                        ),
                        "ConditionExpression": "firstOrder = :true AND refundCount = :count",
                        "ExpressionAttributeValues": to_ddb(
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
                    lot_reduction(
                        self.table_name,
                        plan.member.member_id,
                        handover.bonus_reduction,
                        recorded_at,
                    )
                )
            if handover.tenure is not None:
                actions.append(
                    schedule_action(
                        self.table_name, plan.member.member_id, handover.tenure, recorded_at
                    )
                )
        failures: dict[int, Exception] = {0: DuplicateEvent("the order has been recorded")}
        for use in coupon_uses:
            for action in coupon_use_actions(self.table_name, use, now, check_expiry=False):
                # Used or voided meanwhile: read and plan again (the coupon is then skipped).
                failures[len(actions)] = ConcurrentUpdate("a coupon of the order changed")
                actions.append(action)
        self._transact(actions, failures)

    def commit_award_without_read(self, plan: AwardWithoutRead, now: datetime) -> None:
        """One transaction, the award's only request: the order record (dedupe marker), the
        profile's totals under the conditions that make the award independent of the
        member's state (`AwardWithoutRead`), entries and lots. Raises DuplicateEvent (the
        order is recorded) or NeedsRead (a condition did not hold)."""
        recorded_at = format_instant(now)
        conditions = [
            "attribute_exists(PK) AND attribute_not_exists(erasedAt)",
            # A first order in an earlier second (instants compare as text only to the
            # second: a whole-second bound without its "Z" sorts before any instant in it).
            "firstOrderAt < :firstBefore",
        ]
        values: Item = {
            ":now": recorded_at,
            ":one": 1,
            ":balance": plan.lot_points,
            ":tierPoints": plan.earned,
            ":pending": plan.pending_points,
            ":firstBefore": _whole_second(plan.record.occurred_at),
        }
        if plan.milestone_counts:
            names = [f":milestone{i}" for i in range(len(plan.milestone_counts))]
            conditions.append(f"NOT orderCount IN ({', '.join(names)})")
            values |= dict(zip(names, plan.milestone_counts, strict=True))
        bands = []
        for i, (name, floor) in enumerate(plan.tier_floors):
            # The stored tier is the one its points give, and these points keep it below the
            # next tier's floor: no change left or made to announce.
            band = [f"tier = :tier{i}", f"tierPoints >= :floor{i}"]
            values |= {f":tier{i}": name, f":floor{i}": floor}
            if i + 1 < len(plan.tier_floors):
                band.append(f"tierPoints < :below{i}")
                values[f":below{i}"] = plan.tier_floors[i + 1][1] - plan.earned
            bands.append("(" + " AND ".join(band) + ")")
        if bands:
            conditions.append("(" + " OR ".join(bands) + ")")
        if plan.lots_due_at is not None:
            conditions.append("expiryDueAt < :lotsDue")
            values[":lotsDue"] = _whole_second(plan.lots_due_at)
        profile = {
            "Update": {
                "TableName": self.table_name,
                "Key": item_key(keys.member_pk(plan.record.member_id), keys.PROFILE_SK),
                # Refused, the profile comes back as found: the award plans with it unread.
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                "UpdateExpression": (
                    "SET updatedAt = :now ADD version :one, balance :balance, "
                    "lotTotal :balance, tierPoints :tierPoints, orderCount :one, "
                    "pendingPoints :pending"
                ),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeValues": to_ddb(values),
            }
        }
        actions = [
            put_action(self.table_name, order_item(plan.record, recorded_at), must_be_new=True),
            profile,
            *[put_action(self.table_name, entry_item(e, recorded_at)) for e in plan.entries],
            *[put_action(self.table_name, lot_item(lot, recorded_at)) for lot in plan.lots],
        ]
        self._transact(
            actions,
            {0: DuplicateEvent("the order has been recorded"), 1: _state_in_the_way},
        )

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
                "Key": item_key(keys.order_pk(order.order_id), keys.ORDER_SK),
                "UpdateExpression": (
                    "SET refundedAmount = :refunded, reversedPoints = :reversed, "
                    "bonusReversed = :bonus, refundCount = :count, updatedAt = :now"
                ),
                "ConditionExpression": "refundCount = :expected",
                "ExpressionAttributeValues": to_ddb(
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
            lot_reduction(self.table_name, order.member_id, reduction, recorded_at)
            for reduction in plan.lot_reductions
        ]
        actions = [
            put_action(self.table_name, marker, must_be_new=True),
            order_update,
            *member_actions(self.table_name, plan.member, recorded_at),
            *[
                put_action(self.table_name, entry_item(entry, recorded_at))
                for entry in plan.entries
            ],
            *lot_updates,
        ]
        self._transact(actions)

    # ---- members ------------------------------------------------------------------------

    def get_member_with_lots(self, member_id: str) -> tuple[MemberState | None, list[PointsLot]]:
        """The profile and its live lots in one Query (their sort keys are adjacent; settled
        lots are kept elsewhere, so this read does not grow with the member's history)."""
        member: MemberState | None = None
        lots: list[PointsLot] = []
        for item in query_between(self.client, self.table_name, member_id, *keys.VIEW_RANGE):
            if item["SK"] == keys.PROFILE_SK:
                member = member_from_item(item)
            elif item["SK"].startswith(keys.LOT_PREFIX):
                lots.append(lot_from_item(item))
        return member, lots

    def get_member_with_settled_lots(
        self, member_id: str
    ) -> tuple[MemberState | None, list[PointsLot]]:
        """The profile and its settled lots (a coupon void's counterfactual needs the lots
        that have lent points and expired since): a GetItem and a Query of the settled
        range. Rare (voids, coupons expiring with their points back)."""
        member = self.get_member(member_id)
        settled = [
            lot_from_item(item)
            for item in self._query_prefix(keys.member_pk(member_id), keys.SETTLED_LOT_PREFIX)
        ]
        return member, settled

    def page_entries(
        self, member_id: str, limit: int, after_entry_id: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        """One page of the ledger, newest first; the id to continue after, if more remain.
        One entry more than the page is read, so the last page never offers an empty next
        one; consistent, so a member sees a redemption made a moment ago."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": to_ddb(
                {":pk": keys.member_pk(member_id), ":prefix": keys.ENTRY_PREFIX}
            ),
            "ScanIndexForward": False,
            "Limit": limit + 1,
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after_entry_id is not None:
            arguments["ExclusiveStartKey"] = item_key(
                keys.member_pk(member_id), keys.entry_sk(after_entry_id)
            )
        response = self.client.query(**arguments)
        entries = [entry_from_item(from_ddb(item)) for item in response.get("Items", [])]
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
                "Item": to_ddb(
                    {
                        "PK": keys.email_pk(profile.email or ""),
                        "SK": keys.EMAIL_SK,
                        "itemType": "emailLock",
                        "memberId": plan.member_id,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(PK) OR memberId = :member",
                "ExpressionAttributeValues": to_ddb({":member": plan.member_id}),
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
        if profile.leaderboard is not None:
            # Only an explicit choice changes it; a name given as None is removed.
            personal["leaderboardName"] = profile.leaderboard.display_name
            referral_fields["leaderboardOptIn"] = profile.leaderboard.opt_in
        if plan.new_member is not None:
            item = new_profile_item(plan.new_member, recorded_at) | personal | referral_fields
            actions += [
                put_action(self.table_name, item, must_be_new=True),
                put_action(self.table_name, referral_code_item(plan.new_member), must_be_new=True),
            ]
            tenure = plan.new_member.tenure
            if tenure is not None and tenure.due_at is not None:
                actions.append(
                    schedule_action(self.table_name, plan.member_id, tenure, recorded_at)
                )
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
                        "Key": item_key(keys.member_pk(plan.member_id), keys.PROFILE_SK),
                        "UpdateExpression": expression,
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": to_ddb(values),
                    }
                }
            )
            if plan.previous_email and plan.previous_email != profile.email:
                actions.append(
                    {
                        "Delete": {
                            "TableName": self.table_name,
                            "Key": item_key(keys.email_pk(plan.previous_email), keys.EMAIL_SK),
                            "ConditionExpression": "attribute_not_exists(PK) OR memberId = :m",
                            "ExpressionAttributeValues": to_ddb({":m": plan.member_id}),
                        }
                    }
                )
        if plan.birthday_schedule is not None:
            actions.append(
                schedule_action(
                    self.table_name, plan.member_id, plan.birthday_schedule, recorded_at
                )
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
            actions.append(put_action(self.table_name, referral, must_be_new=True))
        self._transact(actions, failures)

    # ---- one-time earnings (reviews, shares, ...) -----------------------------------------

    def commit_earning(self, plan: EarnPlan, now: datetime) -> None:
        """One transaction: the event's marker (conditional), the profile, entries, lots.
        Raises AlreadyRewarded or ConcurrentUpdate."""
        recorded_at = format_instant(now)
        marker = {
            **plan.marker_fields,
            "PK": keys.member_pk(plan.member.member_id),
            "SK": keys.dedupe_sk(plan.dedupe.kind, plan.dedupe.value),
            "itemType": f"{plan.dedupe.kind}Marker",
            "memberId": plan.member.member_id,
            "points": plan.points,
            "recordedAt": recorded_at,
        }
        actions = [
            put_action(self.table_name, marker, must_be_new=True),
            *member_actions(self.table_name, plan.member, recorded_at, lots=plan.lots),
            *[
                put_action(self.table_name, entry_item(entry, recorded_at))
                for entry in plan.entries
            ],
            *[put_action(self.table_name, lot_item(lot, recorded_at)) for lot in plan.lots],
        ]
        if plan.schedule is not None:
            actions.append(
                schedule_action(self.table_name, plan.member.member_id, plan.schedule, recorded_at)
            )
        self._transact(actions, {0: AlreadyRewarded("already rewarded")})

    # ---- expiry ---------------------------------------------------------------------------

    def due_members(
        self, job: str, shard: int, now: datetime, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Members due for a daily job (for expiry: a lot to release, warn about or expire) in
        one shard of its sparse index; the key to continue after, if the page was full. The
        expiry index lists profiles and holds their keys only: the member is the item's PK."""
        expiry = job == "expiry"
        index, prefix = (keys.EXPIRY_INDEX, "GSI2") if expiry else ("GSI1", "GSI1")
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": f"{prefix}PK = :pk AND {prefix}SK < :upper",
            "ExpressionAttributeValues": to_ddb(
                {":pk": keys.due_pk(job, shard), ":upper": keys.due_upper_bound(now)}
            ),
            # GSI1's items (schedules, coupons) carry their member; GSI2's are profiles.
            "ProjectionExpression": "PK" if expiry else "memberId",
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after:
            arguments["ExclusiveStartKey"] = after
        response = self.client.query(**arguments)
        found = (from_ddb(item) for item in response["Items"])
        members = list(
            dict.fromkeys(
                keys.member_id_of(item["PK"]) if expiry else item["memberId"] for item in found
            )
        )
        return members, response.get("LastEvaluatedKey")

    def get_schedule(self, member_id: str, job: ScheduledJob) -> Schedule | None:
        item = self._get(keys.member_pk(member_id), keys.schedule_sk(job))
        return schedule_from_item(item) if item else None

    def put_schedule(self, member_id: str, change: ScheduleChange, now: datetime) -> None:
        self._transact(
            [schedule_action(self.table_name, member_id, change, format_instant(now))], {}
        )

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
                Item=to_ddb(item),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def commit_expiry(self, plan: ExpiryPlan, now: datetime) -> None:
        """One transaction per step, exactly `plan.actions` actions: the profile (guarded:
        nothing spent or earned since it was read; listed under its next due time, or off the
        index with its last lot), the expiry entry, released lots, settled lots moving out of
        the live range with their expired part, warned lots, and a warning item per warned
        lot (published by the stream)."""
        recorded_at = format_instant(now)
        member = plan.member
        set_due, remove_due = "", ""
        due_values: Item = {}
        if plan.next_due_at == member.expiry_due_at:
            pass  # listed as it should be: the index is left alone
        elif plan.next_due_at is None:
            remove_due = " REMOVE expiryDueAt, GSI2PK, GSI2SK"
        else:
            set_due, due_values = expiry_due_update(member.member_id, plan.next_due_at)
        profile = {
            "Update": {
                "TableName": self.table_name,
                "Key": item_key(keys.member_pk(member.member_id), keys.PROFILE_SK),
                # The version moves too: a write adding a lot meanwhile reads the due time again.
                "UpdateExpression": (
                    f"SET updatedAt = :now{set_due} ADD version :one, balance :balance, "
                    f"debited :expired, settledEarned :settled, lotTotal :released, "
                    f"pendingPoints :unheld{remove_due}"
                ),
                "ConditionExpression": (
                    "version = :version AND debited = :debited AND settledEarned = :settledBefore"
                ),
                "ExpressionAttributeValues": to_ddb(
                    {
                        ":now": recorded_at,
                        ":one": 1,
                        ":balance": plan.released_points - plan.expired_points,
                        ":expired": plan.expired_points,
                        ":settled": plan.settled_points,
                        ":released": plan.released_points,
                        ":unheld": -plan.released_points,
                        ":version": member.version,
                        ":debited": member.debited,
                        ":settledBefore": member.settled_earned,
                    }
                    | due_values
                ),
            }
        }
        actions: list[dict[str, Any]] = [profile]
        if plan.entry is not None:
            actions.append(put_action(self.table_name, entry_item(plan.entry, recorded_at)))
        actions += [release_action(self.table_name, lot, recorded_at) for lot in plan.released]
        for settled in plan.settled:
            lot = settled.lot
            # The lot moves out of the member view's range (keys.lot_sk): its live item goes,
            # only as read (a concurrent refund makes the step plan again), and its settled
            # item comes, with the expired part (a later refund reverses only the rest).
            actions.append(
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": item_key(
                            keys.member_pk(member.member_id),
                            keys.lot_sk(lot.expires_at, lot.lot_id),
                        ),
                        "ConditionExpression": "attribute_exists(PK) AND points = :points",
                        "ExpressionAttributeValues": to_ddb({":points": lot.points}),
                    }
                }
            )
            actions.append(
                put_action(
                    self.table_name,
                    settled_lot_item(lot, settled.expired_points, recorded_at),
                    must_be_new=True,
                )
            )
        warned = [(w.lot, w.points) for w in plan.warnings] + [
            (lot, 0) for lot in plan.warned_without_points
        ]
        for lot, points in warned:
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": item_key(
                            keys.member_pk(member.member_id),
                            keys.lot_sk(lot.expires_at, lot.lot_id),
                        ),
                        "UpdateExpression": "SET warnedAt = :now",
                        "ConditionExpression": "attribute_not_exists(warnedAt)",
                        "ExpressionAttributeValues": to_ddb({":now": recorded_at}),
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
                actions.append(put_action(self.table_name, warning, must_be_new=True))
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
                "Key": item_key(
                    keys.member_pk(plan.referrer_id), keys.referral_sk(plan.referee_id)
                ),
                "UpdateExpression": (
                    "SET itemType = :type, referrerId = :referrer, refereeId = :referee, "
                    "#status = :completed, points = :points, orderId = :order, "
                    "completedAt = :now, capped = :capped, "
                    "code = if_not_exists(code, :code), createdAt = if_not_exists(createdAt, :now)"
                ),
                "ConditionExpression": "attribute_not_exists(PK) OR #status = :pending",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_ddb(
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
            put_action(self.table_name, referred, must_be_new=True),
            *member_actions(self.table_name, plan.referrer, recorded_at, lots=plan.lots),
            *member_actions(self.table_name, plan.referee, recorded_at, lots=plan.lots),
            *[
                put_action(self.table_name, entry_item(entry, recorded_at))
                for entry in plan.entries
            ],
            *[put_action(self.table_name, lot_item(lot, recorded_at)) for lot in plan.lots],
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
            self._transact([put_action(self.table_name, refusal, must_be_new=True)])


def spend_update(table_name: str, plan: SpendPlan, recorded_at: str) -> dict[str, Any]:
    """The profile's side of spending: only if the balance covers the points now (and the
    account is open)."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": item_key(keys.member_pk(plan.member_id), keys.PROFILE_SK),
            "UpdateExpression": "SET updatedAt = :now ADD balance :minus, debited :points",
            "ConditionExpression": (
                "attribute_exists(PK) AND attribute_not_exists(erasedAt) AND balance >= :points"
            ),
            "ExpressionAttributeValues": to_ddb(
                {":now": recorded_at, ":minus": -plan.points, ":points": plan.points}
            ),
        }
    }


def schedule_action(
    table_name: str, member_id: str, change: ScheduleChange, recorded_at: str
) -> dict[str, Any]:
    key = item_key(keys.member_pk(member_id), keys.schedule_sk(change.job))
    if change.due_at is None:
        return {"Delete": {"TableName": table_name, "Key": key}}
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
    return put_action(table_name, item)


def lot_reduction(
    table_name: str, member_id: str, reduction: LotReduction, recorded_at: str
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
        "attribute_exists(settledAt)" if reduction.settled else ("attribute_not_exists(settledAt)")
    )
    return {
        "Update": {
            "TableName": table_name,
            "Key": item_key(
                keys.member_pk(member_id),
                keys.lot_sk(
                    reduction.lot.expires_at, reduction.lot.lot_id, settled=reduction.settled
                ),
            ),
            "UpdateExpression": "ADD points :minus SET updatedAt = :now",
            "ConditionExpression": f"points = :before AND {held} AND {settled}",
            "ExpressionAttributeValues": to_ddb(
                {
                    ":minus": -reduction.points,
                    ":before": reduction.points_before,
                    ":now": recorded_at,
                }
            ),
        }
    }


def release_action(table_name: str, lot: PointsLot, recorded_at: str) -> dict[str, Any]:
    """A lot leaves the return-window hold, once (only while it is still held)."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": item_key(keys.member_pk(lot.member_id), keys.lot_sk(lot.expires_at, lot.lot_id)),
            "UpdateExpression": "SET releasedAt = :now REMOVE availableAt",
            "ConditionExpression": "attribute_exists(availableAt)",
            "ExpressionAttributeValues": to_ddb({":now": recorded_at}),
        }
    }


def _state_in_the_way(reason: Mapping[str, Any]) -> NeedsRead:
    """An award without a read refused by the profile's conditions: the profile as the
    transaction found it (none: no such member)."""
    found = reason.get("Item")
    member = member_from_item(from_ddb(found)) if found else None
    return NeedsRead("the member's state can change the award", member)


def _whole_second(moment: datetime) -> str:
    """`moment`'s second as text without the zone: it sorts before every `format_instant`
    of that second and after every one of an earlier second."""
    return format_instant(moment.replace(microsecond=0)).removesuffix("Z")


def expiry_due_update(member_id: str, due_at: datetime) -> tuple[str, Item]:
    """The `SET` clauses (with a leading comma) and values that list a profile on the
    expiry index under `due_at`."""
    fields = expiry_due_fields(member_id, due_at)
    return ", " + ", ".join(f"{name} = :{name}" for name in fields), {
        f":{name}": value for name, value in fields.items()
    }


def member_actions(
    table_name: str,
    change: MemberChange,
    recorded_at: str,
    profile_fields: Item | None = None,
    *,
    lots: Sequence[PointsLot] = (),
) -> list[dict[str, Any]]:
    """The profile's side of a change; `profile_fields` go on a new member's profile (an
    import enrolls with the row's personal fields). `lots` are the lots the change adds (of
    any member: this one's are picked): they move the member's expiry due time earlier
    when one of them is due sooner; otherwise the profile's index entry is left alone. The
    profile's version guard keeps the due time read in `change` current."""
    due_at = member_expiry_due(change.expiry_due_before, lots, change.member_id)
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
            new_profile_item(change.new_member, recorded_at)
            | (profile_fields or {})
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
            | (expiry_due_fields(change.member_id, due_at) if due_at else {})
        )
        actions = [
            put_action(table_name, profile, must_be_new=True),
            put_action(table_name, referral_code_item(change.new_member), must_be_new=True),
        ]
        if change.new_member.tenure is not None and change.new_member.tenure.due_at:
            actions.append(
                schedule_action(table_name, change.member_id, change.new_member.tenure, recorded_at)
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
    if due_at:
        set_due, due_values = expiry_due_update(change.member_id, due_at)
        sets += set_due
        values |= due_values
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
            "TableName": table_name,
            "Key": item_key(keys.member_pk(change.member_id), keys.PROFILE_SK),
            "UpdateExpression": (
                f"{sets} ADD version :one, balance :balance, lotTotal :lotTotal, "
                "tierPoints :tierPoints, debited :debited, orderCount :orderCount, "
                "pendingPoints :pendingPoints, settledEarned :settledEarned"
            ),
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": to_ddb(values),
        }
    }
    return [update]
