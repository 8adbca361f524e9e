"""The daily coupons job against DynamoDB Local, through its real handlers, with a pinned clock
and fixed dates: a coupon is warned once 7 days before it expires and expired on its date (its
points are not returned), a used or voided coupon never is, missed runs are caught up, a second
run changes nothing, and the stream publishes each coupon event once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.admin_api import app as admin_app
from functions.events_publisher import app as publisher
from loyalty import runtime
from loyalty.domain import coupons as coupon_rules
from loyalty.domain.outbound import OutboundEvent
from tests.support.api import (
    CHECK_COUPON,
    MEMBER_COUPONS,
    USE_COUPON,
    VOID_COUPON,
    balance,
    coupon_request,
    enroll,
    iso,
    item_of,
    order,
    play_orders,
    redeem,
    request,
    table_items,
)
from tests.support.events import FakeLambdaContext
from tests.support.http import ADMIN, call, http_event, member_token
from tests.support.schedules import run_daily
from tests.support.streams import StreamReader, delivered_to

pytestmark = [pytest.mark.calendar, pytest.mark.usefixtures("table_name")]

MEMBER = "c-1"
ISSUED = "2026-11-10T12:00:00Z"  # 90 days of validity: expires 2027-02-08T12:00:00Z
EXPIRES = "2027-02-08T12:00:00Z"


class CapturedBus:
    def __init__(self) -> None:
        self.events: list[OutboundEvent] = []

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        self.events.extend(events)


@pytest.fixture
def outbox(table_name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Publishes what the table's stream holds since the last call (only the records the
    template's filter admits) and answers the coupon events published."""
    bus = CapturedBus()
    monkeypatch.setattr(runtime, "event_bus", lambda: bus)
    reader = StreamReader(table_name)

    def publish() -> list[tuple[str, str]]:
        batch = delivered_to("EventsPublisherFunction", reader.read())
        if batch["Records"]:  # Lambda never invokes with none
            assert publisher.handler(batch, FakeLambdaContext()) == {"batchItemFailures": []}
        published = [e for e in bus.events if e.detail_type.startswith("coupon.")]
        bus.events.clear()
        return sorted((e.detail_type, str(e.detail["code"])) for e in published)

    return publish


def issue(clock: Any, count: int = 1, at: str = ISSUED, member_id: str = MEMBER) -> list[str]:
    clock.set(at)
    codes = []
    for _ in range(count):
        reply = redeem(member_id, "discount-10")
        assert reply.status == 201, reply.body
        codes.append(reply.body["couponCode"])
    return codes


def coupons_run(queue: Any, clock: Any, time: str) -> None:
    clock.set(time)
    run_daily(queue, "coupons", time)


def daily(queue: Any, clock: Any, first: str, last: str) -> None:
    """The coupons job at 01:00 every day from `first` to `last` (dates)."""
    day = datetime.fromisoformat(first).replace(hour=1, tzinfo=UTC)
    while day.date().isoformat() <= last:
        coupons_run(queue, clock, iso(day))
        day += timedelta(days=1)


def stored(dynamodb_client: Any, table_name: str, code: str) -> dict[str, Any]:
    """The coupon item and its copy on the redemption, as the table holds them."""
    item = item_of(dynamodb_client, table_name, f"COUPON#{code}", "COUPON")
    assert item is not None
    copy = item_of(
        dynamodb_client, table_name, f"MEMBER#{MEMBER}", f"SPEND#{item['redemptionId']['S']}"
    )
    assert copy is not None
    return {"coupon": item, "redemption": copy}


def status_of(dynamodb_client: Any, table_name: str, code: str) -> tuple[str, str]:
    both = stored(dynamodb_client, table_name, code)
    return (both["coupon"]["couponStatus"]["S"], both["redemption"]["couponStatus"]["S"])


def listed(member_id: str = MEMBER) -> dict[str, str]:
    reply = request(MEMBER_COUPONS, member_id, claims=member_token(member_id))
    assert reply.status == 200, reply.body
    return {c["code"]: c["status"] for c in reply.body["items"]}


@pytest.fixture
def member_with_points(clock: Any, table_name: str) -> None:
    clock.set("2026-11-10T10:00:00Z")
    assert enroll(MEMBER, marketingConsent=True).status == 201  # coupon.expiring: consent
    play_orders(order("o-1", MEMBER, "100.00"))  # 10000 + 150


