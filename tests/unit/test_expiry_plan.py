"""The expiry job's step planning: every step fits one DynamoDB transaction (actions and
size), steps repeated until one is complete settle, release and warn everything due exactly
once, and the expired points are attributed to the settled lots."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.expiry import MAX_ACTIONS_PER_STEP, ExpiryPlan, plan_expiry
from loyalty.domain.ledger import MemberState, PointsLot, unspent_per_lot

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

NOW = datetime(2027, 6, 1, tzinfo=UTC)
# DynamoDB's limits for one TransactWriteItems.
DYNAMODB_MAX_ACTIONS = 100
DYNAMODB_MAX_BYTES = 4 * 1024 * 1024


class CapturingClient:
    """Stands in for the DynamoDB client: keeps each transaction instead of writing it."""

    def __init__(self) -> None:
        self.transactions: list[list[dict[str, Any]]] = []

    def transact_write_items(self, **arguments: Any) -> dict[str, Any]:
        self.transactions.append(arguments["TransactItems"])
        return {}


def written(plan: ExpiryPlan) -> list[dict[str, Any]]:
    """The actions the repository writes for the plan."""
    client = CapturingClient()
    DynamoLedgerRepository("loyalty", client=client).commit_expiry(plan, NOW)  # type: ignore[arg-type]
    [actions] = client.transactions
    return actions


def member(member_id: str = "c-1", *, settled_earned: int = 0, debited: int = 0) -> MemberState:
    return MemberState(
        member_id=member_id,
        enrolled_at=datetime(2025, 1, 1, tzinfo=UTC),
        version=3,
        balance=0,
        pending_points=0,
        tier_points=0,
        tier="Bronze",
        lot_total=0,
        debited=debited,
        settled_earned=settled_earned,
        order_count=0,
        referral_code="ABCDEFGH",
    )


def lot(
    lot_id: str,
    points: int,
    expires_at: datetime,
    *,
    member_id: str = "c-1",
    warned: bool = False,
    settled: bool = False,
    available_at: datetime | None = None,
) -> PointsLot:
    return PointsLot(
        lot_id=lot_id,
        member_id=member_id,
        points=points,
        original_points=points,
        earned_at=expires_at - timedelta(days=365),
        expires_at=expires_at,
        reason="purchase",
        reference=lot_id,
        warn_at=expires_at - timedelta(days=30),
        warned=warned,
        settled=settled,
        available_at=available_at,
    )


def applied(state: MemberState, lots: list[PointsLot], plan: ExpiryPlan) -> list[PointsLot]:
    """The lots after the step was written (the member's totals: see `member_after`)."""
    released = {lot.lot_id for lot in plan.released}
    settled = {part.lot.lot_id for part in plan.settled}
    warned = {w.lot.lot_id for w in plan.warnings} | {
        lot.lot_id for lot in plan.warned_without_points
    }
    after = []
    for each in lots:
        if each.lot_id in released:
            each = replace(each, available_at=None)
        if each.lot_id in settled:
            each = replace(each, settled=True)
        if each.lot_id in warned:
            each = replace(each, warned=True)
        after.append(each)
    return after


def member_after(state: MemberState, plan: ExpiryPlan) -> MemberState:
    return replace(
        state,
        debited=state.debited + plan.expired_points,
        settled_earned=state.settled_earned + plan.settled_points,
        balance=state.balance + plan.released_points - plan.expired_points,
        version=state.version + 1,
        expiry_due_at=plan.next_due_at,
    )


def run_until_done(
    state: MemberState, lots: list[PointsLot]
) -> tuple[MemberState, list[PointsLot], list[ExpiryPlan]]:
    """The job's loop for one member (services/expiry.py), checking each step on the way."""
    plans = []
    for _ in range(1000):
        plan = plan_expiry(state, lots, NOW)
        if plan.empty:
            return state, lots, plans
        assert plan.actions <= MAX_ACTIONS_PER_STEP <= DYNAMODB_MAX_ACTIONS
        assert len(written(plan)) == plan.actions
        plans.append(plan)
        state, lots = member_after(state, plan), applied(state, lots, plan)
        if plan.complete:
            assert plan_expiry(state, lots, NOW).empty, "complete, yet something was left"
            # Listed again under the next action of what is left (the index lists members):
            # after now, and the earliest of the live lots'; off the index with none left.
            live = [each.next_action_at for each in lots if not each.settled]
            assert state.expiry_due_at == min(live, default=None)
            assert state.expiry_due_at is None or state.expiry_due_at > NOW
            return state, lots, plans
    raise AssertionError("the steps never finished")


def test_a_heavy_member_is_settled_and_warned_in_steps_of_at_most_one_transaction():
    # The member: 40 lots to settle and 40 to warn used to make one step of 122.
    expired = [lot(f"e{i:03d}", 100, NOW - timedelta(days=i + 1)) for i in range(40)]
    soon = [lot(f"w{i:03d}", 100, NOW + timedelta(days=i % 29 + 1)) for i in range(40)]
    state = member(debited=500)
    state, lots, plans = run_until_done(state, expired + soon)
    assert len(plans) == 2
    assert all(each.settled for each in lots[:40]) and all(each.warned for each in lots[40:])
    assert sum(plan.expired_points for plan in plans) == 40 * 100 - 500
    assert plans[0].settled and not plans[1].settled  # settlements first, then warnings


def test_the_expired_points_are_attributed_to_the_settled_lots_soonest_first():
    lots = [
        lot("b", 300, NOW - timedelta(days=10)),
        lot("a", 200, NOW - timedelta(days=20)),
        lot("c", 400, NOW - timedelta(days=5)),
        lot("d", 100, NOW + timedelta(days=50)),
    ]
    # 250 spent since the last settlement: all of `a` and 50 of `b`.
    plan = plan_expiry(member(settled_earned=1000, debited=1250), lots, NOW)
    assert [(part.lot.lot_id, part.expired_points) for part in plan.settled] == [
        ("a", 0),
        ("b", 250),
        ("c", 400),
    ]
    assert plan.expired_points == 650 == sum(part.expired_points for part in plan.settled)
    # Each settled lot moves out of the member view's range: its live item deleted (only as
    # read), its settled item put, with its expired part.
    actions = written(plan)[2:]
    assert [next(iter(action)) for action in actions] == ["Delete", "Put"] * 3
    deleted = [action["Delete"]["Key"]["SK"]["S"] for action in actions[::2]]
    settled = [action["Put"]["Item"] for action in actions[1::2]]
    assert [item["SK"]["S"] for item in settled] == ["HISTORY#" + sk for sk in deleted]
    assert all(sk.startswith("LOT#") for sk in deleted)
    assert [item["expiredPoints"]["N"] for item in settled] == ["0", "250", "400"]
    assert all("GSI1PK" not in item and "settledAt" in item for item in settled)


def test_the_largest_possible_step_is_far_under_dynamodbs_four_megabytes():
    # The longest ids there can be: a member id of 64 characters, lot ids longer than any
    # entry id. Each shape fills the whole budget with its most expensive action.
    member_id = "m" * 64
    state = member(member_id, debited=0)

    def lots(count: int, *, due: datetime, **fields: Any) -> list[PointsLot]:
        return [
            lot(f"{i:04d}" + "x" * 120, 10**9, due, member_id=member_id, **fields)
            for i in range(count)
        ]

    shapes = {
        "releases": lots(200, due=NOW + timedelta(days=90), available_at=NOW),
        "settlements": lots(200, due=NOW - timedelta(days=1)),
        "warnings": lots(200, due=NOW + timedelta(days=10)),
    }
    for shape, planned in shapes.items():
        plan = plan_expiry(state, planned, NOW)
        actions = written(plan)
        size = len(json.dumps(actions).encode())
        assert plan.actions >= MAX_ACTIONS_PER_STEP - 1, shape  # the budget is used up
        assert len(actions) <= DYNAMODB_MAX_ACTIONS, shape
        assert size < DYNAMODB_MAX_BYTES // 40, (shape, size)  # under 100 KB


@st.composite
def histories(draw: st.DrawFn) -> tuple[MemberState, list[PointsLot]]:
    """Any mix of lots around NOW: settled or not, held or released, warned or not, due for
    release, warning or expiry or none of them, and spending from none to beyond the lots."""
    count = draw(st.integers(min_value=0, max_value=320))
    lots = []
    for index in range(count):
        expires = NOW + timedelta(days=draw(st.integers(min_value=-400, max_value=400)))
        held = draw(st.integers(min_value=-1, max_value=2))
        available = None if held < 0 else NOW + timedelta(days=30 * (held - 1))
        lots.append(
            lot(
                f"l{index:04d}",
                draw(st.integers(min_value=0, max_value=2000)),
                expires,
                warned=draw(st.booleans()),
                settled=available is None and draw(st.integers(0, 9)) == 0,
                available_at=available,
            )
        )
    settled_earned = sum(each.points for each in lots if each.settled)
    live = sum(each.points for each in lots if not each.settled and not each.pending)
    spent = draw(st.integers(min_value=0, max_value=live + 1000))
    return member(settled_earned=settled_earned, debited=settled_earned + spent), lots


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_any_history_is_settled_in_steps_that_each_fit_one_transaction(history):
    state, lots = history
    # What is due, once every lot whose window has passed is released.
    released = [
        replace(each, available_at=None)
        if each.available_at is not None and each.available_at <= NOW
        else each
        for each in lots
    ]
    live = [each for each in released if not each.settled and not each.pending]
    unspent = unspent_per_lot(live, settled_earned=state.settled_earned, debited=state.debited)
    due = {each.lot_id for each in live if each.expires_at <= NOW}
    to_warn = {
        each.lot_id
        for each in live
        if each.lot_id not in due and not each.warned and each.warn_at and each.warn_at <= NOW
    }

    final, after, plans = run_until_done(state, lots)

    by_id = {each.lot_id: each for each in after}
    expired_part = {part.lot.lot_id: part.expired_points for plan in plans for part in plan.settled}
    assert all(by_id[lot_id].settled for lot_id in due)
    assert all(by_id[lot_id].warned for lot_id in to_warn)
    assert not any(each.available_at is not None and each.available_at <= NOW for each in after)
    expired = sum(plan.expired_points for plan in plans)
    assert expired == sum(unspent[lot_id] for lot_id in due)
    assert expired == sum(expired_part[lot_id] for lot_id in due)
    assert all(0 <= expired_part[lot_id] <= by_id[lot_id].points for lot_id in due)
    for plan in plans:
        assert plan.expired_points == sum(part.expired_points for part in plan.settled)
    # Each lot settled, released and warned at most once over all the steps.
    for part in ("released", "settled", "warned_without_points", "warnings"):
        ids = [getattr(item, "lot", item).lot_id for plan in plans for item in getattr(plan, part)]
        assert len(ids) == len(set(ids)), part
    assert final.debited - state.debited == expired
