"""The KPI projection's items and their DynamoDB calls (keys from `keys`).

- `KPI / TOTALS`: every program counter as a top-level number (`issued`, `members`,
  `tier#Gold`, `enrolled#2026-11`, `expiring#2027-11`, ...), so any delta is one ADD.
- `KPI / DAY#<date>`: that day's issued, redeemed, expired, and `lastActive` (members whose
  last activity is that day). A TTL removes a day once it has left every report window.
- `MEMBER#<id> / PROFILE#KPI`: the member's contribution to the totals as last applied
  (`contribution`), its `version`, `lastActiveDay` and `activityClosed`.
- `MEMBER#<id> / KPI#ENTRY#<entryId>`: the entry was counted. Written in the same transaction
  as the counters, conditional, so a redelivered record counts nothing; it only has to
  outlive the stream's 24 h retention, so a TTL removes it after a week.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from loyalty.dal import keys
from loyalty.dal.items import Item, from_ddb, item_key, lot_from_item, member_from_item, to_ddb
from loyalty.dal.table import TableAccess, query_between, transact
from loyalty.domain.calendar import format_instant
from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.kpis import (
    ActivityState,
    Counters,
    EntriesAlreadyCounted,
    EntriesProjection,
    MemberProjection,
    MemberSnapshot,
    add_into,
)

if TYPE_CHECKING:
    from loyalty.domain.ledger import MemberState, PointsLot

MARKER_TTL = timedelta(days=7)
# A day item lives past the longest report window (90 days), then expires.
DAY_TTL = timedelta(days=120)


class DynamoKpiStore(TableAccess):
    # ---- reads -------------------------------------------------------------------------

    def activity_states(self, member_ids: Iterable[str]) -> dict[str, ActivityState]:
        """The members' activity as the projection holds it, in one BatchGetItem."""
        wanted = [item_key(keys.member_pk(m), keys.MEMBER_KPI_SK) for m in sorted(set(member_ids))]
        states: dict[str, ActivityState] = {}
        for start in range(0, len(wanted), 100):  # BatchGetItem's limit
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": wanted[start : start + 100],
                    "ConsistentRead": True,
                    "ProjectionExpression": "memberId, lastActiveDay, activityClosed",
                }
            }
            while request:
                response = self.client.batch_get_item(
                    RequestItems=request, ReturnConsumedCapacity="TOTAL"
                )
                for raw in response["Responses"].get(self.table_name, []):
                    item = from_ddb(raw)
                    states[str(item["memberId"])] = _activity_of(item)
                request = cast(dict[str, Any], response.get("UnprocessedKeys") or {})
        return states

    def member_snapshot(self, member_id: str) -> MemberSnapshot:
        """The member's lots, profile and KPI state in one Query (adjacent sort keys)."""
        member: MemberState | None = None
        lots: list[PointsLot] = []
        state: Item = {}
        for item in query_between(self.client, self.table_name, member_id, *keys.KPI_MEMBER_RANGE):
            if item["SK"] == keys.PROFILE_SK:
                member = member_from_item(item)
            elif item["SK"] == keys.MEMBER_KPI_SK:
                state = item
            elif item["SK"].startswith(keys.LOT_PREFIX):
                lots.append(lot_from_item(item))
        return MemberSnapshot(
            member_id=member_id,
            member=member,
            lots=tuple(lots),
            counted={str(k): int(v) for k, v in (state.get("contribution") or {}).items()},
            version=int(state["version"]) if "version" in state else None,
            activity=_activity_of(state),
        )

    def read_aggregates(self, since: date) -> tuple[Counters, dict[date, Counters]]:
        """The totals and the day items from `since` on, in one Query: a fixed, small read
        whatever the number of members."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": to_ddb(
                {":pk": keys.KPI_PK, ":low": keys.kpi_day_sk(since), ":high": keys.KPI_TOTALS_SK}
            ),
            "ReturnConsumedCapacity": "TOTAL",
        }
        totals: Counters = {}
        days: dict[date, Counters] = {}
        while True:
            response = self.client.query(**arguments)
            for raw in response.get("Items", []):
                item = from_ddb(raw)
                counters = _counters_of(item)
                if item["SK"] == keys.KPI_TOTALS_SK:
                    totals = counters
                elif item["SK"].startswith(keys.KPI_DAY_PREFIX):
                    days[date.fromisoformat(item["SK"].removeprefix(keys.KPI_DAY_PREFIX))] = (
                        counters
                    )
            if "LastEvaluatedKey" not in response:
                return totals, days
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ---- writes ------------------------------------------------------------------------

    def commit_entries(self, projection: EntriesProjection, now: datetime) -> None:
        """One transaction: a marker per entry (conditional: not counted before), each
        member's activity move (conditional on its state as read), the totals and the
        days. Raises EntriesAlreadyCounted naming the entries counted before, or
        ConcurrentUpdate."""
        recorded_at = format_instant(now)
        markers = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_ddb(
                        {
                            "PK": keys.member_pk(entry.member_id),
                            "SK": keys.kpi_entry_marker_sk(entry.entry_id),
                            "itemType": "kpiEntryMarker",
                            "recordedAt": recorded_at,
                            "ttl": _epoch(now + MARKER_TTL),
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for entry in projection.entries
        ]
        moves = []
        for move in projection.moves:
            condition, values = _activity_condition(move.before)
            moves.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": item_key(keys.member_pk(move.member_id), keys.MEMBER_KPI_SK),
                        "UpdateExpression": (
                            "SET itemType = :type, memberId = :member, lastActiveDay = :day, "
                            "updatedAt = :now"
                        ),
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": to_ddb(
                            values
                            | {
                                ":type": "kpiMember",
                                ":member": move.member_id,
                                ":day": move.after.isoformat(),
                                ":now": recorded_at,
                            }
                        ),
                    }
                }
            )
        actions = [
            *markers,
            *moves,
            *self._aggregate_actions(projection.totals, projection.days, now),
        ]

        def cancelled(reasons: Sequence[Mapping[str, Any]]) -> Exception:
            counted = [
                entry.entry_id
                for entry, reason in zip(projection.entries, reasons, strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            ]
            if counted:
                return EntriesAlreadyCounted(counted)
            return ConcurrentUpdate("the KPI aggregates changed during the write")

        transact(self.client, actions, cancelled=cancelled)

    def commit_members(self, projections: Sequence[MemberProjection], now: datetime) -> None:
        """One transaction: each member's new contribution (conditional on the version and
        activity read), and the sum of their differences on the totals and days. Raises
        ConcurrentUpdate (read again and project anew)."""
        recorded_at = format_instant(now)
        totals: Counters = {}
        days: dict[date, Counters] = {}
        actions = []
        for projection in projections:
            add_into(totals, projection.totals)
            for day, counters in projection.days.items():
                add_into(days.setdefault(day, {}), counters)
            condition, values = _activity_condition(projection.expected_activity)
            if projection.expected_version is None:
                condition += " AND attribute_not_exists(version)"
            else:
                condition += " AND version = :version"
                values[":version"] = projection.expected_version
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": item_key(keys.member_pk(projection.member_id), keys.MEMBER_KPI_SK),
                        "UpdateExpression": (
                            "SET itemType = :type, memberId = :member, contribution = :counted, "
                            "activityClosed = :closed, updatedAt = :now ADD version :one"
                        ),
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": to_ddb(
                            values
                            | {
                                ":type": "kpiMember",
                                ":member": projection.member_id,
                                ":counted": projection.counted,
                                ":closed": projection.closed,
                                ":now": recorded_at,
                                ":one": 1,
                            }
                        ),
                    }
                }
            )
        actions += self._aggregate_actions(totals, days, now)
        transact(
            self.client,
            actions,
            cancelled=lambda _: ConcurrentUpdate("a member's KPI state changed during the write"),
        )

    def _aggregate_actions(
        self, totals: Mapping[str, int], days: Mapping[date, Mapping[str, int]], now: datetime
    ) -> list[dict[str, Any]]:
        actions = []
        if any(totals.values()):
            actions.append(self._add_action(keys.KPI_TOTALS_SK, totals, now, ttl=None))
        for day, counters in sorted(days.items()):
            if any(counters.values()):
                ttl = _epoch(datetime(day.year, day.month, day.day, tzinfo=UTC) + DAY_TTL)
                actions.append(self._add_action(keys.kpi_day_sk(day), counters, now, ttl=ttl))
        return actions

    def _add_action(
        self, sk: str, counters: Mapping[str, int], now: datetime, *, ttl: int | None
    ) -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(sorted(counters))}
        values: Item = {f":c{i}": counters[name] for i, name in enumerate(sorted(counters))}
        sets = "SET itemType = :type, updatedAt = :now"
        values |= {":type": "kpi", ":now": format_instant(now)}
        if ttl is not None:
            sets += ", #ttl = :ttl"
            names["#ttl"] = "ttl"
            values[":ttl"] = ttl
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counters)))
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": item_key(keys.KPI_PK, sk),
                "UpdateExpression": f"{sets} ADD {adds}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_ddb(values),
            }
        }


def _activity_of(item: Mapping[str, Any]) -> ActivityState:
    day = item.get("lastActiveDay")
    return ActivityState(
        last_active=date.fromisoformat(str(day)) if day else None,
        closed=bool(item.get("activityClosed", False)),
    )


def _activity_condition(state: ActivityState) -> tuple[str, Item]:
    """The member's KPI item still holds `state` (absent attributes mean the defaults)."""
    values: Item = {}
    if state.last_active is None:
        day = "attribute_not_exists(lastActiveDay)"
    else:
        day = "lastActiveDay = :lastDay"
        values[":lastDay"] = state.last_active.isoformat()
    if state.closed:
        closed = "activityClosed = :true"
        values[":true"] = True
    else:
        closed = "(attribute_not_exists(activityClosed) OR activityClosed = :false)"
        values[":false"] = False
    return f"{day} AND {closed}", values


def _counters_of(item: Mapping[str, Any]) -> Counters:
    # Every number but the TTL is a counter.
    return {
        name: int(value)
        for name, value in item.items()
        if name != "ttl" and isinstance(value, Decimal)
    }


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
