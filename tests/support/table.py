"""Reads and writes of the single table that only tests need (the services never do): the
whole ledger of a member, their lots, an order's record, a catalog item put as is, and a
spend of points. Each takes the table (anything with its `client` and `table_name`, such as
the repository) and uses the layer's item codec, so what it reads or writes is what the
services do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from loyalty.dal import keys
from loyalty.dal.items import (
    Item,
    entry_from_item,
    entry_item,
    from_ddb,
    lot_from_item,
    order_from_item,
    to_ddb,
)
from loyalty.dal.ledger import spend_update
from loyalty.dal.rewards import reward_item
from loyalty.dal.table import put_action, transact
from loyalty.domain.calendar import format_instant
from loyalty.domain.errors import DuplicateEvent, InsufficientPoints
from loyalty.domain.ledger import LedgerEntry, OrderRecord, PointsLot, SpendPlan
from loyalty.domain.rewards import Reward

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class Table(Protocol):
    client: DynamoDBClient
    table_name: str


def _query_prefix(table: Table, pk: str, prefix: str) -> Iterator[Item]:
    arguments: dict[str, Any] = {
        "TableName": table.table_name,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
        "ConsistentRead": True,
    }
    while True:
        response = table.client.query(**arguments)
        yield from (from_ddb(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def list_entries(table: Table, member_id: str) -> list[LedgerEntry]:
    """The member's whole ledger, oldest first."""
    return [
        entry_from_item(item)
        for item in _query_prefix(table, keys.member_pk(member_id), keys.ENTRY_PREFIX)
    ]


def list_lots(table: Table, member_id: str) -> list[PointsLot]:
    """Every lot of the member, live (in the member view's range) and settled (kept apart)."""
    return [
        lot_from_item(item)
        for prefix in (keys.LOT_PREFIX, keys.SETTLED_LOT_PREFIX)
        for item in _query_prefix(table, keys.member_pk(member_id), prefix)
    ]


def get_order(table: Table, order_id: str) -> OrderRecord | None:
    raw = table.client.get_item(
        TableName=table.table_name,
        Key={"PK": {"S": keys.order_pk(order_id)}, "SK": {"S": keys.ORDER_SK}},
        ConsistentRead=True,
    ).get("Item")
    return order_from_item(from_ddb(raw)) if raw is not None else None


def put_reward(table: Table, reward: Reward, now: datetime) -> bool:
    """Create or replace a catalog item (no audit record); True when it was new."""
    response = table.client.put_item(
        TableName=table.table_name, Item=to_ddb(reward_item(reward, now)), ReturnValues="ALL_OLD"
    )
    return "Attributes" not in response


def commit_spend(table: Table, plan: SpendPlan, now: datetime) -> None:
    """One transaction: the spend marker, the profile (only if the balance covers the
    points at this moment), the entry. Raises InsufficientPoints or DuplicateEvent."""
    recorded_at = format_instant(now)
    marker = {
        "PK": keys.member_pk(plan.member_id),
        "SK": keys.spend_sk(plan.entry.reference),
        "itemType": "spend",
        "memberId": plan.member_id,
        "entryId": plan.entry.entry_id,
        "points": plan.points,
        "recordedAt": recorded_at,
    }
    transact(
        table.client,
        [
            put_action(table.table_name, marker, must_be_new=True),
            spend_update(table.table_name, plan, recorded_at),
            put_action(table.table_name, entry_item(plan.entry, recorded_at)),
        ],
        {
            0: DuplicateEvent("the event has already been recorded"),
            1: InsufficientPoints("the balance does not cover the points"),
        },
    )
