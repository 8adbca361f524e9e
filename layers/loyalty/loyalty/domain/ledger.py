"""The points ledger: entries, lots and the member's running totals, and the pure planning
of what one business event writes. Nothing here performs I/O; the data-access module turns a
plan into one DynamoDB transaction.

Balance model (see docs/design.md):
- every positive earning creates a *lot* that expires `expiryMonths` after it was earned;
- the profile keeps `lotTotal` (sum of the lots' current points) and `debited` (points spent
  or expired); `balance = lotTotal - debited` and equals the sum of the ledger entries;
- spending is attributed to lots soonest-expiring first, so the unspent part of a lot is
  `clamp(settledEarned + earned-before-it-by-expiry + lot - debited, 0, lot)`: a redemption
  writes a constant number of items whatever the history;
- a refund reverses points by lowering its order's lot (and the balance); when those points
  were already spent the balance goes negative and later earnings pay that debt first.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Literal

from loyalty.domain.calendar import add_months
from loyalty.domain.errors import InvalidMessage
from loyalty.domain.rules import TIER_ORDER, ProgramRules, TierName
from loyalty.domain.schedules import Schedule, ScheduleChange, tenure_schedule

if TYPE_CHECKING:
    from loyalty.domain.orders import OrderCompleted, OrderRefunded

EntryType = Literal["earn", "redeem", "expire", "reverse", "adjust"]

# Human-friendly referral codes: no 0/O, 1/I/L to misread; 32^8 ≈ 10^12 codes.
_REFERRAL_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERRAL_CODE_LENGTH = 8


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One point movement. `points` is signed; the entry carries no personal data."""

    entry_id: str
    member_id: str
    type: EntryType
    reason: str
    points: int
    occurred_at: datetime
    reference: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LotRef:
    lot_id: str
    expires_at: datetime
    # Set while the lot is held for the return window (pending points).
    available_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PointsLot:
    """Points earned together, expiring together. `points` is the current amount (refunds
    lower it); `original_points` what was earned."""

    lot_id: str
    member_id: str
    points: int
    original_points: int
    earned_at: datetime
    expires_at: datetime
    reason: str
    reference: str
    warn_at: datetime | None = None
    warned: bool = False
    settled: bool = False
    # Held for the return window until then (pending, not spendable); None once released.
    available_at: datetime | None = None
    # Of `points`, how many the expiry job found unspent when it settled the lot (0 while
    # the lot is live): the rest of a settled lot was spent, and only that a refund reverses.
    expired_points: int = 0

    @property
    def reversible(self) -> int:
        """What a refund can still take back: all of a live lot (open or spent, the debt
        rule sorts that out), only the spent part of a settled one (expired points are gone)."""
        return self.points - self.expired_points if self.settled else self.points

    @property
    def pending(self) -> bool:
        return self.available_at is not None

    @property
    def next_action_at(self) -> datetime:
        """When the daily job next has to look at this lot: to release it, to warn about
        its expiry, then to expire it."""
        if self.available_at is not None:
            return self.available_at
        if self.warn_at is not None and not self.warned:
            return self.warn_at
        return self.expires_at

    @property
    def ref(self) -> LotRef:
        return LotRef(self.lot_id, self.expires_at, self.available_at)


@dataclass(frozen=True, slots=True)
class LotReduction:
    """Points taken back from one lot. The write is conditioned on the lot still being as
    read (`points_before`, held or not, settled or not)."""

    lot: LotRef
    points: int
    points_before: int
    pending: bool = False
    settled: bool = False

    @classmethod
    def of(cls, lot: PointsLot, points: int) -> LotReduction:
        return cls(lot.ref, points, lot.points, pending=lot.pending, settled=lot.settled)


