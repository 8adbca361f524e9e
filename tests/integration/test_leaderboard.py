"""The leaderboard end to end on DynamoDB Local (docs/leaderboard.md): members earn through the
real handlers, the table's stream goes to the leaderboard projector (only what the template's
filter criteria let through), the refresher runs at a given time, and GET /leaderboard answers
what a storefront would show. Dates: December 2026 outside the seasonal windows, so an order of
$10.00 earns 1000 points (plus 150 for a member's first order)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.admin_api import app as admin_app
from functions.leaderboard_projector import app as projector
from functions.leaderboard_refresher import app as refresher
from functions.members_api import app as members_app
from loyalty.dal.items import from_ddb, to_ddb
from tests.support.api import (
    PATCH_MEMBER,
    enroll,
    item_of,
    member,
    order,
    play_orders,
    redeem,
    request,
    table_items,
)
from tests.support.events import FakeLambdaContext, refunded
from tests.support.http import ADMIN, SERVICE, call, http_event, member_token
from tests.support.streams import StreamReader, delivered_to

FUNCTION = "LeaderboardProjectorFunction"
NOW = "2026-12-10T12:00:00Z"  # the services' pinned clock


def leaderboard(
    query: dict[str, str] | None = None, claims: dict[str, Any] | None = SERVICE
) -> Any:
    return call(members_app.handler, http_event("GET", "/leaderboard", claims=claims, query=query))


def board(period: str = "month", limit: int = 100) -> list[dict[str, Any]]:
    reply = leaderboard({"period": period, "limit": str(limit)})
    assert reply.status == 200, reply.body
    return list(reply.body["items"])


def choose(member_id: str, **choice: Any) -> Any:
    return request(PATCH_MEMBER, member_id, body={"leaderboard": choice})


def opt_in(member_id: str, display_name: str) -> None:
    reply = choose(member_id, optIn=True, displayName=display_name)
    assert reply.status == 200, reply.body


def deliver(stream: StreamReader, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """As Lambda would: only the records the filter admits (all new ones by default)."""
    event = delivered_to(FUNCTION, stream.read() if records is None else records)
    response = projector.handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    return event


def refresh(at: str = NOW) -> dict[str, Any]:
    event = {"time": at, "detail-type": "Scheduled Event", "source": "aws.scheduler"}
    result: dict[str, Any] = refresher.handler(event, FakeLambdaContext())
    return result


@pytest.fixture(autouse=True)
def _table(clock, table_name) -> None:
    """Every test on a fresh table, with the services' clock pinned to NOW."""


@pytest.fixture
def stream(table_name) -> StreamReader:
    return StreamReader(table_name)


def enroll_all(*member_ids: str) -> None:
    for member_id in member_ids:
        assert enroll(member_id).status == 201


# ---- opt-in -------------------------------------------------------------------------------


