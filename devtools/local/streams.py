"""A DynamoDB table's stream as Lambda delivers it, and Lambda's event filtering.

- ``StreamReader`` reads the records written to a table's stream (DynamoDB Local supports
  streams) and returns them in the shape of a Lambda ``DynamoDB`` event's ``Records``.
- ``matches(pattern, record)`` applies one Lambda/EventBridge filter pattern (the
  ``FilterCriteria.Filters[].Pattern`` of template.yaml) to a record.

tests/support/streams.py re-exports these for the integration tests.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import boto3
from botocore.exceptions import ClientError

_REACQUIRE = {"ExpiredIteratorException", "TrimmedDataAccessException"}
# How often the shard list is refreshed while every known shard stays open.
_DESCRIBE_EVERY_SECONDS = 5.0


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams ``GetRecords`` record in the shape of a Lambda event record."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


class StreamReader:
    """Reads every record written to a table's stream since the reader was created (or since
    ``skip_existing()``), in order, shard by shard. Iterators that expire while the reader
    is idle are taken again after the last record read."""

    def __init__(
        self,
        table_name: str,
        *,
        endpoint_url: str | None = None,
        dynamodb: Any = None,
        streams: Any = None,
    ) -> None:
        self.table_name = table_name
        self.streams = streams or boto3.client("dynamodbstreams", endpoint_url=endpoint_url)
        client = dynamodb or boto3.client("dynamodb", endpoint_url=endpoint_url)
        table = client.describe_table(TableName=table_name)["Table"]
        arn = table.get("LatestStreamArn")
        if not arn:
            raise ValueError(f"table {table_name} has no stream")
        self.stream_arn: str = arn
        self._iterators: dict[str, str | None] = {}
        self._last_sequence: dict[str, str] = {}
        self._shards: list[str] = []
        self._described_at = 0.0

    def _refresh_shards(self, force: bool) -> None:
        stale = time.monotonic() - self._described_at > _DESCRIBE_EVERY_SECONDS
        if not (force or stale or not self._shards):
            return
        shards: list[str] = []
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**arguments)["StreamDescription"]
            shards.extend(shard["ShardId"] for shard in description["Shards"])
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            arguments["ExclusiveStartShardId"] = last
        self._shards = shards
        self._described_at = time.monotonic()

    def _iterator(self, shard: str) -> str | None:
        if shard in self._iterators:
            return self._iterators[shard]
        return self._new_iterator(shard)

    def _new_iterator(self, shard: str) -> str | None:
        after = self._last_sequence.get(shard)
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard}
        if after is not None:
            arguments |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        else:
            arguments["ShardIteratorType"] = "TRIM_HORIZON"
        iterator: str | None = self.streams.get_shard_iterator(**arguments).get("ShardIterator")
        self._iterators[shard] = iterator
        return iterator

    def read(self) -> list[dict[str, Any]]:
        """The records not read before, in order, in the Lambda event's shape."""
        records: list[dict[str, Any]] = []
        self._refresh_shards(force=False)
        closed_one = False
        for shard in list(self._shards):
            iterator = self._iterator(shard)
            while iterator:
                try:
                    response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") not in _REACQUIRE:
                        raise
                    self._iterators.pop(shard, None)
                    iterator = self._new_iterator(shard)
                    continue
                iterator = response.get("NextShardIterator")
                if iterator is None:
                    closed_one = True
                for raw in response["Records"]:
                    self._last_sequence[shard] = raw["dynamodb"]["SequenceNumber"]
                    records.append(lambda_record(raw, self.stream_arn))
                if not response["Records"]:
                    break
            self._iterators[shard] = iterator
        if closed_one:
            # A closed shard has children: read them now rather than at the next refresh.
            known = set(self._shards)
            self._refresh_shards(force=True)
            if set(self._shards) - known:
                records.extend(self.read())
        return records

    def skip_existing(self) -> int:
        """Start after what the stream already holds (Lambda's ``StartingPosition: LATEST``);
        returns how many records were skipped."""
        return len(self.read())


# ---- Lambda event filtering -------------------------------------------------------------------


