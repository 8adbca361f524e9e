"""Storefront API, rewards: the catalog (GET /rewards) and redemptions (the redemption
function), with real HTTP API v2 events on DynamoDB Local."""

from __future__ import annotations

import re

import pytest

from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.rewards import Reward
from tests.support.api import (
    NOW,
    REDEEM,
    REWARDS,
    all_activity,
    balance,
    enroll,
    item_of,
    member,
    order,
    play_orders,
    redeem,
    request,
)
from tests.support.http import ADMIN, member_token
from tests.support.table import put_reward

pytestmark = pytest.mark.usefixtures("table_name", "clock")

COUPON = re.compile(r"^LOY-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


def _member_with(member_id: str, dollars: str, at: str = "2026-11-10T10:00:00Z") -> int:
    """A member whose first order earned `dollars` × 100 points plus the 150 bonus."""
    play_orders(order(f"o-{member_id}", member_id, dollars, at=at))
    return balance(member_id)


def _put_reward(table_name: str, reward: Reward) -> None:
    put_reward(DynamoLedgerRepository(table_name), reward, NOW)


# ---- GET /rewards ---------------------------------------------------------------------------


def test_the_catalog_lists_the_default_rewards():
    reply = request(REWARDS, claims=member_token("anyone"))
    assert reply.status == 200
    by_id = {item["rewardId"]: item for item in reply.body["items"]}
    assert set(by_id) == {"discount-10", "free-shipping"}
    assert {k: by_id["discount-10"][k] for k in ("name", "kind", "cost", "minTier")} == {
        "name": "10% off your next order",
        "kind": "discount",
        "cost": 1000,
        "minTier": "Bronze",
    }
    assert {k: by_id["free-shipping"][k] for k in ("kind", "cost", "minTier")} == {
        "kind": "free_shipping",
        "cost": 500,
        "minTier": "Bronze",
    }
    assert by_id["free-shipping"]["name"]


def test_stored_rewards_are_listed_and_retired_ones_are_not(table_name, snapshot):
    _put_reward(table_name, Reward(reward_id="mug", name="Mug", kind="product", cost=300))
    _put_reward(
        table_name,
        Reward(
            reward_id="free-shipping", name="Free shipping", kind="free_shipping", cost=500
        ).model_copy(update={"active": False}),
    )
    items = request(REWARDS).body["items"]
    assert {item["rewardId"] for item in items} == {"discount-10", "mug"}
    mug = next(item for item in items if item["rewardId"] == "mug")
    assert (mug["kind"], mug["cost"], mug["minTier"]) == ("product", 300, "Bronze")
    _member_with("m-1", "10.00")
    before = snapshot()
    reply = redeem("m-1", "free-shipping")
    assert reply.status == 404
    assert snapshot() == before


# ---- POST /members/{memberId}/redemptions ------------------------------------------------------


def test_a_redemption_spends_the_cost_and_issues_a_coupon(dynamodb_client, table_name):
    assert _member_with("m-1", "10.00") == 1150
    reply = redeem("m-1", "discount-10")
    assert reply.status == 201
    body = reply.body
    assert body["rewardId"] == "discount-10"
    assert body["pointsSpent"] == 1000
    assert body["balance"] == 150
    assert COUPON.match(body["couponCode"])
    assert body["redemptionId"]
    view = member("m-1").body
    assert view["balance"] == 150
    assert view["tierPoints"] == 1150  # redeeming does not demote
    assert view["tier"] == "Silver"
    newest = all_activity("m-1")[0]
    assert newest["type"] == "redeem"
    assert newest["points"] == -1000
    assert newest["reference"] == body["redemptionId"]
    assert "discount-10" in newest["reason"]
    coupon = item_of(dynamodb_client, table_name, f"COUPON#{body['couponCode']}", "COUPON")
    assert coupon is not None
    assert coupon["memberId"] == {"S": "m-1"}
    assert coupon["rewardId"] == {"S": "discount-10"}


def test_a_member_may_redeem_for_itself():
    _member_with("m-1", "10.00")
    reply = redeem("m-1", "free-shipping", claims=member_token("m-1"))
    assert reply.status == 201
    assert balance("m-1") == 650


def test_spending_uses_the_soonest_expiring_points_first():
    play_orders(
        order("o-mar", "m-1", "5.00", at="2026-03-01T10:00:00Z"),  # 500 + 150 bonus
        order("o-feb", "m-1", "10.00", at="2026-02-01T10:00:00Z"),  # 1000
        order("o-may", "m-1", "7.00", at="2026-05-01T10:00:00Z"),  # 700
    )
    assert redeem("m-1", "discount-10").status == 201
    assert redeem("m-1", "free-shipping").status == 201
    view = member("m-1").body
    assert view["balance"] == 2350 - 1500
    assert view["expiring"] == [
        {"points": 150, "expiresAt": "2027-03-01T10:00:00Z"},
        {"points": 700, "expiresAt": "2027-05-01T10:00:00Z"},
    ]


def test_a_short_balance_is_a_409_and_nothing_is_spent(snapshot):
    _member_with("m-1", "5.00")  # 650 points
    before = snapshot()
    reply = redeem("m-1", "discount-10")
    assert reply.status == 409
    assert reply.body["message"]
    assert snapshot() == before
    assert balance("m-1") == 650


def test_an_enrolled_member_without_points_cannot_redeem(snapshot):
    enroll("m-1")
    before = snapshot()
    assert redeem("m-1", "free-shipping").status == 409
    assert snapshot() == before


def test_an_unknown_reward_is_a_404(snapshot):
    _member_with("m-1", "50.00")
    before = snapshot()
    reply = redeem("m-1", "no-such-reward")
    assert reply.status == 404
    assert reply.body["message"]
    assert snapshot() == before


def test_the_same_idempotency_key_and_body_redeem_once():
    _member_with("m-1", "20.00")  # 2150
    first = redeem("m-1", "free-shipping", key="checkout-1")
    second = redeem("m-1", "free-shipping", key="checkout-1")
    assert first.status == second.status == 201
    assert second.body == first.body
    assert balance("m-1") == 1650
    assert [e["type"] for e in all_activity("m-1")].count("redeem") == 1


def test_a_replay_answers_the_first_redemption_even_when_the_balance_is_now_short():
    _member_with("m-1", "10.00")  # 1150: one discount-10 leaves 150
    first = redeem("m-1", "discount-10", key="checkout-1")
    assert first.status == 201
    again = redeem("m-1", "discount-10", key="checkout-1")
    assert again.status == 201
    assert again.body == first.body
    assert balance("m-1") == 150


def test_the_same_idempotency_key_with_another_body_is_refused(snapshot):
    _member_with("m-1", "20.00")
    assert redeem("m-1", "free-shipping", key="checkout-1").status == 201
    before = snapshot()
    reply = redeem("m-1", "discount-10", key="checkout-1")
    assert reply.status == 422
    assert reply.body["message"]
    assert snapshot() == before
    assert balance("m-1") == 1650


def test_different_keys_or_no_key_redeem_each_time():
    _member_with("m-1", "20.00")  # 2150
    codes = {
        redeem("m-1", "free-shipping", key="a").body["couponCode"],
        redeem("m-1", "free-shipping", key="b").body["couponCode"],
        redeem("m-1", "free-shipping").body["couponCode"],
    }
    assert len(codes) == 3
    assert balance("m-1") == 2150 - 1500


def test_an_idempotency_key_belongs_to_its_member():
    _member_with("m-1", "10.00")
    _member_with("m-2", "10.00")
    one = redeem("m-1", "free-shipping", key="same")
    two = redeem("m-2", "free-shipping", key="same")
    assert one.status == two.status == 201
    assert one.body["redemptionId"] != two.body["redemptionId"]
    assert one.body["couponCode"] != two.body["couponCode"]
    assert balance("m-1") == balance("m-2") == 650


def test_a_tier_gated_reward_needs_the_tier(table_name, snapshot):
    _put_reward(
        table_name,
        Reward(reward_id="vip-gift", name="VIP gift", kind="product", cost=200, min_tier="Gold"),
    )
    assert _member_with("bronze", "1.00") == 250
    assert _member_with("silver", "20.00") == 2150
    assert _member_with("gold", "50.00") == 5150
    assert member("gold").body["tier"] == "Gold"
    before = snapshot()
    for member_id in ("bronze", "silver"):
        reply = redeem(member_id, "vip-gift")
        assert reply.status == 409, member_id
        assert reply.body["message"]
    assert snapshot() == before
    reply = redeem("gold", "vip-gift")
    assert reply.status == 201
    assert reply.body["balance"] == 4950
    listed = {item["rewardId"]: item for item in request(REWARDS).body["items"]}
    assert listed["vip-gift"]["minTier"] == "Gold"


def test_a_reward_out_of_stock_is_a_409(table_name, snapshot):
    _put_reward(table_name, Reward(reward_id="mug", name="Mug", kind="product", cost=100, stock=1))
    _member_with("m-1", "5.00")
    _member_with("m-2", "5.00")
    first = redeem("m-1", "mug", key="k-1")
    assert first.status == 201
    before = snapshot()
    second = redeem("m-2", "mug")
    assert second.status == 409
    assert second.body["message"]
    assert snapshot() == before
    assert balance("m-2") == 650
    # The first buyer's retry still gets its coupon, not "out of stock".
    replay = redeem("m-1", "mug", key="k-1")
    assert replay.status == 201
    assert replay.body == first.body
    assert balance("m-1") == 550
    listed = {item["rewardId"]: item for item in request(REWARDS, claims=ADMIN).body["items"]}
    assert listed["mug"]["stock"] == 0


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({}, None, 422),
        ({"rewardId": 10}, None, 422),
        ({"rewardId": "Discount-10"}, None, 422),
        ({"rewardId": "discount-10", "points": 1}, None, 422),
        ("[1, 2", None, 400),
        ({"rewardId": "discount-10"}, {"Idempotency-Key": "k" * 256}, 422),
        ({"rewardId": "discount-10"}, {"Idempotency-Key": "with space"}, 422),
    ],
)
def test_invalid_redemption_requests_are_refused(body, headers, status, snapshot):
    _member_with("m-1", "20.00")
    before = snapshot()
    reply = request(REDEEM, "m-1", body=body, headers=headers)
    assert reply.status == status
    assert reply.body["message"]
    assert snapshot() == before