@dataclass(frozen=True, slots=True)
class MemberState:
    """What the ledger needs of a member's profile. `version` changes with every write that
    changes earning state (tierPoints, orderCount); writers condition on it."""

    member_id: str
    enrolled_at: datetime
    version: int
    balance: int
    pending_points: int
    tier_points: int
    tier: TierName
    lot_total: int
    debited: int
    settled_earned: int
    order_count: int
    referral_code: str | None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthday: date | None = None
    shares_month: str | None = None
    shares_count: int = 0
    referred_by: str | None = None
    referrals_month: str | None = None
    referrals_count: int = 0
    marketing_consent: bool = False
    enrolled_by: str = "api"
    # The member's first order: the earliest by (occurredAt, orderId) recorded so far.
    first_order_id: str | None = None
    first_order_at: datetime | None = None
    # Erased at the member's request: personal data gone, balance forfeited, account closed;
    # the ledger stays (anonymised) so program totals hold.
    erased_at: datetime | None = None
    # The leaderboard choice (docs/leaderboard.md): off by default.
    leaderboard_opt_in: bool = False
    leaderboard_name: str | None = None
    # When the expiry job must next look at the member's lots (None: no live lot). Never
    # later than a live lot's `next_action_at`; writes that add a lot keep it so.
    expiry_due_at: datetime | None = None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as recorded when its points were awarded: the order's dedupe marker, and what
    a refund needs to reverse exactly what was earned, whatever the rules are by then."""

    order_id: str
    member_id: str
    occurred_at: datetime
    eligible_amount: Decimal
    purchase_points: int
    points_per_dollar: int
    seasonal_multiplier: Decimal
    rules_version: int
    purchase_lot: LotRef | None
    # The member's how-manieth order; None when awarded without reading the member
    # (`plan_award_without_read`: then it is not a milestone, and not the first).
    order_number: int | None
    first_purchase_bonus: int
    bonus_lot: LotRef | None
    referral_code: str | None = None
    refunded_amount: Decimal = Decimal("0.00")
    reversed_points: int = 0
    bonus_reversed: bool = False
    refund_count: int = 0
    # The member's first order (earliest by occurredAt) as far as the ledger knows: it holds
    # the first-purchase bonus and its referral code counts. An earlier order arriving later
    # takes this over (see `plan_order_award`).
    first_order: bool = False
    # What the program preview replays under draft rules (`domain/program_preview.py`): the
    # amount per category (None: uncategorised; at most MAX_RECORDED_CATEGORIES, the rest
    # folded into None) and the member's tier when the order was awarded.
    category_amounts: tuple[tuple[str | None, Decimal], ...] = ()
    tier: TierName | None = None


# An order of a thousand lines in a thousand categories must still fit one small item.
MAX_RECORDED_CATEGORIES = 16


def category_amounts(order: OrderCompleted) -> tuple[tuple[str | None, Decimal], ...]:
    """The order's amount per category, largest first; beyond MAX_RECORDED_CATEGORIES the
    smallest are folded into the uncategorised amount (None)."""
    totals: dict[str | None, Decimal] = {}
    for line in order.lines:
        totals[line.category] = totals.get(line.category, Decimal("0.00")) + line.amount
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0] or ""))
    kept = dict(ranked[:MAX_RECORDED_CATEGORIES])
    folded = sum((amount for _, amount in ranked[MAX_RECORDED_CATEGORIES:]), Decimal("0.00"))
    if folded:
        kept[None] = kept.get(None, Decimal("0.00")) + folded
    return tuple((category, amount) for category, amount in kept.items() if amount)


@dataclass(frozen=True, slots=True)
class NewMember:
    member_id: str
    enrolled_at: datetime
    enrolled_by: str
    referral_code: str
    tenure: ScheduleChange | None = None


@dataclass(frozen=True, slots=True)
class MemberChange:
    """Counter deltas applied atomically to the profile, guarded by `expected_version`
    (or, for `new_member`, by the profile not existing yet)."""

    member_id: str
    expected_version: int | None
    tier: TierName
    balance: int = 0
    lot_total: int = 0
    tier_points: int = 0
    debited: int = 0
    order_count: int = 0
    pending_points: int = 0
    # Points of settled lots that a refund took back (settledEarned follows the lots).
    settled_earned: int = 0
    new_member: NewMember | None = None
    # Set when this event's order becomes the member's first order.
    first_order: tuple[str, datetime] | None = None
    # A member enrolled by an order is enrolled at their first order's occurredAt.
    enrolled_at: datetime | None = None
    shares_month: str | None = None
    shares_count: int | None = None
    referrals_month: str | None = None
    referrals_count: int | None = None
    # The member's expiry due time as read (MemberState.expiry_due_at): a write that adds
    # lots moves it earlier only when one of them is due sooner.
    expiry_due_before: datetime | None = None


def member_after(member: MemberState, change: MemberChange) -> MemberState:
    """The member's counters as `change` leaves them (what its update of the profile adds):
    a dry run plans a member's next step against this, as the real run would read it."""
    return replace(
        member,
        tier=change.tier,
        balance=member.balance + change.balance,
        lot_total=member.lot_total + change.lot_total,
        tier_points=member.tier_points + change.tier_points,
        debited=member.debited + change.debited,
        order_count=member.order_count + change.order_count,
        pending_points=member.pending_points + change.pending_points,
        settled_earned=member.settled_earned + change.settled_earned,
    )


