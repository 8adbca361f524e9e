"""Outbound domain events from one stream record's images (pure)."""

import json
import re
import uuid
from decimal import Decimal

import pytest

from loyalty.domain.outbound import (
    DETAIL_TYPES,
    PERSONAL_FIELDS,
    OutboundEvent,
    assert_no_personal_data,
    event_id,
    events_for_change,
    needs_marketing_consent,
)
from tests.support.events import EVENTS_DIR

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

PERSONAL = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "birthday": "1815-12-10",
}


def entry(entry_type="earn", reason="purchase", points=1000, **extra):
    return {
        "PK": "MEMBER#c-42",
        "SK": f"ENTRY#2026-11-10T10:00:00Z0001-{reason}",
        "itemType": "entry",
        "entryId": f"2026-11-10T10:00:00Z0001-{reason}",
        "memberId": "c-42",
        "entryType": entry_type,
        "reason": reason,
        "points": Decimal(points),
        "occurredAt": "2026-11-10T10:00:00Z",
        "reference": "o-1001",
        "details": {"eligibleAmount": "10.00"},
        "recordedAt": "2026-11-10T10:00:05Z",
        **extra,
    }


def profile(tier="Bronze", version=3, tier_points=900, **extra):
    return {
        "PK": "MEMBER#c-42",
        "SK": "PROFILE",
        "itemType": "member",
        "memberId": "c-42",
        "tier": tier,
        "tierPoints": Decimal(tier_points),
        "balance": Decimal(tier_points),
        "version": Decimal(version),
        "referralCode": "ABCDEFGH",
        "enrolledAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-11-10T10:00:05Z",
        **extra,
    }


def kinds(events):
    return [event.detail_type for event in events]


@pytest.mark.parametrize(
    ("entry_type", "points", "kind"),
    [
        ("earn", 1000, "points.earned"),
        ("redeem", -1000, "points.redeemed"),
        ("reverse", -250, "points.reversed"),
        ("expire", -100, "points.expired"),
        ("adjust", 40, "points.adjusted"),
    ],
)
def test_a_new_entry_is_one_event_of_its_type(entry_type, points, kind):
    events = events_for_change(None, entry(entry_type, "some-reason", points))

    assert kinds(events) == [kind]
    detail = events[0].detail
    assert detail == {
        "eventId": events[0].event_id,
        "memberId": "c-42",
        "occurredAt": "2026-11-10T10:00:00Z",
        "entryId": "2026-11-10T10:00:00Z0001-some-reason",
        "points": points,
        "reason": "some-reason",
        "reference": "o-1001",
    } | ({"refundId": None} if kind == "points.reversed" else {})
    assert type(detail["points"]) is int
    json.dumps(detail)  # JSON-ready as it is


def test_a_reversal_names_its_refund():
    reversal = entry("reverse", "purchase", -500, details={"refundId": "r-1", "refundAmount": "5"})
    (event,) = events_for_change(None, reversal)
    assert (event.detail["reference"], event.detail["refundId"]) == ("o-1001", "r-1")
    assert "refundAmount" not in event.detail


def test_a_birthday_bonus_is_also_a_birthday_event():
    events = events_for_change(None, entry("earn", "birthday-bonus", 1500, reference="2026"))

    assert kinds(events) == ["points.earned", "birthday.bonus-granted"]
    bonus = events[1].detail
    assert bonus["points"] == 1500 and bonus["reference"] == "2026"
    assert events[0].event_id != events[1].event_id


@pytest.mark.parametrize(
    ("reason", "milestone", "count"),
    [
        ("order-milestone-100", "order", 100),
        ("tenure-milestone-2", "tenure", 2),
        ("tenure-milestone-x", "tenure", None),
    ],
)
def test_a_milestone_earning_is_also_a_milestone_event(reason, milestone, count):
    events = events_for_change(None, entry("earn", reason, 1000))

    assert kinds(events) == ["points.earned", "milestone.reached"]
    detail = events[1].detail
    assert (detail["milestone"], detail["count"], detail["points"]) == (milestone, count, 1000)
    assert detail["reason"] == reason


def test_milestone_and_birthday_reasons_on_spending_entries_are_not_earnings():
    assert kinds(events_for_change(None, entry("reverse", "order-milestone-100", -1000))) == [
        "points.reversed"
    ]


