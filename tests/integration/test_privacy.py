"""Privacy (GDPR/CCPA): a member's export and erasure, with real HTTP API v2 events on
DynamoDB Local; after an erasure no personal data is left anywhere in the table, and no
personal data ever reaches the logs."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from functions.admin_api import app as admin_app
from loyalty.dal import keys
from tests.support.api import (
    ACTIVITY,
    GET_MEMBER,
    MEMBER_COUPONS,
    REFERRALS,
    all_activity,
    balance,
    enroll,
    member,
    order,
    play_orders,
    redeem,
    request,
    review,
    share,
    table_items,
)
from tests.support.events import FakeLambdaContext, refunded, sqs_event
from tests.support.http import ADMIN, SERVICE, Reply, call, http_event, member_token
from tests.support.schedules import run_daily

pytestmark = pytest.mark.usefixtures("table_name", "clock")

PERSONAL = {
    "name": "Grace Hopper",
    "email": "Grace.Hopper@Example.org",
    "phone": "+1 202 555 0147",
    "birthday": "1906-12-09",
}
# What must never be found once the member is erased (nor, ever, in a log line). Whole words:
# ids and timestamps are random hex and digits, which can hold "1906" or "5550147".
TRACES = ("grace", "hopper", "example.org", "555 0147", "5550147", "1906-12-09", "1906")


def traces_in(text: str, traces: tuple[str, ...] = TRACES) -> list[str]:
    return [t for t in traces if re.search(rf"(?<![0-9a-z]){re.escape(t)}(?![0-9a-z])", text)]


def export(member_id: str, claims: dict[str, Any] | None = None) -> Reply:
    event = http_event(
        "GET",
        "/members/{memberId}/export",
        {"memberId": member_id},
        claims=claims if claims is not None else member_token(member_id),
    )
    return call(admin_app.handler, event)


def erase(member_id: str, claims: dict[str, Any] | None = None) -> Reply:
    event = http_event(
        "DELETE",
        "/members/{memberId}",
        {"memberId": member_id},
        claims=claims if claims is not None else member_token(member_id),
    )
    return call(admin_app.handler, event)


def full_member(member_id: str = "m-1", personal: dict[str, str] | None = None) -> None:
    """Enrolled with every personal field, orders (one refunded in part), a review, a
    share and a redemption."""
    fields = personal or PERSONAL
    assert enroll(member_id, **fields, marketingConsent=True).status == 201
    play_orders(
        order(f"o-{member_id}-1", member_id, "12.00"),
        order(f"o-{member_id}-2", member_id, "3.00", at="2026-11-28T10:00:00Z"),
        refunded(f"o-{member_id}-2", f"r-{member_id}", member_id, "1.00"),
    )
    assert review(member_id, "SKU-1", "rev-1").status == 201
    assert share(member_id, "https://social.example.net/p/1").status == 201
    assert redeem(member_id, "free-shipping", key="k-1").status == 201


# ---- export ---------------------------------------------------------------------------------


def test_a_member_exports_every_personal_field_and_every_entry():
    full_member()
    reply = export("m-1")
    assert reply.status == 200, reply.body
    profile = reply.body["profile"]
    assert {name: profile[name] for name in ("name", "phone", "birthday")} == {
        "name": "Grace Hopper",
        "phone": "+1 202 555 0147",
        "birthday": "1906-12-09",
    }
    assert profile["email"] == "grace.hopper@example.org"
    assert profile["marketingConsent"] is True
    assert profile["memberId"] == "m-1" and profile["referralCode"]
    assert profile["balance"] == balance("m-1")
    ledger = all_activity("m-1")
    assert sorted(e["entryId"] for e in reply.body["activity"]) == sorted(
        e["entryId"] for e in ledger
    )
    assert sum(e["points"] for e in reply.body["activity"]) == balance("m-1")


def test_the_export_lists_the_members_coupons_with_their_status():
    full_member()  # one redemption: a free-shipping coupon
    assert redeem("m-1", "free-shipping", key="k-2").status == 201
    coupons = request(MEMBER_COUPONS, "m-1").body["items"]
    reply = export("m-1")
    assert reply.status == 200, reply.body
    exported = reply.body["coupons"]
    assert [c["code"] for c in exported] == [c["code"] for c in coupons] and len(exported) == 2
    assert {(c["rewardId"], c["status"]) for c in exported} == {("free-shipping", "active")}
    assert all(c["memberId"] == "m-1" for c in exported)


@pytest.mark.parametrize(
    "claims,status",
    [
        (ADMIN, 200),
        (SERVICE, 403),  # the storefront's backend has no business reading a whole profile
        (member_token("m-2"), 403),
        ({}, 401),
    ],
)
def test_who_may_export(claims, status):
    full_member()
    reply = export("m-1", claims=claims or {"iss": "nobody"})
    assert reply.status == status, reply.body


def test_exporting_an_unknown_member_is_404():
    assert export("nobody").status == 404


# ---- erasure ----------------------------------------------------------------------------------


def test_erasure_leaves_no_personal_data_in_the_table_and_keeps_the_ledger(
    dynamodb_client, table_name
):
    full_member("m-1")
    other = {"name": "Ada King", "email": "ada@example.com", "phone": "+44 20 7946 0001"}
    full_member("m-2", other)  # another member, untouched
    held = balance("m-1")
    assert held > 0
    entries_before = all_activity("m-1")

    reply = erase("m-1")
    assert reply.status == 204, reply.body

    for route in (GET_MEMBER, ACTIVITY, REFERRALS):
        assert request(route, "m-1").status == 404, route
    assert export("m-1").status == 404
    assert erase("m-1").status == 404

    items = table_items(dynamodb_client, table_name)
    mine = [i for i in items if "m-1" in json.dumps(i) or "M-1" in json.dumps(i)]
    text = json.dumps(mine).lower()
    assert not traces_in(text), traces_in(text)
    assert not any(i["PK"]["S"] == keys.email_pk("grace.hopper@example.org") for i in items), (
        "the lookup by email is erased"
    )
    assert not any(i["SK"]["S"].startswith("SCHEDULE#") and "m-1" in i["PK"]["S"] for i in items)

    # The ledger stays under the member id: every earlier entry, plus the forfeit.
    ledger = [
        i for i in items if i["PK"]["S"] == "MEMBER#m-1" and i["SK"]["S"].startswith("ENTRY#")
    ]
    assert len(ledger) == len(entries_before) + 1
    forfeit = [i for i in ledger if i["reason"]["S"] == "erasure-forfeit"]
    assert [(i["entryType"]["S"], int(i["points"]["N"])) for i in forfeit] == [("adjust", -held)]
    assert sum(int(i["points"]["N"]) for i in ledger) == 0
    profile = next(i for i in items if i["PK"]["S"] == "MEMBER#m-1" and i["SK"]["S"] == "PROFILE")
    assert int(profile["balance"]["N"]) == 0 and "erasedAt" in profile
    # The other member is untouched; the email is free for a new member.
    assert member("m-2").status == 200
    assert enroll("m-3", email=PERSONAL["email"]).status == 201


def test_an_erased_member_earns_nothing_more_and_cannot_be_re_enrolled(snapshot):
    full_member()
    assert erase("m-1", claims=ADMIN).status == 204
    before = snapshot()
    play_orders(order("o-after", "m-1", "50.00", at="2026-12-01T10:00:00Z"))
    play_orders(refunded("o-m-1-1", "r-after", "m-1", "12.00"))
    assert review("m-1", "SKU-2", "rev-2").status == 404
    assert redeem("m-1", "free-shipping", key="k-2").status == 404
    again = enroll("m-1", **PERSONAL)
    assert again.status == 409 and "erased" in again.body["message"]
    assert snapshot() == before


def test_the_daily_jobs_leave_an_erased_member_alone(queue, snapshot, dynamodb_client, table_name):
    full_member()  # born in December: the birthday job would grant the bonus this month
    assert erase("m-1").status == 204
    for job in ("birthday", "tenure", "expiry"):
        run_daily(queue, job, "2026-12-15T00:05:00Z")
        run_daily(queue, job, "2028-01-15T00:05:00Z")  # the lots have expired by then
    items = table_items(dynamodb_client, table_name)
    ledger = [
        i for i in items if i["PK"]["S"] == "MEMBER#m-1" and i["SK"]["S"].startswith("ENTRY#")
    ]
    assert sum(int(i["points"]["N"]) for i in ledger) == 0
    assert not [i for i in ledger if i["reason"]["S"] in ("birthday-bonus", "expired")]


def test_erasure_forfeits_points_held_for_the_return_window(
    monkeypatch, queue, dynamodb_client, table_name
):
    monkeypatch.setenv("PROGRAM_RULES", '{"pendingHoldDays": 30}')
    assert enroll("m-1", **PERSONAL).status == 201
    play_orders(order("o-1", "m-1", "10.00", at="2026-12-01T10:00:00Z"))
    view = member("m-1").body
    assert view["pendingPoints"] == 1000
    assert erase("m-1").status == 204
    run_daily(queue, "expiry", "2027-01-05T00:05:00Z")  # past the return window
    profile = next(
        i
        for i in table_items(dynamodb_client, table_name)
        if i["PK"]["S"] == "MEMBER#m-1" and i["SK"]["S"] == "PROFILE"
    )
    assert int(profile["balance"]["N"]) == 0
    assert int(profile["pendingPoints"]["N"]) == 0


@pytest.mark.parametrize("claims", [SERVICE, member_token("m-2")])
def test_only_the_member_or_an_operator_may_erase(snapshot, claims):
    full_member()
    before = snapshot()
    assert erase("m-1", claims=claims).status == 403
    assert snapshot() == before


# ---- logs ------------------------------------------------------------------------------------


class _Everything(logging.Handler):
    """Keeps every record whole: the message and every structured field (Powertools puts
    the `extra` keys on the record), as the JSON log line would carry them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.dumps(vars(record) | {"message": record.getMessage()}, default=str))


