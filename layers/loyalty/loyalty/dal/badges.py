"""Badges on the single table: the operator's definitions (one partition, read with one
Query), and each member's badge items (earned markers, progress counters), read with one
Query. A badge is granted through the ledger's one-time earning (`commit_earning`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from loyalty.dal import keys
from loyalty.dal.items import item_key, to_ddb
from loyalty.dal.operations import OperationsStore
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.dal.table import put_action
from loyalty.domain.badges import Badge, BadgeStanding, progress_expires_at
from loyalty.domain.calendar import format_instant, parse_instant

if TYPE_CHECKING:
    from loyalty.domain.operations import AuditRecord


class BadgeStore(OperationsStore):
    def list_badges(self) -> list[Badge]:
        """Every definition, retired ones included: one Query of the BADGES partition."""
        return [
            Badge.model_validate_json(str(item["definition"]))
            for item in self._query_prefix(keys.BADGES_PK, keys.BADGE_PREFIX)
        ]

    def get_badge(self, badge_id: str) -> Badge | None:
        item = self._get(keys.BADGES_PK, keys.badge_sk(badge_id))
        return Badge.model_validate_json(str(item["definition"])) if item else None

    def save_badge(
        self, badge: Badge, *, stored_before: bool, audit: AuditRecord, now: datetime
    ) -> None:
        """Create or replace a definition with its audit record; conditional on what was read
        (a concurrent create is not overwritten blindly)."""
        item = {
            "PK": keys.BADGES_PK,
            "SK": keys.badge_sk(badge.badge_id),
            "itemType": "badge",
            "badgeId": badge.badge_id,
            "active": badge.active,
            "definition": badge.model_dump_json(by_alias=True),
            "updatedAt": format_instant(now),
        }
        put = put_action(self.table_name, item)
        put["Put"]["ConditionExpression"] = (
            "attribute_exists(PK)" if stored_before else "attribute_not_exists(PK)"
        )
        self._transact([put, self._audit_put(audit)], {})

    def badge_standing(self, member_id: str) -> BadgeStanding:
        """The member's earned badges and progress counters: one Query."""
        earned: dict[str, tuple[datetime, int]] = {}
        counted: dict[tuple[str, str], frozenset[str]] = {}
        for item in self._query_prefix(keys.member_pk(member_id), keys.MEMBER_BADGES_PREFIX):
            if item.get("itemType") == "badgeMarker":
                earned[str(item["badgeId"])] = (
                    parse_instant(str(item["recordedAt"])),
                    int(item.get("points", 0)),
                )
            elif item.get("itemType") == "badgeProgress":
                values = item.get("counted") or set()
                counted[(str(item["badgeId"]), str(item["period"]))] = frozenset(
                    str(value) for value in values
                )
        return BadgeStanding(earned, counted)

    def add_progress(
        self, member_id: str, badge_id: str, period: str, values: tuple[str, ...], now: datetime
    ) -> int:
        """Add `values` to the member's counted set for the badge and period (adding what is
        there already changes nothing: a redelivered record counts once); the set's size."""
        sets = "SET itemType = :type, memberId = :member, badgeId = :badge, #period = :period, "
        sets += "updatedAt = :now"
        values_ddb: dict[str, Any] = to_ddb(
            {
                ":type": "badgeProgress",
                ":member": member_id,
                ":badge": badge_id,
                ":period": period,
                ":now": format_instant(now),
            }
        )
        values_ddb[":values"] = {"SS": sorted(set(values))}
        names = {"#period": "period"}
        expires_at = progress_expires_at(period)
        if expires_at is not None:
            sets += ", #ttl = :ttl"
            names["#ttl"] = "ttl"
            values_ddb[":ttl"] = {"N": str(int(expires_at.timestamp()))}
        response = self.client.update_item(
            TableName=self.table_name,
            Key=item_key(keys.member_pk(member_id), keys.badge_progress_sk(badge_id, period)),
            UpdateExpression=f"{sets} ADD counted :values",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values_ddb,
            ReturnValues="UPDATED_NEW",
        )
        return len(response.get("Attributes", {}).get("counted", {}).get("SS", []))


class DynamoBadgeRepository(DynamoLedgerRepository, BadgeStore):
    """The ledger's stores and the badges' on one client: what the badge service uses."""
