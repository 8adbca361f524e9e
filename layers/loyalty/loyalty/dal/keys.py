"""Every key string of the single table is built here, and only here.

| item                  | PK                     | SK                                   |
|-----------------------|------------------------|--------------------------------------|
| member profile        | MEMBER#<memberId>      | PROFILE (on GSI2 while it has lots)  |
| ledger entry          | MEMBER#<memberId>      | ENTRY#<time-sortable entry id>       |
| points lot (live)     | MEMBER#<memberId>      | LOT#<expiresAt>#<lot id>             |
| points lot (settled)  | MEMBER#<memberId>      | HISTORY#LOT#<expiresAt>#<lot id>     |
| order (dedupe+record) | ORDER#<orderId>        | ORDER                                |
| refund (dedupe)       | ORDER#<orderId>        | REFUND#<refundId>                    |
| spend (dedupe)        | MEMBER#<memberId>      | SPEND#<reference>                    |
| one-time earning      | MEMBER#<memberId>      | REVIEW#<productId>, SHARE#<url hash>, ...|
| referral (referrer's) | MEMBER#<referrerId>    | REFERRAL#<refereeId>                 |
| referred (referee's)  | MEMBER#<refereeId>     | REFERRED (once per referred customer)|
| referral refused      | MEMBER#<refereeId>     | REFERRAL-REFUSED#<orderId>           |
| referral code         | REFCODE#<code>         | CODE                                 |
| job schedule          | MEMBER#<memberId>      | SCHEDULE#birthday, SCHEDULE#tenure   |
| expiry warning        | MEMBER#<memberId>      | WARNING#<lotId>                      |
| email lock            | EMAIL#<sha256(email)>  | EMAIL                                |
| reward                | CATALOG                | REWARD#<rewardId>                    |
| promotion announced   | PROMOTION#<name>-<start> | PROMOTION                          |
| coupon (also its copy | COUPON#<code>          | COUPON                               |
|  on the SPEND# item)  |                        |                                      |
| program rules         | PROGRAM                | RULES (current), RULES#v<000007>     |
| audit record          | AUDIT#<yyyy-mm>        | <recordedAt>#<audit id>              |
| KPI totals, KPI day   | KPI                    | TOTALS, DAY#<yyyy-mm-dd>             |
| member's KPI state    | MEMBER#<memberId>      | PROFILE#KPI                          |
| KPI entry marker      | MEMBER#<memberId>      | KPI#ENTRY#<entryId> (TTL 7 days)     |
| leaderboard score     | MEMBER#<memberId>      | LEADERBOARD#SCORE#all,               |
|                       |                        | LEADERBOARD#SCORE#<yyyy-mm> (TTL)    |
| leaderboard marker    | MEMBER#<memberId>      | LEADERBOARD#ENTRY#<entryId> (TTL 7 d)|
| leaderboard board     | LEADERBOARD            | BOARD#month, BOARD#all               |
| badge definition      | BADGES                 | BADGE#<badgeId>                      |
| badge earned (marker) | MEMBER#<memberId>      | BADGE#<badgeId>                      |
| badge progress        | MEMBER#<memberId>      | BADGEPROGRESS#<badgeId>#<period>     |
| import row (landed,   | IMPORT#<batchId>       | ROW#<row number, 9 digits>           |
|  then undone)         |                        |                                      |

GSI1 is sparse: only items due for a daily job, and order records, carry GSI1PK/GSI1SK. A
member's schedule items are listed under `BIRTHDAY#<shard>` / `TENURE#<shard>` sorted by when
they are next due. An issued coupon (its `COUPON#<code>` item, not the copy on the redemption)
is listed under `COUPONS#<shard>` (the member's shard) sorted by when the coupons job must
next look at it (its warning, then its expiry); a used, voided or expired coupon leaves the
index. Every job queries `GSI1SK < now` per shard: it reads only what is due and catches up
missed runs. Order records are listed under `ORDERS#<yyyy-mm-dd>` (the UTC day they
occurred), sorted by `<occurredAt>#<orderId>`, for the program preview. A leaderboard score of
a member who opted in (with points above zero) is listed under
`LEADERBOARD#<all|yyyy-mm>#<shard>` (the member's shard: the writes of a busy day spread over
the shards), sorted by `<points, zero-padded>#<id>`: the refresher reads the top of each
shard.

GSI2 (keys only) lists members, not lots, for the expiry job: a profile with live lots
carries GSI2PK `EXPIRY#<shard>` and GSI2SK `<expiryDueAt>#<memberId>`, the earliest time one
of its lots must be looked at (released from the return window, warned about, expired). A
write that adds a lot moves it earlier only when the new lot is due sooner, which an order
placed today never is: an order writes no index entry, and since the projection is keys
only, the profile's other updates write none either. The expiry job sets it to the next due
time of what it leaves (or removes it with the last lot). It is never later than a live lot's
next action; it can be earlier (a refund emptied the lot), and then the job finds nothing to
do and moves it on.

There are no deployed tables to migrate: items written by earlier versions (lots listed on
GSI1) are not read by this one.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime

from loyalty.domain.calendar import format_instant

PROFILE_SK = "PROFILE"
ENTRY_PREFIX = "ENTRY#"
LOT_PREFIX = "LOT#"
ORDER_SK = "ORDER"
REFERRAL_CODE_SK = "CODE"
# The due index's shards per job (DUE_INDEX_SHARDS, template parameter DueIndexShards): a job
# run queues one work message per shard and the shards run in parallel, so the width of a run
# follows this figure: 128 finishes a million members due in one day within 10 minutes
# (docs/benchmarks.md, "Jobs at a million"). Only ever raise it: an item stays in the shard it
# was written to, and a run reads shards 0 to N-1.
DEFAULT_DUE_INDEX_SHARDS = 128
MAX_DUE_INDEX_SHARDS = 1000


def due_index_shards() -> int:
    raw = os.environ.get("DUE_INDEX_SHARDS", "")
    if not raw:
        return DEFAULT_DUE_INDEX_SHARDS
    shards = int(raw) if raw.isdigit() else 0
    if not 1 <= shards <= MAX_DUE_INDEX_SHARDS:
        raise ValueError(f"DUE_INDEX_SHARDS must be 1 to {MAX_DUE_INDEX_SHARDS}, not {raw!r}")
    return shards


def member_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def member_id_of(pk: str) -> str:
    """The member of a `MEMBER#<memberId>` partition key."""
    return pk.removeprefix("MEMBER#")


def entry_sk(entry_id: str) -> str:
    return f"{ENTRY_PREFIX}{entry_id}"


def lot_sk(expires_at: datetime, lot_id: str, *, settled: bool = False) -> str:
    """A live lot sorts in the member view's range; a settled one (expired, what is left of it
    spent or gone) moves out of it, so that range, the member view, redemptions, the expiry
    job and the KPI projector read only the last 12 months' lots, never the member's whole
    history. Refunds and coupon voids, which need settled lots, read them by key or range."""
    prefix = SETTLED_LOT_PREFIX if settled else LOT_PREFIX
    return f"{prefix}{format_instant(expires_at)}#{lot_id}"


# "HISTORY#…" sorts before "KPI#…" and "LOT#": outside every range the hot paths read.
SETTLED_LOT_PREFIX = "HISTORY#LOT#"


SPEND_PREFIX = "SPEND#"


def spend_sk(reference: str) -> str:
    return f"{SPEND_PREFIX}{reference}"


def dedupe_sk(kind: str, value: str) -> str:
    # URLs can outgrow a sort key (1 KB) and carry query strings: hash them.
    if kind == "share":
        value = hashlib.sha256(value.encode()).hexdigest()
    return f"{kind.upper()}#{value}"


def warning_sk(lot_id: str) -> str:
    return f"WARNING#{lot_id}"


REFERRAL_PREFIX = "REFERRAL#"


def referral_sk(referee_id: str) -> str:
    return f"{REFERRAL_PREFIX}{referee_id}"


# A referred customer's marker: a referral completes once per customer, whichever referrer
# (two first-order codes can name two referrers when orders arrive out of date order).
REFERRED_SK = "REFERRED"


def referral_refusal_sk(order_id: str) -> str:
    return f"REFERRAL-REFUSED#{order_id}"


EMAIL_SK = "EMAIL"


def email_pk(normalized_email: str) -> str:
    # The lock proves uniqueness without holding the address itself.
    return f"EMAIL#{hashlib.sha256(normalized_email.encode()).hexdigest()}"


CATALOG_PK = "CATALOG"
REWARD_PREFIX = "REWARD#"


def reward_sk(reward_id: str) -> str:
    return f"{REWARD_PREFIX}{reward_id}"


PROMOTION_SK = "PROMOTION"


def promotion_pk(promotion_id: str) -> str:
    return f"PROMOTION#{promotion_id}"


COUPON_SK = "COUPON"


def coupon_pk(code: str) -> str:
    return f"COUPON#{code}"


# Between these two sort keys lie exactly a member's lots and profile ("LOT#…" < "PROFILE"):
# the member view reads both with one Query.
VIEW_RANGE = (LOT_PREFIX, PROFILE_SK)
# The profile and the redemptions (with their coupons) in one Query: what sorts between them
# (referrals, review and share markers, schedules) is small and read along.
PROFILE_TO_SPEND_RANGE = (PROFILE_SK, "SPEND$")  # "$" sorts right after "#"


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def refund_sk(refund_id: str) -> str:
    return f"REFUND#{refund_id}"


def referral_code_pk(code: str) -> str:
    return f"REFCODE#{code}"


def shard_of(member_id: str, shards: int) -> int:
    return int(hashlib.sha256(member_id.encode()).hexdigest()[:8], 16) % shards


# The expiry job's index (keys only): members by when their lots are next due.
EXPIRY_INDEX = "GSI2"


def member_expiry_gsi_pk(member_id: str) -> str:
    return due_pk("expiry", shard_of(member_id, due_index_shards()))


def member_expiry_gsi_sk(due_at: datetime, member_id: str) -> str:
    # The due time first: the job queries `GSI2SK < now` and so catches up missed runs.
    return f"{format_instant(due_at)}#{member_id}"


def due_pk(job: str, shard: int) -> str:
    """A daily job's shard of the sparse due index: `EXPIRY#3`, `BIRTHDAY#0`, ..."""
    return f"{job.upper()}#{shard}"