def test_an_entry_rewritten_or_deleted_is_no_event():
    assert events_for_change(entry(), entry()) == []
    assert events_for_change(entry(), None) == []
    assert events_for_change(None, entry("transfer")) == []


def test_a_tier_change_carries_from_and_to():
    events = events_for_change(profile("Bronze", 3), profile("Silver", 4, tier_points=1200))

    assert kinds(events) == ["tier.changed"]
    assert events[0].detail == {
        "eventId": events[0].event_id,
        "memberId": "c-42",
        "occurredAt": "2026-11-10T10:00:05Z",
        "from": "Bronze",
        "to": "Silver",
        "direction": "up",
        "tierPoints": 1200,
        "version": 4,
    }


def test_a_demotion_is_a_tier_change_down():
    (event,) = events_for_change(profile("Gold", 7), profile("Silver", 8))
    assert (event.detail["from"], event.detail["to"], event.detail["direction"]) == (
        "Gold",
        "Silver",
        "down",
    )


def test_a_profile_change_without_a_new_tier_is_no_event():
    assert events_for_change(profile("Silver", 4), profile("Silver", 5, tier_points=2000)) == []
    assert events_for_change(profile("Silver", 4), None) == []


def test_a_member_created_above_the_first_tier_changed_tier_from_bronze():
    (event,) = events_for_change(None, profile("Silver", 1, tier_points=1500))
    assert (event.detail["from"], event.detail["to"]) == ("Bronze", "Silver")
    assert events_for_change(None, profile("Bronze", 1)) == []


def test_tier_change_ids_differ_per_version_and_repeat_per_redelivery():
    first = events_for_change(profile("Bronze", 3), profile("Silver", 4))
    again = events_for_change(profile("Bronze", 3), profile("Silver", 4))
    back_up = events_for_change(profile("Bronze", 9), profile("Silver", 10))

    assert first == again
    assert first[0].event_id != back_up[0].event_id


def test_an_expiry_warning_is_a_points_expiring_event():
    warning = {
        "PK": "MEMBER#c-42",
        "SK": "WARNING#2026-12-10#lot-1",
        "itemType": "expiryWarning",
        "memberId": "c-42",
        "points": Decimal(300),
        "expiresAt": "2026-12-10T10:00:00Z",
        "lotId": "lot-1",
        "createdAt": "2026-11-10T00:00:00Z",
    }

    (event,) = events_for_change(None, warning)
    assert event.detail_type == "points.expiring"
    assert event.detail == {
        "eventId": event.event_id,
        "memberId": "c-42",
        "occurredAt": "2026-11-10T00:00:00Z",
        "lotId": "lot-1",
        "points": 300,
        "expiresAt": "2026-12-10T10:00:00Z",
    }
    assert events_for_change(warning, warning) == []


def referral(status, points=0):
    return {
        "PK": "MEMBER#c-1",
        "SK": "REFERRAL#c-2",
        "itemType": "referral",
        "referrerId": "c-1",
        "refereeId": "c-2",
        "code": "ABCDEFGH",
        "status": status,
        "points": Decimal(points),
        "createdAt": "2026-11-01T00:00:00Z",
        "completedAt": "2026-11-10T10:00:05Z" if status == "completed" else None,
    }


def test_a_referral_that_completes_is_one_event():
    (event,) = events_for_change(referral("pending"), referral("completed", 70))

    assert event.detail_type == "referral.completed"
    assert event.detail == {
        "eventId": event.event_id,
        "memberId": "c-1",
        "occurredAt": "2026-11-10T10:00:05Z",
        "referrerId": "c-1",
        "refereeId": "c-2",
        "points": 70,
    }
    assert kinds(events_for_change(None, referral("completed", 70))) == ["referral.completed"]
    assert events_for_change(None, referral("pending")) == []
    assert events_for_change(referral("completed", 70), referral("completed", 70)) == []


