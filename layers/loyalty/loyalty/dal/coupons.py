"""Coupons on the single table: the coupon item (`COUPON#<code>`, what a checkout reads by
code) and its copy on the member's redemption (`MEMBER#<id>` / `SPEND#<redemptionId>`, what
lists a member's coupons in one Query). Every change of state writes both, in one transaction,
conditioned on the state the plan was made from. An issued coupon item is listed on GSI1 for
the coupons job (`keys.coupon_due_gsi_pk`): its warning, then its expiry; using, voiding or
expiring it takes it out of the index in the same update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loyalty.dal import keys
from loyalty.dal.items import coupon_from_item, entry_item, item_key, member_from_item, to_ddb
from loyalty.dal.table import TableAccess, put_action, query_between
from loyalty.domain.calendar import format_instant
from loyalty.domain.coupons import (
    Coupon,
    CouponExpiryPlan,
    CouponUse,
    CouponVoidPlan,
    coupon_next_action_at,
)
from loyalty.domain.errors import ConcurrentUpdate, CouponUnavailable, DuplicateEvent

if TYPE_CHECKING:
    from loyalty.domain.ledger import MemberState


def coupon_due_keys(member_id: str, code: str, expires_at: datetime | None) -> dict[str, str]:
    """The GSI1 keys of a newly issued coupon item (none for a coupon that never expires)."""
    if expires_at is None:
        return {}
    return {
        "GSI1PK": keys.coupon_due_gsi_pk(member_id),
        "GSI1SK": keys.coupon_due_gsi_sk(
            coupon_next_action_at(expires_at, warned=False), member_id, code
        ),
    }


class CouponStore(TableAccess):
    def get_coupon(self, code: str) -> Coupon | None:
        item = self._get(keys.coupon_pk(code), keys.COUPON_SK)
        return coupon_from_item(item) if item else None

    def get_member_with_coupons(self, member_id: str) -> tuple[MemberState | None, list[Coupon]]:
        """The profile and the member's coupons in one Query (newest first)."""
        member: MemberState | None = None
        coupons: list[Coupon] = []
        low, high = keys.PROFILE_TO_SPEND_RANGE
        for item in query_between(self.client, self.table_name, member_id, low, high):
            if item["SK"] == keys.PROFILE_SK:
                member = member_from_item(item)
            elif _is_coupon_copy(item):
                coupons.append(coupon_from_item(item))
        coupons.sort(key=lambda c: (c.issued_at, c.code), reverse=True)
        return member, coupons

    def get_coupons(self, codes: Sequence[str]) -> dict[str, Coupon]:
        """The coupons of these codes that exist, by code (one BatchGetItem)."""
        if not codes:
            return {}
        wanted = [item_key(keys.coupon_pk(code), keys.COUPON_SK) for code in dict.fromkeys(codes)]
        return {item["couponCode"]: coupon_from_item(item) for item in self._batch_get(wanted)}

    def commit_coupon_use(self, use: CouponUse, now: datetime) -> None:
        """Used once: only while still issued (and not expired, by its recorded date)."""
        actions = coupon_use_actions(self.table_name, use, now, check_expiry=True)
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
        # A void, or the coupons job expiring it with its points back (then `couponExpiredAt`
        # and only on or after its date).
        when = "couponVoidedAt" if plan.new_status == "voided" else "couponExpiredAt"
        condition = "couponStatus = :issued"
        if plan.new_status == "expired":
            condition += " AND couponExpiresAt <= :now"
        actions = coupon_updates(
            self.table_name,
            coupon,
            f"SET couponStatus = :status, {when} = :now, couponReturned = :back, "
            "couponExpired = :expired REMOVE GSI1PK, GSI1SK",
            {
                ":status": plan.new_status,
                ":issued": "issued",
                ":now": recorded_at,
                ":back": plan.returned,
                ":expired": plan.expired,
            },
            condition,
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
                            keys.member_pk(lot.member_id),
                            keys.lot_sk(lot.expires_at, lot.lot_id, settled=True),
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

    # ---- the coupons job ----------------------------------------------------------------

    def member_coupons(self, member_id: str) -> list[Coupon]:
        """Every coupon of the member, from the copies on their redemptions (one Query),
        whatever the state of the account (an erased member's coupons still expire)."""
        return [
            coupon_from_item(item)
            for item in self._query_prefix(keys.member_pk(member_id), keys.SPEND_PREFIX)
            if _is_coupon_copy(item)
        ]

    def commit_coupon_expiry(self, plan: CouponExpiryPlan, now: datetime) -> None:
        """One transaction, `plan.actions` actions: each coupon expired (status `expired` on
        both items, out of the index) and each coupon warned (`couponWarnedAt` on both, the
        coupon item moving on to its expiry in the index), only while still issued (and not
        warned before). Raises ConcurrentUpdate when a coupon changed since it was read."""
        recorded_at = format_instant(now)
        actions: list[dict[str, Any]] = []
        for coupon in plan.expire:
            actions += coupon_updates(
                self.table_name,
                coupon,
                "SET couponStatus = :expired, couponExpiredAt = :now REMOVE GSI1PK, GSI1SK",
                {":expired": "expired", ":issued": "issued", ":now": recorded_at},
                "couponStatus = :issued AND couponExpiresAt <= :now",
            )
        for coupon in plan.warn:
            assert coupon.expires_at is not None
            coupon_item, redemption = coupon_updates(
                self.table_name,
                coupon,
                "SET couponWarnedAt = :now",
                {":issued": "issued", ":now": recorded_at},
                "couponStatus = :issued AND attribute_not_exists(couponWarnedAt)",
            )
            update = coupon_item["Update"]
            update["UpdateExpression"] += ", GSI1SK = :next"
            update["ExpressionAttributeValues"] |= to_ddb(
                {":next": keys.coupon_due_gsi_sk(coupon.expires_at, coupon.member_id, coupon.code)}
            )
            actions += [coupon_item, redemption]
        changed = ConcurrentUpdate("a coupon changed since it was read")
        self._transact(actions, dict.fromkeys(range(len(actions)), changed))


def coupon_use_actions(
    table_name: str, use: CouponUse, now: datetime, *, check_expiry: bool
) -> list[dict[str, Any]]:
    """The coupon and its redemption marked used by `use.order_id`, each only while the
    coupon is issued and the member's (and, with `check_expiry`, not expired now); the
    coupon leaves the coupons job's index."""
    recorded_at = format_instant(now)
    condition = "couponStatus = :issued AND memberId = :member"
    values: dict[str, Any] = {
        ":issued": "issued",
        ":used": "used",
        ":member": use.coupon.member_id,
        ":now": recorded_at,
        ":order": use.order_id,
    }
    if check_expiry and use.coupon.expires_at is not None:
        condition += " AND couponExpiresAt > :now"
    return coupon_updates(
        table_name,
        use.coupon,
        "SET couponStatus = :used, couponUsedAt = :now, couponUsedBy = :order "
        "REMOVE GSI1PK, GSI1SK",
        values,
        condition,
    )


def coupon_updates(
    table_name: str, coupon: Coupon, update: str, values: dict[str, Any], condition: str
) -> list[dict[str, Any]]:
    """The same update of the coupon and of its copy on the member's redemption, each under
    `condition`: every change of a coupon's state writes both."""
    return [
        {
            "Update": {
                "TableName": table_name,
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


def _is_coupon_copy(item: Mapping[str, Any]) -> bool:
    """A member's redemption item that carries its coupon's state."""
    return item.get("itemType") == "redemption" and bool(item.get("couponCode"))
