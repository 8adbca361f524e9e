"""Composition root: services built from the deployment's settings around one repository
(one DynamoDB client) per container; cheap to build, so built per call and always current
with the settings (which tests change)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.rules import ProgramRules
from loyalty.services.expiry import ExpiryService
from loyalty.services.jobs import Promotions, ScheduledAwards
from loyalty.services.members import MemberService
from loyalty.services.orders import OrderService
from loyalty.services.referrals import ReferralService
from loyalty.services.rewards import RewardService
from loyalty.settings import load_rules, settings


@lru_cache(maxsize=4)
def _repository(table_name: str) -> DynamoLedgerRepository:
    # One client per container (and per table, as tests switch tables).
    return DynamoLedgerRepository(table_name)


def _with_rules[S](service: Callable[[DynamoLedgerRepository, Callable[[], ProgramRules]], S]) -> S:
    current = settings()
    document = current.program_rules
    return service(_repository(current.table_name), lambda: load_rules(document))


def order_service() -> OrderService:
    return _with_rules(OrderService)


def member_service() -> MemberService:
    return _with_rules(MemberService)


def reward_service() -> RewardService:
    return _with_rules(RewardService)


def referral_service() -> ReferralService:
    return _with_rules(ReferralService)


def scheduled_awards() -> ScheduledAwards:
    return _with_rules(ScheduledAwards)


def promotions() -> Promotions:
    return _with_rules(Promotions)


def expiry_service() -> ExpiryService:
    return ExpiryService(_repository(settings().table_name))
