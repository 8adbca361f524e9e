"""The rewards catalog and redemptions."""

from __future__ import annotations

from loyalty.domain.errors import (
    ConcurrentUpdate,
    DuplicateEvent,
    IdempotencyKeyReused,
    InsufficientPoints,
    MemberNotFound,
    OutOfStock,
    RewardNotFound,
    TierTooLow,
)
from loyalty.domain.ports import RewardStore
from loyalty.domain.rewards import (
    Redemption,
    Reward,
    catalog,
    find_reward,
    plan_redemption,
    redemption_id_for,
)
from loyalty.services.base import RulesService
from loyalty.services.retry import attempts


class RewardService(RulesService[RewardStore]):
    def list_rewards(self) -> list[Reward]:
        return catalog(self._store.list_rewards())

    def redeem(
        self,
        member_id: str,
        reward_id: str,
        *,
        idempotency_key: str | None,
        request_fingerprint: str,
    ) -> Redemption:
        """Spend the reward's cost and issue a coupon, once per Idempotency-Key (for good:
        the key decides the redemption id, which the ledger will not write twice)."""
        redemption_id = redemption_id_for(member_id, idempotency_key)
        for _ in attempts():
            now = self._clock()
            member, stored = self._store.get_member_and_reward(member_id, reward_id)
            if member is None or member.erased:
                raise MemberNotFound(f"no member '{member_id}'")
            try:
                plan = plan_redemption(
                    self._rules(),
                    member,
                    find_reward(reward_id, stored),
                    redemption_id=redemption_id,
                    request_fingerprint=request_fingerprint,
                    now=now,
                )
                self._store.commit_redemption(plan, now)
            except ConcurrentUpdate:
                continue
            except (DuplicateEvent, InsufficientPoints, TierTooLow, OutOfStock, RewardNotFound):
                # A replay of a redemption that went through (whose points are gone, whose
                # stock may be too) gets the first answer; only then is a refusal real.
                # This read happens on replays and refusals only.
                if idempotency_key is not None:
                    replayed = self._replay(member_id, redemption_id, request_fingerprint)
                    if replayed is not None:
                        return replayed
                raise
            return Redemption(
                redemption_id=redemption_id,
                member_id=member_id,
                reward_id=plan.reward.reward_id,
                points_spent=plan.spend.points,
                balance=plan.balance_after,
                coupon_code=plan.coupon_code,
                request_fingerprint=request_fingerprint,
                coupon_expires_at=plan.coupon_expires_at,
            )
        raise ConcurrentUpdate("the member kept changing during the redemption")

    def _replay(
        self, member_id: str, redemption_id: str, request_fingerprint: str
    ) -> Redemption | None:
        previous = self._store.get_redemption(member_id, redemption_id)
        if previous is None:
            return None
        if previous.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different redemption request"
            )
        return previous
