"""The EventBridge side of the outbox without any AWS: EventBus against a fake client, the
publisher handler on the sample stream event, and the sample outbound events in events/."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from functions.events_publisher import app as publisher
from loyalty import runtime
from loyalty.dal.events_bus import EventBus, PublishFailed, stream_change
from loyalty.domain.outbound import DETAIL_TYPES, PERSONAL_FIELDS, OutboundEvent
from tests.support.events import EVENTS_DIR, FakeLambdaContext, load_event

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

SAMPLE = "ddb-stream-entry-inserted.json"


class FakeEvents:
    """Records PutEvents calls; refuses the entries whose DetailType is in `refuse`."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse = refuse

    def put_events(self, *, Entries: Any) -> dict[str, Any]:
        self.calls.append([dict(entry) for entry in Entries])
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "boom"}
            if entry["DetailType"] in self.refuse
            else {"EventId": str(uuid.uuid4())}
            for entry in Entries
        ]
        failed = sum(1 for result in results if "ErrorCode" in result)
        return {"FailedEntryCount": failed, "Entries": results}

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [entry for call in self.calls for entry in call]


def events(count: int, kind: str = "points.earned") -> list[OutboundEvent]:
    return [
        OutboundEvent(f"id-{n}", kind, {"eventId": f"id-{n}", "memberId": "c-1", "points": n})
        for n in range(count)
    ]


def test_publish_sends_ten_entries_per_call_to_the_bus():
    client = FakeEvents()
    EventBus("the-bus", client).publish(events(23))

    assert [len(call) for call in client.calls] == [10, 10, 3]
    first = client.entries[0]
    assert first == {
        "EventBusName": "the-bus",
        "Source": "loyalty",
        "DetailType": "points.earned",
        "Detail": '{"eventId":"id-0","memberId":"c-1","points":0}',
    }


def test_publish_raises_when_an_entry_was_refused_naming_ids_not_details():
    client = FakeEvents(refuse=("tier.changed",))
    batch = [*events(2), OutboundEvent("id-t", "tier.changed", {"eventId": "id-t", "to": "Gold"})]

    with pytest.raises(PublishFailed) as raised:
        EventBus("the-bus", client).publish(batch)
    assert "id-t (InternalFailure)" in str(raised.value)
    assert "Gold" not in str(raised.value)


def test_nothing_to_publish_makes_no_call():
    client = FakeEvents()
    EventBus("the-bus", client).publish([])
    assert client.calls == []


def test_a_bus_needs_a_name():
    with pytest.raises(ValueError):
        EventBus("", FakeEvents())


def test_stream_change_deserializes_the_images():
    record = load_event(SAMPLE)["Records"][1]
    change = stream_change(record)
    assert change.event_name == "MODIFY"
    assert change.old is not None and change.new is not None
    assert (change.old["tier"], change.new["tier"]) == ("Bronze", "Silver")
    assert change.new["tierPoints"] == 1650
    assert change.observed_at == "2026-11-10T10:00:05Z"
    assert stream_change({"eventName": "REMOVE", "dynamodb": {}}).new is None


# ---- the handler ------------------------------------------------------------------------------


class Consents:
    """The members' marketing consent, as the profile would say it."""

    def __init__(self, consenting: bool) -> None:
        self.consenting = consenting
        self.asked: list[str] = []

    def consented(self, member_id: str) -> bool:
        self.asked.append(member_id)
        return self.consenting


@pytest.fixture
def fake_bus(monkeypatch: pytest.MonkeyPatch):
    def install(client: FakeEvents, consenting: bool = True) -> FakeEvents:
        monkeypatch.setattr(runtime, "event_bus", lambda: EventBus("the-bus", client))
        monkeypatch.setattr(runtime, "marketing_consents", lambda: Consents(consenting))
        return client

    return install


def test_the_sample_stream_event_publishes_its_events_without_personal_data(fake_bus):
    client = fake_bus(FakeEvents())

    response = publisher.handler(load_event(SAMPLE), FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert [entry["DetailType"] for entry in client.entries] == ["points.earned", "tier.changed"]
    for entry in client.entries:
        detail = json.loads(entry["Detail"])
        assert detail["memberId"] == "c-42"
        assert "Ada" not in entry["Detail"] and "example.com" not in entry["Detail"]
        assert not PERSONAL_FIELDS & set(detail)


def test_without_marketing_consent_the_tier_change_stays_unpublished(fake_bus):
    client = fake_bus(FakeEvents(), consenting=False)

    response = publisher.handler(load_event(SAMPLE), FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert [entry["DetailType"] for entry in client.entries] == ["points.earned"]


def test_a_record_whose_events_were_refused_is_a_batch_item_failure(fake_bus):
    fake_bus(FakeEvents(refuse=("tier.changed",)))
    event = load_event(SAMPLE)

    response = publisher.handler(event, FakeLambdaContext())

    failed = event["Records"][1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": failed}]}


def test_records_without_events_publish_nothing(fake_bus):
    client = fake_bus(FakeEvents())
    event = load_event(SAMPLE)
    modify = copy.deepcopy(event["Records"][1])
    modify["dynamodb"]["OldImage"]["tier"] = {"S": "Silver"}  # no tier change

    response = publisher.handler({"Records": [modify]}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert client.calls == []


# ---- the samples in events/outbound -----------------------------------------------------------


def outbound_samples() -> dict[str, dict[str, Any]]:
    folder = Path(EVENTS_DIR) / "outbound"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def test_there_is_one_sample_per_detail_type_in_the_envelope_consumers_receive():
    samples = outbound_samples()
    assert set(samples) == set(DETAIL_TYPES)
    for kind, sample in samples.items():
        assert sample["detail-type"] == kind
        assert sample["source"] == "loyalty"
        assert {"version", "id", "account", "time", "region", "resources"} <= set(sample)
        detail = sample["detail"]
        assert uuid.UUID(detail["eventId"]).version == 8
        assert detail["occurredAt"]
        assert ("memberId" in detail) == (kind != "promotion.started")
        assert not PERSONAL_FIELDS & set(detail)
