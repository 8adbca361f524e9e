"""Coupons on the single table: the coupon item (`COUPON#<code>`, what a checkout reads by
code) and its copy on the member's redemption (`MEMBER#<id>` / `SPEND#<redemptionId>`, what
lists a member's coupons in one Query). Every change of state writes both, in one transaction,
conditioned on the state the plan was made from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.dal import keys
from loyalty.dal.items import coupon_from_item, entry_item, item_key, to_ddb
from loyalty.dal.table import TableAccess, put_action
from loyalty.domain.calendar import format_instant
from loyalty.domain.coupons import Coupon, CouponUse, CouponVoidPlan
from loyalty.domain.errors import ConcurrentUpdate, CouponUnavailable, DuplicateEvent


class CouponStore(TableAccess):
    def get_coupon(self, code: str) -> Coupon | None:
        item = self._get(keys.coupon_pk(code), keys.COUPON_SK)
        return coupon_from_item(item) if item else None

    def list_coupons(self, member_id: str) -> list[Coupon] | None:
        """The member's coupons, newest first: one Query of their redemptions, and the
        profile's key (None for an unknown or erased member)."""
        profile = self._get(keys.member_pk(member_id), keys.PROFILE_SK, projection="PK, erasedAt")
        if profile is None or "erasedAt" in profile:
            return None
        coupons = [
            coupon_from_item(item)
            for item in self._query_prefix(keys.member_pk(member_id), keys.SPEND_PREFIX)
            if item.get("itemType") == "redemption" and item.get("couponCode")
        ]
        return sorted(coupons, key=lambda c: (c.issued_at, c.code), reverse=True)

    def _both(
        self, coupon: Coupon, update: str, values: dict[str, Any], condition: str
    ) -> list[dict[str, Any]]:
        """The same update of the coupon and of its redemption, each under `condition`."""
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": key,
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": to_ddb(values),
                }
            }
            for key in (
                item_key(keys.coupon_pk(coupon.code), keys.COUPON_SK),
                item_key(keys.member_pk(coupon.member_id), keys.spend_sk(coupon.redemption_id)),
            )
        ]

    def commit_coupon_use(self, use: CouponUse, now: datetime) -> None:
        """Used once: only while still issued (and not expired, by its recorded date)."""
        recorded_at = format_instant(now)
        condition = "couponStatus = :issued AND memberId = :member"
        values: dict[str, Any] = {
            ":issued": "issued",
            ":used": "used",
            ":member": use.coupon.member_id,
            ":now": recorded_at,
            ":order": use.order_id,
        }
        if use.coupon.expires_at is not None:
            condition += " AND couponExpiresAt > :now"
        actions = self._both(
            use.coupon,
            "SET couponStatus = :used, couponUsedAt = :now, couponUsedBy = :order",
            values,
            condition,
        )
        self._transact(
            actions,
            {
                0: DuplicateEvent("the coupon is no longer issued"),
                1: DuplicateEvent("the coupon is no longer issued"),
            },
        )

    def commit_coupon_void(self, plan: CouponVoidPlan, now: datetime) -> None:
        """The coupon and its redemption voided, the returned points back on the profile
        (only if the totals the plan was made from are unchanged), the entries, and the
        settled lots that take the part that has expired since."""
        recorded_at = format_instant(now)
        coupon, member = plan.coupon, plan.member
        if member is None or plan.replayed:
            raise ValueError("a replayed void writes nothing")
        actions = self._both(
            coupon,
            "SET couponStatus = :voided, couponVoidedAt = :now, couponReturned = :back, "
            "couponExpired = :expired",
            {
                ":voided": "voided",
                ":issued": "issued",
                ":now": recorded_at,
                ":back": plan.returned,
                ":expired": plan.expired,
            },
            "couponStatus = :issued",
        )
        actions.append(
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": item_key(keys.member_pk(member.member_id), keys.PROFILE_SK),
                    "UpdateExpression": "SET updatedAt = :now ADD balance :back, debited :minus",
                    "ConditionExpression": (
                        "attribute_exists(PK) AND attribute_not_exists(erasedAt) "
                        "AND debited = :debited AND settledEarned = :settled"
                    ),
                    "ExpressionAttributeValues": to_ddb(
                        {
                            ":now": recorded_at,
                            ":back": plan.returned,
                            ":minus": -plan.returned,
                            ":debited": member.debited,
                            ":settled": member.settled_earned,
                        }
                    ),
                }
            }
        )
        actions.extend(
            put_action(self.table_name, entry_item(entry, recorded_at), must_be_new=True)
            for entry in plan.entries
        )
        for part in plan.expired_parts:
            lot = part.lot
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": item_key(
                            keys.member_pk(lot.member_id), keys.lot_sk(lot.expires_at, lot.lot_id)
                        ),
                        "UpdateExpression": "SET expiredPoints = :expired",
                        "ConditionExpression": (
                            "attribute_exists(settledAt) AND points = :points "
                            "AND (expiredPoints = :before OR "
                            "(attribute_not_exists(expiredPoints) AND :before = :zero))"
                        ),
                        "ExpressionAttributeValues": to_ddb(
                            {
                                ":expired": lot.expired_points + part.points,
                                ":before": lot.expired_points,
                                ":points": lot.points,
                                ":zero": 0,
                            }
                        ),
                    }
                }
            )
        failures: dict[int, Exception] = {
            0: CouponUnavailable(f"coupon '{coupon.code}' is no longer issued", "changed"),
            1: CouponUnavailable(f"coupon '{coupon.code}' is no longer issued", "changed"),
            2: ConcurrentUpdate("the member's points changed since they were read"),
        }
        for index in range(3 + len(plan.entries), len(actions)):
            failures[index] = ConcurrentUpdate("a lot changed since it was read")
        self._transact(actions, failures)
