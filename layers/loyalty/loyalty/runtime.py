"""Composition root: builds services from the deployment's settings, once per container
(and again if the settings change, as they do between tests)."""

from __future__ import annotations

from functools import lru_cache

from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.services.expiry import ExpiryService
from loyalty.services.jobs import Promotions, ScheduledAwards
from loyalty.services.members import MemberService
from loyalty.services.orders import OrderService
from loyalty.services.referrals import ReferralService
from loyalty.services.rewards import RewardService
from loyalty.settings import load_rules, settings


@lru_cache(maxsize=4)
def _order_service(table_name: str, rules_document: str) -> OrderService:
    return OrderService(_repository(table_name), lambda: load_rules(rules_document))


def order_service() -> OrderService:
    current = settings()
    return _order_service(current.table_name, current.program_rules)


@lru_cache(maxsize=4)
def _repository(table_name: str) -> DynamoLedgerRepository:
    return DynamoLedgerRepository(table_name)


def member_service() -> MemberService:
    current = settings()
    document = current.program_rules
    return MemberService(_repository(current.table_name), lambda: load_rules(document))


def reward_service() -> RewardService:
    current = settings()
    document = current.program_rules
    return RewardService(_repository(current.table_name), lambda: load_rules(document))


def referral_service() -> ReferralService:
    current = settings()
    document = current.program_rules
    return ReferralService(_repository(current.table_name), lambda: load_rules(document))


def expiry_service() -> ExpiryService:
    return ExpiryService(_repository(settings().table_name))


def scheduled_awards() -> ScheduledAwards:
    current = settings()
    document = current.program_rules
    return ScheduledAwards(_repository(current.table_name), lambda: load_rules(document))


def promotions() -> Promotions:
    current = settings()
    document = current.program_rules
    return Promotions(_repository(current.table_name), lambda: load_rules(document))
