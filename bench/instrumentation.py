"""Counts DynamoDB requests and consumed capacity per operation, from botocore's events.

DynamoDB Local reports a flat 2 capacity units per TransactWriteItems whatever it writes, so
writes are also priced from the requests themselves: an item costs 1 WCU per started KB,
twice that inside a transaction, plus 1 WCU per KB for each GSI the item appears in (a put
that carries the index's key; an update that sets or removes it: GSI2 projects keys only, so
an update that leaves its key alone writes nothing to it; GSI1 projects every attribute, and
its items are only updated by the jobs). That is what DynamoDB bills for the same requests
(on-demand: write request units)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

_GSI_KEYS = ("GSI1PK", "GSI2PK")
# An update's expression naming an index's sort key moves (or removes) its entry.
_GSI_SORT_KEYS = ("GSI1SK", "GSI2SK")


def item_size(item: dict[str, Any]) -> int:
    """An item's size in bytes by DynamoDB's rules: each attribute's name in UTF-8 plus its
    value (a string's UTF-8 bytes, a number's significant digits halved and rounded up plus
    one, 1 for a boolean or null, 3 plus the elements for a map or a list, a list's elements
    one byte more each)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind in ("S", "B"):
        return len(content.encode() if isinstance(content, str) else content)
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + item_size(content)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in content)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in content)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _item_kb(item: dict[str, Any]) -> int:
    return max(1, math.ceil(item_size(item) / 1024))


class DynamoDBMeter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.read_units: Counter[str] = Counter()
        self.write_units: Counter[str] = Counter()
        self.items_written: Counter[str] = Counter()
        self.priced_write_units: Counter[str] = Counter()
        # A request that failed (a cancelled transaction, a failed condition) wrote nothing;
        # what it would have written is kept apart (DynamoDB may still bill its units).
        self.cancelled: Counter[str] = Counter()
        self.cancelled_write_units: Counter[str] = Counter()
        self.capacity_reported = False
        self._pending: tuple[str, int, int] | None = None

    def billed_write_units(self) -> int:
        """Priced units of what was written plus what cancelled attempts would have written
        (DynamoDB may bill those): what a cost figure counts, to err on the high side."""
        return sum(self.priced_write_units.values()) + sum(self.cancelled_write_units.values())

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
            self.cancelled,
            self.cancelled_write_units,
        ):
            counter.clear()

    def _before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending = None
        if model.name == "TransactWriteItems":
            priced = [
                self._price(action, transactional=True)
                for action in params.get("TransactItems", [])
            ]
        elif model.name in {"PutItem", "UpdateItem", "DeleteItem"}:
            priced = [self._price({model.name: params}, transactional=False)]
        else:
            return
        self._pending = (
            model.name,
            sum(units for units, _ in priced),
            sum(items for _, items in priced),
        )

    @staticmethod
    def _price(action: dict[str, Any], *, transactional: bool) -> tuple[int, int]:
        """The write units an action is billed and the items it writes."""
        (kind, body), *_ = action.items()
        if kind == "ConditionCheck":
            return (2 if transactional else 1), 0
        item = body.get("Item") or body.get("Key", {})
        units = _item_kb(item) * (2 if transactional else 1)
        units += sum(_item_kb(item) for key in _GSI_KEYS if key in item)
        expression = body.get("UpdateExpression", "")
        units += sum(1 for key in _GSI_SORT_KEYS if key in expression)
        return units, 1

    def _after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        self.requests[operation] += 1
        if self._pending is not None and self._pending[0] == operation:
            units, written = self._pending[1:]
            if "Error" in parsed:
                self.cancelled[operation] += 1
                self.cancelled_write_units[operation] += units
            else:
                self.priced_write_units[operation] += units
                self.items_written[operation] += written
            self._pending = None
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
