"""Coupons at the shop's checkout: check a code, use it once, void it (its points back), and
a member's coupons."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from loyalty.domain.coupons import (
    Coupon,
    CouponCheck,
    CouponUse,
    check_coupon,
    plan_coupon_use,
    plan_coupon_void,
)
from loyalty.domain.errors import ConcurrentUpdate, DuplicateEvent, MemberNotFound
from loyalty.domain.ports import CouponStore
from loyalty.services.base import RulesService
from loyalty.services.retry import attempts


class CouponService(RulesService[CouponStore]):
    def check(self, code: str, member_id: str | None = None) -> CouponCheck:
        """One read."""
        return check_coupon(self._store.get_coupon(code), code, self._clock(), member_id)

    def for_member(self, member_id: str) -> tuple[list[Coupon], datetime]:
        """The member's coupons, newest first, and the instant their status is told at (one
        Query: the profile and the coupons)."""
        member, coupons = self._store.get_member_with_coupons(member_id)
        if member is None or member.erased:
            raise MemberNotFound(f"no member '{member_id}'")
        return coupons, self._clock()

    def use(self, code: str, *, order_id: str, member_id: str) -> CouponUse:
        """Exactly once per coupon: the same order again gets the same answer; another
        order, CouponUnavailable ("used")."""
        now = self._clock()
        use = plan_coupon_use(
            self._store.get_coupon(code), code, order_id=order_id, member_id=member_id, now=now
        )
        if use.replayed:
            return use
        try:
            self._store.commit_coupon_use(use, now)
        except DuplicateEvent:
            # Used (or voided) meanwhile: the coupon as it is now says which, and whether
            # it was this very order.
            return plan_coupon_use(
                self._store.get_coupon(code), code, order_id=order_id, member_id=member_id, now=now
            )
        used = replace(use.coupon, status="used", used_at=now, used_by_order=order_id)
        return replace(use, coupon=used)

    def void(self, code: str) -> tuple[Coupon, int, int]:
        """The coupon voided and its points back (see `plan_coupon_void`), exactly once:
        answers the coupon, the points returned to the balance and those expired since."""
        for _ in attempts():
            now = self._clock()
            coupon = self._store.get_coupon(code)
            member, lots = (
                self._store.get_member_with_settled_lots(coupon.member_id) if coupon else (None, [])
            )
            if member is not None and member.erased:
                raise MemberNotFound(f"no member '{member.member_id}'")
            plan = plan_coupon_void(coupon, code, member, [lot for lot in lots if lot.settled], now)
            if plan.replayed:
                return plan.coupon, plan.returned, plan.expired
            try:
                self._store.commit_coupon_void(plan, now)
            except ConcurrentUpdate:
                continue
            voided = replace(
                plan.coupon,
                status="voided",
                voided_at=now,
                returned_points=plan.returned,
                expired_points=plan.expired,
            )
            return voided, plan.returned, plan.expired
        raise ConcurrentUpdate("the member kept changing during the void")