def expiry_shard_pk(shard: int) -> str:
    return due_pk("expiry", shard)


def coupon_due_gsi_pk(member_id: str) -> str:
    return due_pk("coupons", shard_of(member_id, due_index_shards()))


def coupon_due_gsi_sk(next_action_at: datetime, member_id: str, code: str) -> str:
    return f"{format_instant(next_action_at)}#{member_id}#{code}"


def schedule_sk(job: str) -> str:
    return f"SCHEDULE#{job}"


def schedule_gsi_pk(job: str, member_id: str) -> str:
    return due_pk(job, shard_of(member_id, due_index_shards()))


def schedule_gsi_sk(due_at: datetime, member_id: str) -> str:
    return f"{format_instant(due_at)}#{member_id}"


def order_day_gsi_pk(occurred_at: datetime) -> str:
    """Orders by the UTC day they occurred on (the program preview reads recent days). One
    partition per day: at 10,000 orders a minute it sees about 170 writes a second, a sixth
    of a partition's 1,000 (docs/design.md, "Hot keys")."""
    return f"ORDERS#{occurred_at.astimezone(UTC).date().isoformat()}"


def order_day_gsi_sk(occurred_at: datetime, order_id: str) -> str:
    # Fixed width (milliseconds always), so that sort order is time order within a second.
    moment = occurred_at.astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return f"{stamp}#{order_id}"


