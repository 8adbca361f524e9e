"""Operations on the single table: the operators' audit trail, point adjustments, the
program rules, and privacy (consent, lookup by email, export, erasure); the rewards catalog
is `rewards`'. Each change is one `TransactWriteItems` with its audit record."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loyalty.dal import keys
from loyalty.dal.items import (
    Item,
    entry_from_item,
    entry_item,
    from_ddb,
    item_key,
    lot_item,
    order_from_item,
    to_ddb,
)
from loyalty.dal.ledger import member_actions, release_action, spend_update
from loyalty.dal.table import TableAccess, put_action
from loyalty.domain.calendar import format_instant
from loyalty.domain.errors import DuplicateEvent, InsufficientPoints, VersionConflict
from loyalty.domain.rules import ProgramRules

if TYPE_CHECKING:
    from loyalty.domain.ledger import LedgerEntry, OrderRecord
    from loyalty.domain.operations import AdjustmentPlan, AuditRecord, ErasurePlan


class OperationsStore(TableAccess):
    """What operators and privacy requests read and change."""

    # ---- orders by day (the program preview) -----------------------------------------------

    def orders_between(
        self, start: datetime, end: datetime, limit: int
    ) -> tuple[list[OrderRecord], bool]:
        """Newest first: one Query per UTC day from `end` back to `start`, on the index of
        orders by day, until `limit` orders are read. An order awarded without reading the
        member has no tier of its own (every tier earned alike then): it is given the
        member's tier now (their profiles read in batches of 100)."""
        low = keys.order_day_gsi_sk(start, "")
        high = keys.order_day_gsi_sk(end, "")  # before any order at `end` itself: [start, end)
        orders: list[OrderRecord] = []
        day = end
        while day.date() >= start.date():
            arguments: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :day AND GSI1SK BETWEEN :low AND :high",
                "ExpressionAttributeValues": to_ddb(
                    {":day": keys.order_day_gsi_pk(day), ":low": low, ":high": high}
                ),
                "ScanIndexForward": False,
            }
            while True:
                arguments["Limit"] = limit - len(orders) + 1  # one more says "there were more"
                response = self.client.query(**arguments)
                for item in response.get("Items", []):
                    if len(orders) == limit:
                        return self._with_member_tiers(orders), True
                    orders.append(order_from_item(from_ddb(item)))
                if "LastEvaluatedKey" not in response:
                    break
                arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            day -= timedelta(days=1)
        return self._with_member_tiers(orders), False

    def _with_member_tiers(self, orders: list[OrderRecord]) -> list[OrderRecord]:
        members = sorted({order.member_id for order in orders if order.tier is None})
        tiers: dict[str, Any] = {}
        for start in range(0, len(members), 100):
            wanted = [
                item_key(keys.member_pk(member_id), keys.PROFILE_SK)
                for member_id in members[start : start + 100]
            ]
            tiers |= {item["memberId"]: item.get("tier") for item in self._batch_get(wanted)}
        return [
            replace(order, tier=tiers.get(order.member_id)) if order.tier is None else order
            for order in orders
        ]

    # ---- operators: audit trail, adjustments, program rules ----------------------------

    def _audit_put(self, audit: AuditRecord) -> dict[str, Any]:
        item = {
            "PK": keys.audit_pk(audit.at),
            "SK": keys.audit_sk(audit.at, audit.audit_id),
            "itemType": "audit",
            "auditId": audit.audit_id,
            "actor": audit.actor,
            "action": audit.action,
            "target": audit.target,
            "reason": audit.reason,
            "details": dict(audit.details),
            "recordedAt": format_instant(audit.at),
        }
        return put_action(self.table_name, item, must_be_new=True)

    def list_audit(self, month: datetime, limit: int) -> list[Item]:
        """A month's audit trail, newest first."""
        response = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.audit_pk(month)}},
            ScanIndexForward=False,
            Limit=limit,
        )
        hidden = {"PK", "SK", "itemType"}
        return [
            {name: value for name, value in from_ddb(item).items() if name not in hidden}
            for item in response.get("Items", [])
        ]

    def commit_adjustment(self, plan: AdjustmentPlan, now: datetime) -> None:
        """One transaction: the adjustment's marker (once per Idempotency-Key, for good), the
        points (an earning, or a spend the balance must cover), the audit record. Raises
        DuplicateEvent, InsufficientPoints or ConcurrentUpdate."""
        recorded_at = format_instant(now)
        marker = {
            "PK": keys.member_pk(plan.member_id),
            "SK": keys.adjustment_sk(plan.adjustment_id),
            "itemType": "adjustmentMarker",
            "memberId": plan.member_id,
            "entryId": plan.entry.entry_id,
            "points": plan.points,
            "requestFingerprint": plan.request_fingerprint,
            "recordedAt": recorded_at,
        }
        actions = [put_action(self.table_name, marker, must_be_new=True)]
        failures: dict[int, Exception] = {0: DuplicateEvent("the adjustment was already made")}
        if plan.earn is not None:
            actions += [
                *member_actions(
                    self.table_name, plan.earn.member, recorded_at, lots=plan.earn.lots
                ),
                *[
                    put_action(self.table_name, entry_item(e, recorded_at))
                    for e in plan.earn.entries
                ],
                *[
                    put_action(self.table_name, lot_item(lot, recorded_at))
                    for lot in plan.earn.lots
                ],
            ]
        else:
            assert plan.spend is not None
            failures[len(actions)] = InsufficientPoints(
                "the adjustment would take the balance below zero"
            )
            actions += [
                spend_update(self.table_name, plan.spend, recorded_at),
                put_action(self.table_name, entry_item(plan.spend.entry, recorded_at)),
            ]
        actions.append(self._audit_put(plan.audit))
        self._transact(actions, failures)

    def get_adjustment(self, member_id: str, adjustment_id: str) -> Item | None:
        return self._get(keys.member_pk(member_id), keys.adjustment_sk(adjustment_id))

    def get_program(self) -> ProgramRules | None:
        """The operator's current rules document, if one was ever saved."""
        item = self._get(keys.PROGRAM_PK, keys.CURRENT_RULES_SK)
        if item is None:
            return None
        return ProgramRules.model_validate_json(item["document"])

    def put_program(
        self, rules: ProgramRules, *, replaces: int | None, audit: AuditRecord, now: datetime
    ) -> None:
        """Save `rules` as the current document and as its own version (kept for good), only
        if the current one is still version `replaces` (None: none saved yet)."""
        recorded_at = format_instant(now)
        document = rules.model_dump_json(by_alias=True)
        fields = {
            "itemType": "programRules",
            "version": rules.version,
            "document": document,
            "updatedAt": recorded_at,
            "updatedBy": audit.actor,
        }
        current = put_action(
            self.table_name, {"PK": keys.PROGRAM_PK, "SK": keys.CURRENT_RULES_SK, **fields}
        )
        if replaces is None:
            current["Put"]["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            current["Put"]["ConditionExpression"] = "version = :replaces"
            current["Put"]["ExpressionAttributeValues"] = to_ddb({":replaces": replaces})
        history = put_action(
            self.table_name,
            {"PK": keys.PROGRAM_PK, "SK": keys.rules_version_sk(rules.version), **fields},
            must_be_new=True,
        )
        self._transact(
            [current, history, self._audit_put(audit)],
            {
                0: VersionConflict("the rules were changed meanwhile: reload and try again"),
                1: VersionConflict("that version of the rules already exists"),
            },
        )

    # ---- privacy ----------------------------------------------------------------------------

    def consented(self, member_id: str) -> bool:
        """The member's marketing consent (False for an unknown or erased member)."""
        item = self._get(
            keys.member_pk(member_id),
            keys.PROFILE_SK,
            consistent=False,
            projection="marketingConsent, erasedAt",
        )
        return bool(item and item.get("marketingConsent") and not item.get("erasedAt"))

    def member_id_by_email(self, normalized_email: str) -> str | None:
        item = self._get(keys.email_pk(normalized_email), keys.EMAIL_SK)
        return str(item["memberId"]) if item else None

    def export_member(self, member_id: str) -> tuple[Item | None, list[LedgerEntry]]:
        """The profile as stored (every personal field held) and every ledger entry, oldest
        first."""
        profile = self._get(keys.member_pk(member_id), keys.PROFILE_SK)
        entries = [
            entry_from_item(item)
            for item in self._query_prefix(keys.member_pk(member_id), keys.ENTRY_PREFIX)
        ]
        return profile, entries

    def commit_erasure(self, plan: ErasurePlan, now: datetime) -> None:
        """One transaction: the profile loses its personal fields and its balance (forfeited
        by the entry), the lookups by personal data and the job schedules go, held lots are
        released into the forfeiture, and the audit record is written. Raises
        ConcurrentUpdate when the member changed since it was read."""
        recorded_at = format_instant(now)
        member = plan.member
        pending = plan.forfeited_pending
        profile = {
            "Update": {
                "TableName": self.table_name,
                "Key": item_key(keys.member_pk(member.member_id), keys.PROFILE_SK),
                "UpdateExpression": (
                    "SET erasedAt = :now, updatedAt = :now, marketingConsent = :no, "
                    "leaderboardOptIn = :no "
                    "REMOVE #name, email, phone, birthday, referralCode, leaderboardName "
                    "ADD version :one, balance :balance, pendingPoints :pending, "
                    "lotTotal :released, debited :debited"
                ),
                "ConditionExpression": "version = :expected AND attribute_not_exists(erasedAt)",
                "ExpressionAttributeNames": {"#name": "name"},
                "ExpressionAttributeValues": to_ddb(
                    {
                        ":now": recorded_at,
                        ":no": False,
                        ":one": 1,
                        ":balance": -plan.forfeited_balance,
                        ":pending": -pending,
                        ":released": pending,
                        ":debited": plan.forfeited_balance + pending,
                        ":expected": member.version,
                    }
                ),
            }
        }
        actions: list[dict[str, Any]] = [profile, self._audit_put(plan.audit)]
        if plan.entry is not None:
            actions.append(put_action(self.table_name, entry_item(plan.entry, recorded_at)))
        deletions = [
            (keys.member_pk(member.member_id), keys.schedule_sk("birthday")),
            (keys.member_pk(member.member_id), keys.schedule_sk("tenure")),
        ]
        if member.email:
            deletions.append((keys.email_pk(member.email), keys.EMAIL_SK))
        if member.referral_code:
            deletions.append((keys.referral_code_pk(member.referral_code), keys.REFERRAL_CODE_SK))
        actions += [
            {"Delete": {"TableName": self.table_name, "Key": item_key(pk, sk)}}
            for pk, sk in deletions
        ]
        actions += [release_action(self.table_name, lot, recorded_at) for lot in plan.released_lots]
        self._transact(actions, {})
