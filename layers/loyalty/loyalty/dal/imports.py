"""Bulk import on the single table: a batch's landed rows (one partition per batch), and one
row (or one row's undo) written as one `TransactWriteItems`, the row's marker conditional in
the same transaction as its points, so a row lands at most once and is undone at most once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loyalty.dal import keys
from loyalty.dal.items import (
    Item,
    entry_item,
    item_key,
    lot_from_item,
    lot_item,
    member_from_item,
    to_ddb,
)
from loyalty.dal.ledger import lot_reduction, member_actions, schedule_action
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.dal.table import TableAccess, put_action
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.domain.errors import DuplicateEvent, EmailTaken
from loyalty.domain.imports import ImportRowPlan, LandedRow, RowKey, UndoPlan

if TYPE_CHECKING:
    from loyalty.domain.ledger import MemberState, PointsLot

# BatchGetItem reads at most 100 keys per request.
BATCH_GET_LIMIT = 100


class ImportStore(TableAccess):
    """The import's reads and writes."""

    def landed_rows(self, batch_id: str) -> dict[int, LandedRow]:
        """Every row of the batch that has landed (undone or not), by row number: one Query
        (paged) of the batch's partition."""
        return {
            landed.key.number: landed
            for landed in (
                _landed_from_item(item)
                for item in self._query_prefix(keys.import_pk(batch_id), keys.IMPORT_ROW_PREFIX)
            )
        }

    def get_members(self, member_ids: Iterable[str]) -> dict[str, MemberState]:
        """The profiles of the members that exist, by id (BatchGetItem, 100 keys a request)."""
        wanted = sorted(set(member_ids))
        found: dict[str, MemberState] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            chunk = wanted[start : start + BATCH_GET_LIMIT]
            for item in self._batch_get(
                [item_key(keys.member_pk(member_id), keys.PROFILE_SK) for member_id in chunk]
            ):
                member = member_from_item(item)
                found[member.member_id] = member
        return found

    def email_owners(self, normalized_emails: Iterable[str]) -> dict[str, str]:
        """Which of these addresses already belong to a member (email locks), by address."""
        wanted = sorted(set(normalized_emails))
        by_pk = {keys.email_pk(email): email for email in wanted}
        owners: dict[str, str] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            chunk = wanted[start : start + BATCH_GET_LIMIT]
            for item in self._batch_get(
                [item_key(keys.email_pk(email), keys.EMAIL_SK) for email in chunk]
            ):
                owners[by_pk[item["PK"]]] = str(item["memberId"])
        return owners

    def get_lot(self, member_id: str, lot_id: str, expires_at: datetime) -> PointsLot | None:
        """The row's lot as it is now, live or settled (the expiry job moves a settled lot to
        its own key): one BatchGetItem of both keys."""
        found = self._batch_get(
            [
                item_key(keys.member_pk(member_id), keys.lot_sk(expires_at, lot_id, settled=s))
                for s in (False, True)
            ]
        )
        return lot_from_item(found[0]) if found else None

    def commit_import_row(self, plan: ImportRowPlan, now: datetime) -> None:
        """One transaction: the row's marker (only if the row has not landed), the member
        (enrolled with the row's personal fields and email lock, or the known profile's
        counters, guarded by its version), the entries and the lot. Raises DuplicateEvent
        (the row has landed), EmailTaken, or ConcurrentUpdate (read again and re-plan)."""
        recorded_at = format_instant(now)
        lot = plan.lots[0] if plan.lots else None
        marker = {
            "PK": keys.import_pk(plan.key.batch_id),
            "SK": keys.import_row_sk(plan.key.number),
            "itemType": "importRow",
            "batchId": plan.key.batch_id,
            "row": plan.key.number,
            "memberId": plan.member_id,
            "points": plan.points,
            "tierBasis": plan.tier_basis,
            "expiredOnArrival": plan.expired_on_arrival,
            "lotId": lot.lot_id if lot else None,
            "lotExpiresAt": format_instant(lot.expires_at) if lot else None,
            "createdMember": plan.created,
            "recordedAt": recorded_at,
        }
        actions: list[dict[str, Any]] = [put_action(self.table_name, marker, must_be_new=True)]
        failures: dict[int, Exception] = {0: DuplicateEvent("the row has already landed")}
        enrollment = plan.enrollment
        profile_fields: Item | None = None
        if enrollment is not None:
            profile = enrollment.profile
            if profile.email:
                failures[len(actions)] = EmailTaken("the email belongs to another member")
                actions.append(
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": to_ddb(
                                {
                                    "PK": keys.email_pk(profile.email),
                                    "SK": keys.EMAIL_SK,
                                    "itemType": "emailLock",
                                    "memberId": plan.member_id,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(PK) OR memberId = :m",
                            "ExpressionAttributeValues": to_ddb({":m": plan.member_id}),
                        }
                    }
                )
            profile_fields = {
                "name": profile.name,
                "email": profile.email,
                "birthday": profile.birthday.isoformat() if profile.birthday else None,
            }
            if profile.marketing_consent is not None:
                profile_fields["marketingConsent"] = profile.marketing_consent
            if enrollment.birthday_schedule is not None:
                actions.append(
                    schedule_action(
                        self.table_name, plan.member_id, enrollment.birthday_schedule, recorded_at
                    )
                )
        actions += member_actions(
            self.table_name, plan.change, recorded_at, profile_fields, lots=plan.lots
        )
        actions += [put_action(self.table_name, entry_item(e, recorded_at)) for e in plan.entries]
        actions += [put_action(self.table_name, lot_item(lot, recorded_at)) for lot in plan.lots]
        self._transact(actions, failures)

    def commit_import_undo(self, plan: UndoPlan, now: datetime) -> None:
        """One transaction: the row's marker marked undone (only once), the profile (guarded
        by its version), the reversal entry and the lot it lowers (guarded as read). Raises
        DuplicateEvent (already undone) or ConcurrentUpdate (read again and re-plan)."""
        recorded_at = format_instant(now)
        key = item_key(keys.import_pk(plan.key.batch_id), keys.import_row_sk(plan.key.number))
        marker_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": key,
                "UpdateExpression": (
                    "SET undoneAt = :now, undoPointsRemoved = :removed, undoDebt = :debt"
                ),
                "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(undoneAt)",
                "ExpressionAttributeValues": to_ddb(
                    {":now": recorded_at, ":removed": plan.points_removed, ":debt": plan.debt}
                ),
            }
        }
        actions: list[dict[str, Any]] = [marker_update]
        if plan.change is not None:
            actions += member_actions(self.table_name, plan.change, recorded_at)
        if plan.entry is not None:
            actions.append(put_action(self.table_name, entry_item(plan.entry, recorded_at)))
        if plan.reduction is not None:
            actions.append(
                lot_reduction(self.table_name, plan.member_id, plan.reduction, recorded_at)
            )
        self._transact(actions, {0: DuplicateEvent("the row has already been undone")})


def _landed_from_item(item: Item) -> LandedRow:
    expires = item.get("lotExpiresAt")
    return LandedRow(
        key=RowKey(str(item["batchId"]), int(item["row"])),
        member_id=str(item["memberId"]),
        points=int(item["points"]),
        tier_basis=int(item["tierBasis"]),
        lot_id=str(item["lotId"]) if item.get("lotId") else None,
        lot_expires_at=parse_instant(str(expires)) if expires else None,
        created_member=bool(item.get("createdMember")),
        undone="undoneAt" in item,
    )


class DynamoImportRepository(DynamoLedgerRepository, ImportStore):
    """The ledger's stores and the import's on one client: what the import service uses."""