def due_upper_bound(now: datetime) -> str:
    return f"{format_instant(now)}~"


PROGRAM_PK = "PROGRAM"
CURRENT_RULES_SK = "RULES"


def rules_version_sk(version: int) -> str:
    # Zero-padded: the versions of the rules sort in order under PROGRAM.
    return f"RULES#v{version:06d}"


def audit_pk(recorded_at: datetime) -> str:
    # One partition per month: an operator reads a month's trail with one Query.
    return f"AUDIT#{recorded_at:%Y-%m}"


def audit_sk(recorded_at: datetime, audit_id: str) -> str:
    return f"{format_instant(recorded_at)}#{audit_id}"


def adjustment_sk(adjustment_id: str) -> str:
    return dedupe_sk("adjustment", adjustment_id)


# ---- KPIs (the projector's items) --------------------------------------------------------
KPI_PK = "KPI"
# "DAY#…" < "TOTALS": the report reads the days from a date on and the totals in one Query.
KPI_TOTALS_SK = "TOTALS"
KPI_DAY_PREFIX = "DAY#"
# Right after PROFILE ("PROFILE" < "PROFILE#KPI"), so one Query of the range below reads a
# member's lots, profile and KPI state, while the member view's range stops at PROFILE.
MEMBER_KPI_SK = "PROFILE#KPI"
KPI_MEMBER_RANGE = (LOT_PREFIX, MEMBER_KPI_SK)


