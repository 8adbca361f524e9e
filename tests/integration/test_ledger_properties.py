"""Property: for any sequence of orders, refunds, spends and redeliveries, the ledger in
DynamoDB Local matches an independent model and the balance is the sum of the entries."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.errors import InsufficientPoints, OrderNotFound
from loyalty.domain.ledger import plan_spend
from loyalty.domain.orders import parse_order_message
from loyalty.domain.rules import ProgramRules
from loyalty.services.orders import OrderService
from tests.support.events import completed, refunded

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)

orders = st.tuples(st.just("order"), st.integers(0, 3), st.integers(0, 5000), st.integers(1, 28))
refunds = st.tuples(st.just("refund"), st.integers(0, 3), st.integers(0, 2), st.integers(1, 6000))
spends = st.tuples(st.just("spend"), st.integers(1, 4000))
redeliveries = st.tuples(st.just("redeliver"), st.integers(0, 50))
operations = st.lists(st.one_of(orders, refunds, spends, redeliveries), min_size=1, max_size=12)


class Model:
    """What the ledger should hold, computed the simplest way (100 points per dollar, no
    seasonal window in the dates used, 150 first-purchase bonus)."""

    def __init__(self) -> None:
        self.balance = 0
        self.tier_points = 0
        self.orders: dict[int, dict[str, int]] = {}
        self.first_order: int | None = None
        self.refunds: set[tuple[int, int]] = set()
        self.spends = 0

    def order(self, index: int, cents: int) -> None:
        if index in self.orders:
            return
        earned = cents + (150 if self.first_order is None else 0)
        if self.first_order is None:
            self.first_order = index
        self.orders[index] = {"cents": cents, "refunded": 0, "reversed": 0, "bonus": 0}
        self.balance += earned
        self.tier_points += earned

    def refund(self, index: int, refund_index: int, cents: int) -> bool:
        if index not in self.orders:
            return False  # not recorded yet: the message is retried later
        if (index, refund_index) in self.refunds:
            return True
        self.refunds.add((index, refund_index))
        order = self.orders[index]
        order["refunded"] += cents
        full = order["cents"] == 0 or order["refunded"] >= order["cents"]
        if full:
            target = order["cents"]
        else:
            exact = Decimal(order["cents"]) * order["refunded"] / order["cents"]
            target = int(exact.to_integral_value(rounding=ROUND_FLOOR))
        reversal = target - order["reversed"]
        order["reversed"] = target
        if full and index == self.first_order and not order["bonus"]:
            order["bonus"] = 1
            reversal += 150
        self.balance -= reversal
        self.tier_points -= reversal
        return True


def _order_body(member_id: str, index: int, cents: int, day: int) -> str:
    order_id = f"{member_id}-o{index}"
    body = completed(
        order_id, member_id, (f"{cents / 100:.2f}", 1), at=f"2026-10-{day:02d}T09:00:00Z"
    )
    return json.dumps(body)


def _refund_body(member_id: str, index: int, refund_index: int, cents: int) -> str:
    order_id = f"{member_id}-o{index}"
    refund_id = f"{order_id}-r{refund_index}"
    body = refunded(order_id, refund_id, member_id, f"{cents / 100:.2f}", "2026-11-02T09:00:00Z")
    return json.dumps(body)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations)
def test_the_ledger_matches_the_model_whatever_the_sequence(table_name, sequence):
    ledger = DynamoLedgerRepository(table_name)
    service = OrderService(ledger, ProgramRules, clock=lambda: NOW)
    member_id = f"m-{uuid.uuid4().hex[:12]}"
    model = Model()
    # What was sent, and how the model applies it when it is delivered again.
    delivered: list[tuple[str, tuple[int, int, int] | None]] = []
    refund_amounts: dict[tuple[int, int], int] = {}

    for step, operation in enumerate(sequence):
        kind = operation[0]
        if kind == "order":
            _, index, cents, day = operation
            body = _order_body(member_id, index, cents, day)
            previous = model.orders.get(index)
            if previous is not None:
                # Same order id, same order: a redelivery must carry the same content.
                body = _order_body(member_id, index, previous["cents"], day)
            service.record(parse_order_message(body))
            model.order(index, cents)
            delivered.append((body, None))
        elif kind == "refund":
            _, index, refund_index, cents = operation
            cents = refund_amounts.setdefault((index, refund_index), cents)
            body = _refund_body(member_id, index, refund_index, cents)
            try:
                service.record(parse_order_message(body))
                recorded = True
            except OrderNotFound:
                recorded = False
            assert recorded == model.refund(index, refund_index, cents)
            delivered.append((body, (index, refund_index, cents)))
        elif kind == "spend":
            points = operation[1]
            plan = plan_spend(
                member_id,
                points,
                entry_type="redeem",
                reason="reward:test",
                reference=f"spend-{step}",
                occurred_at=NOW,
            )
            try:
                ledger.commit_spend(plan, NOW)
                assert model.balance >= points
                model.balance -= points
            except InsufficientPoints:
                assert model.balance < points
        elif delivered:
            body, refund = delivered[operation[1] % len(delivered)]
            try:
                service.record(parse_order_message(body))
                recorded = True
            except OrderNotFound:  # a refund still waiting for its order
                recorded = False
            if refund is not None:
                # A refund that once overtook its order applies when redelivered after it.
                assert recorded == model.refund(*refund)

        member = ledger.get_member(member_id)
        if member is None:
            assert model.orders == {}
            continue
        entries = ledger.list_entries(member_id)
        assert member.balance == model.balance
        assert member.tier_points == model.tier_points
        assert member.order_count == len(model.orders)
        assert member.balance == sum(entry.points for entry in entries)
        assert member.balance == member.lot_total - member.debited
        assert len({entry.entry_id for entry in entries}) == len(entries)