@pytest.mark.usefixtures("member_with_points")
def test_a_coupon_is_warned_once_seven_days_before_and_expired_on_its_date(
    clock, queue, outbox, dynamodb_client, table_name
):
    (code,) = issue(clock)
    assert outbox() == [("coupon.issued", code)]
    item = stored(dynamodb_client, table_name, code)["coupon"]
    assert item["GSI1PK"]["S"].startswith("COUPONS#")
    assert item["GSI1SK"]["S"] == f"2027-02-01T12:00:00Z#{MEMBER}#{code}"
    points = balance(MEMBER)

    daily(queue, clock, "2027-01-25", "2027-02-01")  # the warning is due at 12:00 on the 1st
    assert outbox() == []
    daily(queue, clock, "2027-02-02", "2027-02-08")  # warned on the 2nd, not again
    assert outbox() == [("coupon.expiring", code)]
    both = stored(dynamodb_client, table_name, code)
    assert both["coupon"]["couponWarnedAt"]["S"] == "2027-02-02T01:00:00Z"
    assert both["redemption"]["couponWarnedAt"]["S"] == "2027-02-02T01:00:00Z"
    assert both["coupon"]["GSI1SK"]["S"] == f"{EXPIRES}#{MEMBER}#{code}"
    assert status_of(dynamodb_client, table_name, code) == ("issued", "issued")

    coupons_run(queue, clock, "2027-02-09T01:00:00Z")
    assert status_of(dynamodb_client, table_name, code) == ("expired", "expired")
    item = stored(dynamodb_client, table_name, code)["coupon"]
    assert "GSI1PK" not in item and "GSI1SK" not in item  # out of the index
    assert item["couponExpiredAt"]["S"] == "2027-02-09T01:00:00Z"
    checked = coupon_request(CHECK_COUPON, code).body
    assert (checked["status"], checked["valid"], checked["reason"]) == (
        "expired",
        False,
        "expired",
    )
    assert listed() == {code: "expired"}
    assert balance(MEMBER) == points  # an expired coupon's points are not returned
    assert outbox() == [("coupon.expired", code)]

    # Twice for the same time, and the days after: nothing changes, nothing is published.
    before = table_items(dynamodb_client, table_name)
    coupons_run(queue, clock, "2027-02-09T01:00:00Z")
    daily(queue, clock, "2027-02-10", "2027-02-12")
    assert table_items(dynamodb_client, table_name) == before
    assert outbox() == []
    # Neither used nor voided once expired.
    use = coupon_request(USE_COUPON, code, body={"orderId": "o-9", "memberId": MEMBER})
    assert use.status == 409, use.body
    assert coupon_request(VOID_COUPON, code, body={}).status == 409


@pytest.mark.usefixtures("member_with_points")
def test_a_used_or_voided_coupon_is_never_warned_or_expired(
    clock, queue, outbox, dynamodb_client, table_name
):
    used, voided = issue(clock, 2)
    clock.set("2026-12-01T10:00:00Z")
    reply = coupon_request(USE_COUPON, used, body={"orderId": "o-2", "memberId": MEMBER})
    assert reply.status == 200, reply.body
    assert coupon_request(VOID_COUPON, voided, body={}).status == 200
    for code in (used, voided):
        item = stored(dynamodb_client, table_name, code)["coupon"]
        assert "GSI1PK" not in item and "GSI1SK" not in item  # they left the index
    assert outbox() == sorted(
        [
            ("coupon.issued", used),
            ("coupon.issued", voided),
            ("coupon.used", used),
            ("coupon.voided", voided),
        ]
    )

    daily(queue, clock, "2027-01-30", "2027-02-10")
    assert status_of(dynamodb_client, table_name, used) == ("used", "used")
    assert status_of(dynamodb_client, table_name, voided) == ("voided", "voided")
    for code in (used, voided):
        assert "couponWarnedAt" not in stored(dynamodb_client, table_name, code)["coupon"]
    assert listed() == {used: "used", voided: "voided"}
    assert outbox() == []


@pytest.mark.usefixtures("member_with_points")
def test_a_missed_month_of_runs_is_caught_up_by_the_next(
    clock, queue, outbox, dynamodb_client, table_name
):
    (early,) = issue(clock)  # expires 2027-02-08: its warning and expiry both missed
    (late,) = issue(clock, at="2026-12-01T12:00:00Z")  # expires 2027-03-01, warned from 02-22
    assert outbox() == sorted([("coupon.issued", early), ("coupon.issued", late)])
    coupons_run(queue, clock, "2027-01-20T01:00:00Z")  # the last run before the gap
    assert outbox() == []

    coupons_run(queue, clock, "2027-02-25T01:00:00Z")  # a month later
    assert status_of(dynamodb_client, table_name, early) == ("expired", "expired")
    assert status_of(dynamodb_client, table_name, late) == ("issued", "issued")
    # A warning about a coupon already expired helps no one: it is only expired.
    assert outbox() == sorted([("coupon.expired", early), ("coupon.expiring", late)])
    assert listed() == {early: "expired", late: "active"}

    coupons_run(queue, clock, "2027-03-02T01:00:00Z")
    assert status_of(dynamodb_client, table_name, late) == ("expired", "expired")
    assert outbox() == [("coupon.expired", late)]
    assert listed() == {early: "expired", late: "expired"}