def member_expiry_due(
    current: datetime | None, lots: Iterable[PointsLot], member_id: str
) -> datetime | None:
    """The member's expiry due time once `lots` (of any members) are added: the earliest of
    the current one and the new lots' next actions; None when it does not change."""
    new = [lot.next_action_at for lot in lots if lot.member_id == member_id]
    if not new or (current is not None and current <= min(new)):
        return None
    return min(new)


@dataclass(frozen=True, slots=True)
class PreviousFirstOrder:
    """What an order earlier than the member's recorded first order needs to take over:
    that order's record, its bonus lot (None when it has none) and the tenure schedule."""

    record: OrderRecord
    bonus_lot: PointsLot | None
    tenure: Schedule | None


@dataclass(frozen=True, slots=True)
class FirstOrderHandover:
    """The order that was first until now, as it was read (`before`) and as it is written
    (`after`: no longer first; without its bonus when the bonus moves), the bonus lot it
    gives up, and the tenure schedule moved to the earlier enrollment."""

    before: OrderRecord
    after: OrderRecord
    bonus_reduction: LotReduction | None
    tenure: ScheduleChange | None


@dataclass(frozen=True, slots=True)
class OrderAwardPlan:
    order: OrderRecord
    member: MemberChange
    entries: tuple[LedgerEntry, ...]
    lots: tuple[PointsLot, ...]
    handover: FirstOrderHandover | None = None

    @property
    def points(self) -> int:
        return sum(entry.points for entry in self.entries)


@dataclass(frozen=True, slots=True)
class RefundPlan:
    refund_id: str
    order_before: OrderRecord
    order_after: OrderRecord
    member: MemberChange
    entries: tuple[LedgerEntry, ...]
    lot_reductions: tuple[LotReduction, ...]
    # The refund message's amount, the part applied to the order, and the excess beyond
    # what was left to refund (capped: never reversed).
    requested_amount: Decimal
    applied_amount: Decimal
    capped_amount: Decimal
    # Points the refund would have reversed but that had already expired: gone, not taken.
    expired_points: int

    @property
    def points(self) -> int:
        return sum(entry.points for entry in self.entries)


DedupeKind = Literal["review", "share", "birthday", "tenure", "referral", "adjustment", "badge"]


@dataclass(frozen=True, slots=True)
class DedupeKey:
    """The business event an earning answers to (a review of a product, a shared URL...):
    written with the points, conditional, so the event earns once."""

    kind: DedupeKind
    value: str


@dataclass(frozen=True, slots=True)
class EarnPlan:
    member: MemberChange
    entries: tuple[LedgerEntry, ...]
    lots: tuple[PointsLot, ...]
    dedupe: DedupeKey
    schedule: ScheduleChange | None = None
    # Extra attributes of the marker (ids and numbers only): what the stream tells of it.
    marker_fields: Mapping[str, str | int | bool] = field(default_factory=dict)

    @property
    def points(self) -> int:
        return sum(entry.points for entry in self.entries)


@dataclass(frozen=True, slots=True)
class SpendPlan:
    """Points leaving the balance (a redemption, a negative adjustment): written only if the
    balance covers them at the moment of the write, once per `reference`."""

    member_id: str
    points: int
    entry: LedgerEntry


@dataclass(frozen=True, slots=True)
class PurchaseCalculation:
    eligible_amount: Decimal
    seasonal_multiplier: Decimal
    points: int
    tier: TierName = "Bronze"
    tier_multiplier: Decimal = Decimal(1)


def make_entry_id(occurred_at: datetime, reference: str, reason: str, ordinal: int = 0) -> str:
    """Time-sortable and deterministic: the same business event always yields the same id,
    so a retried write cannot create a second entry. `ordinal` keeps the entries of one
    event in the order they were made (purchase before its bonus)."""
    digest = hashlib.sha256(f"{reference}\x1f{reason}".encode()).hexdigest()[:12]
    stamp = occurred_at.strftime("%Y%m%d%H%M%S") + f"{occurred_at.microsecond // 1000:03d}"
    return f"{stamp}{ordinal:02d}-{digest}"


def new_referral_code() -> str:
    return "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def earning_tier(rules: ProgramRules, member: MemberState | None) -> TierName:
    """The tier an order earns at: the member's tier before it (as the member view shows it,
    by the rules in force); Bronze for a member the order enrolls."""
    return rules.tier_for(member.tier_points) if member is not None else "Bronze"


