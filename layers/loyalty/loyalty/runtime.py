"""Composition root: builds services from the deployment's settings, once per container
(and again if the settings change, as they do between tests)."""

from __future__ import annotations

from functools import lru_cache

from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.services.orders import OrderService
from loyalty.settings import load_rules, settings


@lru_cache(maxsize=4)
def _order_service(table_name: str, rules_document: str) -> OrderService:
    return OrderService(DynamoLedgerRepository(table_name), lambda: load_rules(rules_document))


def order_service() -> OrderService:
    current = settings()
    return _order_service(current.table_name, current.program_rules)
