"""The only code that talks to EventBridge, and the reading of the table's stream records.

`stream_change` turns one DynamoDB stream record (as Lambda delivers it, images in DynamoDB
JSON) into plain Python images; `EventBus.publish` sends domain events with `PutEvents`, ten
per call, and raises when any entry was not accepted so the stream record is retried (the
event ids are stable, so what was already accepted is deduped by consumers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from loyalty.domain.calendar import format_instant, parse_instant

if TYPE_CHECKING:
    from loyalty.domain.kpis import EntryFact
    from loyalty.domain.outbound import OutboundEvent

SOURCE = "loyalty"
MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit

_deserializer = TypeDeserializer()


class EventsClient(Protocol):
    """What EventBus needs of a boto3 `events` client."""

    def put_events(self, *, Entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]: ...


class PublishFailed(RuntimeError):
    """EventBridge did not accept every entry: the stream record must be retried."""


@dataclass(frozen=True, slots=True)
class StreamChange:
    """One stream record's change: the images as plain Python (numbers as Decimal)."""

    event_name: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    observed_at: str | None


def stream_change(record: Mapping[str, Any]) -> StreamChange:
    """The change of one Lambda DynamoDB stream record (`Records[i]`)."""
    change: Mapping[str, Any] = record.get("dynamodb") or {}
    created = change.get("ApproximateCreationDateTime")
    observed_at = None
    if isinstance(created, int | float | Decimal | str) and str(created):
        observed_at = format_instant(datetime.fromtimestamp(int(Decimal(str(created))), UTC))
    return StreamChange(
        event_name=str(record.get("eventName", "")),
        old=_image(change.get("OldImage")),
        new=_image(change.get("NewImage")),
        observed_at=observed_at,
    )


def _image(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    return {name: _deserializer.deserialize(value) for name, value in raw.items()}


def stream_attributes(image: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """Only the named attributes of a stream image (DynamoDB JSON), as plain Python: for a
    consumer that must not fail on attributes it does not use."""
    return {name: _deserializer.deserialize(image[name]) for name in names if name in image}


def entry_fact(image: Mapping[str, Any]) -> EntryFact:
    """A ledger entry item (a stream image, or the item itself in DynamoDB JSON) as the KPIs
    see it: only the attributes they use, so nothing else of the item can fail it."""
    # Imported here: only the KPI and leaderboard projectors read entries, and the other
    # consumers of the stream (referrals, badges, the outbox) need not load their model.
    from loyalty.domain.kpis import EntryFact

    fields = stream_attributes(image, "entryId", "memberId", "entryType", "points", "occurredAt")
    return EntryFact(
        entry_id=str(fields["entryId"]),
        member_id=str(fields["memberId"]),
        type=fields["entryType"],
        points=int(fields["points"]),
        occurred_at=parse_instant(str(fields["occurredAt"])),
    )


def default_client() -> EventsClient:
    # Standard retry mode backs off on throttling; endpoint from AWS_ENDPOINT_URL_EVENTBRIDGE.
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3)
    return cast(EventsClient, boto3.client("events", config=config))


class EventBus:
    """Publishes domain events to one EventBridge bus (Source `loyalty`)."""

    def __init__(self, bus_name: str, client: EventsClient | None = None) -> None:
        if not bus_name:
            raise ValueError("an event bus name is required")
        self.bus_name = bus_name
        self.client = client or default_client()

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        """Put every event, ten per call. Raises PublishFailed naming the failed event ids
        and error codes (never the details) when EventBridge refused any entry."""
        for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
            chunk = events[start : start + MAX_ENTRIES_PER_CALL]
            response = self.client.put_events(Entries=[self._entry(event) for event in chunk])
            if int(response.get("FailedEntryCount", 0)) == 0:
                continue
            results: Sequence[Mapping[str, Any]] = response.get("Entries", [])
            failed = [
                f"{event.event_id} ({result['ErrorCode']})"
                for event, result in zip(chunk, results, strict=False)
                if result.get("ErrorCode")
            ] or [f"{event.event_id} (unknown)" for event in chunk]
            # The rest is not sent: the whole record is retried, with the same event ids.
            raise PublishFailed(
                f"EventBridge refused {len(failed)} of {len(chunk)} event(s): {', '.join(failed)}"
            )

    def _entry(self, event: OutboundEvent) -> dict[str, Any]:
        return {
            "EventBusName": self.bus_name,
            "Source": SOURCE,
            "DetailType": event.detail_type,
            "Detail": json.dumps(dict(event.detail), separators=(",", ":"), sort_keys=True),
        }