def purchase_points(
    rules: ProgramRules, order: OrderCompleted, tier: TierName = "Bronze"
) -> PurchaseCalculation:
    """`floor(Σ line amount × category multiplier × pointsPerDollar × seasonal multiplier ×
    tier multiplier)`, in Decimal, floored once per order. The seasonal multiplier is the
    one open for `tier` at the order's instant (its early access included)."""
    weighted = sum(
        (line.amount * rules.category_multiplier(line.category) for line in order.lines),
        Decimal(0),
    )
    seasonal, tier_multiplier = purchase_rates(rules, order.occurred_at, tier)
    return PurchaseCalculation(
        order.eligible_amount,
        seasonal,
        floor_points(weighted, rules.points_per_dollar, seasonal, tier_multiplier),
        tier,
        tier_multiplier,
    )


def purchase_rates(rules: ProgramRules, at: datetime, tier: TierName) -> tuple[Decimal, Decimal]:
    """The seasonal multiplier open for `tier` at `at` and the tier's earning multiplier."""
    return rules.seasonal_multiplier_at(at, tier), rules.tier_multiplier(tier)


def floor_points(
    weighted: Decimal, points_per_dollar: int, seasonal: Decimal, tier_multiplier: Decimal
) -> int:
    """Purchase points of an amount already weighted by category: the one rounding (down)
    an order's points get, shared by the award, quotes and the program preview."""
    raw = weighted * points_per_dollar * seasonal * tier_multiplier
    return int(raw.to_integral_value(rounding=ROUND_FLOOR))


class EarningBuilder:
    """Collects the entries and lots of one event's earnings."""

    def __init__(self, rules: ProgramRules, member_id: str, now: datetime) -> None:
        self.rules = rules
        self.member_id = member_id
        self.now = now
        self.entries: list[LedgerEntry] = []
        self.lots: list[PointsLot] = []
        self.earned = 0

    def earn(
        self,
        *,
        reason: str,
        points: int,
        occurred_at: datetime,
        reference: str,
        details: Mapping[str, str],
        identity: str | None = None,
        hold: bool = False,
        entry_type: EntryType = "earn",
    ) -> LotRef | None:
        """`identity` names the business event for the entry id when the reference alone
        does not (one review id for two products). With `hold`, the points are pending
        for the program's return window (`pendingHoldDays`) before they can be spent."""
        if points <= 0:
            return None
        identity = identity or reference
        entry_id = make_entry_id(occurred_at, identity, reason, len(self.entries))
        self.earned += points
        self.entries.append(
            LedgerEntry(
                entry_id=entry_id,
                member_id=self.member_id,
                type=entry_type,
                reason=reason,
                points=points,
                occurred_at=occurred_at,
                reference=reference,
                details={**details, "rulesVersion": str(self.rules.version)},
            )
        )
        expires_at = add_months(occurred_at, self.rules.expiry_months)
        if expires_at <= self.now:
            # Earned so long ago that the points have already expired: the history shows
            # both movements and no lot is left for the expiry job to find.
            self.entries.append(
                LedgerEntry(
                    entry_id=make_entry_id(
                        occurred_at, identity, f"{reason}:expired", len(self.entries)
                    ),
                    member_id=self.member_id,
                    type="expire",
                    reason="expired-on-arrival",
                    points=-points,
                    occurred_at=self.now,
                    reference=reference,
                )
            )
            return None
        available_at = None
        if hold and self.rules.pending_hold_days:
            available_at = occurred_at + timedelta(days=self.rules.pending_hold_days)
            if available_at <= self.now:
                available_at = None  # the return window is already over
        lot = PointsLot(
            lot_id=entry_id,
            member_id=self.member_id,
            points=points,
            original_points=points,
            earned_at=occurred_at,
            expires_at=expires_at,
            reason=reason,
            reference=reference,
            warn_at=(
                expires_at - timedelta(days=self.rules.expiry_warning_days)
                if self.rules.expiry_warning_days
                else None
            ),
            available_at=available_at,
        )
        self.lots.append(lot)
        return lot.ref

    @property
    def lot_points(self) -> int:
        """Spendable now (lots not held for the return window)."""
        return sum(lot.points for lot in self.lots if not lot.pending)

    @property
    def pending_points(self) -> int:
        return sum(lot.points for lot in self.lots if lot.pending)


def is_first_order(member: MemberState | None, order_id: str, occurred_at: datetime) -> bool:
    """Whether this order is the member's first as far as the ledger knows: the earliest by
    (occurredAt, orderId), whatever the order the messages were processed in."""
    if member is None or member.order_count == 0:
        return True
    if member.first_order_at is None or member.first_order_id is None:
        return False
    return (occurred_at, order_id) < (member.first_order_at, member.first_order_id)


