"""Guarantee 2, no overdraw: concurrent redemptions from separate processes can't spend a
point twice."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from functions.purchase_award import app as purchase_award
from loyalty.dal.rewards import DynamoRewardRepository
from tests.support.events import FakeLambdaContext, completed, sqs_event
from tests.support.table import list_entries
from tests.support.workers import lambda_environment, redeem_in_process

PROCESSES = 20


def test_twenty_concurrent_redemptions_with_balance_for_three_spend_exactly_three(
    table_name, clock
):
    # The services' clock is pinned to 2026-12-10 here and in every spawned process
    # (lambda_environment carries it): the order of 2026-11-10 never expires on arrival.
    # 1350 purchase points + 150 first-purchase bonus = 1500 = three free-shipping rewards.
    order = completed("o-1", "c-1", ("13.50", 1), at="2026-11-10T10:00:00Z")
    assert purchase_award.handler(sqs_event(order), FakeLambdaContext())["batchItemFailures"] == []
    ledger = DynamoRewardRepository(table_name)
    assert ledger.get_member("c-1").balance == 1500

    environment = lambda_environment()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        barrier = manager.Barrier(PROCESSES)
        futures = [
            pool.submit(redeem_in_process, environment, "c-1", "free-shipping", barrier)
            for _ in range(PROCESSES)
        ]
        replies = [future.result(timeout=120) for future in futures]

    statuses = sorted(status for status, _ in replies)
    assert statuses == [201] * 3 + [409] * (PROCESSES - 3), replies
    coupons = {body["couponCode"] for status, body in replies if status == 201}
    assert len(coupons) == 3
    # Each answer is the balance its own redemption left (issue 11).
    assert sorted(body["balance"] for status, body in replies if status == 201) == [0, 500, 1000]
    member = ledger.get_member("c-1")
    entries = list_entries(ledger, "c-1")
    assert member.balance == 0
    assert member.balance == sum(entry.points for entry in entries)
    assert sum(1 for entry in entries if entry.type == "redeem") == 3


def test_three_concurrent_redemptions_answer_the_balance_each_one_left(table_name, clock):
    """Three redemptions of 500 on 1500 points, at once: 1000, 500 and 0, in some order; the
    stored redemptions (what a replay answers) say the same. The services' clock is pinned
    here and in the spawned processes (the order of 2026-11-10 never expires on arrival)."""
    order = completed("o-1", "c-3", ("13.50", 1), at="2026-11-10T10:00:00Z")
    assert purchase_award.handler(sqs_event(order), FakeLambdaContext())["batchItemFailures"] == []
    ledger = DynamoRewardRepository(table_name)
    assert ledger.get_member("c-3").balance == 1500

    environment = lambda_environment()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(3, mp_context=context) as pool:
        barrier = manager.Barrier(3)
        futures = [
            pool.submit(redeem_in_process, environment, "c-3", "free-shipping", barrier)
            for _ in range(3)
        ]
        replies = [future.result(timeout=120) for future in futures]

    assert sorted(status for status, _ in replies) == [201, 201, 201], replies
    assert sorted(body["balance"] for _, body in replies) == [0, 500, 1000], replies
    stored = [ledger.get_redemption("c-3", body["redemptionId"]) for _, body in replies]
    assert sorted(r.balance for r in stored if r is not None) == [0, 500, 1000]
    assert ledger.get_member("c-3").balance == 0
