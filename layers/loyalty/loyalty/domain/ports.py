"""What the domain needs of persistence, as protocols; `loyalty.dal` implements them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from loyalty.domain.ledger import MemberState, OrderAwardPlan, OrderRecord, RefundPlan


class OrderLedger(Protocol):
    def get_member(self, member_id: str) -> MemberState | None: ...

    def get_member_and_order(
        self, member_id: str, order_id: str
    ) -> tuple[MemberState | None, OrderRecord | None]: ...

    def commit_order_award(self, plan: OrderAwardPlan, now: datetime) -> None:
        """Raises DuplicateEvent when the order was already recorded, ConcurrentUpdate when
        the member changed since it was read."""

    def commit_refund(self, plan: RefundPlan, now: datetime) -> None:
        """Raises DuplicateEvent when the refund was already recorded, ConcurrentUpdate when
        the member or the order changed since they were read."""