def takes_over_first_order(
    member: MemberState | None, order_id: str, occurred_at: datetime
) -> bool:
    """This order is earlier than the member's recorded first order: it takes over, and its
    planning needs the previous first order (`PreviousFirstOrder`)."""
    return (
        member is not None
        and member.first_order_id is not None
        and is_first_order(member, order_id, occurred_at)
    )


def plan_order_award(
    rules: ProgramRules,
    member: MemberState | None,
    order: OrderCompleted,
    now: datetime,
    referral_code: str | None = None,
    previous_first: PreviousFirstOrder | None = None,
) -> OrderAwardPlan:
    """Everything one completed order writes: purchase points, the first-purchase bonus,
    order-count milestones, the order record, and (for an unknown member) the enrollment.

    Queues do not keep order, so the member's first order is the earliest by occurredAt, not
    the first processed: an order earlier than the recorded first one takes over (its bonus,
    its referral code, the enrollment date of a member enrolled by an order). That needs the
    previous first order (`previous_first`, read by the caller only in that case)."""
    calculation = purchase_points(rules, order, earning_tier(rules, member))
    order_number = (member.order_count if member else 0) + 1
    first = is_first_order(member, order.order_id, order.occurred_at)
    handover: FirstOrderHandover | None = None
    moved_bonus = 0
    bonus = rules.first_purchase_bonus if first else 0
    if member is not None and takes_over_first_order(member, order.order_id, order.occurred_at):
        if previous_first is None or previous_first.record.order_id != member.first_order_id:
            raise ValueError("an earlier first order needs the previous first order")
        handover, moved_bonus, bonus = _hand_over_first_order(member, order, previous_first)

    builder = EarningBuilder(rules, order.member_id, now)
    purchase_lot = _earn_purchase(builder, order, calculation, tier_read=True)
    bonus_lot = builder.earn(
        reason="first-purchase-bonus",
        points=bonus,
        occurred_at=order.occurred_at,
        reference=order.order_id,
        details={},
    )
    builder.earn(
        reason=f"order-milestone-{order_number}",
        points=rules.order_milestone_points(order_number),
        occurred_at=order.occurred_at,
        reference=order.order_id,
        details={"orderCount": str(order_number)},
    )
    entries = list(builder.entries)
    if handover is not None and handover.bonus_reduction is not None:
        previous = handover.before
        entries.append(
            LedgerEntry(
                entry_id=make_entry_id(
                    order.occurred_at, previous.order_id, "first-purchase-bonus-moved"
                ),
                member_id=order.member_id,
                type="reverse",
                reason="first-purchase-bonus-moved",
                points=-moved_bonus,
                occurred_at=order.occurred_at,
                reference=previous.order_id,
                details={"toOrderId": order.order_id},
            )
        )

    tier_points_before = member.tier_points if member else 0
    new_member = None
    if member is None:
        new_member = NewMember(
            member_id=order.member_id,
            enrolled_at=order.occurred_at,
            enrolled_by="order",
            referral_code=referral_code or new_referral_code(),
            tenure=tenure_schedule(rules, order.occurred_at),
        )
    enrolled_at = None
    if (
        member is not None
        and first
        and member.enrolled_by == "order"
        and order.occurred_at < member.enrolled_at
    ):
        enrolled_at = order.occurred_at
    change = MemberChange(
        member_id=order.member_id,
        expected_version=member.version if member else None,
        expiry_due_before=member.expiry_due_at if member else None,
        tier=rules.tier_for(tier_points_before + builder.earned - moved_bonus),
        balance=builder.lot_points - moved_bonus,
        lot_total=builder.lot_points - moved_bonus,
        tier_points=builder.earned - moved_bonus,
        order_count=1,
        pending_points=builder.pending_points,
        new_member=new_member,
        first_order=(order.order_id, order.occurred_at) if first else None,
        enrolled_at=enrolled_at,
    )
    record = _order_record(
        rules,
        order,
        calculation,
        purchase_lot,
        order_number=order_number,
        bonus=bonus,
        bonus_lot=bonus_lot,
        first=first,
        tier=calculation.tier,
    )
    return OrderAwardPlan(record, change, tuple(entries), tuple(builder.lots), handover)


