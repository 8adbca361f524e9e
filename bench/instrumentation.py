"""Counts DynamoDB requests and consumed capacity per operation, from botocore's events.

DynamoDB Local reports a flat 2 capacity units per TransactWriteItems whatever it writes, so
writes are also priced from the requests themselves: an item costs 1 WCU per started KB,
twice that inside a transaction, plus 1 WCU per KB for each GSI the item appears in (a put
that carries the index's key; an update that sets or removes it: GSI2 projects keys only, so
an update that leaves its key alone writes nothing to it; GSI1 projects every attribute, and
its items are only updated by the jobs). That is what DynamoDB bills for the same requests
(on-demand: write request units)."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

_GSI_KEYS = ("GSI1PK", "GSI2PK")
# An update's expression naming an index's sort key moves (or removes) its entry.
_GSI_SORT_KEYS = ("GSI1SK", "GSI2SK")


def _item_kb(item: dict[str, Any]) -> int:
    # Attribute names plus values, as DynamoDB sizes them (close enough for whole KBs).
    return max(1, math.ceil(len(json.dumps(item, separators=(",", ":"))) / 1024))


class DynamoDBMeter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.read_units: Counter[str] = Counter()
        self.write_units: Counter[str] = Counter()
        self.items_written: Counter[str] = Counter()
        self.priced_write_units: Counter[str] = Counter()
        self.capacity_reported = False

    def attach(self, client: Any) -> None:
        client.meta.events.register("after-call.dynamodb", self._after_call)
        client.meta.events.register("before-parameter-build.dynamodb", self._before_call)

    def reset(self) -> None:
        for counter in (
            self.requests,
            self.read_units,
            self.write_units,
            self.items_written,
            self.priced_write_units,
        ):
            counter.clear()

    def _before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                self._price(model.name, action, transactional=True)
        elif model.name in {"PutItem", "UpdateItem", "DeleteItem"}:
            self._price(model.name, {model.name: params}, transactional=False)

    def _price(self, operation: str, action: dict[str, Any], *, transactional: bool) -> None:
        (kind, body), *_ = action.items()
        if kind == "ConditionCheck":
            self.priced_write_units[operation] += 2 if transactional else 1
            return
        self.items_written[operation] += 1
        item = body.get("Item") or body.get("Key", {})
        units = _item_kb(item) * (2 if transactional else 1)
        units += sum(_item_kb(item) for key in _GSI_KEYS if key in item)
        expression = body.get("UpdateExpression", "")
        units += sum(1 for key in _GSI_SORT_KEYS if key in expression)
        self.priced_write_units[operation] += units

    def _after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        self.requests[operation] += 1
        consumed = parsed.get("ConsumedCapacity")
        if consumed is None:
            return
        for capacity in consumed if isinstance(consumed, list) else [consumed]:
            self.capacity_reported = True
            read = capacity.get("ReadCapacityUnits")
            write = capacity.get("WriteCapacityUnits")
            total = capacity.get("CapacityUnits", 0)
            if read is None and write is None:
                # Only a total: reads and writes are told apart by the operation.
                if operation in {"GetItem", "BatchGetItem", "Query", "TransactGetItems"}:
                    read = total
                else:
                    write = total
            self.read_units[operation] += read or 0
            self.write_units[operation] += write or 0
