"""The rewards catalog and the planning of a redemption."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from loyalty.domain.errors import InsufficientPoints, OutOfStock, RewardNotFound, TierTooLow
from loyalty.domain.ledger import MemberState, SpendPlan, plan_spend
from loyalty.domain.rules import TIER_ORDER, ProgramRules, TierName

RewardKind = Literal["discount", "free_shipping", "product"]
REWARD_ID_PATTERN = r"^[a-z0-9][a-z0-9\-_.]{0,63}$"
RewardId = Annotated[str, StringConstraints(pattern=REWARD_ID_PATTERN)]

_COUPON_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class Reward(BaseModel):
    """A catalog item. `discountPercent` applies to kind `discount`; `stock` (optional) limits
    how many can be redeemed; a retired reward (`active: false`) is neither listed nor
    redeemable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    reward_id: RewardId
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    kind: RewardKind
    cost: int = Field(ge=1, le=10_000_000)
    min_tier: TierName = "Bronze"
    discount_percent: int | None = Field(default=None, ge=1, le=100)
    stock: int | None = Field(default=None, ge=0)
    active: bool = True

    @model_validator(mode="after")
    def _discount_has_a_percentage(self) -> Reward:
        if self.kind == "discount" and self.discount_percent is None:
            raise ValueError("a discount reward needs discountPercent")
        if self.kind != "discount" and self.discount_percent is not None:
            raise ValueError("discountPercent applies to discount rewards only")
        return self


DEFAULT_REWARDS: tuple[Reward, ...] = (
    Reward(
        reward_id="discount-10",
        name="10% off your next order",
        kind="discount",
        cost=1000,
        discount_percent=10,
    ),
    Reward(reward_id="free-shipping", name="Free shipping", kind="free_shipping", cost=500),
)


def full_catalog(stored: list[Reward]) -> list[Reward]:
    """The contract's default rewards overlaid by the ones stored in the table (an operator's
    change to a default reward, including retiring it, wins); retired rewards included."""
    by_id = {reward.reward_id: reward for reward in DEFAULT_REWARDS}
    by_id.update({reward.reward_id: reward for reward in stored})
    return list(by_id.values())


def catalog(stored: list[Reward]) -> list[Reward]:
    """What members see: the active rewards, cheapest first."""
    return sorted(
        (reward for reward in full_catalog(stored) if reward.active),
        key=lambda reward: (reward.cost, reward.reward_id),
    )


def find_reward(reward_id: str, stored: Reward | None) -> Reward:
    reward = stored or next((r for r in DEFAULT_REWARDS if r.reward_id == reward_id), None)
    if reward is None or not reward.active:
        raise RewardNotFound(f"no active reward '{reward_id}'")
    return reward


def tier_rank(tier: TierName) -> int:
    return TIER_ORDER.index(tier)


def new_coupon_code() -> str:
    body = "".join(secrets.choice(_COUPON_ALPHABET) for _ in range(12))
    return f"LOY-{body[:4]}-{body[4:8]}-{body[8:]}"


def redemption_id_for(member_id: str, idempotency_key: str | None) -> str:
    """With an Idempotency-Key the id is derived from it, so the ledger itself (not only a
    time-limited cache) refuses to spend twice for one key."""
    if idempotency_key is None:
        return f"rdm-{secrets.token_hex(12)}"
    digest = hashlib.sha256(f"{member_id}\x1f{idempotency_key}".encode()).hexdigest()
    return f"rdm-{digest[:24]}"


@dataclass(frozen=True, slots=True)
class RedemptionPlan:
    redemption_id: str
    reward: Reward
    coupon_code: str
    spend: SpendPlan
    min_tier_points: int
    balance_after: int
    request_fingerprint: str
    coupon_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Redemption:
    redemption_id: str
    member_id: str
    reward_id: str
    points_spent: int
    balance: int
    coupon_code: str
    request_fingerprint: str
    # None for coupons issued before coupons expired.
    coupon_expires_at: datetime | None = None


def plan_redemption(
    rules: ProgramRules,
    member: MemberState,
    reward: Reward,
    *,
    redemption_id: str,
    request_fingerprint: str,
    now: datetime,
    coupon_code: str | None = None,
) -> RedemptionPlan:
    """Checks the member can have the reward now; the write re-checks balance, tier and
    stock inside the transaction, so a concurrent change cannot overdraw."""
    if tier_rank(member.tier) < tier_rank(reward.min_tier):
        raise TierTooLow(f"'{reward.reward_id}' needs the {reward.min_tier} tier")
    if reward.stock is not None and reward.stock <= 0:
        raise OutOfStock(f"'{reward.reward_id}' is out of stock")
    if member.balance < reward.cost:
        raise InsufficientPoints(
            f"'{reward.reward_id}' costs {reward.cost} points; the balance is {member.balance}"
        )
    min_tier_points = next(t.min_points for t in rules.tiers if t.name == reward.min_tier)
    spend = plan_spend(
        member.member_id,
        reward.cost,
        entry_type="redeem",
        reason=f"reward:{reward.reward_id}",
        reference=redemption_id,
        occurred_at=now,
        details={"rewardId": reward.reward_id},
    )
    return RedemptionPlan(
        redemption_id=redemption_id,
        reward=reward,
        coupon_code=coupon_code or new_coupon_code(),
        spend=spend,
        min_tier_points=min_tier_points if reward.min_tier != "Bronze" else 0,
        balance_after=member.balance - reward.cost,
        request_fingerprint=request_fingerprint,
        # Whole seconds: stored instants compare as strings (dal/coupons.py).
        coupon_expires_at=(now + timedelta(days=rules.coupon_validity_days)).replace(microsecond=0),
    )