@dataclass(frozen=True, slots=True)
class AwardWithoutRead:
    """An order's award planned from the message and the rules alone, for a member whose
    state cannot change the outcome; the transaction's conditions on the profile say
    whether that is so (if not, the award reads and plans as usual). The profile must:
    exist and not be erased; have had its first order in a second before this order's (so
    this one is neither the first nor takes the first's place); not be at an order count
    whose next order is a milestone; not cross a tier boundary with these points (so no
    tier changes, and every tier earns the same here); and be due for the expiry job no
    later than the new lots (so its index entry stays as it is)."""

    record: OrderRecord
    entries: tuple[LedgerEntry, ...]
    lots: tuple[PointsLot, ...]
    earned: int  # tier basis
    lot_points: int  # spendable now
    pending_points: int  # held for the return window
    # The order counts that would make this order a milestone.
    milestone_counts: tuple[int, ...]
    # The tiers by their lowest points, lowest first: the stored tier must be the one its
    # points give under these rules, and stay so with `earned` more (else a read plans the
    # change and announces it).
    tier_floors: tuple[tuple[TierName, int], ...]

    @property
    def points(self) -> int:
        return sum(entry.points for entry in self.entries)

    @property
    def lots_due_at(self) -> datetime | None:
        """The earliest next action of the new lots (None: no lot)."""
        return min((lot.next_action_at for lot in self.lots), default=None)


def plan_award_without_read(
    rules: ProgramRules, order: OrderCompleted, now: datetime
) -> AwardWithoutRead | None:
    """The award of a repeat order without reading the member first, or None when it
    could depend on more than the transaction can check: coupons on the order (read and
    checked), or points that differ by tier (tier multipliers, a tier's early access to a
    seasonal window: the entry records the tier it used, which only a read knows). An order
    with a referral code is a first checkout's: it would only be refused."""
    if order.coupon_codes or order.referral_code:
        return None
    by_tier = [purchase_points(rules, order, tier) for tier in TIER_ORDER]
    if len({(c.points, c.seasonal_multiplier, c.tier_multiplier) for c in by_tier}) != 1:
        return None
    calculation = by_tier[0]
    builder = EarningBuilder(rules, order.member_id, now)
    # Every tier earns alike here: the tier is not read (nor recorded).
    purchase_lot = _earn_purchase(builder, order, calculation, tier_read=False)
    record = _order_record(
        rules,
        order,
        calculation,
        purchase_lot,
        order_number=None,
        bonus=0,
        bonus_lot=None,
        first=False,
        tier=None,
    )
    return AwardWithoutRead(
        record=record,
        entries=tuple(builder.entries),
        lots=tuple(builder.lots),
        earned=builder.earned,
        lot_points=builder.lot_points,
        pending_points=builder.pending_points,
        milestone_counts=tuple(
            sorted({m.order_count - 1 for m in rules.order_milestones if m.points > 0})
        ),
        tier_floors=tuple(
            sorted(((t.name, t.min_points) for t in rules.tiers), key=lambda tier: tier[1])
        ),
    )


def _earn_purchase(
    builder: EarningBuilder,
    order: OrderCompleted,
    calculation: PurchaseCalculation,
    *,
    tier_read: bool,
) -> LotRef | None:
    """The order's purchase points (held for the return window when the rules say so); the
    entry records the rates it used, and the tier when it was read."""
    details = {
        "eligibleAmount": str(calculation.eligible_amount),
        "pointsPerDollar": str(builder.rules.points_per_dollar),
        "seasonalMultiplier": str(calculation.seasonal_multiplier),
        "tierMultiplier": str(calculation.tier_multiplier),
    } | ({"tier": calculation.tier} if tier_read else {})
    return builder.earn(
        hold=True,
        reason="purchase",
        points=calculation.points,
        occurred_at=order.occurred_at,
        reference=order.order_id,
        details=details,
    )


def _order_record(
    rules: ProgramRules,
    order: OrderCompleted,
    calculation: PurchaseCalculation,
    purchase_lot: LotRef | None,
    *,
    order_number: int | None,
    bonus: int,
    bonus_lot: LotRef | None,
    first: bool,
    tier: TierName | None,
) -> OrderRecord:
    return OrderRecord(
        order_id=order.order_id,
        member_id=order.member_id,
        occurred_at=order.occurred_at,
        eligible_amount=calculation.eligible_amount,
        purchase_points=calculation.points,
        points_per_dollar=rules.points_per_dollar,
        seasonal_multiplier=calculation.seasonal_multiplier,
        rules_version=rules.version,
        purchase_lot=purchase_lot,
        order_number=order_number,
        first_purchase_bonus=bonus,
        bonus_lot=bonus_lot,
        referral_code=order.referral_code,
        first_order=first,
        category_amounts=category_amounts(order),
        tier=tier,
    )