@pytest.mark.usefixtures("member_with_points")
def test_many_coupons_due_at_once_take_steps_within_the_transaction_limit(
    clock, queue, outbox, dynamodb_client, table_name, monkeypatch
):
    codes = issue(clock, 7)
    outbox()
    # A step of 3 coupons (6 actions) stands in for 50 (100 actions): 7 take three steps.
    monkeypatch.setattr(coupon_rules, "COUPON_JOB_ACTIONS", 6)
    sizes: list[int] = []
    client = runtime._repository(table_name).client
    original = client.transact_write_items

    def counted(**arguments: Any) -> Any:
        sizes.append(len(arguments["TransactItems"]))
        return original(**arguments)

    monkeypatch.setattr(client, "transact_write_items", counted)
    coupons_run(queue, clock, "2027-02-02T01:00:00Z")
    assert sizes == [6, 6, 2]
    coupons_run(queue, clock, "2027-02-09T01:00:00Z")
    assert sizes == [6, 6, 2, 6, 6, 2]
    assert all(
        status_of(dynamodb_client, table_name, code) == ("expired", "expired") for code in codes
    )
    published = outbox()
    assert published == sorted(
        [("coupon.expiring", code) for code in codes] + [("coupon.expired", code) for code in codes]
    )


@pytest.fixture
def returns_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGRAM_RULES", '{"couponExpiryReturnsPoints": true}')


@pytest.mark.usefixtures("returns_points", "member_with_points")
def test_with_coupon_expiry_returning_points_an_unused_coupon_gives_them_back_once(
    clock, queue, dynamodb_client, table_name
):
    """couponExpiryReturnsPoints: on its date the unused coupon's points come back as a void
    would return them (here all of them: the lots they came from are still open)."""
    kept, used = issue(clock, count=2)
    assert (
        coupon_request(USE_COUPON, used, body={"orderId": "o-7", "memberId": MEMBER}).status == 200
    )
    points = balance(MEMBER)

    daily(queue, clock, "2027-02-07", "2027-02-09")
    before = table_items(dynamodb_client, table_name)
    coupons_run(queue, clock, "2027-02-09T01:00:00Z")  # the same time again: nothing more

    assert table_items(dynamodb_client, table_name) == before
    assert balance(MEMBER) == points + 1000
    assert status_of(dynamodb_client, table_name, kept) == ("expired", "expired")
    assert status_of(dynamodb_client, table_name, used) == ("used", "used")
    assert listed() == {kept: "expired", used: "used"}
    item = stored(dynamodb_client, table_name, kept)["coupon"]
    assert (item["couponReturned"]["N"], item["couponExpired"]["N"]) == ("1000", "0")
    assert "GSI1PK" not in item
    reasons = [
        e["reason"]["S"]
        for e in table_items(dynamodb_client, table_name)
        if e["SK"]["S"].startswith("ENTRY#") and e["reason"]["S"].startswith("coupon-")
    ]
    assert reasons == ["coupon-expired:discount-10"]


@pytest.mark.usefixtures("member_with_points")
def test_an_erased_members_coupon_expires_without_a_marketing_warning(
    clock, queue, outbox, dynamodb_client, table_name
):
    """Erasure withdraws the marketing consent: the job still expires the coupon (account
    history, the member id only), but no `coupon.expiring` reaches marketing tools."""
    (code,) = issue(clock)
    assert outbox() == [("coupon.issued", code)]
    clock.set("2026-12-01T10:00:00Z")
    erased = call(
        admin_app.handler,
        http_event("DELETE", "/members/{memberId}", {"memberId": MEMBER}, claims=ADMIN),
    )
    assert erased.status == 204, erased.body

    daily(queue, clock, "2027-02-01", "2027-02-09")
    assert status_of(dynamodb_client, table_name, code) == ("expired", "expired")
    assert outbox() == [("coupon.expired", code)]
