"""Program KPIs end to end on DynamoDB Local: a mixed scenario through the real handlers, the
table's stream delivered to the KPI projector (only what the template's filter criteria let
through), and GET /admin/kpis compared with the figures recomputed here from the ledger's
own items (a scan: fine in a test, never in the code)."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

import pytest

from functions.admin_api import app as admin_app
from functions.kpi_projector import app as projector
from loyalty import stream_steps
from tests.support.api import enroll, order, play_orders, redeem, review, table_items
from tests.support.events import FakeLambdaContext, refunded
from tests.support.http import ADMIN, SERVICE, call, http_event, member_token
from tests.support.schedules import run_daily
from tests.support.streams import StreamReader, delivered_to

FUNCTION = "KpiProjectorFunction"


def kpis(claims: dict[str, Any] | None = ADMIN) -> Any:
    return call(admin_app.handler, http_event("GET", "/admin/kpis", claims=claims))


def deliver(records: list[dict[str, Any]], batch_size: int = 100) -> None:
    """As Lambda would: only the records the filter admits, in batches, in order."""
    admitted = delivered_to(FUNCTION, records)["Records"]
    for start in range(0, len(admitted), batch_size):
        event = {"Records": admitted[start : start + batch_size]}
        assert projector.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}


# ---- the figures recomputed from the table --------------------------------------------------


def _value(attribute: dict[str, Any]) -> Any:
    (kind, value), *_ = attribute.items()
    if kind == "N":
        return int(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    return value


def plain(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: _value(attribute) for name, attribute in item.items()} for item in items]


def month(instant: str) -> str:
    return instant[:7]


def expected_kpis(items: list[dict[str, Any]], today: date) -> dict[str, Any]:
    entries = [i for i in items if i["SK"].startswith("ENTRY#")]
    profiles = [i for i in items if i["SK"] == "PROFILE"]
    lots: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        if item["SK"].startswith("LOT#"):
            lots[item["memberId"]].append(item)

    issued = sum(e["points"] for e in entries if e["points"] > 0)
    redeemed = -sum(e["points"] for e in entries if e["entryType"] == "redeem")
    expired = -sum(e["points"] for e in entries if e["entryType"] == "expire")
    open_members = [p for p in profiles if "erasedAt" not in p]

    # Unspent points by expiry month: live lots in expiry order, the first
    # (debited - settledEarned) points of that order spent; held points owed in full.
    liability: Counter[str] = Counter()
    for profile in profiles:
        live = sorted(
            (lot for lot in lots[profile["memberId"]] if "settledAt" not in lot),
            key=lambda lot: (lot["expiresAt"], lot["lotId"]),
        )
        to_spend = profile["debited"] - profile["settledEarned"]
        for lot in live:
            if lot.get("availableAt"):
                liability[month(lot["expiresAt"])] += lot["points"]
                continue
            spent = min(max(to_spend, 0), lot["points"])
            to_spend -= lot["points"]
            liability[month(lot["expiresAt"])] += lot["points"] - spent

    last_active: dict[str, date] = {}
    for entry in entries:
        if entry["entryType"] != "expire":
            day = date.fromisoformat(entry["occurredAt"][:10])
            last_active[entry["memberId"]] = max(day, last_active.get(entry["memberId"], day))
    open_ids = {p["memberId"] for p in open_members}

    def active(days: int) -> int:
        since = today - timedelta(days=days - 1)
        return sum(1 for m, day in last_active.items() if m in open_ids and day >= since)

    daily = []
    for offset in range(89, -1, -1):
        day = (today - timedelta(days=offset)).isoformat()
        on_day = [e for e in entries if e["occurredAt"][:10] == day]
        daily.append(
            {
                "date": day,
                "issued": sum(e["points"] for e in on_day if e["points"] > 0),
                "redeemed": -sum(e["points"] for e in on_day if e["entryType"] == "redeem"),
                "expired": -sum(e["points"] for e in on_day if e["entryType"] == "expire"),
            }
        )
    return {
        "members": len(open_members),
        "membersByTier": {
            tier: sum(1 for p in open_members if p["tier"] == tier)
            for tier in ("Bronze", "Silver", "Gold")
        },
        "pointsIssued": issued,
        "pointsRedeemed": redeemed,
        "pointsExpired": expired,
        "pointsOutstanding": sum(e["points"] for e in entries),
        "redemptionRate": redeemed / issued if issued else 0,
        "outstandingByExpiryMonth": {m: p for m, p in sorted(liability.items()) if p},
        "enrollmentsByMonth": dict(
            sorted(Counter(month(p["enrolledAt"]) for p in profiles).items())
        ),
        "activeMembers": {"days30": active(30), "days90": active(90)},
        "daily": daily,
    }


# ---- the scenario ----------------------------------------------------------------------------


@pytest.fixture
def scenario(clock, queue, table_name, dynamodb_client) -> StreamReader:
    """Seven members over four months: orders (a Black Friday one, one so old it expires on
    arrival), a refund, redemptions, a review, the expiry job a month later, an erasure."""
    stream = StreamReader(table_name)

    clock.set("2026-08-01T09:00:00Z")
    assert enroll("m-e").status == 201  # never buys: a member, never active

    clock.set("2026-09-15T09:00:00Z")
    assert enroll("m-a").status == 201
    # Earned 2025-10-10 (1000 + 150 first purchase), expiring 2026-10-10.
    play_orders(order("o-a1", "m-a", "10.00", at="2025-10-10T10:00:00Z"))
    clock.set("2026-09-16T09:00:00Z")
    assert redeem("m-a", "free-shipping").status == 201  # 500 of the soonest-expiring
    play_orders(order("o-f1", "m-f", "3.00", at="2026-09-25T08:00:00Z"))  # enrolled by order
    # Bought once, long ago: 200 + 150 expire on 2026-11-20, which is no activity of theirs.
    play_orders(order("o-g1", "m-g", "2.00", at="2025-11-20T10:00:00Z"))

    # The KPIs follow as the stream flows, not only at the end.
    deliver(stream.read())

    run_daily(queue, "expiry", "2026-10-15T00:00:00Z")  # m-a: 1150 - 500 = 650 expire

    clock.set("2026-10-20T09:00:00Z")
    assert enroll("m-b").status == 201
    clock.set("2026-11-06T09:00:00Z")
    play_orders(order("o-c1", "m-c", "5.00", at="2026-11-05T12:00:00Z"))
    run_daily(queue, "expiry", "2026-11-21T00:00:00Z")  # m-g: 350 expire
    clock.set("2026-11-25T09:00:00Z")
    assert enroll("m-d").status == 201
    play_orders(order("o-d1", "m-d", "20.00", at="2026-11-25T10:00:00Z"))

    clock.set("2026-11-28T09:00:00Z")
    play_orders(
        order("o-b1", "m-b", "10.00", at="2026-11-27T10:00:00Z"),  # Black Friday: double
        order("o-b0", "m-b", "4.00", at="2025-06-01T10:00:00Z"),  # expired on arrival
        order("o-a2", "m-a", "30.00", at="2026-12-01T10:00:00Z"),
    )
    deliver(stream.read())

    clock.set("2026-12-02T09:00:00Z")
    play_orders(refunded("o-b1", "r-b1", "m-b", "5.00", at="2026-12-02T08:00:00Z"))
    assert redeem("m-b", "free-shipping").status == 201
    clock.set("2026-12-05T09:00:00Z")
    assert redeem("m-a", "discount-10").status == 201
    clock.set("2026-12-06T09:00:00Z")
    assert review("m-c", "P-1", "rv-1").status == 201
    clock.set("2026-12-08T09:00:00Z")
    erased = call(
        admin_app.handler,
        http_event("DELETE", "/members/{memberId}", {"memberId": "m-d"}, claims=ADMIN),
    )
    assert erased.status == 204, erased.body

    clock.set("2026-12-10T12:00:00Z")
    return stream


def test_the_kpis_equal_the_figures_recomputed_from_the_ledger(
    scenario, clock, table_name, dynamodb_client
):
    records = scenario.read()
    deliver(records)

    reply = kpis()
    assert reply.status == 200, reply.body
    items = plain(table_items(dynamodb_client, table_name))
    expected = expected_kpis(items, date(2026, 12, 10))
    assert {name: reply.body[name] for name in expected} == expected
    assert reply.body["asOf"] == "2026-12-10T12:00:00Z"

    # The scenario covers what it claims (so the comparison above is not vacuous).
    body = reply.body
    assert body["members"] == 6  # m-d erased
    assert body["enrollmentsByMonth"]["2026-11"] == 2  # m-c (by order) and m-d
    # m-b's order of 2025-06-01, processed after Black Friday's, is their first: it takes
    # the bonus over, and both its 400 and the 150 expired on arrival.
    assert body["pointsExpired"] == 650 + 400 + 150 + 350
    assert body["pointsRedeemed"] == 500 + 500 + 1000
    assert body["activeMembers"] == {"days30": 3, "days90": 4}
    assert body["membersByTier"]["Silver"] >= 1
    # Nobody owes points: every unspent point is in a month, and they add up to the balances.
    profiles = [i for i in items if i["SK"] == "PROFILE"]
    outstanding = sum(p["balance"] + p["pendingPoints"] for p in profiles)
    assert body["pointsOutstanding"] == outstanding
    assert sum(body["outstandingByExpiryMonth"].values()) == outstanding


def test_redelivered_records_change_nothing(scenario, dynamodb_client, table_name):
    records = scenario.read()
    deliver(records)
    first = kpis().body
    items = table_items(dynamodb_client, table_name)

    # Every record of the table's history again, in other batch sizes (a retried,
    # bisected delivery), then all at once.
    all_records = StreamReader(table_name).read()
    deliver(all_records, batch_size=7)
    deliver(all_records)

    assert kpis().body == first
    assert table_items(dynamodb_client, table_name) == items


def test_only_an_admin_token_reads_the_kpis(table_name, clock):
    assert kpis(member_token("m-a")).status == 403
    assert kpis(SERVICE).status == 403
    refused = kpis(None)
    assert refused.status == 401
    assert refused.body["message"]
    empty = kpis()
    assert empty.status == 200
    assert empty.body["members"] == 0
    assert empty.body["redemptionRate"] == 0
    assert len(empty.body["daily"]) == 90


def test_the_filter_lets_through_only_entries_and_profiles(scenario):
    records = scenario.read()
    admitted = delivered_to(FUNCTION, records)["Records"]
    kinds = Counter(
        ((r["dynamodb"].get("NewImage") or r["dynamodb"]["OldImage"])["itemType"]["S"])
        for r in admitted
    )
    assert set(kinds) == {"entry", "member"}
    assert len(admitted) < len(records)
    deliver(records)
    # The projector's own items never wake it.
    assert delivered_to(FUNCTION, scenario.read())["Records"] == []


def test_a_failing_step_is_retried_from_its_first_record_and_counts_once(
    table_name, clock, monkeypatch
):
    stream = StreamReader(table_name)
    play_orders(order("o-1", "m-1", "10.00"), order("o-2", "m-2", "5.00"))
    admitted = delivered_to(FUNCTION, stream.read())["Records"]
    entries = [r for r in admitted if r["dynamodb"]["NewImage"]["itemType"]["S"] == "entry"]
    assert len(entries) == 4  # each order: purchase and first-purchase bonus
    monkeypatch.setattr(stream_steps, "RECORDS_PER_STEP", 2)
    broken = copy.deepcopy(entries[2])
    del broken["dynamodb"]["NewImage"]["points"]

    # The first step fails: the whole batch is an error (Lambda bisects and retries it).
    with pytest.raises(KeyError):
        projector.handler({"Records": [broken, *entries[:2]]}, FakeLambdaContext())
    assert kpis().body["pointsIssued"] == 0

    # A later step fails: Lambda is told to retry from that step's first record.
    batch = [*entries[:2], broken, *entries[3:]]
    sequence = broken["dynamodb"]["SequenceNumber"]
    assert projector.handler({"Records": batch}, FakeLambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": sequence}]
    }
    counted = sum(int(r["dynamodb"]["NewImage"]["points"]["N"]) for r in entries[:2])
    assert kpis().body["pointsIssued"] == counted

    # The retry, from there (the record readable again), and once more in full.
    deliver(entries[2:])
    deliver(admitted)
    total = sum(int(r["dynamodb"]["NewImage"]["points"]["N"]) for r in entries)
    assert kpis().body["pointsIssued"] == total


# ---- the backfill (devtools/kpi_backfill.py) -------------------------------------------------


def test_a_backfill_gives_the_figures_of_the_live_projection(
    scenario, dynamodb_client, table_name, tmp_path
):
    from devtools.kpi_backfill import backfill, reset_projection

    deliver(scenario.read())
    live = kpis().body
    state = tmp_path / "backfill.json"

    # A table with history and no projection (as before the projector was deployed).
    assert reset_projection(dynamodb_client, table_name) > 0
    assert kpis().body != live
    result = backfill(dynamodb_client, table_name, state_file=state, page_size=25)
    assert kpis().body == live
    assert result.entries > 0 and result.members == live["members"] + 1  # m-d, erased
    assert not state.exists()

    # Again over its own projection: the same figures (idempotent).
    backfill(dynamodb_client, table_name, state_file=state, page_size=40)
    assert kpis().body == live

    # Interrupted after two pages, then resumed from the state file: the same figures.
    class Interrupted(Exception):
        pass

    pages: list[int] = []

    def stop_after_two(progress: Any) -> None:
        pages.append(progress.scanned)
        if len(pages) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        backfill(
            dynamodb_client, table_name, state_file=state, page_size=25, on_page=stop_after_two
        )
    assert state.exists()
    resumed = backfill(dynamodb_client, table_name, state_file=state, page_size=25)
    assert resumed.scanned > pages[-1]  # counted on from where it stopped
    assert kpis().body == live