def test_a_new_promotion_is_a_promotion_event_without_member():
    promotion = {
        "PK": "PROMOTION#bf-2026",
        "SK": "PROMOTION",
        "itemType": "promotion",
        "promotionId": "bf-2026",
        "name": "Black Friday double points",
        "start": "2026-11-27",
        "end": "2026-11-30",
        "multiplier": Decimal("2"),
        "createdAt": "2026-11-01T00:00:00Z",
    }

    (event,) = events_for_change(None, promotion)
    assert event.detail_type == "promotion.started"
    assert "memberId" not in event.detail and event.member_id is None
    assert event.detail["multiplier"] == "2"
    assert event.detail["promotionName"] == "Black Friday double points"
    assert (event.detail["start"], event.detail["end"]) == ("2026-11-27", "2026-11-30")
    (half,) = events_for_change(None, promotion | {"multiplier": Decimal("1.50")})
    assert half.detail["multiplier"] == "1.5"


def coupon(status="issued", **extra):
    """The coupon item (`COUPON#<code>`) as its stream images carry it."""
    return {
        "PK": "COUPON#LOY-7KQ2-MB9D-X4TZ",
        "SK": "COUPON",
        "itemType": "coupon",
        "memberId": "c-42",
        "redemptionId": "rdm-1",
        "rewardId": "discount-10",
        "rewardName": "10% off",
        "rewardKind": "discount",
        "discountPercent": Decimal(10),
        "pointsSpent": Decimal(1000),
        "couponCode": "LOY-7KQ2-MB9D-X4TZ",
        "couponStatus": status,
        "issuedAt": "2026-12-10T12:00:00Z",
        "couponExpiresAt": "2027-03-10T12:00:00Z",
        "GSI1PK": "COUPONS#3",
        "GSI1SK": "2027-03-03T12:00:00Z#c-42#LOY-7KQ2-MB9D-X4TZ",
        **extra,
    }


COUPON_DETAIL = {
    "memberId": "c-42",
    "code": "LOY-7KQ2-MB9D-X4TZ",
    "rewardId": "discount-10",
    "kind": "discount",
    "discountPercent": 10,
    "points": 1000,
    "expiresAt": "2027-03-10T12:00:00Z",
}
WARNED = {"couponWarnedAt": "2027-03-03T01:00:00Z"}


def test_a_coupon_issued_used_voided_warned_and_expired_is_one_event_each():
    (issued,) = events_for_change(None, coupon())
    assert issued.detail == {
        "eventId": issued.event_id,
        "occurredAt": "2026-12-10T12:00:00Z",
        **COUPON_DETAIL,
    }
    used_item = coupon("used", couponUsedAt="2026-12-14T09:30:00Z", couponUsedBy="o-5531")
    (used,) = events_for_change(coupon(), used_item)
    assert used.detail_type == "coupon.used"
    assert used.detail["orderId"] == "o-5531"
    assert used.detail["occurredAt"] == "2026-12-14T09:30:00Z"
    voided_item = coupon(
        "voided",
        couponVoidedAt="2026-12-11T08:00:00Z",
        couponReturned=Decimal(600),
        couponExpired=Decimal(400),
    )
    (voided,) = events_for_change(coupon(), voided_item)
    assert voided.detail_type == "coupon.voided"
    assert (voided.detail["pointsReturned"], voided.detail["pointsExpired"]) == (600, 400)
    (warned,) = events_for_change(coupon(), coupon(**WARNED))
    assert warned.detail == {
        "eventId": warned.event_id,
        "occurredAt": "2027-03-03T01:00:00Z",
        **COUPON_DETAIL,
    }
    assert warned.detail_type == "coupon.expiring"
    expired_item = coupon("expired", couponExpiredAt="2027-03-11T01:00:00Z", **WARNED)
    (expired,) = events_for_change(coupon(**WARNED), expired_item)
    assert expired.detail_type == "coupon.expired"
    assert expired.detail["occurredAt"] == "2027-03-11T01:00:00Z"
    assert "pointsReturned" not in expired.detail  # an expired coupon's points stay spent
    ids = {e.event_id for e in (issued, used, voided, warned, expired)}
    assert len(ids) == 5


def test_a_coupon_change_that_is_no_transition_is_no_event():
    warned = coupon(**WARNED)
    assert events_for_change(warned, warned) == []  # a redelivered warning is no new change
    assert events_for_change(coupon("used"), coupon("used")) == []
    # Warned in the same write as it expired is not possible, but an expired coupon is never
    # "expiring": only the expiry is told.
    both = coupon("expired", couponExpiredAt="2027-03-11T01:00:00Z", **WARNED)
    assert kinds(events_for_change(coupon(), both)) == ["coupon.expired"]
    assert events_for_change(coupon("used"), coupon("voided")) == []
    assert events_for_change(coupon(), None) == []


