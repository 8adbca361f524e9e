"""Recording order messages: read, plan (pure), write once; on a concurrent change, again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from loyalty.domain.coupons import plan_order_coupons
from loyalty.domain.errors import (
    ConcurrentUpdate,
    DuplicateEvent,
    InvalidMessage,
    NeedsRead,
    OrderNotFound,
)
from loyalty.domain.ledger import (
    MemberState,
    OrderRecord,
    plan_award_without_read,
    plan_order_award,
    plan_refund,
    takes_over_first_order,
)
from loyalty.domain.orders import OrderCompleted, OrderRefunded
from loyalty.services import clock as wall_clock
from loyalty.services.retry import MAX_ATTEMPTS, attempts

if TYPE_CHECKING:
    from loyalty.domain.ports import OrderLedger
    from loyalty.domain.rules import ProgramRules

# `closed`: the member's data was erased at their request; their orders earn nothing more.
OutcomeStatus = Literal["awarded", "reversed", "duplicate", "closed"]


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    status: OutcomeStatus
    member_id: str
    reference: str
    points: int
    enrolled: bool = False
    # A refund's amount beyond what was left to refund of its order (never reversed), and
    # the points it would have reversed that had already expired.
    capped_amount: Decimal = Decimal("0.00")
    expired_points: int = 0
    # The order's couponCodes: those it used, and those it could not use with why.
    coupons_used: tuple[str, ...] = ()
    coupons_skipped: tuple[tuple[str, str], ...] = ()
    # Awarded in one request (no read): the member's state could not change the award.
    one_request: bool = False


class OrderService:
    """Applies `order.completed` and `order.refunded` messages to the ledger exactly once."""

    def __init__(
        self,
        ledger: OrderLedger,
        rules: Callable[[], ProgramRules],
        clock: Callable[[], datetime] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._ledger = ledger
        self._rules = rules
        # Looked up at call time so a test (or a replay tool) can pin the wall clock.
        self._clock = clock or (lambda: wall_clock.utc_now())
        self._max_attempts = max_attempts

    def record(self, message: OrderCompleted | OrderRefunded) -> OrderOutcome:
        for _ in attempts(self._max_attempts):
            try:
                if isinstance(message, OrderCompleted):
                    return self._award(message)
                return self._refund(message)
            except DuplicateEvent:
                reference = (
                    message.order_id if isinstance(message, OrderCompleted) else message.refund_id
                )
                return OrderOutcome("duplicate", message.member_id, reference, 0)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(
            f"gave up after {self._max_attempts} concurrent updates of the same member"
        )

    def _award(self, order: OrderCompleted) -> OrderOutcome:
        now = self._clock()
        # The common case in one request: a repeat order whose award the member's state
        # cannot change, written under conditions that say so (a redelivery fails on the
        # order's marker: DuplicateEvent). When a condition says otherwise, the refusal
        # brings the profile as it found it, and the award plans with that, unread.
        without_read = plan_award_without_read(self._rules(), order, now)
        found: tuple[MemberState | None, OrderRecord | None] | None = None
        if without_read is not None:
            try:
                self._ledger.commit_award_without_read(without_read, now)
            except NeedsRead as refused:
                found = (refused.member, None)  # the order was not recorded then
            else:
                return OrderOutcome(
                    "awarded",
                    order.member_id,
                    order.order_id,
                    without_read.points,
                    one_request=True,
                )
        # Otherwise the profile and the order's record in one request: a redelivery is
        # recognised here and writes nothing (the transaction's marker still guards a race).
        member, recorded = found or self._ledger.get_member_and_order(
            order.member_id, order.order_id
        )
        if recorded is not None:
            return OrderOutcome("duplicate", order.member_id, order.order_id, 0)
        if member is not None and member.erased:
            return OrderOutcome("closed", order.member_id, order.order_id, 0)
        previous_first = None
        if member is not None and takes_over_first_order(member, order.order_id, order.occurred_at):
            # Rare: an order earlier than the recorded first one (queues do not keep order).
            previous_first = self._ledger.get_previous_first_order(member)
            if previous_first is None:
                raise ConcurrentUpdate("the member's first order is not readable yet")
        plan = plan_order_award(self._rules(), member, order, now, previous_first=previous_first)
        coupons = plan_order_coupons(
            self._ledger.get_coupons(order.coupon_codes) if order.coupon_codes else {},
            order.coupon_codes,
            order_id=order.order_id,
            member_id=order.member_id,
            placed_at=order.occurred_at,
        )
        self._ledger.commit_order_award(plan, now, coupons.uses)
        return OrderOutcome(
            "awarded",
            order.member_id,
            order.order_id,
            plan.points,
            enrolled=member is None,
            coupons_used=tuple(use.coupon.code for use in coupons.uses),
            coupons_skipped=coupons.skipped,
        )

    def _refund(self, refund: OrderRefunded) -> OrderOutcome:
        now = self._clock()
        member, order = self._ledger.get_member_and_order(refund.member_id, refund.order_id)
        if order is None:
            # Queues do not keep order: the refund may overtake its order. Failing the message
            # lets SQS deliver it again later (and dead-letter it if the order never comes).
            raise OrderNotFound("the refunded order has not been recorded")
        if order.member_id != refund.member_id or member is None:
            raise InvalidMessage("memberId does not match the member of the refunded order")
        if member.erased:
            return OrderOutcome("closed", refund.member_id, refund.refund_id, 0)
        lots = self._ledger.get_lots(member.member_id, (order.purchase_lot, order.bonus_lot))
        plan = plan_refund(self._rules(), member, order, refund, now, lots)
        self._ledger.commit_refund(plan, now)
        return OrderOutcome(
            "reversed",
            refund.member_id,
            refund.refund_id,
            plan.points,
            capped_amount=plan.capped_amount,
            expired_points=plan.expired_points,
        )
