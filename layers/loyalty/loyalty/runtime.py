"""Composition root: services built from the deployment's settings around one repository
(one DynamoDB client) per container; cheap to build, so built per call and always current
with the settings (which tests change).

The program rules are the operator's saved document (PUT /admin/program) or, until there is
one, the deployment's PROGRAM_RULES. A container reads the saved document when it first
needs rules and again once it is a minute old: a new container applies a change at once, a
warm one within a minute, for one GetItem a minute per container."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.recent import RecentReads
from loyalty.settings import load_rules, settings

# Every function uses the ledger's stores, so they are loaded by all; beyond them, each
# factory imports the service (and any other store) it builds, so a function loads only what
# it uses. Its handler imports the service at module level: its cost (and its domain
# models') falls in the init phase (and, with SnapStart, in the snapshot), not in a request.
if TYPE_CHECKING:
    from loyalty.dal.badges import DynamoBadgeRepository
    from loyalty.dal.events_bus import EventBus
    from loyalty.dal.kpis import DynamoKpiStore
    from loyalty.dal.leaderboard import DynamoLeaderboardStore
    from loyalty.dal.rewards import DynamoRewardRepository
    from loyalty.domain.badges import Badge
    from loyalty.domain.rules import ProgramRules
    from loyalty.services.badges import BadgeService
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


@lru_cache(maxsize=4)
def _repository(table_name: str) -> DynamoLedgerRepository:
    # One client per container (and per table, as tests switch tables).
    return DynamoLedgerRepository(table_name)


RULES_MAX_AGE_SECONDS = 60.0
# (table, PROGRAM_RULES) -> the rules in force
_rules_cache: RecentReads[tuple[str, str], ProgramRules] = RecentReads(RULES_MAX_AGE_SECONDS)


def program_rules() -> ProgramRules:
    """The rules in force, at most a minute old."""
    current = settings()
    # As ProgramService.current, without importing the operators' services on every path.
    return _rules_cache.get(
        (current.table_name, current.program_rules),
        lambda: _repository(current.table_name).get_program() or load_rules(current.program_rules),
    )


def forget_rules() -> None:
    """Drop the cached rules: this container applies a change it has just saved at once."""
    _rules_cache.forget()


def _with_rules[S](service: Callable[[DynamoLedgerRepository, Callable[[], ProgramRules]], S]) -> S:
    return service(_repository(settings().table_name), program_rules)


def _reward_repository() -> DynamoRewardRepository:
    from loyalty.dal.rewards import DynamoRewardRepository

    repository = _repository(settings().table_name)
    return DynamoRewardRepository(repository.table_name, repository.client)  # the same client


def program_service() -> ProgramService:
    from loyalty.services.operations import ProgramService

    current = settings()
    document = current.program_rules
    return ProgramService(_repository(current.table_name), lambda: load_rules(document))


def operator_service() -> OperatorService:
    from loyalty.services.operations import OperatorService

    return OperatorService(_reward_repository(), program_rules)


def marketing_consents() -> DynamoLedgerRepository:
    return _repository(settings().table_name)


def privacy_service() -> PrivacyService:
    from loyalty.services.operations import PrivacyService

    return PrivacyService(_repository(settings().table_name))


def order_service() -> OrderService:
    from loyalty.services.orders import OrderService

    return _with_rules(OrderService)


def member_service() -> MemberService:
    from loyalty.services.members import MemberService

    return _with_rules(MemberService)


def reward_service() -> RewardService:
    from loyalty.services.rewards import RewardService

    return RewardService(_reward_repository(), program_rules)


def coupon_service() -> CouponService:
    from loyalty.services.coupons import CouponService

    return _with_rules(CouponService)


def referral_service() -> ReferralService:
    from loyalty.services.referrals import ReferralService

    return _with_rules(ReferralService)


def scheduled_awards() -> ScheduledAwards:
    from loyalty.services.jobs import ScheduledAwards

    return _with_rules(ScheduledAwards)


def promotions() -> Promotions:
    from loyalty.services.jobs import Promotions

    return _with_rules(Promotions)


def expiry_service() -> ExpiryService:
    from loyalty.services.expiry import ExpiryService

    return ExpiryService(_repository(settings().table_name))


def coupon_expiry_service() -> CouponExpiryService:
    from loyalty.services.coupon_expiry import CouponExpiryService

    return _with_rules(CouponExpiryService)


def _kpi_store() -> DynamoKpiStore:
    from loyalty.dal.kpis import DynamoKpiStore

    repository = _repository(settings().table_name)
    return DynamoKpiStore(repository.table_name, repository.client)  # the same client


def kpi_projector() -> KpiProjector:
    from loyalty.services.kpis import KpiProjector

    return KpiProjector(_kpi_store())


def kpi_service() -> KpiService:
    from loyalty.services.kpis import KpiService

    return KpiService(_kpi_store())


def _leaderboard_store() -> DynamoLeaderboardStore:
    from loyalty.dal.leaderboard import DynamoLeaderboardStore

    repository = _repository(settings().table_name)
    return DynamoLeaderboardStore(repository.table_name, repository.client)  # the same client


def leaderboard_projector() -> LeaderboardProjector:
    from loyalty.services.leaderboard import LeaderboardProjector

    return LeaderboardProjector(_leaderboard_store())


def leaderboard_refresher() -> LeaderboardRefresher:
    from loyalty.services.leaderboard import LeaderboardRefresher

    return LeaderboardRefresher(_leaderboard_store())


def leaderboard_service() -> LeaderboardService:
    from loyalty.services.leaderboard import LeaderboardService

    return LeaderboardService(_leaderboard_store())


def _badge_repository() -> DynamoBadgeRepository:
    from loyalty.dal.badges import DynamoBadgeRepository

    repository = _repository(settings().table_name)
    return DynamoBadgeRepository(repository.table_name, repository.client)  # the same client


# Badge definitions, cached per container as the rules are: table -> badges
_badges_cache: RecentReads[str, list[Badge]] = RecentReads(RULES_MAX_AGE_SECONDS)


def badge_definitions() -> list[Badge]:
    """The badge definitions (one Query), at most a minute old."""
    return _badges_cache.get(settings().table_name, lambda: _badge_repository().list_badges())


def forget_badges() -> None:
    """Drop the cached definitions: this container applies a change it has just saved."""
    _badges_cache.forget()


def badge_service() -> BadgeService:
    from loyalty.services.badges import BadgeService

    return BadgeService(_badge_repository(), program_rules, badge_definitions)


def work_queue() -> WorkSender:
    """The jobs' work queue (SQS), from WORK_QUEUE_URL."""
    from loyalty.dal.work_queue import WorkQueue

    return WorkQueue(os.environ["WORK_QUEUE_URL"])