def test_a_member_who_has_not_opted_in_is_never_listed(stream):
    enroll_all("m-a", "m-b")
    play_orders(order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"))
    deliver(stream)
    refresh()

    assert board("month") == []
    assert board("all") == []
    assert member("m-a").body["leaderboard"] == {"optIn": False, "displayName": None}


def test_opting_in_lists_the_member_under_their_display_name_after_the_refresh(stream):
    enroll_all("m-a", "m-b")
    play_orders(
        order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"),
        order("o-b", "m-b", "20.00", at="2026-12-05T11:00:00Z"),
    )
    deliver(stream)
    opt_in("m-a", "Ace Shopper")
    deliver(stream)
    assert board("month") == []  # not before the refresh

    refresh()

    assert board("month") == [{"rank": 1, "displayName": "Ace Shopper", "points": 1150}]
    assert board("all") == [{"rank": 1, "displayName": "Ace Shopper", "points": 1150}]
    assert member("m-a").body["leaderboard"] == {"optIn": True, "displayName": "Ace Shopper"}


def test_the_answer_holds_no_member_id_email_or_name(stream):
    enroll_all("m-private")
    opt_in("m-private", "Quiet One")
    play_orders(order("o-1", "m-private", "10.00", at="2026-12-05T10:00:00Z"))
    deliver(stream)
    refresh()

    reply = leaderboard({"period": "all"})

    assert reply.status == 200
    assert set(reply.body) == {"period", "periodStart", "refreshedAt", "items"}
    assert [set(row) for row in reply.body["items"]] == [{"rank", "displayName", "points"}]
    text = json.dumps(reply.body)
    for personal in ("m-private", "m-private@example.com", "Member m-private"):
        assert personal not in text


# ---- ordering -----------------------------------------------------------------------------


def test_most_points_first_equal_points_share_a_rank_listed_by_display_name(stream):
    enroll_all("m-1", "m-2", "m-3", "m-4", "m-5")
    for member_id, name in [
        ("m-1", "Top"),
        ("m-2", "zed"),
        ("m-3", "Amy"),
        ("m-4", "Low"),
        ("m-5", "Bea"),
    ]:
        opt_in(member_id, name)
    play_orders(
        order("o-1", "m-1", "20.00", at="2026-12-02T10:00:00Z"),  # 2150
        order("o-2", "m-2", "10.00", at="2026-12-03T10:00:00Z"),  # 1150
        order("o-3", "m-3", "10.00", at="2026-12-04T10:00:00Z"),  # 1150
        order("o-5", "m-5", "10.00", at="2026-12-04T11:00:00Z"),  # 1150
        order("o-4", "m-4", "5.00", at="2026-12-05T10:00:00Z"),  # 650
    )
    deliver(stream)
    refresh()

    expected = [
        {"rank": 1, "displayName": "Top", "points": 2150},
        {"rank": 2, "displayName": "Amy", "points": 1150},
        {"rank": 2, "displayName": "Bea", "points": 1150},
        {"rank": 2, "displayName": "zed", "points": 1150},
        {"rank": 5, "displayName": "Low", "points": 650},
    ]
    assert board("month") == expected
    assert board("month", limit=3) == expected[:3]
    # The default: the month, ten at most.
    default = leaderboard()
    assert default.body["period"] == "month"
    assert default.body["items"] == expected
    # Refreshing again changes nothing: the order is deterministic.
    refresh("2026-12-10T12:01:00Z")
    assert board("month") == expected


def test_points_earned_are_lowered_by_a_refund_not_by_a_redemption(stream, clock):
    enroll_all("m-a")
    opt_in("m-a", "Ace")
    play_orders(order("o-a", "m-a", "20.00", at="2026-12-02T10:00:00Z"))  # 2150
    assert redeem("m-a", "discount-10").status == 201  # spends 1000: earned stays
    play_orders(refunded("o-a", "r-a", "m-a", "5.00", at="2026-12-03T10:00:00Z"))  # -500
    deliver(stream)
    refresh()

    assert board("month") == [{"rank": 1, "displayName": "Ace", "points": 1650}]


# ---- periods ------------------------------------------------------------------------------


def test_the_month_counts_the_current_month_only_all_time_counts_everything(stream):
    enroll_all("m-a", "m-b")
    opt_in("m-a", "Ace")
    opt_in("m-b", "Bee")
    play_orders(
        order("o-a1", "m-a", "30.00", at="2026-11-10T10:00:00Z"),  # November: 3150
        order("o-a2", "m-a", "5.00", at="2026-12-05T10:00:00Z"),  # December: 500
        order("o-b1", "m-b", "10.00", at="2026-12-06T10:00:00Z"),  # December: 1150
    )
    deliver(stream)
    refresh()

    month = leaderboard({"period": "month"}).body
    assert month["periodStart"] == "2026-12-01T00:00:00Z"
    assert month["refreshedAt"] == NOW
    assert month["items"] == [
        {"rank": 1, "displayName": "Bee", "points": 1150},
        {"rank": 2, "displayName": "Ace", "points": 500},
    ]
    everything = leaderboard({"period": "all"}).body
    assert everything["periodStart"] is None
    assert everything["items"] == [
        {"rank": 1, "displayName": "Ace", "points": 3650},
        {"rank": 2, "displayName": "Bee", "points": 1150},
    ]


def test_the_month_rolls_over_by_the_time_the_refresher_is_given(stream):
    enroll_all("m-a")
    opt_in("m-a", "Ace")
    play_orders(order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"))
    deliver(stream)
    refresh("2026-12-31T23:59:00Z")
    assert board("month") == [{"rank": 1, "displayName": "Ace", "points": 1150}]

    refresh("2027-01-01T00:00:00Z")

    january = leaderboard({"period": "month"}).body
    assert january["periodStart"] == "2027-01-01T00:00:00Z"
    assert january["items"] == []
    assert board("all") == [{"rank": 1, "displayName": "Ace", "points": 1150}]
    # A late or replayed run never takes the board back to December.
    refresh("2026-12-31T23:59:00Z")
    assert leaderboard({"period": "month"}).body["periodStart"] == "2027-01-01T00:00:00Z"


def test_before_the_first_refresh_the_board_is_empty():
    reply = leaderboard({"period": "month"})

    assert reply.status == 200
    assert reply.body == {
        "period": "month",
        "periodStart": "2026-12-01T00:00:00Z",
        "refreshedAt": None,
        "items": [],
    }


def test_a_container_answers_from_the_board_it_read_for_ten_seconds(
    stream, dynamodb_client, table_name, monkeypatch
):
    """Every caller reads the one board item: a container keeps it for BOARD_CACHE_SECONDS.
    Another container's refresh shows once that has passed; this container's own at once."""
    from loyalty.dal import leaderboard as boards

    seconds = [1000.0]
    monkeypatch.setattr(boards._boards_read, "clock", lambda: seconds[0])
    enroll_all("m-a")
    opt_in("m-a", "Ace")
    play_orders(order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"))
    deliver(stream)
    assert board("all") == []  # read before the first refresh: remembered as empty
    refresh()  # this container's own refresh: shown at once
    listed = [{"rank": 1, "displayName": "Ace", "points": 1150}]
    assert board("all") == listed

    # Another container's refresher writes a newer board.
    newer = from_ddb(item_of(dynamodb_client, table_name, "LEADERBOARD", "BOARD#all") or {})
    newer["rows"] = [{"rank": 1, "displayName": "Ace", "points": 2300}]
    newer["refreshedAtMs"] += 60_000
    dynamodb_client.put_item(TableName=table_name, Item=to_ddb(newer))
    seconds[0] += boards.BOARD_CACHE_SECONDS - 0.5
    assert board("all") == listed

    seconds[0] += 0.5
    assert board("all") == [{"rank": 1, "displayName": "Ace", "points": 2300}]


# ---- leaving the board --------------------------------------------------------------------


def test_opting_out_removes_the_member_at_the_next_refresh(stream, dynamodb_client, table_name):
    enroll_all("m-a", "m-b")
    opt_in("m-a", "Ace")
    opt_in("m-b", "Bee")
    play_orders(
        order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"),
        order("o-b", "m-b", "5.00", at="2026-12-05T11:00:00Z"),
    )
    deliver(stream)
    refresh()
    assert [row["displayName"] for row in board("all")] == ["Ace", "Bee"]

    assert choose("m-a", optIn=False).status == 200
    deliver(stream)
    refresh("2026-12-10T12:01:00Z")

    assert board("all") == [{"rank": 1, "displayName": "Bee", "points": 650}]
    assert board("month") == [{"rank": 1, "displayName": "Bee", "points": 650}]
    score = item_of(dynamodb_client, table_name, "MEMBER#m-a", "LEADERBOARD#SCORE#all")
    assert score is not None and score["points"] == {"N": "1150"}
    assert "displayName" not in score and "GSI1PK" not in score
    # Opting in again lists the points earned meanwhile too.
    opt_in("m-a", "Ace")
    deliver(stream)
    refresh("2026-12-10T12:02:00Z")
    assert [row["displayName"] for row in board("all")] == ["Ace", "Bee"]


def test_erasure_removes_the_member_and_their_display_name(stream, dynamodb_client, table_name):
    enroll_all("m-a", "m-b")
    opt_in("m-a", "Ace Of Spades")
    opt_in("m-b", "Bee")
    play_orders(
        order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"),
        order("o-b", "m-b", "5.00", at="2026-12-05T11:00:00Z"),
    )
    deliver(stream)
    refresh()
    assert [row["displayName"] for row in board("all")] == ["Ace Of Spades", "Bee"]

    erased = call(
        admin_app.handler,
        http_event(
            "DELETE", "/members/{memberId}", {"memberId": "m-a"}, claims=member_token("m-a")
        ),
    )
    assert erased.status == 204, erased.body
    deliver(stream)
    refresh("2026-12-10T12:01:00Z")

    assert [row["displayName"] for row in board("all")] == ["Bee"]
    assert [row["displayName"] for row in board("month")] == ["Bee"]
    assert "Ace Of Spades" not in json.dumps(table_items(dynamodb_client, table_name))


# ---- the stream ---------------------------------------------------------------------------


def test_a_redelivered_stream_record_counts_once(stream):
    enroll_all("m-a")
    opt_in("m-a", "Ace")
    play_orders(order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"))
    records = stream.read()
    deliver(stream, records)
    deliver(stream, records)  # Lambda retries the batch
    deliver(stream, records[-1:] + records)  # and in another order
    refresh()

    assert board("all") == [{"rank": 1, "displayName": "Ace", "points": 1150}]


def test_entries_counted_before_the_opt_in_count_once_it_is_made(stream):
    enroll_all("m-a")
    play_orders(order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"))
    deliver(stream)
    opt_in("m-a", "Ace")
    play_orders(order("o-a2", "m-a", "5.00", at="2026-12-06T10:00:00Z"))
    deliver(stream)
    refresh()

    assert board("month") == [{"rank": 1, "displayName": "Ace", "points": 1650}]


def test_the_projector_wakes_only_for_earning_entries_and_members_who_chose(stream):
    enroll_all("m-a", "m-b")
    opt_in("m-b", "Bee")
    play_orders(order("o-a", "m-a", "10.00", at="2026-12-05T10:00:00Z"))
    assert redeem("m-a", "free-shipping").status == 201

    admitted = deliver(stream)["Records"]

    kinds = sorted(
        (r["dynamodb"]["NewImage"]["itemType"]["S"], r["dynamodb"]["Keys"]["PK"]["S"])
        for r in admitted
    )
    # Two earn entries of m-a (purchase, first-purchase bonus) and m-b's choice: not the
    # redemption, not m-a's profile (no choice made), not the projector's own items.
    assert [kind for kind, _ in kinds].count("entry") == 2
    assert ("member", "MEMBER#m-b") in kinds
    assert ("member", "MEMBER#m-a") not in kinds


# ---- the API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims", [SERVICE, ADMIN, member_token("m-anyone")], ids=["service", "admin", "member"]
)
def test_any_authenticated_caller_may_read_the_board(claims):
    assert leaderboard(claims=claims).status == 200


def test_no_token_is_a_401():
    assert leaderboard(claims=None).status == 401


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"period": "year"},
        {"period": ""},
    ],
)
def test_bad_parameters_are_refused(query):
    reply = leaderboard(query)

    assert reply.status == 422, reply.body
    assert reply.body["message"]


# ---- the choice (PATCH /members/{memberId}) ------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    [
        {"optIn": True},  # no display name
        {"optIn": True, "displayName": ""},
        {"optIn": True, "displayName": "   "},
        {"optIn": True, "displayName": "x" * 33},
        {"optIn": True, "displayName": "tab\there"},
        {"optIn": True, "displayName": "m-a@example.com"},  # the member's email
        {"optIn": True, "displayName": "someone@else.org"},  # any email address
        {"optIn": None, "displayName": "Ace"},
        {"optIn": "yes", "displayName": "Ace"},
        {"optIn": True, "displayName": 7},
        {"optIn": True, "displayName": "Ace", "rank": 1},
    ],
)
def test_an_invalid_choice_is_refused_and_changes_nothing(choice, snapshot):
    enroll_all("m-a")
    before = snapshot()

    reply = choose("m-a", **choice)

    assert reply.status == 422, reply.body
    assert reply.body["message"]
    assert snapshot() == before