def _hand_over_first_order(
    member: MemberState,
    order: OrderCompleted,
    previous_first: PreviousFirstOrder,
) -> tuple[FirstOrderHandover, int, int]:
    """The previous first order gives way to the earlier `order`: returns the handover, the
    bonus points moved off the previous order's lot, and the bonus the new first order earns.

    - previous bonus still open or spent (its lot live): it moves, so a full refund of the
      earlier order reverses it, as if the messages had come in date order;
    - previous bonus already reversed (that order was refunded in full): the earlier order
      earns it afresh, as it would have in date order;
    - otherwise (no bonus there, or its lot already settled by the expiry job or expired on
      arrival): the bonus stays where it is (the earlier order's would have expired as
      well) and the earlier order earns none: never two bonuses."""
    previous = previous_first.record
    lot = previous_first.bonus_lot
    reduction = None
    moved = 0
    after = replace(previous, first_order=False)
    if previous.bonus_reversed:
        bonus = previous.first_purchase_bonus
    elif previous.first_purchase_bonus and lot is not None and not lot.settled and lot.points:
        moved = bonus = lot.points
        reduction = LotReduction.of(lot, moved)
        after = replace(after, first_purchase_bonus=0, bonus_lot=None)
    else:
        bonus = 0
    tenure = None
    schedule = previous_first.tenure
    if (
        member.enrolled_by == "order"
        and order.occurred_at < member.enrolled_at
        and schedule is not None
        and schedule.step
    ):
        tenure = ScheduleChange(
            "tenure", add_months(order.occurred_at, schedule.step), schedule.step
        )
    return FirstOrderHandover(previous, after, reduction, tenure), moved, bonus


def plan_earning(
    rules: ProgramRules,
    member: MemberState,
    *,
    reason: str,
    points: int,
    reference: str,
    occurred_at: datetime,
    now: datetime,
    dedupe: DedupeKey,
    details: Mapping[str, str] | None = None,
    shares_month: str | None = None,
    shares_count: int | None = None,
    schedule: ScheduleChange | None = None,
    entry_type: EntryType = "earn",
    marker_fields: Mapping[str, str | int | bool] | None = None,
) -> EarnPlan:
    """A single earning outside orders (review, share, birthday, milestone, referral);
    `schedule` moves the member's job schedule in the same write."""
    builder = EarningBuilder(rules, member.member_id, now)
    builder.earn(
        reason=reason,
        points=points,
        occurred_at=occurred_at,
        reference=reference,
        details=details or {},
        identity=f"{dedupe.kind}\x1f{dedupe.value}",
        entry_type=entry_type,
    )
    change = MemberChange(
        member_id=member.member_id,
        expected_version=member.version,
        expiry_due_before=member.expiry_due_at,
        tier=rules.tier_for(member.tier_points + builder.earned),
        balance=builder.lot_points,
        lot_total=builder.lot_points,
        tier_points=builder.earned,
        shares_month=shares_month,
        shares_count=shares_count,
    )
    return EarnPlan(
        change, tuple(builder.entries), tuple(builder.lots), dedupe, schedule, marker_fields or {}
    )


