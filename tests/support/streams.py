"""The table's stream as Lambda receives it: records read from DynamoDB Local's stream."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

import boto3

from devtools.template import load_template


class StreamReader:
    """Reads every record written to a table's stream since the reader was created."""

    def __init__(self, table_name: str) -> None:
        endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        self.table_name = table_name
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint)
        table = boto3.client("dynamodb", endpoint_url=endpoint).describe_table(
            TableName=table_name
        )["Table"]
        self.stream_arn = table["LatestStreamArn"]
        self._iterators: dict[str, str | None] = {}

    def _shards(self) -> list[str]:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)
        return [shard["ShardId"] for shard in description["StreamDescription"]["Shards"]]

    def read(self) -> list[dict[str, Any]]:
        """The records not read before, in order, in the Lambda event's shape."""
        records: list[dict[str, Any]] = []
        for shard in self._shards():
            if shard not in self._iterators:
                self._iterators[shard] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard]
            while iterator:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = response.get("NextShardIterator")
                if not response["Records"]:
                    break
                records.extend(_as_lambda_record(r, self.stream_arn) for r in response["Records"])
            self._iterators[shard] = iterator
        return records


def _as_lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
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


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def template_filters(function: str) -> list[dict[str, Any]]:
    """A stream consumer's FilterCriteria patterns, from template.yaml."""
    properties = load_template()["Resources"][function]["Properties"]
    (trigger,) = (e for e in properties["Events"].values() if e["Type"] == "DynamoDB")
    return [json.loads(f["Pattern"]) for f in trigger["Properties"]["FilterCriteria"]["Filters"]]


def matches(pattern: dict[str, Any], value: Any) -> bool:
    """Lambda event filtering, the subset the template uses: nested keys, lists of exact
    values."""
    for key, expected in pattern.items():
        if not isinstance(value, dict) or key not in value:
            return False
        if isinstance(expected, dict):
            if not matches(expected, value[key]):
                return False
        elif value[key] not in expected:
            return False
    return True


def delivered_to(function: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The stream event `function` receives: only the records its filter criteria admit."""
    patterns = template_filters(function)
    return stream_event([r for r in records if any(matches(p, r) for p in patterns)])
