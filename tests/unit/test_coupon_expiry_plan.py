"""The coupons job's plan (pure): expire what is due, warn what expires within 7 days, once,
within one transaction's 100 actions; used and voided coupons are left alone."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from loyalty.domain.coupons import (
    COUPON_JOB_ACTIONS,
    COUPON_WARNING_DAYS,
    Coupon,
    plan_coupon_expiry,
)

pytestmark = pytest.mark.calendar

EXPIRES = datetime(2027, 3, 10, 12, tzinfo=UTC)


def coupon(code="LOY-A", status="issued", expires_at=EXPIRES, **extra):
    return Coupon(
        code=code,
        member_id="c-1",
        redemption_id=f"rdm-{code}",
        reward_id="discount-10",
        reward_name="10% off",
        kind="discount",
        discount_percent=10,
        points=1000,
        status=status,
        issued_at=datetime(2026, 12, 10, 12, tzinfo=UTC),
        expires_at=expires_at,
        **extra,
    )


def test_nothing_is_due_before_the_warning():
    plan = plan_coupon_expiry([coupon()], EXPIRES - timedelta(days=8))
    assert plan.empty and plan.complete
    assert coupon().next_action_at == EXPIRES - timedelta(days=COUPON_WARNING_DAYS)


def test_warned_seven_days_before_then_expired_on_its_date():
    at_warning = EXPIRES - timedelta(days=COUPON_WARNING_DAYS)
    plan = plan_coupon_expiry([coupon()], at_warning)
    assert [c.code for c in plan.warn] == ["LOY-A"] and not plan.expire
    warned = coupon(warned_at=at_warning)
    assert warned.next_action_at == EXPIRES
    assert plan_coupon_expiry([warned], EXPIRES - timedelta(seconds=1)).empty
    plan = plan_coupon_expiry([warned], EXPIRES)
    assert [c.code for c in plan.expire] == ["LOY-A"] and not plan.warn
    assert plan.actions == 2


def test_a_run_after_the_expiry_only_expires_it():
    plan = plan_coupon_expiry([coupon()], EXPIRES + timedelta(days=30))
    assert [c.code for c in plan.expire] == ["LOY-A"] and not plan.warn


@pytest.mark.parametrize("status", ["used", "voided", "expired"])
def test_a_coupon_no_longer_issued_is_never_warned_or_expired(status):
    assert plan_coupon_expiry([coupon(status=status)], EXPIRES + timedelta(days=1)).empty
    assert coupon(status=status).next_action_at is None


def test_a_coupon_without_an_expiry_is_never_due():
    assert plan_coupon_expiry([coupon(expires_at=None)], EXPIRES).empty


def test_a_step_stays_within_one_transaction_and_the_rest_waits_for_the_next():
    now = EXPIRES
    old = [coupon(f"E{i:03d}", expires_at=now - timedelta(days=1, minutes=i)) for i in range(40)]
    soon = [coupon(f"W{i:03d}", expires_at=now + timedelta(days=1, minutes=i)) for i in range(40)]
    plan = plan_coupon_expiry(old + soon, now)
    assert plan.actions <= COUPON_JOB_ACTIONS and not plan.complete
    assert len(plan.expire) == 40 and len(plan.warn) == 10
    # Soonest first: what was left is served by the next step.
    done = {c.code for c in (*plan.expire, *plan.warn)}
    rest = [
        replace(c, status="expired") if c.code in done and c.code.startswith("E") else c
        for c in old
    ] + [replace(c, warned_at=now) if c.code in done else c for c in soon]
    following = plan_coupon_expiry(rest, now)
    assert following.complete and len(following.warn) == 30 and not following.expire
