"""The rewards catalog and redemptions on the single table: a reward's item (the catalog is
one partition), and a redemption written as one `TransactWriteItems` (its marker, the
profile, the entry, the coupon and the stock). Apart from the ledger's stores: only the
functions that sell or edit rewards load the catalog's model."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from loyalty.dal import keys
from loyalty.dal.coupons import coupon_due_keys
from loyalty.dal.items import Item, entry_item, instant_or_none, item_key, member_from_item, to_ddb
from loyalty.dal.operations import OperationsStore
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.dal.table import put_action
from loyalty.domain.calendar import format_instant
from loyalty.domain.errors import ConcurrentUpdate, DuplicateEvent, OutOfStock
from loyalty.domain.rewards import Redemption, Reward

if TYPE_CHECKING:
    from loyalty.domain.ledger import MemberState
    from loyalty.domain.operations import AuditRecord
    from loyalty.domain.rewards import RedemptionPlan


def reward_from_item(item: Item) -> Reward:
    fields = {name: value for name, value in item.items() if name in _REWARD_FIELDS}
    return Reward.model_validate(fields)


_REWARD_FIELDS = {field.alias or name for name, field in Reward.model_fields.items()}


def reward_item(reward: Reward, now: datetime) -> Item:
    return {
        "PK": keys.CATALOG_PK,
        "SK": keys.reward_sk(reward.reward_id),
        "itemType": "reward",
        **reward.model_dump(by_alias=True),
        "updatedAt": format_instant(now),
    }


def redemption_from_item(item: Item) -> Redemption:
    return Redemption(
        redemption_id=item["redemptionId"],
        member_id=item["memberId"],
        reward_id=item["rewardId"],
        points_spent=int(item["pointsSpent"]),
        balance=int(item["balance"]),
        coupon_code=item["couponCode"],
        request_fingerprint=item["requestFingerprint"],
        coupon_expires_at=instant_or_none(item.get("couponExpiresAt")),
    )


def issued_coupon_attributes(plan: RedemptionPlan, recorded_at: str) -> Item:
    """A new coupon's state, on the coupon item and on its redemption alike."""
    reward = plan.reward
    return {
        "couponCode": plan.coupon_code,
        "couponStatus": "issued",
        "issuedAt": recorded_at,
        "couponExpiresAt": format_instant(plan.coupon_expires_at)
        if plan.coupon_expires_at
        else None,
        "rewardName": reward.name,
        "rewardKind": reward.kind,
        "discountPercent": reward.discount_percent,
    }


class RewardStore(OperationsStore):
    """The catalog's reads and writes, and redemptions."""

    # ---- catalog ---------------------------------------------------------------------------

    def list_rewards(self) -> list[Reward]:
        return [
            reward_from_item(item)
            for item in self._query_prefix(keys.CATALOG_PK, keys.REWARD_PREFIX)
        ]

    def get_reward(self, reward_id: str) -> Reward | None:
        item = self._get(keys.CATALOG_PK, keys.reward_sk(reward_id))
        return reward_from_item(item) if item else None

    def save_reward(
        self, reward: Reward, *, stored_before: bool, audit: AuditRecord, now: datetime
    ) -> None:
        """Create or replace a catalog item with its audit record; conditional on what was
        read (another operator's concurrent create or retire is not overwritten blindly)."""
        put = put_action(self.table_name, reward_item(reward, now))
        put["Put"]["ConditionExpression"] = (
            "attribute_exists(PK)" if stored_before else "attribute_not_exists(PK)"
        )
        self._transact([put, self._audit_put(audit)], {})

    # ---- redemptions ----------------------------------------------------------------------

    def get_member_and_reward(
        self, member_id: str, reward_id: str
    ) -> tuple[MemberState | None, Reward | None]:
        """Both in one BatchGetItem: a redemption reads once."""
        wanted = [
            item_key(keys.member_pk(member_id), keys.PROFILE_SK),
            item_key(keys.CATALOG_PK, keys.reward_sk(reward_id)),
        ]
        found = self._batch_get(wanted)
        member = next((item for item in found if item["SK"] == keys.PROFILE_SK), None)
        reward = next((item for item in found if item["PK"] == keys.CATALOG_PK), None)
        return (
            member_from_item(member) if member else None,
            reward_from_item(reward) if reward else None,
        )

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
            "requestFingerprint": plan.request_fingerprint,
            "entryId": spend.entry.entry_id,
            "recordedAt": recorded_at,
        } | issued_coupon_attributes(plan, recorded_at)
        profile_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": item_key(keys.member_pk(spend.member_id), keys.PROFILE_SK),
                "UpdateExpression": "SET updatedAt = :now ADD balance :minus, debited :points",
                # The balance exactly as read (and covering the cost: the plan checked it),
                # so the balance the redemption leaves, answered and recorded, is exact.
                "ConditionExpression": (
                    "attribute_exists(PK) AND balance = :read AND tierPoints >= :tierPoints"
                ),
                "ExpressionAttributeValues": to_ddb(
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
        # The coupon, and its copy on the member's redemption (so that a member's coupons
        # are one Query): every change of state writes both (dal/coupons.py).
        coupon = {
            "PK": keys.coupon_pk(plan.coupon_code),
            "SK": keys.COUPON_SK,
            "itemType": "coupon",
            "memberId": spend.member_id,
            "redemptionId": plan.redemption_id,
            "rewardId": plan.reward.reward_id,
            "pointsSpent": spend.points,
        } | issued_coupon_attributes(plan, recorded_at)
        # Listed for the coupons job (its warning, then its expiry): the coupon item only.
        coupon |= coupon_due_keys(spend.member_id, plan.coupon_code, plan.coupon_expires_at)
        actions = [
            put_action(self.table_name, marker, must_be_new=True),
            profile_update,
            put_action(self.table_name, entry_item(spend.entry, recorded_at)),
            put_action(self.table_name, coupon, must_be_new=True),
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
                        "Key": item_key(keys.CATALOG_PK, keys.reward_sk(plan.reward.reward_id)),
                        "UpdateExpression": "ADD stock :minus",
                        "ConditionExpression": "stock > :zero",
                        "ExpressionAttributeValues": to_ddb({":minus": -1, ":zero": 0}),
                    }
                }
            )
        self._transact(actions, failures)

    def get_redemption(self, member_id: str, redemption_id: str) -> Redemption | None:
        item = self._get(keys.member_pk(member_id), keys.spend_sk(redemption_id))
        return redemption_from_item(item) if item else None


class DynamoRewardRepository(DynamoLedgerRepository, RewardStore):
    """The ledger's stores and the catalog's on one client: what the reward and the
    operator services use."""