def test_a_display_name_cannot_be_removed_while_opted_in(snapshot):
    enroll_all("m-a")
    opt_in("m-a", "Ace")
    before = snapshot()

    assert choose("m-a", displayName=None).status == 422
    assert snapshot() == before
    # Opting out and removing the name at once is fine.
    reply = choose("m-a", optIn=False, displayName=None)
    assert reply.status == 200
    assert reply.body["leaderboard"] == {"optIn": False, "displayName": None}


def test_the_display_name_is_trimmed_and_may_be_changed_alone():
    enroll_all("m-a")
    opt_in("m-a", "  Ace  ")
    assert member("m-a").body["leaderboard"] == {"optIn": True, "displayName": "Ace"}

    reply = choose("m-a", displayName="Ace 2")

    assert reply.body["leaderboard"] == {"optIn": True, "displayName": "Ace 2"}


def test_a_member_may_choose_for_themself_only():
    enroll_all("m-a", "m-b")

    reply = request(
        PATCH_MEMBER,
        "m-b",
        body={"leaderboard": {"optIn": True, "displayName": "Hijack"}},
        claims=member_token("m-a"),
    )

    assert reply.status == 403
    assert member("m-b").body["leaderboard"] == {"optIn": False, "displayName": None}


def test_the_privacy_export_holds_the_choice():
    enroll_all("m-a")
    opt_in("m-a", "Ace")

    export = call(
        admin_app.handler,
        http_event(
            "GET", "/members/{memberId}/export", {"memberId": "m-a"}, claims=member_token("m-a")
        ),
    )

    assert export.status == 200
    assert export.body["profile"]["leaderboard"] == {"optIn": True, "displayName": "Ace"}