def kpi_day_sk(day: date) -> str:
    return f"{KPI_DAY_PREFIX}{day.isoformat()}"


def kpi_entry_marker_sk(entry_id: str) -> str:
    # "KPI#…" sorts before "LOT#": outside both member ranges above.
    return f"KPI#ENTRY#{entry_id}"


# ---- the leaderboard (docs/leaderboard.md) -----------------------------------------------
LEADERBOARD_SHARDS = 10
LEADERBOARD_PK = "LEADERBOARD"
# "LEADERBOARD#…" sorts before "LOT#": outside the member view's and the KPI's ranges.
LEADERBOARD_SCORE_PREFIX = "LEADERBOARD#SCORE#"


def leaderboard_score_sk(period_key: str) -> str:
    """A member's score for a period: `all` or a month, `2026-11`."""
    return f"{LEADERBOARD_SCORE_PREFIX}{period_key}"


def leaderboard_entry_marker_sk(entry_id: str) -> str:
    return f"LEADERBOARD#ENTRY#{entry_id}"


def leaderboard_board_sk(period: str) -> str:
    """The board the API reads: `BOARD#month` (the current month) or `BOARD#all`."""
    return f"BOARD#{period}"


def leaderboard_gsi_pk(period_key: str, shard: int) -> str:
    return f"LEADERBOARD#{period_key}#{shard}"


def leaderboard_member_gsi_pk(period_key: str, member_id: str) -> str:
    return leaderboard_gsi_pk(period_key, shard_of(member_id, LEADERBOARD_SHARDS))


def leaderboard_gsi_sk(points: int, member_id: str) -> str:
    # Zero-padded: the index sorts the scores as numbers (only scores above zero are listed).
    return f"{points:015d}#{member_id}"


# ---- badges and challenges ---------------------------------------------------------------
BADGES_PK = "BADGES"
BADGE_PREFIX = "BADGE#"
# A member's badge items: the earned markers (`dedupe_sk("badge", id)` = "BADGE#<id>") and the
# progress counters ("BADGEPROGRESS#…") share this prefix, so one Query reads both; both sort
# before "ENTRY#" and so outside every other range a member's reads use.
MEMBER_BADGES_PREFIX = "BADGE"


def badge_sk(badge_id: str) -> str:
    return f"{BADGE_PREFIX}{badge_id}"


def badge_marker_sk(badge_id: str) -> str:
    return dedupe_sk("badge", badge_id)


def badge_progress_sk(badge_id: str, period: str) -> str:
    # period: "all", or the calendar month "YYYY-MM" of a per-month counter.
    return f"BADGEPROGRESS#{badge_id}#{period}"


# ---- bulk import (docs/import.md) ---------------------------------------------------------
IMPORT_ROW_PREFIX = "ROW#"


def import_pk(batch_id: str) -> str:
    # One partition per batch: a resumed or undone import reads its landed rows in one Query.
    return f"IMPORT#{batch_id}"


def import_row_sk(row: int) -> str:
    # Zero-padded: the rows sort in file order.
    return f"{IMPORT_ROW_PREFIX}{row:09d}"
