"""The stores the services receive, on one client: the ledger's, the operations' and the
coupons' here (what every function may read and write); the catalog's, the badges' and the
imports' add theirs (`rewards.DynamoRewardRepository`, `badges.DynamoBadgeRepository`,
`imports.DynamoImportRepository`), so a function that keeps none of them does not load their
domain models. Each concern has its own module: `items` (the item codec and mappers),
`table` (requests and their errors), `ledger` (the ledger's reads and transactions),
`operations` (audit, adjustments, program rules, privacy), `coupons` (a coupon's state),
`rewards` (the catalog, redemptions), `badges` (definitions, a member's progress), `imports`
(a bulk import's rows); `kpis` and `leaderboard` keep their projections' items.
Keys are `keys`' alone."""

from __future__ import annotations

from loyalty.dal.coupons import CouponStore
from loyalty.dal.ledger import LedgerStore
from loyalty.dal.operations import OperationsStore
from loyalty.dal.table import default_client

__all__ = ["DynamoLedgerRepository", "default_client"]


class DynamoLedgerRepository(LedgerStore, OperationsStore, CouponStore):
    """The ledger's, the operations' and the coupons' stores on one client (built from the
    table name, or given)."""
