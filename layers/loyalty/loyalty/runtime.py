"""Composition root: services built from the deployment's settings around one repository
(one DynamoDB client) per container; cheap to build, so built per call and always current
with the settings (which tests change).

The program rules are the operator's saved document (PUT /admin/program) or, until there is
one, the deployment's PROGRAM_RULES. A container reads the saved document when it first
needs rules and again once it is a minute old: a new container applies a change at once, a
warm one within a minute, for one GetItem a minute per container."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import lru_cache

from loyalty.dal.events_bus import EventBus
from loyalty.dal.kpis import DynamoKpiStore
from loyalty.dal.leaderboard import DynamoLeaderboardStore
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.dal.work_queue import WorkQueue
from loyalty.domain.rules import ProgramRules
from loyalty.services.coupon_expiry import CouponExpiryService
from loyalty.services.coupons import CouponService
from loyalty.services.expiry import ExpiryService
from loyalty.services.jobs import JobRuns, Promotions, ScheduledAwards, WorkSender
from loyalty.services.kpis import KpiProjector, KpiService
from loyalty.services.leaderboard import (
    LeaderboardProjector,
    LeaderboardRefresher,
    LeaderboardService,
)
from loyalty.services.members import MemberService
from loyalty.services.operations import OperatorService, PrivacyService, ProgramService
from loyalty.services.orders import OrderService
from loyalty.services.outbox import StreamPublisher
from loyalty.services.referrals import ReferralService
from loyalty.services.rewards import RewardService
from loyalty.settings import load_rules, settings


@lru_cache(maxsize=4)
def _repository(table_name: str) -> DynamoLedgerRepository:
    # One client per container (and per table, as tests switch tables).
    return DynamoLedgerRepository(table_name)


RULES_MAX_AGE_SECONDS = 60.0
# (table, PROGRAM_RULES) -> (rules, when read, monotonic seconds)
_rules_cache: dict[tuple[str, str], tuple[ProgramRules, float]] = {}


def program_rules() -> ProgramRules:
    """The rules in force, at most a minute old."""
    current = settings()
    key = (current.table_name, current.program_rules)
    cached = _rules_cache.get(key)
    if cached is not None and time.monotonic() - cached[1] < RULES_MAX_AGE_SECONDS:
        return cached[0]
    rules = program_service().current()
    _rules_cache[key] = (rules, time.monotonic())
    return rules


def forget_rules() -> None:
    """Drop the cached rules: this container applies a change it has just saved at once."""
    _rules_cache.clear()


def _with_rules[S](service: Callable[[DynamoLedgerRepository, Callable[[], ProgramRules]], S]) -> S:
    return service(_repository(settings().table_name), program_rules)


def program_service() -> ProgramService:
    current = settings()
    document = current.program_rules
    return ProgramService(_repository(current.table_name), lambda: load_rules(document))


def operator_service() -> OperatorService:
    return _with_rules(OperatorService)


def marketing_consents() -> DynamoLedgerRepository:
    return _repository(settings().table_name)


def privacy_service() -> PrivacyService:
    return PrivacyService(_repository(settings().table_name))


def order_service() -> OrderService:
    return _with_rules(OrderService)


def member_service() -> MemberService:
    return _with_rules(MemberService)


def reward_service() -> RewardService:
    return _with_rules(RewardService)


def coupon_service() -> CouponService:
    return _with_rules(CouponService)


def referral_service() -> ReferralService:
    return _with_rules(ReferralService)


def scheduled_awards() -> ScheduledAwards:
    return _with_rules(ScheduledAwards)


def promotions() -> Promotions:
    return _with_rules(Promotions)


def expiry_service() -> ExpiryService:
    return ExpiryService(_repository(settings().table_name))


def coupon_expiry_service() -> CouponExpiryService:
    return _with_rules(CouponExpiryService)


def _kpi_store() -> DynamoKpiStore:
    repository = _repository(settings().table_name)
    return DynamoKpiStore(repository.table_name, repository.client)  # the same client


def kpi_projector() -> KpiProjector:
    return KpiProjector(_kpi_store())


def kpi_service() -> KpiService:
    return KpiService(_kpi_store())


def _leaderboard_store() -> DynamoLeaderboardStore:
    repository = _repository(settings().table_name)
    return DynamoLeaderboardStore(repository.table_name, repository.client)  # the same client


def leaderboard_projector() -> LeaderboardProjector:
    return LeaderboardProjector(_leaderboard_store())


def leaderboard_refresher() -> LeaderboardRefresher:
    return LeaderboardRefresher(_leaderboard_store())


def leaderboard_service() -> LeaderboardService:
    return LeaderboardService(_leaderboard_store())


def work_queue() -> WorkSender:
    """The jobs' work queue (SQS), from WORK_QUEUE_URL."""
    return WorkQueue(os.environ["WORK_QUEUE_URL"])


def job_runs() -> JobRuns:
    return JobRuns(work_queue())


@lru_cache(maxsize=4)
def _event_bus(bus_name: str) -> EventBus:
    # One client per container (and per bus, as tests switch buses).
    return EventBus(bus_name)


def event_bus() -> EventBus:
    return _event_bus(os.environ.get("EVENT_BUS_NAME", ""))


def stream_publisher() -> StreamPublisher:
    """A publisher for one invocation (consents are read once per member in it)."""
    return StreamPublisher(event_bus, marketing_consents)