def plan_refund(
    rules: ProgramRules,
    member: MemberState,
    order: OrderRecord,
    refund: OrderRefunded,
    now: datetime,
    lots: Mapping[str, PointsLot],
) -> RefundPlan:
    """Reverse the order's purchase points in proportion to the cumulative refunded amount
    (rounded down, so several partial refunds never reverse more than one full refund), and
    the first-purchase bonus when the first order is refunded in full.

    - The amount is capped at what is left to refund of the order; the excess is recorded.
    - Each reversal comes off the order's lot as it is now (`lots`, by lot id): points still
      open or held, or spent (the balance goes negative: debt, which the member's other open
      points and later earnings pay first). Points the expiry job has already expired are
      gone: they are not taken again, neither from the balance nor from the tier basis."""
    if order.member_id != refund.member_id:
        raise InvalidMessage("memberId does not match the member of the refunded order")
    left_to_refund = max(order.eligible_amount - order.refunded_amount, Decimal("0.00"))
    applied = min(refund.amount, left_to_refund)
    refunded = order.refunded_amount + applied
    full = order.eligible_amount == 0 or refunded >= order.eligible_amount
    if full:
        target = order.purchase_points
    else:
        exact = Decimal(order.purchase_points) * refunded / order.eligible_amount
        target = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    reversals = [("refund", target - order.reversed_points, order.purchase_lot)]
    bonus_reversed = order.bonus_reversed
    if full and order.first_purchase_bonus and not order.bonus_reversed:
        reversals.append(
            ("refund-first-purchase-bonus", order.first_purchase_bonus, order.bonus_lot)
        )
        bonus_reversed = True

    entries: list[LedgerEntry] = []
    reductions: list[LotReduction] = []
    expired = 0
    for ordinal, (reason, points, ref) in enumerate(reversals):
        if points <= 0:
            continue
        lot = lots.get(ref.lot_id) if ref is not None else None
        taken = min(points, max(lot.reversible, 0)) if lot is not None else 0
        expired += points - taken
        if lot is None or taken == 0:
            continue
        reductions.append(LotReduction.of(lot, taken))
        details = {"refundId": refund.refund_id, "refundAmount": str(applied)}
        if taken < points:
            details["expiredNotReversed"] = str(points - taken)
        entries.append(
            LedgerEntry(
                entry_id=make_entry_id(refund.occurred_at, refund.refund_id, reason, ordinal),
                member_id=member.member_id,
                type="reverse",
                reason=reason,
                points=-taken,
                occurred_at=refund.occurred_at,
                reference=order.order_id,
                details=details,
            )
        )
    spendable = sum(r.points for r in reductions if not r.pending)
    change = MemberChange(
        member_id=member.member_id,
        expected_version=member.version,
        expiry_due_before=member.expiry_due_at,
        tier=rules.tier_for(member.tier_points - sum(r.points for r in reductions)),
        balance=-spendable,
        lot_total=-spendable,
        settled_earned=-sum(r.points for r in reductions if r.settled),
        tier_points=-sum(r.points for r in reductions),
        pending_points=-sum(r.points for r in reductions if r.pending),
    )
    after = replace(
        order,
        refunded_amount=refunded,
        reversed_points=target,
        bonus_reversed=bonus_reversed,
        refund_count=order.refund_count + 1,
    )
    return RefundPlan(
        refund.refund_id,
        order,
        after,
        change,
        tuple(entries),
        tuple(reductions),
        requested_amount=refund.amount,
        applied_amount=applied,
        capped_amount=refund.amount - applied,
        expired_points=expired,
    )


def plan_spend(
    member_id: str,
    points: int,
    *,
    entry_type: EntryType,
    reason: str,
    reference: str,
    occurred_at: datetime,
    details: Mapping[str, str] | None = None,
) -> SpendPlan:
    """Spending needs no read: the balance condition is checked inside the write, and the
    soonest-expiring lots are consumed implicitly by raising `debited`."""
    if points <= 0:
        raise InvalidMessage("points to spend must be a positive integer")
    entry = LedgerEntry(
        entry_id=make_entry_id(occurred_at, reference, reason),
        member_id=member_id,
        type=entry_type,
        reason=reason,
        points=-points,
        occurred_at=occurred_at,
        reference=reference,
        details=details or {},
    )
    return SpendPlan(member_id, points, entry)


@dataclass(frozen=True, slots=True)
class ExpiringPoints:
    points: int
    expires_at: datetime


def unspent_by_expiry(
    lots: Iterable[PointsLot], *, settled_earned: int, debited: int
) -> list[ExpiringPoints]:
    """The unspent points of each live lot, soonest-expiring first, grouped by expiry instant.

    Spending is attributed soonest-expiring first: lots are ordered by expiry and the first
    `debited - settled_earned` points of that order are spent."""
    remaining_debit = debited - settled_earned
    grouped: dict[datetime, int] = {}
    for lot in sorted(lots, key=lambda lot: (lot.expires_at, lot.lot_id)):
        spent_here = min(max(remaining_debit, 0), lot.points)
        remaining_debit -= lot.points
        unspent = lot.points - spent_here
        if unspent > 0:
            grouped[lot.expires_at] = grouped.get(lot.expires_at, 0) + unspent
    return [ExpiringPoints(points, expires_at) for expires_at, points in grouped.items()]


def unspent_per_lot(
    lots: Iterable[PointsLot], *, settled_earned: int, debited: int
) -> dict[str, int]:
    """The unspent points of each lot, soonest-expiring first attribution (see above)."""
    remaining_debit = debited - settled_earned
    unspent: dict[str, int] = {}
    for lot in sorted(lots, key=lambda lot: (lot.expires_at, lot.lot_id)):
        spent_here = min(max(remaining_debit, 0), lot.points)
        remaining_debit -= lot.points
        unspent[lot.lot_id] = lot.points - spent_here
    return unspent


def balance_of(entries: Sequence[LedgerEntry]) -> int:
    return sum(entry.points for entry in entries)