def test_no_personal_data_reaches_the_logs(queue):
    """A whole member's life: enrollment, profile change, orders, a bad message, awards,
    redemption, a refused enrollment, export, the birthday job, erasure, with our loggers at
    DEBUG. Nothing personal in any log record. (The libraries' loggers stay at the deployed
    level: botocore's DEBUG wire log prints request bodies; never enable it in production.)"""
    capture = _Everything()
    # Powertools loggers do not propagate: attach to each of them, and to the root.
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        if logger.name in ("loyalty", "service_undefined"):
            logger.setLevel(logging.DEBUG)
    try:
        full_member()
        request(
            GET_MEMBER.__class__("PATCH", "/members/{memberId}"),
            "m-1",
            body={"phone": "+1 202 555 0148"},
        )
        bad = {
            "type": "order.completed",
            "orderId": "o-bad",
            "memberId": "m-1",
            "email": PERSONAL["email"],
            "lines": "grace hopper",
        }
        from functions.purchase_award import app as purchase_award

        purchase_award.handler(sqs_event(bad), FakeLambdaContext())
        enroll("m-9", email=PERSONAL["email"])  # refused: the email is taken
        export("m-1")
        run_daily(queue, "birthday", "2026-12-15T00:05:00Z")
        erase("m-1")
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(capture)
            logger.setLevel(level)
    text = "\n".join(capture.lines).lower()
    assert "m-1" in text and "member erased" in text  # the scenario was captured
    traces = (*TRACES, "555 0148")
    assert not traces_in(text, traces), traces_in(text, traces)
