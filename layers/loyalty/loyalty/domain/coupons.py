"""Coupons: what a redemption issues, and what the shop's checkout does with one (check it,
use it once, void it). Pure: the store reads and writes, under the conditions planned here.

A coupon is `issued` until it is `used` by one order, `voided` (its points go back to the
member) or `expired` (after the program's `couponValidityDays`). Its points return on a void
as if the redemption had never happened: spending takes the soonest-expiring points first, so
the points a redemption took are the last ones spent; they go back to the lots that are still
open, and those whose lots have expired since stay expired (`plan_coupon_void`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from loyalty.domain.errors import CouponNotFound, CouponUnavailable
from loyalty.domain.ledger import LedgerEntry, MemberState, PointsLot, make_entry_id

if TYPE_CHECKING:
    from loyalty.domain.rewards import RewardKind

StoredStatus = Literal["issued", "used", "voided", "expired"]
# What a caller is told: an issued coupon past its expiry is expired, whether or not the
# daily job has marked it yet.
CouponStatus = Literal["active", "used", "voided", "expired"]

# A void writes the coupon, its redemption, the profile, two entries and the settled lots it
# turns from spent to expired: at most this many of those lots in one transaction (100).
MAX_LOTS_PER_VOID = 90

# The coupons job warns this long before a coupon expires (`coupon.expiring`).
COUPON_WARNING_DAYS = 7
# A step of the coupons job is one transaction: each coupon warned or expired writes the
# coupon and its redemption (2 actions) of DynamoDB's 100.
COUPON_JOB_ACTIONS = 100
COUPON_STEP_ACTIONS = 2


@dataclass(frozen=True, slots=True)
class Coupon:
    code: str
    member_id: str
    redemption_id: str
    reward_id: str
    reward_name: str | None
    kind: RewardKind | None
    discount_percent: int | None
    points: int
    status: StoredStatus
    issued_at: datetime
    expires_at: datetime | None = None
    used_at: datetime | None = None
    used_by_order: str | None = None
    voided_at: datetime | None = None
    # Set by the void: what went back to the balance and what had expired since.
    returned_points: int | None = None
    expired_points: int | None = None
    # Set by the coupons job: warned `COUPON_WARNING_DAYS` before it expires, then expired.
    warned_at: datetime | None = None
    expired_at: datetime | None = None

    @property
    def next_action_at(self) -> datetime | None:
        """When the coupons job must next look at it: its warning, then its expiry; None
        once it is used, voided or expired (it leaves the job's index), or never expires."""
        if self.status != "issued" or self.expires_at is None:
            return None
        return coupon_next_action_at(self.expires_at, warned=self.warned_at is not None)

    def status_at(self, now: datetime) -> CouponStatus:
        if self.status == "issued":
            if self.expires_at is not None and self.expires_at <= now:
                return "expired"
            return "active"
        return self.status


def coupon_next_action_at(expires_at: datetime, *, warned: bool) -> datetime:
    return expires_at if warned else expires_at - timedelta(days=COUPON_WARNING_DAYS)


@dataclass(frozen=True, slots=True)
class CouponCheck:
    coupon: Coupon
    status: CouponStatus
    valid: bool
    # Why it cannot be used: "used", "voided", "expired", "other-member"; None when valid.
    reason: str | None


def check_coupon(
    coupon: Coupon | None, code: str, now: datetime, member_id: str | None
) -> CouponCheck:
    """Whether `coupon` can be used now (by `member_id`, when the checkout names one)."""
    if coupon is None:
        raise CouponNotFound(f"no coupon '{code}'")
    status = coupon.status_at(now)
    reason: str | None = None if status == "active" else status
    if reason is None and member_id is not None and member_id != coupon.member_id:
        reason = "other-member"
    return CouponCheck(coupon, status, reason is None, reason)


@dataclass(frozen=True, slots=True)
class CouponUse:
    coupon: Coupon
    order_id: str
    # True when this order had already used the coupon: nothing to write, same answer.
    replayed: bool


def plan_coupon_use(
    coupon: Coupon | None, code: str, *, order_id: str, member_id: str, now: datetime
) -> CouponUse:
    if coupon is None or coupon.member_id != member_id:
        # Another member's coupon answers as unknown: a code alone reveals no one's coupon.
        raise CouponNotFound(f"no coupon '{code}' for member '{member_id}'")
    if coupon.status == "used":
        if coupon.used_by_order == order_id:
            return CouponUse(coupon, order_id, replayed=True)
        raise CouponUnavailable(f"coupon '{code}' was used by another order", "used")
    status = coupon.status_at(now)
    if status != "active":
        raise CouponUnavailable(f"coupon '{code}' is {status}", status)
    return CouponUse(coupon, order_id, replayed=False)


@dataclass(frozen=True, slots=True)
class ExpiredPart:
    """A settled lot whose spent points turn out to have been this coupon's: had the
    coupon never been redeemed, they would have expired with the lot."""

    lot: PointsLot
    points: int


@dataclass(frozen=True, slots=True)
class CouponVoidPlan:
    coupon: Coupon
    member: MemberState | None  # None only for a replayed void
    returned: int  # back to the balance (the still-open lots, or paying a debt)
    expired: int  # gone with lots that expired since the redemption
    expired_parts: tuple[ExpiredPart, ...]
    entries: tuple[LedgerEntry, ...]
    replayed: bool = False
    # "expired": the coupons job returning an unused coupon's points on its expiry date.
    new_status: Literal["voided", "expired"] = "voided"


def plan_coupon_void(
    coupon: Coupon | None,
    code: str,
    member: MemberState | None,
    settled_lots: list[PointsLot],
    now: datetime,
    *,
    on_expiry: bool = False,
) -> CouponVoidPlan:
    """The coupon's points back, as if the redemption had never happened (`on_expiry`: the
    coupons job expiring an unused coupon under `couponExpiryReturnsPoints`).

    Spending is attributed soonest-expiring first, so the points a redemption took are the
    top of what the member has spent. Undoing it lowers the spent watermark by the coupon's
    points: what the still-open lots had lent to spending (`debited - settledEarned`) comes
    back to the balance; the rest was lent by lots that have expired since, and expires now
    (those lots, latest-expiring first, record it as expired, so a refund of their order
    never takes it again). `settled_lots` are the member's settled lots."""
    if coupon is None:
        raise CouponNotFound(f"no coupon '{code}'")
    if on_expiry:
        if coupon.status != "issued":
            raise CouponUnavailable(f"coupon '{code}' is {coupon.status}", coupon.status)
    elif coupon.status == "voided":
        # Voided before: the same answer, nothing written again.
        return CouponVoidPlan(
            coupon=coupon,
            member=member,
            returned=coupon.returned_points or 0,
            expired=coupon.expired_points or 0,
            expired_parts=(),
            entries=(),
            replayed=True,
        )
    status = coupon.status_at(now)
    if status != "active" and not on_expiry:
        # Used: the discount was given. Expired: its points are not returned (`docs`).
        raise CouponUnavailable(f"coupon '{code}' is {status}", status)
    if member is None:
        raise CouponNotFound(f"no member '{coupon.member_id}' for coupon '{code}'")
    open_spent = max(0, member.debited - member.settled_earned)
    returned = min(coupon.points, open_spent)
    expired = coupon.points - returned
    parts: list[ExpiredPart] = []
    left = expired
    for lot in sorted(settled_lots, key=lambda lot: (lot.expires_at, lot.lot_id), reverse=True):
        if left <= 0:
            break
        spent_here = lot.points - lot.expired_points
        if spent_here <= 0:
            continue
        take = min(spent_here, left)
        parts.append(ExpiredPart(lot, take))
        left -= take
    if left > 0:
        # The settled lots lent less than the watermark says: the ledger is inconsistent;
        # writing anything would hide it.
        raise ValueError(f"coupon '{code}': {left} spent points are in no lot")
    if len(parts) > MAX_LOTS_PER_VOID:
        raise CouponUnavailable(
            f"coupon '{code}' took points from more than {MAX_LOTS_PER_VOID} lots that have "
            "expired since; an operator adjustment can return what is still open",
            "too-many-lots",
        )
    event = "coupon-expired" if on_expiry else "coupon-voided"
    entries = [
        LedgerEntry(
            entry_id=make_entry_id(now, coupon.redemption_id, event),
            member_id=coupon.member_id,
            type="redeem",
            reason=f"{event}:{coupon.reward_id}",
            points=coupon.points,
            occurred_at=now,
            reference=coupon.redemption_id,
            details={"couponCode": coupon.code},
        )
    ]
    if expired:
        entries.append(
            LedgerEntry(
                entry_id=make_entry_id(now, coupon.redemption_id, f"{event}:expired", 1),
                member_id=coupon.member_id,
                type="expire",
                reason="expired-since-redeemed",
                points=-expired,
                occurred_at=now,
                reference=coupon.redemption_id,
                details={"couponCode": coupon.code},
            )
        )
    return CouponVoidPlan(
        coupon=coupon,
        member=member,
        returned=returned,
        expired=expired,
        expired_parts=tuple(parts),
        entries=tuple(entries),
        new_status="expired" if on_expiry else "voided",
    )


@dataclass(frozen=True, slots=True)
class CouponExpiryPlan:
    """One step of the coupons job for one member: coupons to expire (their date has come;
    their points are not returned) and coupons to warn about (they expire within
    `COUPON_WARNING_DAYS`), within one transaction's actions."""

    expire: tuple[Coupon, ...]
    warn: tuple[Coupon, ...]
    # False when something due was left for another step (the budget ran out).
    complete: bool

    @property
    def empty(self) -> bool:
        return not (self.expire or self.warn)

    @property
    def actions(self) -> int:
        return COUPON_STEP_ACTIONS * (len(self.expire) + len(self.warn))


def plan_coupon_expiry(coupons: list[Coupon], now: datetime) -> CouponExpiryPlan:
    """Expire the issued coupons whose date has come (soonest first), then warn about those
    expiring within `COUPON_WARNING_DAYS` not warned yet; a coupon whose warning time and
    expiry both passed (missed runs) is only expired: a warning about the past helps no one.
    Used and voided coupons are left alone."""
    per_step = COUPON_JOB_ACTIONS // COUPON_STEP_ACTIONS
    issued = sorted(
        (c for c in coupons if c.status == "issued" and c.expires_at is not None),
        key=lambda c: (c.expires_at, c.code),
    )
    expiring = [c for c in issued if c.expires_at is not None and c.expires_at <= now]
    warning = [
        c
        for c in issued
        if c.expires_at is not None
        and c.expires_at > now
        and c.warned_at is None
        and coupon_next_action_at(c.expires_at, warned=False) <= now
    ]
    expire = tuple(expiring[:per_step])
    warn = tuple(warning[: per_step - len(expire)])
    return CouponExpiryPlan(
        expire, warn, complete=len(expire) + len(warn) == len(expiring) + len(warning)
    )


@dataclass(frozen=True, slots=True)
class OrderCoupons:
    """What an order's `couponCodes` do: the coupons it uses (in the award's transaction) and
    the codes it cannot use, each with why (logged; the order earns its points anyway)."""

    uses: tuple[CouponUse, ...]
    skipped: tuple[tuple[str, str], ...]


def plan_order_coupons(
    coupons: Mapping[str, Coupon],
    codes: Sequence[str],
    *,
    order_id: str,
    member_id: str,
    placed_at: datetime,
) -> OrderCoupons:
    """A coupon is used by the order when it is the member's and was active when the order
    was placed; a coupon this very order already used (at the checkout) is left as it is."""
    uses: list[CouponUse] = []
    skipped: list[tuple[str, str]] = []
    for code in dict.fromkeys(codes):
        coupon = coupons.get(code)
        if coupon is None:
            skipped.append((code, "unknown"))
        elif coupon.member_id != member_id:
            skipped.append((code, "other-member"))
        elif coupon.status == "used" and coupon.used_by_order == order_id:
            skipped.append((code, "already-used-by-this-order"))
        elif coupon.status_at(placed_at) != "active":
            skipped.append((code, coupon.status_at(placed_at)))
        else:
            uses.append(CouponUse(coupon, order_id, replayed=False))
    return OrderCoupons(tuple(uses), tuple(skipped))
