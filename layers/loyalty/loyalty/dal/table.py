"""The table's requests: the client, reads by key, in batches and by query, and the one
`TransactWriteItems` every writer uses (`transact`), its failures mapped to domain errors
(StoreBusy, ConcurrentUpdate, or what the caller says a failed condition means). Items are
encoded by `items`; keys come from `keys`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from loyalty.dal import keys
from loyalty.dal.items import Item, from_ddb, item_key, to_ddb
from loyalty.domain.errors import ConcurrentUpdate, DuplicateEvent, StoreBusy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# What a cancelled transaction means, given its cancellation reasons (one per action).
Cancellation = Callable[[Sequence[Mapping[str, Any]]], Exception]
# What an action's failed condition means: the error, or one made from the action's
# cancellation reason (which holds the item as found when the action asked for it with
# `ReturnValuesOnConditionCheckFailure`).
FailureMeaning = Exception | Callable[[Mapping[str, Any]], Exception]


def default_client() -> DynamoDBClient:
    # Standard retry mode backs off on throttling; endpoint from AWS_ENDPOINT_URL_DYNAMODB.
    # No client-side parameter validation: only this package builds requests (their shapes
    # are exercised against DynamoDB Local by the tests) and DynamoDB validates them again;
    # walking a transaction's attribute maps against the service model cost about a fifth of
    # an order's CPU time (docs/benchmarks.md, "Purchase award").
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=3,
        parameter_validation=False,
    )
    return boto3.client("dynamodb", config=config)


def query_between(
    client: DynamoDBClient, table_name: str, member_id: str, low: str, high: str
) -> Iterator[Item]:
    """A member's items with sort keys from `low` to `high`, consistent, every page: the
    ranges of adjacent sort keys (keys.VIEW_RANGE, ...) that one Query reads together."""
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
        "ExpressionAttributeValues": to_ddb(
            {":pk": keys.member_pk(member_id), ":low": low, ":high": high}
        ),
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
    }
    while True:
        response = client.query(**arguments)
        yield from (from_ddb(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def put_action(
    table_name: str, item: Mapping[str, Any], *, must_be_new: bool = False
) -> dict[str, Any]:
    """A transaction's Put of `item`; `must_be_new`: only if no item has its key."""
    put: dict[str, Any] = {"TableName": table_name, "Item": to_ddb(item)}
    if must_be_new:
        put["ConditionExpression"] = "attribute_not_exists(PK)"
    return {"Put": put}


def transact(
    client: DynamoDBClient,
    actions: list[dict[str, Any]],
    failures: Mapping[int, FailureMeaning] | None = None,
    *,
    cancelled: Cancellation | None = None,
) -> None:
    """Write all actions or none. `failures` names, by action index, the domain error a
    failed condition means (or makes it from the action's cancellation reason); the
    business event's marker is action 0 by convention, so
    by default its failing condition means the event was already recorded. `cancelled`,
    when given, decides instead what any cancelled transaction means. A throttled write is
    StoreBusy (nothing written; retry later). No actions: nothing to write."""
    if not actions:
        return
    try:
        client.transact_write_items(
            TransactItems=actions,  # type: ignore[arg-type]
            ReturnConsumedCapacity="TOTAL",
        )
    except ClientError as error:
        raise _write_error(error, failures, cancelled) from None


# Throttled, or over an account's request limit: after the client's own retries, the store
# is busy for now (a read or a write alike). Nothing was written.
_THROTTLED_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# The store's "not now" answers to a transaction: throttled, or in conflict with a transaction
# in flight. Nothing was written; the caller may try again shortly.
_BUSY_CODES = _THROTTLED_CODES | {"TransactionConflictException", "TransactionInProgressException"}
_BUSY_REASONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


def _write_error(
    error: ClientError,
    failures: Mapping[int, FailureMeaning] | None,
    cancelled: Cancellation | None,
) -> Exception:
    """The domain error a failed TransactWriteItems means (the ClientError itself if none)."""
    code = error.response.get("Error", {}).get("Code")
    if code in _BUSY_CODES:
        return StoreBusy("the ledger is busy; try again shortly")
    if code != "TransactionCanceledException":
        return error
    reasons = cast(list[dict[str, Any]], error.response.get("CancellationReasons", []))
    if cancelled is not None:
        return cancelled(reasons)
    meanings = (
        failures
        if failures is not None
        else {0: DuplicateEvent("the event has already been recorded")}
    )
    for index, reason in enumerate(reasons):
        if reason.get("Code") == "ConditionalCheckFailed" and index in meanings:
            meaning = meanings[index]
            return meaning if isinstance(meaning, Exception) else meaning(reason)
    if any(reason.get("Code") in _BUSY_REASONS for reason in reasons):
        return StoreBusy("the ledger is busy; try again shortly")
    # Anything else (a version guard, a code collision, a conflicting transaction) is
    # resolved by reading again and planning anew.
    return ConcurrentUpdate("the member changed during the write")


class _ThrottlingAsBusy:
    """The DynamoDB client, its throttled answers raised as StoreBusy: a throttled read
    means what a throttled write means (try again shortly), not a failure of the service."""

    def __init__(self, client: DynamoDBClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or name == "meta" or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _THROTTLED_CODES:
                    raise StoreBusy("the ledger is busy; try again shortly") from error
                raise

        return call


def throttling_as_busy(client: DynamoDBClient) -> DynamoDBClient:
    if isinstance(client, _ThrottlingAsBusy):
        return client
    return cast("DynamoDBClient", _ThrottlingAsBusy(client))


class TableAccess:
    """The table and its client, and the requests every store of it makes."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self.client = throttling_as_busy(client or default_client())

    def _get(
        self, pk: str, sk: str, *, consistent: bool = True, projection: str | None = None
    ) -> Item | None:
        """One item by key, deserialized; None when it does not exist."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": item_key(pk, sk),
            "ConsistentRead": consistent,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if projection is not None:
            arguments["ProjectionExpression"] = projection
        raw = self.client.get_item(**arguments).get("Item")
        return from_ddb(raw) if raw is not None else None

    def _batch_get(self, wanted: list[dict[str, Any]]) -> list[Item]:
        """Items by key in one BatchGetItem (again only for keys it left unprocessed)."""
        found: list[Item] = []
        request: dict[str, Any] = {self.table_name: {"Keys": wanted, "ConsistentRead": True}}
        while request:
            response = self.client.batch_get_item(
                RequestItems=request, ReturnConsumedCapacity="TOTAL"
            )
            found.extend(from_ddb(item) for item in response["Responses"].get(self.table_name, []))
            request = cast(dict[str, Any], response.get("UnprocessedKeys") or {})
        return found

    def _query_prefix(self, pk: str, prefix: str) -> Iterator[Item]:
        """The items of a partition whose sort keys begin with `prefix`, consistent, every
        page."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**arguments)
            yield from (from_ddb(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _transact(
        self,
        actions: list[dict[str, Any]],
        failures: Mapping[int, FailureMeaning] | None = None,
    ) -> None:
        """`transact` with this store's client."""
        transact(self.client, actions, failures)
