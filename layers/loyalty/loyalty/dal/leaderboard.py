"""The leaderboard's items and their DynamoDB calls (keys from `keys`; docs/leaderboard.md).

- `MEMBER#<id> / LEADERBOARD#SCORE#<all|yyyy-mm>`: the member's points earned in the period
  (`points`), its `version`, and, only while the member is listed (opted in, not erased,
  points above zero), `displayName` and the GSI1 keys `LEADERBOARD#<period>#<shard>` /
  `<points>#<id>`: the index holds the listed scores only, sorted, spread over the shards. A
  month's score expires (TTL) 100 days after the month began.
- `MEMBER#<id> / LEADERBOARD#ENTRY#<entryId>`: the entry was counted, written in the same
  transaction as the scores (conditional), so a redelivered record counts nothing; it only
  has to outlive the stream's 24 h, so a TTL removes it after a week.
- `LEADERBOARD / BOARD#<month|all>`: the board the API reads (one GetItem), written by the
  refresher: the best scores with their rank and display name, never a member id. Every
  caller of the API reads this one item, so a container keeps what it read for
  `BOARD_CACHE_SECONDS` (the board changes once a minute): a partition serves a few
  thousand reads a second, and a busy day's callers stay far below that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from loyalty.dal import keys
from loyalty.dal.items import Item, from_ddb, to_ddb
from loyalty.dal.table import TableAccess, put_action, transact
from loyalty.domain.calendar import format_instant, parse_instant
from loyalty.domain.errors import ConcurrentUpdate
from loyalty.domain.kpis import EntriesAlreadyCounted
from loyalty.domain.leaderboard import (
    ALL_TIME,
    BOARD_SIZE,
    Board,
    BoardRow,
    Contender,
    LeaderboardChoice,
    MemberStanding,
    Period,
    Score,
    ScoreWrite,
    month_start,
)
from loyalty.recent import RecentReads

MARKER_TTL = timedelta(days=7)
MONTH_SCORE_TTL = timedelta(days=100)

BOARD_CACHE_SECONDS = 10.0
# (table, period) -> the board as read (None before the first refresh)
_boards_read: RecentReads[tuple[str, Period], Board | None] = RecentReads(BOARD_CACHE_SECONDS)


def forget_boards() -> None:
    """Drop the boards this container has read (a restored snapshot's are not its own)."""
    _boards_read.forget()


class DynamoLeaderboardStore(TableAccess):
    # ---- the projector -----------------------------------------------------------------

    def standing(self, member_id: str) -> MemberStanding:
        """The member's choice (from the profile) and stored scores: a GetItem and a Query
        of the member's few score items."""
        profile = self._get(
            keys.member_pk(member_id),
            keys.PROFILE_SK,
            projection="memberId, leaderboardOptIn, leaderboardName, erasedAt",
        )
        choice = None
        if profile is not None and not profile.get("erasedAt"):
            choice = LeaderboardChoice(
                bool(profile.get("leaderboardOptIn", False)), profile.get("leaderboardName")
            )
        scores = {}
        for item in self._query_prefix(keys.member_pk(member_id), keys.LEADERBOARD_SCORE_PREFIX):
            period_key = str(item["period"])
            scores[period_key] = Score(
                period_key, int(item["points"]), int(item["version"]), item.get("displayName")
            )
        return MemberStanding(member_id, choice, scores)

    def commit_scores(
        self,
        member_id: str,
        entry_ids: Sequence[str],
        writes: Sequence[ScoreWrite],
        now: datetime,
    ) -> None:
        """One transaction: a marker per entry (conditional: not counted before) and the
        scores (conditional on the version read). Raises EntriesAlreadyCounted naming the
        entries counted before, or ConcurrentUpdate."""
        recorded_at = format_instant(now)
        markers = [
            put_action(
                self.table_name,
                {
                    "PK": keys.member_pk(member_id),
                    "SK": keys.leaderboard_entry_marker_sk(entry_id),
                    "itemType": "leaderboardEntryMarker",
                    "recordedAt": recorded_at,
                    "ttl": int((now + MARKER_TTL).timestamp()),
                },
                must_be_new=True,
            )
            for entry_id in entry_ids
        ]
        actions = markers + [self._score_put(write, recorded_at) for write in writes]

        def cancelled(reasons: Sequence[Mapping[str, Any]]) -> Exception:
            counted = [
                entry_id
                for entry_id, reason in zip(entry_ids, reasons, strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            ]
            if counted:
                return EntriesAlreadyCounted(counted)
            return ConcurrentUpdate("the member's leaderboard scores changed during the write")

        transact(self.client, actions, cancelled=cancelled)

    def _score_put(self, write: ScoreWrite, recorded_at: str) -> dict[str, Any]:
        item: Item = {
            "PK": keys.member_pk(write.member_id),
            "SK": keys.leaderboard_score_sk(write.period_key),
            "itemType": "leaderboardScore",
            "memberId": write.member_id,
            "period": write.period_key,
            "points": write.points,
            "version": (write.expected_version or 0) + 1,
            "updatedAt": recorded_at,
        }
        if write.period_key != ALL_TIME:
            began = month_start(parse_instant(f"{write.period_key}-01T00:00:00Z"))
            item["ttl"] = int((began + MONTH_SCORE_TTL).timestamp())
        if write.listed_as is not None:
            item |= {
                "displayName": write.listed_as,
                "GSI1PK": keys.leaderboard_member_gsi_pk(write.period_key, write.member_id),
                "GSI1SK": keys.leaderboard_gsi_sk(write.points, write.member_id),
            }
        put: dict[str, Any] = {"TableName": self.table_name, "Item": to_ddb(item)}
        if write.expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = to_ddb({":expected": write.expected_version})
        return {"Put": put}

    # ---- the refresher -----------------------------------------------------------------

    def contenders(self, period_key: str) -> list[Contender]:
        """The best listed scores of each shard of the period (BOARD_SIZE per shard, and any
        more tied with the last of them): a fixed number of Queries, whatever the members."""
        found: list[Contender] = []
        for shard in range(keys.LEADERBOARD_SHARDS):
            found += self._shard_top(keys.leaderboard_gsi_pk(period_key, shard))
        return found

    def _shard_top(self, gsi_pk: str) -> list[Contender]:
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": to_ddb({":pk": gsi_pk}),
            "ProjectionExpression": "memberId, displayName, points",
            "ScanIndexForward": False,  # most points first
            "Limit": BOARD_SIZE,
            "ReturnConsumedCapacity": "TOTAL",
        }
        top: list[Contender] = []
        while True:
            response = self.client.query(**arguments)
            for raw in response.get("Items", []):
                item = from_ddb(raw)
                contender = Contender(
                    str(item["memberId"]), str(item["displayName"]), int(item["points"])
                )
                if len(top) >= BOARD_SIZE and contender.points < top[BOARD_SIZE - 1].points:
                    return top
                top.append(contender)
            if "LastEvaluatedKey" not in response:
                return top
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def save_board(self, board: Board) -> bool:
        """Writes the board unless a later refresh already did (False then)."""
        item: Item = {
            "PK": keys.LEADERBOARD_PK,
            "SK": keys.leaderboard_board_sk(board.period),
            "itemType": "leaderboardBoard",
            "period": board.period,
            "periodStart": format_instant(board.period_start) if board.period_start else None,
            "refreshedAt": format_instant(board.refreshed_at) if board.refreshed_at else None,
            # A number: instants as text do not sort by time when some carry milliseconds.
            "refreshedAtMs": int(board.refreshed_at.timestamp() * 1000)
            if board.refreshed_at
            else 0,
            "rows": [
                {"rank": row.rank, "displayName": row.display_name, "points": row.points}
                for row in board.rows
            ],
        }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_ddb(item),
                # Replayed or late runs never take the board back in time.
                ConditionExpression="attribute_not_exists(PK) OR refreshedAtMs <= :now",
                ExpressionAttributeValues=to_ddb({":now": item["refreshedAtMs"]}),
                ReturnConsumedCapacity="TOTAL",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        # This container's next read shows what it has just written.
        _boards_read.forget((self.table_name, board.period))
        return True

    # ---- the API -----------------------------------------------------------------------

    def board(self, period: Period) -> Board | None:
        """The board as last refreshed: one GetItem (eventually consistent: a refresh a
        minute is the freshness promised) at most every `BOARD_CACHE_SECONDS` per
        container."""
        return _boards_read.get((self.table_name, period), lambda: self._read_board(period))

    def _read_board(self, period: Period) -> Board | None:
        item = self._get(keys.LEADERBOARD_PK, keys.leaderboard_board_sk(period), consistent=False)
        if item is None:
            return None
        return Board(
            period=period,
            period_start=parse_instant(item["periodStart"]) if item.get("periodStart") else None,
            refreshed_at=parse_instant(item["refreshedAt"]) if item.get("refreshedAt") else None,
            rows=tuple(
                BoardRow(int(row["rank"]), str(row["displayName"]), int(row["points"]))
                for row in item.get("rows", [])
            ),
        )