def job_runs() -> JobRuns:
    from loyalty.services.jobs import JobRuns

    return JobRuns(work_queue())


@lru_cache(maxsize=4)
def _event_bus(bus_name: str) -> EventBus:
    from loyalty.dal.events_bus import EventBus

    # One client per container (and per bus, as tests switch buses).
    return EventBus(bus_name)


def event_bus() -> EventBus:
    return _event_bus(os.environ.get("EVENT_BUS_NAME", ""))


def stream_publisher() -> StreamPublisher:
    """A publisher for one invocation (consents are read once per member in it)."""
    from loyalty.services.outbox import StreamPublisher

    return StreamPublisher(event_bus, marketing_consents)


# ---- SnapStart (template parameter EnableSnapStart; docs/operations.md) -----------------------
# Lambda runs these hooks only when SnapStart is on; `snapshot_restore_py` ships with the
# Python runtime and is absent elsewhere (tests, the local stack).


def before_snapshot() -> None:
    """Put the DynamoDB client's service model into the snapshot: a restored environment then
    builds its client without loading and parsing the model again."""
    _repository(settings().table_name)


def after_restore() -> None:
    """A snapshot may be hours old and is restored into many environments at once: drop what
    it holds that is not theirs to share. The client (its credentials are the snapshot's)
    and the cached rules are built again on first use. Every random value the service makes
    comes from the OS (`secrets`, `uuid4`), so no two environments repeat one."""
    _repository.cache_clear()
    _event_bus.cache_clear()
    forget_rules()
    forget_badges()
    # Boards are cached only where the leaderboard's store was loaded: not loading it here
    # keeps the other functions' restore as light as their import.
    boards = sys.modules.get("loyalty.dal.leaderboard")
    if boards is not None:
        boards.forget_boards()


try:
    from snapshot_restore_py import (  # type: ignore[import-not-found]
        register_after_restore,
        register_before_snapshot,
    )
except ImportError:
    pass
else:  # pragma: no cover - only inside the Lambda runtime
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
