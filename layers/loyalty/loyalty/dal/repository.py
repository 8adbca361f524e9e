"""The one object the services receive: every store of the single table on one client.
Each concern has its own module: `items` (the item codec and mappers), `table` (requests
and their errors), `ledger` (the ledger's reads and transactions), `operations` (audit,
adjustments, catalog, program rules, privacy), `coupons` (a coupon's state), `badges`
(definitions, a member's progress), `imports` (a bulk import's rows); `kpis` keeps the KPI
projection's items.
Keys are `keys`' alone."""

from __future__ import annotations

from loyalty.dal.badges import BadgeStore
from loyalty.dal.coupons import CouponStore
from loyalty.dal.imports import ImportStore
from loyalty.dal.ledger import LedgerStore
from loyalty.dal.operations import OperationsStore
from loyalty.dal.table import default_client

__all__ = ["DynamoLedgerRepository", "default_client"]


class DynamoLedgerRepository(LedgerStore, BadgeStore, OperationsStore, CouponStore, ImportStore):
    """Ledger persistence on the single table: the ledger's and the operations' stores
    on one client (built from the table name, or given)."""