class FilterError(ValueError):
    """A filter pattern this module cannot read."""


def load_patterns(filter_criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of an event source's ``FilterCriteria`` (each ``Pattern`` is JSON text)."""
    patterns: list[dict[str, Any]] = []
    for item in (filter_criteria or {}).get("Filters") or []:
        text = item.get("Pattern") if isinstance(item, Mapping) else None
        pattern = json.loads(text) if isinstance(text, str) else text
        if not isinstance(pattern, dict):
            raise FilterError(f"a filter pattern must be a JSON object: {text!r}")
        patterns.append(pattern)
    return patterns


def admitted(patterns: Iterable[Mapping[str, Any]], record: Any) -> bool:
    """Lambda's rule: no patterns admit everything; otherwise any pattern must match."""
    patterns = list(patterns)
    return not patterns or any(matches(pattern, record) for pattern in patterns)


_MISSING = object()


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """Does ``value`` match the filter ``pattern`` (EventBridge/Lambda event pattern syntax:
    nested keys, lists of exact values, ``prefix``, ``suffix``, ``equals-ignore-case``,
    ``anything-but``, ``numeric``, ``exists``, ``wildcard``, ``cidr`` and ``$or``)?"""
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(alternative, value) for alternative in expected):
                return False
            continue
        present = isinstance(value, Mapping) and key in value
        field = value[key] if present else _MISSING
        if isinstance(expected, Mapping):
            if not present or not matches(expected, field):
                return False
        elif isinstance(expected, list):
            if not _any_rule(expected, field):
                return False
        else:
            raise FilterError(f"pattern values must be objects or lists, not {expected!r}")
    return True


def _any_rule(rules: list[Any], field: Any) -> bool:
    values = field if isinstance(field, list) else [field]
    for rule in rules:
        if isinstance(rule, Mapping):
            if "exists" in rule:
                if bool(rule["exists"]) == (field is not _MISSING):
                    return True
                continue
            if field is _MISSING:
                continue
            if any(_operator(rule, item) for item in values):
                return True
        elif field is not _MISSING and any(_equal(rule, item) for item in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return Decimal(str(expected)) == Decimal(str(actual))
    return bool(expected == actual)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


_COMPARE = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _operator(rule: Mapping[str, Any], actual: Any) -> bool:
    (name, argument), *rest = rule.items()
    if rest:
        raise FilterError(f"one operator per rule: {dict(rule)!r}")
    if name == "prefix":
        if isinstance(argument, Mapping):  # {"prefix": {"equals-ignore-case": "x"}}
            text = str(argument.get("equals-ignore-case", ""))
            return isinstance(actual, str) and actual.lower().startswith(text.lower())
        return isinstance(actual, str) and actual.startswith(str(argument))
    if name == "suffix":
        if isinstance(argument, Mapping):
            text = str(argument.get("equals-ignore-case", ""))
            return isinstance(actual, str) and actual.lower().endswith(text.lower())
        return isinstance(actual, str) and actual.endswith(str(argument))
    if name == "equals-ignore-case":
        return isinstance(actual, str) and actual.lower() == str(argument).lower()
    if name == "wildcard":
        expression = "^" + ".*".join(re.escape(part) for part in str(argument).split("*")) + "$"
        return isinstance(actual, str) and re.match(expression, actual, re.DOTALL) is not None
    if name == "anything-but":
        if isinstance(argument, Mapping):
            return not _operator(argument, actual)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(item, actual) for item in excluded)
    if name == "numeric":
        # DynamoDB's numbers arrive as strings ({"N": "1"}): compared as numbers.
        number = _number(actual)
        if number is None:
            return False
        pairs = list(argument)
        for position in range(0, len(pairs), 2):
            bound = _number(pairs[position + 1])
            if bound is None or not _COMPARE[pairs[position]](number, bound):
                return False
        return True
    if name == "cidr":
        try:
            return ipaddress.ip_address(str(actual)) in ipaddress.ip_network(str(argument))
        except ValueError:
            return False
    raise FilterError(f"unsupported filter operator {name!r}")