def test_the_redemption_copy_of_a_coupon_is_no_event():
    copy = coupon() | {"PK": "MEMBER#c-42", "SK": "SPEND#rdm-1", "itemType": "redemption"}
    assert events_for_change(None, copy) == []
    assert events_for_change(copy, copy | {"couponStatus": "used"}) == []


@pytest.mark.parametrize(
    "item_type", ["lot", "order", "refund", "redemption", "reviewMarker", "spend"]
)
def test_other_items_are_no_event(item_type):
    item = entry() | {"itemType": item_type}
    assert events_for_change(None, item) == []
    assert events_for_change(item, item | {"points": Decimal(1)}) == []


def test_items_without_a_type_or_deleted_are_no_event():
    assert events_for_change(None, {"PK": "X", "SK": "Y"}) == []
    assert events_for_change(profile(), None) == []
    assert events_for_change(None, None) == []


def test_event_ids_are_stable_uuid_shaped_and_distinct_per_item_and_kind():
    one = event_id("MEMBER#c-42", "ENTRY#1", "points.earned")
    assert one == event_id("MEMBER#c-42", "ENTRY#1", "points.earned")
    parsed = uuid.UUID(one)
    assert parsed.version == 8 and parsed.variant == uuid.RFC_4122
    assert one != event_id("MEMBER#c-42", "ENTRY#2", "points.earned")
    assert one != event_id("MEMBER#c-42", "ENTRY#1", "milestone.reached")
    assert one != event_id("MEMBER#c-4", "2ENTRY#1", "points.earned")  # no ambiguous joins


def test_redelivery_gives_the_same_events():
    new = entry("earn", "order-milestone-100", 1000)
    assert events_for_change(None, new) == events_for_change(None, dict(new))


def test_observed_at_is_the_time_of_items_without_one():
    warning = {"PK": "M", "SK": "W", "itemType": "expiryWarning", "memberId": "c-1"}
    (event,) = events_for_change(None, warning, observed_at="2026-11-10T10:00:09Z")
    assert event.detail["occurredAt"] == "2026-11-10T10:00:09Z"


def _all_strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _all_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _all_strings(item)
    elif value is not None:
        yield str(value)


def changes_of_every_kind():
    """Changes that make every detail type, their images full of personal data."""
    member_before = profile("Bronze", 3) | PERSONAL
    member_after = profile("Gold", 4, tier_points=6000) | PERSONAL
    changes = [
        (member_before, member_after),
        (None, profile("Silver", 1, tier_points=2000) | PERSONAL),
        *[
            (None, entry(kind, reason, 1500) | PERSONAL)
            for kind in ("earn", "redeem", "reverse", "expire", "adjust")
            for reason in ("birthday-bonus", "order-milestone-100", "tenure-milestone-2")
        ],
        (
            None,
            {
                "PK": "MEMBER#c-42",
                "SK": "WARNING#1",
                "itemType": "expiryWarning",
                "memberId": "c-42",
                "points": Decimal(5),
                "expiresAt": "2026-12-01T00:00:00Z",
                "lotId": "l-1",
            }
            | PERSONAL,
        ),
        (referral("pending") | PERSONAL, referral("completed", 70) | PERSONAL),
        (
            None,
            {
                "PK": "MEMBER#c-2",
                "SK": "REFERRAL-REFUSED#o-9",
                "itemType": "referralRefusal",
                "refereeId": "c-2",
                "orderId": "o-9",
                "code": "ZZZZZZZZ",
                "reason": "unknown referral code",
                "recordedAt": "2026-11-10T10:00:07Z",
            }
            | PERSONAL,
        ),
        (
            None,
            {
                "PK": "PROMOTION#p",
                "SK": "PROMOTION",
                "itemType": "promotion",
                "name": "Winter sale",
                "start": "2026-12-20",
                "end": "2026-12-25",
                "multiplier": Decimal(2),
            }
            | {key: value for key, value in PERSONAL.items() if key != "name"},
        ),
        (None, coupon() | PERSONAL),
        (
            coupon() | PERSONAL,
            coupon("used", couponUsedAt="2026-12-14T09:30:00Z", couponUsedBy="o-1") | PERSONAL,
        ),
        (
            coupon() | PERSONAL,
            coupon(
                "voided",
                couponVoidedAt="2026-12-11T08:00:00Z",
                couponReturned=Decimal(1000),
                couponExpired=Decimal(0),
            )
            | PERSONAL,
        ),
        (coupon() | PERSONAL, coupon(**WARNED) | PERSONAL),
        (
            coupon(**WARNED) | PERSONAL,
            coupon("expired", couponExpiredAt="2027-03-11T01:00:00Z", **WARNED) | PERSONAL,
        ),
        (None, badge_marker(challenge=True) | PERSONAL),
    ]

    return changes


