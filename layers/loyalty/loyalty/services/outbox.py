"""Publishing the table's stream (the outbox): each record's domain events, the marketing
ones only for members who opted in (their consent read once per member per publisher: a
publisher serves one invocation, so a change of mind takes effect from the next batch)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from loyalty.dal.events_bus import stream_change
from loyalty.domain.outbound import OutboundEvent, events_for_change, needs_marketing_consent


class Bus(Protocol):
    def publish(self, events: Sequence[OutboundEvent]) -> None: ...


class Consents(Protocol):
    def consented(self, member_id: str) -> bool: ...


class StreamPublisher:
    """The bus and the consents are built when first needed (a record with no events
    reads neither)."""

    def __init__(self, bus: Callable[[], Bus], consents: Callable[[], Consents]) -> None:
        self._bus = bus
        self._consents = consents
        self._consented: dict[str, bool] = {}

    def publish_record(self, record: Mapping[str, Any]) -> list[OutboundEvent]:
        """Publish the events of one stream record (as Lambda delivers it); the events
        published. Raises when the bus did not accept them all (the record is retried)."""
        change = stream_change(record)
        events = [
            event
            for event in events_for_change(change.old, change.new, observed_at=change.observed_at)
            if not needs_marketing_consent(event) or self._consent(str(event.member_id))
        ]
        if events:
            self._bus().publish(events)
        return events

    def _consent(self, member_id: str) -> bool:
        if member_id not in self._consented:
            self._consented[member_id] = self._consents().consented(member_id)
        return self._consented[member_id]