def test_no_personal_data_in_any_event():
    """Images full of personal data: none of it reaches any event, under any detail type."""
    changes = changes_of_every_kind()
    events = [event for old, new in changes for event in events_for_change(old, new)]

    assert set(kinds(events)) == set(DETAIL_TYPES)  # every kind was exercised
    personal_values = set(PERSONAL.values())
    for event in events:
        assert_no_personal_data(event)
        assert not PERSONAL_FIELDS & set(event.detail), event
        leaked = personal_values & set(_all_strings(event.detail))
        assert not leaked, (event.detail_type, leaked)
        text = json.dumps(event.detail)
        # whole words: the event ids are random hex, which can hold "ada" or "7946"
        assert not re.search(r"\bada\b|lovelace|example\.com|\b7946\b|\b1815\b", text, re.I), text


def test_assert_no_personal_data_refuses_a_personal_field():
    with pytest.raises(ValueError, match="email"):
        assert_no_personal_data(OutboundEvent("id", "points.earned", {"email": "x@y.z"}))


def test_marketing_events_about_a_member_need_consent_and_ledger_movements_do_not():
    kinds = {
        event.detail_type: needs_marketing_consent(event)
        for event in events_for_change(None, entry("earn", "birthday-bonus", 1500))
    }
    assert kinds == {"points.earned": False, "birthday.bonus-granted": True}
    assert needs_marketing_consent(OutboundEvent("id", "tier.changed", {"memberId": "m"}))
    assert needs_marketing_consent(OutboundEvent("id", "points.expiring", {"memberId": "m"}))
    # A coupon's expiry warning is marketing, like the points'; its life is account history.
    assert needs_marketing_consent(OutboundEvent("id", "coupon.expiring", {"memberId": "m"}))
    for kind in ("coupon.issued", "coupon.used", "coupon.voided", "coupon.expired"):
        assert not needs_marketing_consent(OutboundEvent("id", kind, {"memberId": "m"}))
    assert not needs_marketing_consent(OutboundEvent("id", "promotion.started", {}))


def test_the_samples_in_events_outbound_have_the_fields_the_domain_makes():
    made = {
        event.detail_type: event
        for old, new in changes_of_every_kind()
        for event in events_for_change(old, new)
    }
    for kind, event in made.items():
        sample = json.loads((EVENTS_DIR / "outbound" / f"{kind}.json").read_text())
        assert set(sample["detail"]) == set(event.detail), kind


def badge_marker(*, challenge: bool) -> dict[str, object]:
    return {
        "PK": "MEMBER#c-42",
        "SK": "BADGE#december-orders",
        "itemType": "badgeMarker",
        "memberId": "c-42",
        "badgeId": "december-orders",
        "challenge": challenge,
        "points": Decimal(300),
        "recordedAt": "2026-12-09T12:00:00Z",
    }


def test_a_badge_marker_is_a_badge_earned_and_a_challenge_also_completes():
    badge = events_for_change(None, badge_marker(challenge=False))
    challenge = events_for_change(None, badge_marker(challenge=True))

    assert kinds(badge) == ["badge.earned"]
    assert badge[0].detail == {
        "eventId": badge[0].event_id,
        "memberId": "c-42",
        "occurredAt": "2026-12-09T12:00:00Z",
        "badgeId": "december-orders",
        "points": 300,
        "challenge": False,
    }
    assert kinds(challenge) == ["badge.earned", "challenge.completed"]
    assert challenge[0].event_id != challenge[1].event_id
    # A redelivered insert gives the same ids; a later change of the marker, nothing.
    assert events_for_change(None, badge_marker(challenge=True)) == challenge
    assert events_for_change(badge_marker(challenge=True), badge_marker(challenge=True)) == []
