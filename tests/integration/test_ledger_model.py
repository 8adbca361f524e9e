"""The ledger's rules (contract, "Ledger rules"; docs/design.md, "Ledger invariants") as one
executable model, checked against the real handlers on DynamoDB Local.

A Hypothesis state machine plays orders (categories, seasonal dates, late and very late
deliveries, first orders carrying a referral code), refunds (partial, full, beyond the order,
before their order), redemptions, reviews, shares, admin adjustments, erasure, redeliveries,
bulk imports of opening points (old enough to expire on arrival, with lifetime points) and
their undo,
and the daily jobs (expiry with warnings, birthday, tenure catch-up, return-window release)
at advancing dates, with a return window of 0 and of 14 days. A plain-Python model computes
what each step must do; after every step every member is checked against it and against the
invariants (`check_invariants`).

CI runs a fixed-seed budget; `make soak` runs a long one (LEDGER_MODEL_EXAMPLES, _STEPS) and
prints the figures (LEDGER_MODEL_REPORT)."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from devtools.template import create_table, delete_table
from functions.admin_api import app as admin_app
from functions.badge_evaluator import app as badge_evaluator
from functions.purchase_award import app as purchase_award
from functions.referral_completion import app as referral_completion
from loyalty import runtime
from loyalty.dal import keys
from loyalty.dal.imports import DynamoImportRepository
from loyalty.dal.repository import DynamoLedgerRepository
from loyalty.domain.calendar import add_months
from loyalty.domain.coupons import COUPON_WARNING_DAYS
from loyalty.domain.imports import ImportRow, ParsedRow, tier_basis_of
from loyalty.domain.ledger import make_entry_id, unspent_by_expiry
from loyalty.domain.rules import ProgramRules
from loyalty.domain.schedules import birthday_due
from loyalty.services.imports import ImportService
from tests.support.api import (
    USE_COUPON,
    VOID_COUPON,
    Clock,
    coupon_request,
    enroll,
    pin_clock,
    redeem,
    review,
    share,
)
from tests.support.events import FakeLambdaContext, completed, refunded, sqs_event
from tests.support.http import ADMIN, call, http_event
from tests.support.schedules import CapturedQueue, run_daily
from tests.support.streams import StreamReader, delivered_to
from tests.support.table import list_entries, list_lots
from tests.support.timetravel import FAKE_NOW_ENV

pytestmark = pytest.mark.calendar

# Under a faked wall clock (CI's calendar runs) a small budget: the model never reads the wall
# clock, the main run has already covered the fixed-seed examples.
_FAKED = bool(os.environ.get(FAKE_NOW_ENV))
EXAMPLES = int(os.environ.get("LEDGER_MODEL_EXAMPLES", "3" if _FAKED else "12"))
STEPS = int(os.environ.get("LEDGER_MODEL_STEPS", "30"))
REPORT = os.environ.get("LEDGER_MODEL_REPORT")

# Crosses Black Friday – Cyber Monday and 20–25 December, then a year of expiry.
START = datetime(2026, 10, 20, 9, tzinfo=UTC)
MEMBERS = ("m-1", "m-2", "m-3")
REFERRER = "ref"
CATEGORIES = ("general", "shoes", "books")
REWARDS = {"discount-10": 1000, "free-shipping": 500}
# The badges every run defines (small and deterministic): a first review worth 50 points and a
# challenge of 3 orders placed in November or December 2026 worth 300.
FIRST_REVIEW_BADGE = {
    "name": "First review",
    "condition": {"kind": "reviews", "count": 1},
    "points": 50,
}
ORDERS_CHALLENGE = {
    "name": "3 orders, November-December",
    "condition": {"kind": "orders", "count": 3},
    "points": 300,
    "window": {"startsOn": "2026-11-01", "endsOn": "2026-12-31"},
}
CHALLENGE_WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
STATS: dict[str, int] = defaultdict(int)


@dataclass
class Lot:
    lot_id: str
    points: int
    original: int
    earned_at: datetime
    expires_at: datetime
    held_until: datetime | None = None
    settled: bool = False
    expired: int = 0

    @property
    def held(self) -> bool:
        return self.held_until is not None


@dataclass
class Order:
    order_id: str
    member_id: str
    occurred_at: datetime
    eligible: Decimal
    purchase_points: int
    purchase_lot: Lot | None
    bonus: int = 0
    bonus_lot: Lot | None = None
    refunded: Decimal = Decimal("0.00")
    reversed: int = 0
    bonus_reversed: bool = False
    first: bool = False
    refund_count: int = 0


@dataclass
class Member:
    member_id: str
    enrolled_at: datetime
    enrolled_by: str
    birthday: date | None = None
    lots: list[Lot] = field(default_factory=list)
    debited: int = 0  # spent, expired and forfeited
    tier_points: int = 0
    order_count: int = 0
    first_order: tuple[datetime, str] | None = None
    erased: bool = False
    reviews: set[str] = field(default_factory=set)
    shares: set[str] = field(default_factory=set)
    shares_month: str = ""
    shares_count: int = 0
    birthday_due: datetime | None = None
    birthdays: set[int] = field(default_factory=set)
    tenure_due: datetime | None = None
    referral_done: bool = False
    referrals_completed: int = 0
    went_negative_by_reversal: bool = False

    @property
    def balance(self) -> int:
        return sum(lot.points for lot in self.lots if not lot.held) - self.debited

    @property
    def pending(self) -> int:
        return sum(lot.points for lot in self.lots if lot.held)

    def open_by_expiry(self) -> dict[datetime, int]:
        """Spending (and debt) consumed the soonest-expiring points first."""
        settled = sum(lot.points for lot in self.lots if lot.settled)
        remaining = self.debited - settled
        grouped: dict[datetime, int] = {}
        live = [lot for lot in self.lots if not lot.settled and not lot.held]
        for lot in sorted(live, key=lambda lot: (lot.expires_at, lot.lot_id)):
            consumed = min(max(remaining, 0), lot.points)
            remaining -= lot.points
            if lot.points - consumed:
                grouped[lot.expires_at] = grouped.get(lot.expires_at, 0) + lot.points - consumed
        return grouped


@dataclass
class ImportedRow:
    member_id: str
    lot: Lot | None
    lifetime: int
    undone: bool = False


@dataclass
class Coupon:
    code: str
    member_id: str
    points: int
    issued_at: datetime
    status: str = "issued"
    voided: tuple[int, int] = (0, 0)
    expired_by_job: bool = False  # the coupons job has recorded its expiry
    validity_days: int = 90

    @property
    def expires_at(self) -> datetime:
        return self.issued_at.replace(microsecond=0) + timedelta(days=self.validity_days)


class LedgerModel:
    """What the ledger must hold, computed the plainest way."""

    def __init__(self, rules: ProgramRules) -> None:
        self.rules = rules
        self.members: dict[str, Member] = {}
        self.orders: dict[str, Order] = {}
        self.refunds: set[str] = set()

    # ---- earning -----------------------------------------------------------------------

    def earn(
        self,
        member: Member,
        points: int,
        at: datetime,
        now: datetime,
        identity: str,
        reason: str,
        ordinal: int = 0,
        hold: bool = False,
    ) -> Lot | None:
        if points <= 0:
            return None
        member.tier_points += points
        expires = add_months(at, self.rules.expiry_months)
        if expires <= now:
            return None  # expired on arrival: earned and expired in one go
        held = None
        if hold and self.rules.pending_hold_days:
            held = at + timedelta(days=self.rules.pending_hold_days)
            if held <= now:
                held = None
        lot = Lot(make_entry_id(at, identity, reason, ordinal), points, points, at, expires, held)
        member.lots.append(lot)
        return lot

    def order(self, body: dict[str, Any], now: datetime, code_owner: str | None) -> None:
        member_id, order_id = body["memberId"], body["orderId"]
        if order_id in self.orders:
            return
        at = _instant(body["occurredAt"])
        member = self.members.get(member_id)
        if member is not None and member.erased:
            return
        if member is None:
            member = self.members[member_id] = Member(member_id, at, "order")
            member.tenure_due = add_months(at, 2)
        # The member's tier before the order: its early access to seasonal windows, its rate.
        tier = self.rules.tier_for(member.tier_points)
        seasonal = self.rules.seasonal_multiplier_at(at, tier)
        tier_multiplier = self.rules.tier_multiplier(tier)
        eligible = sum(
            (Decimal(line["unitPrice"]) * line["quantity"] for line in body["lines"]),
            Decimal(0),
        )
        weighted = sum(
            (
                Decimal(line["unitPrice"])
                * line["quantity"]
                * self.rules.category_multiplier(line["category"])
                for line in body["lines"]
            ),
            Decimal(0),
        )
        points = int(
            (
                weighted * self.rules.points_per_dollar * seasonal * tier_multiplier
            ).to_integral_value(ROUND_FLOOR)
        )
        first = member.first_order is None or (at, order_id) < member.first_order
        if member.order_count and member.first_order is None:
            first = False
        bonus = self.rules.first_purchase_bonus if first else 0
        previous = self.orders.get(member.first_order[1]) if first and member.first_order else None
        if previous is not None:
            previous.first = False
            lot = previous.bonus_lot
            if previous.bonus_reversed:
                bonus = previous.bonus
            elif previous.bonus and lot is not None and not lot.settled and lot.points:
                bonus = lot.points
                member.tier_points -= lot.points
                lot.points = 0
                previous.bonus, previous.bonus_lot = 0, None
            else:
                bonus = 0
            moved_earlier = member.enrolled_by == "order" and at < member.enrolled_at
            if moved_earlier and member.tenure_due is not None:
                member.tenure_due = add_months(at, 2)
        if first and member.enrolled_by == "order" and at < member.enrolled_at:
            member.enrolled_at = at
        member.order_count += 1
        purchase_lot = self.earn(member, points, at, now, order_id, "purchase", 0, hold=True)
        bonus_lot = self.earn(member, bonus, at, now, order_id, "first-purchase-bonus", 1)
        milestone = self.rules.order_milestone_points(member.order_count)
        self.earn(member, milestone, at, now, order_id, f"order-milestone-{member.order_count}", 2)
        if first:
            member.first_order = (at, order_id)
        self.orders[order_id] = Order(
            order_id, member_id, at, eligible, points, purchase_lot, bonus, bonus_lot, first=first
        )
        # Referral completion (the stream): the referee's first order carrying a code.
        if first and code_owner and not member.referral_done:
            referrer = self.members[code_owner]
            member.referral_done = True
            referrer.referrals_completed += 1
            identity = f"referral\x1f{member_id}"
            self.earn(
                referrer,
                self.rules.referral.referrer_points,
                at,
                now,
                identity,
                "referral-referrer",
            )
            self.earn(
                member, self.rules.referral.referee_points, at, now, identity, "referral-referee"
            )

    def refund(self, body: dict[str, Any]) -> None:
        if body["refundId"] in self.refunds:
            return
        order = self.orders[body["orderId"]]
        member = self.members[order.member_id]
        self.refunds.add(body["refundId"])
        if member.erased:
            return
        amount = Decimal(body["amount"])
        applied = min(amount, max(order.eligible - order.refunded, Decimal("0.00")))
        order.refunded += applied
        full = order.eligible == 0 or order.refunded >= order.eligible
        if full:
            target = order.purchase_points
        else:
            exact = Decimal(order.purchase_points) * order.refunded / order.eligible
            target = int(exact.to_integral_value(ROUND_FLOOR))
        reversals = [(target - order.reversed, order.purchase_lot)]
        order.reversed = target
        if full and order.bonus and not order.bonus_reversed:
            reversals.append((order.bonus, order.bonus_lot))
            order.bonus_reversed = True
        for points, lot in reversals:
            if points <= 0 or lot is None:
                continue
            reversible = lot.points - lot.expired if lot.settled else lot.points
            taken = min(points, reversible)
            if taken <= 0:
                continue
            lot.points -= taken
            member.tier_points -= taken
            if member.balance < 0:
                member.went_negative_by_reversal = True

    def import_row(
        self, member_id: str, points: int, at: datetime, lifetime: int, now: datetime, ref: str
    ) -> ImportedRow | None:
        """A row lands: a new member is enrolled now; the points are earned at `at` (expired
        on arrival when older than the expiry); the tier basis grows by the lifetime points.
        An erased member's row is refused."""
        member = self.members.get(member_id)
        if member is not None and member.erased:
            return None
        if member is None:
            member = self.members[member_id] = Member(member_id, now, "import")
            member.tenure_due = add_months(now, 2)
        lot = self.earn(member, points, at, now, ref, "import")
        member.tier_points += lifetime - points
        return ImportedRow(member_id, lot, lifetime)

    def undo_import(self, row: ImportedRow) -> tuple[int, int]:
        """Its lot's points taken back as a refund takes them (open ones removed, spent ones
        become debt, expired ones stay expired), its whole tier basis removed; an erased
        member's row changes nothing. Returns (open points removed, debt)."""
        member = self.members[row.member_id]
        row.undone = True
        if member.erased:
            return 0, 0
        before = member.balance
        lot = row.lot
        if lot is not None:
            lot.points -= lot.points - lot.expired if lot.settled else lot.points
        member.tier_points -= row.lifetime
        if member.balance < 0:
            member.went_negative_by_reversal = True
        taken = before - member.balance
        return min(taken, max(before, 0)), max(-member.balance, 0) - max(-before, 0)

    def spend(self, member: Member, points: int) -> bool:
        if member.erased or member.balance < points:
            return False
        member.debited += points
        return True

    def void(self, member: Member, points: int) -> tuple[int, int]:
        """A coupon's points back as if it had never been redeemed: what open lots lent to
        spending returns; what settled lots lent would have expired with them."""
        settled = sum(lot.points for lot in member.lots if lot.settled)
        returned = min(points, max(member.debited - settled, 0))
        member.debited -= returned
        left = points - returned
        for lot in sorted(
            (lot for lot in member.lots if lot.settled),
            key=lambda lot: (lot.expires_at, lot.lot_id),
            reverse=True,
        ):
            take = min(lot.points - lot.expired, left)
            lot.expired += max(take, 0)
            left -= max(take, 0)
        assert left == 0, (member.member_id, points, left)
        return returned, points - returned

    def erase(self, member: Member) -> None:
        member.debited += member.balance + member.pending
        for lot in member.lots:
            lot.held_until = None
        member.erased = True
        member.birthday_due = member.tenure_due = None

    # ---- the daily jobs ----------------------------------------------------------------

    def jobs(self, now: datetime) -> None:
        for member in self.members.values():
            self._expire(member, now)
            self._birthday(member, now)
            self._tenure(member, now)

    def _expire(self, member: Member, now: datetime) -> None:
        for lot in member.lots:
            if lot.held and lot.held_until is not None and lot.held_until <= now:
                lot.held_until = None
        due = sorted(
            (
                lot
                for lot in member.lots
                if not lot.settled and not lot.held and lot.expires_at <= now
            ),
            key=lambda lot: (lot.expires_at, lot.lot_id),
        )
        settled = sum(lot.points for lot in member.lots if lot.settled)
        spent_budget = member.debited - settled
        for lot in due:
            consumed = min(max(spent_budget, 0), lot.points)
            spent_budget -= lot.points
            lot.expired = lot.points - consumed
            lot.settled = True
            member.debited += lot.expired

    def _birthday(self, member: Member, now: datetime) -> None:
        if member.erased or member.birthday is None or member.birthday_due is None:
            return
        if member.birthday_due > now:
            return
        if now.month != member.birthday.month:
            member.birthday_due = birthday_due(member.birthday, now)
            return
        if now.year not in member.birthdays:
            member.birthdays.add(now.year)
            self.earn(
                member,
                self.rules.birthday_bonus,
                now,
                now,
                f"birthday\x1f{now.year}",
                "birthday-bonus",
            )
        member.birthday_due = datetime(now.year + 1, member.birthday.month, 1, tzinfo=UTC)

    def _tenure(self, member: Member, now: datetime) -> None:
        if member.erased or member.tenure_due is None or member.tenure_due > now:
            return
        due, member.tenure_due = member.tenure_due, None
        self.earn(member, 200, due, now, "tenure\x1f2", "tenure-milestone-2")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cents(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


class LedgerMachine(RuleBasedStateMachine):
    """Drives the real handlers and the model side by side."""

    hold_days = 0
    # More of the rules document than the defaults (LedgerWithTierRates).
    extra_rules: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        rules = {"pendingHoldDays": self.hold_days} if self.hold_days else {}
        rules |= self.extra_rules
        self.rules = ProgramRules.model_validate(rules)
        self.model = LedgerModel(self.rules)
        self.client = CONTEXT["client"]
        self.table = f"loyalty-model-{uuid.uuid4().hex[:12]}"
        create_table(self.client, self.table)
        self.patch = pytest.MonkeyPatch()
        self.patch.setenv("TABLE_NAME", self.table)
        self.patch.setenv("PROGRAM_RULES", json.dumps(rules))
        runtime.forget_rules()
        self.clock = Clock(START)
        pin_clock(self.patch, self.clock)
        self.queue = CapturedQueue()
        self.patch.setattr(runtime, "work_queue", lambda: self.queue)
        self.repository = DynamoLedgerRepository(self.table)
        self.stream = StreamReader(self.table)
        self.badge_stream = StreamReader(self.table)  # the badge evaluator's own reading
        self.badges: set[tuple[str, str]] = set()  # (member, badge) granted in the model
        self.sequence = itertools.count(1)
        self.held_back: list[dict[str, Any]] = []  # orders the queue has not delivered yet
        self.waiting_refunds: list[dict[str, Any]] = []  # refunds that overtook their order
        self.delivered: list[dict[str, Any]] = []
        self.code = ""
        self.coupons: list[Coupon] = []
        self.imports = ImportService(
            DynamoImportRepository(self.table, self.repository.client),
            lambda: self.rules,
            self.clock,
        )
        self.imported: dict[str, ImportedRow | None] = {}  # by batch id (one row each)
        STATS["runs"] += 1

    def teardown(self) -> None:
        STATS["members"] += len(self.model.members)
        self.patch.undo()
        runtime.forget_rules()
        runtime.forget_badges()
        delete_table(self.client, self.table)

    # ---- plumbing ----------------------------------------------------------------------

    def tick(self, minutes: int = 7) -> None:
        self.clock.now += timedelta(minutes=minutes)

    def deliver(self, body: dict[str, Any]) -> bool:
        """One SQS message through the purchase-award function, then the stream to referral
        completion; False when the function reported it failed (SQS would retry it)."""
        response = purchase_award.handler(sqs_event(body), FakeLambdaContext())
        event = delivered_to("ReferralCompletionFunction", self.stream.read())
        if event["Records"]:
            outcome = referral_completion.handler(event, FakeLambdaContext())
            assert outcome == {"batchItemFailures": []}
        STATS["steps"] += 1
        return response == {"batchItemFailures": []}

    def play_order(self, body: dict[str, Any]) -> None:
        owner = REFERRER if body.get("referralCode") == self.code else None
        assert self.deliver(body), body
        member = self.model.members.get(body["memberId"])
        closed = member is not None and member.erased
        self.model.order(body, self.clock.now, owner)
        self.delivered.append(body)
        placed_at = _instant(body["occurredAt"])
        for code in body.get("couponCodes", []):
            used = next(c for c in self.coupons if c.code == code.upper())
            mine = used.member_id == body["memberId"]
            usable = used.status == "issued" and not used.expired_by_job
            if not closed and mine and usable and placed_at < used.expires_at:
                used.status = "used"
                STATS["coupons used by orders"] += 1

    # ---- rules -------------------------------------------------------------------------

    @initialize()
    def referrer_enrolls(self) -> None:
        reply = enroll(REFERRER)
        assert reply.status == 201, reply.body
        self.code = reply.body["referralCode"]
        self.model.members[REFERRER] = Member(REFERRER, START, "api")
        self.model.members[REFERRER].tenure_due = add_months(START, 2)
        for badge_id, body in (("first-review", FIRST_REVIEW_BADGE), ("nov-dec", ORDERS_CHALLENGE)):
            event = http_event(
                "PUT", "/admin/badges/{badgeId}", {"badgeId": badge_id}, body=body, claims=ADMIN
            )
            assert call(admin_app.handler, event).status == 201

    @rule(
        member_id=st.sampled_from(MEMBERS[:2]),
        month=st.integers(1, 12),
    )
    def enroll_with_a_birthday(self, member_id: str, month: int) -> None:
        self.tick()
        birthday = date(1990, month, 15)
        reply = enroll(member_id, birthday=birthday.isoformat())
        member = self.model.members.get(member_id)
        if member is not None and member.erased:
            assert reply.status == 409, reply.body  # an erased member cannot come back
            return
        if member is not None:
            assert reply.status == 200, reply.body  # the profile changes, no point does
            if member.birthday != birthday:  # the birthday job follows the new birthday
                member.birthday = birthday
                member.birthday_due = birthday_due(birthday, self.clock.now)
            return
        assert reply.status == 201, reply.body
        member = self.model.members[member_id] = Member(member_id, self.clock.now, "api")
        member.birthday = birthday
        member.birthday_due = birthday_due(birthday, self.clock.now)
        member.tenure_due = add_months(self.clock.now, 2)

    @rule(
        member_id=st.sampled_from(MEMBERS),
        cents=st.sampled_from([0, 29, 1333, 1000, 2599, 4000, 12345]),
        category=st.sampled_from(CATEGORIES),
        days_back=st.sampled_from([0, 0, 1, 6, 30, 400]),
        with_code=st.booleans(),
        held_back=st.booleans(),
        coupon=st.sampled_from([None, None, -1, 0]),
    )
    def order(self, member_id, cents, category, days_back, with_code, held_back, coupon) -> None:
        self.tick()
        number = next(self.sequence)
        # Whole-second offsets keep every order's instant apart from the others' and from the
        # clock's whole minutes (ties between lots are then only within one event).
        at = self.clock.now - timedelta(days=days_back, seconds=number % 59 + 1)
        extra: dict[str, Any] = {"referralCode": self.code} if with_code else {}
        if coupon is not None and self.coupons:
            # The order names a coupon (its member's or not, in any state): used if it can be.
            extra["couponCodes"] = [self.coupons[coupon].code.lower()]
        body = completed(
            f"o-{number}", member_id, (_cents(cents), 1, category), at=_iso(at), **extra
        )
        if held_back:
            self.held_back.append(body)  # the queue delivers it later (out of order)
        else:
            self.play_order(body)

    @precondition(lambda self: self.held_back)
    @rule(index=st.integers(0, 5))
    def a_held_back_order_arrives(self, index: int) -> None:
        self.tick()
        self.play_order(self.held_back.pop(index % len(self.held_back)))

    @precondition(lambda self: self.model.orders or self.held_back)
    @rule(
        index=st.integers(0, 50),
        share=st.sampled_from(["full", "half", "cent", "over"]),
    )
    def refund(self, index: int, share: str) -> None:
        self.tick()
        orders = [*self.model.orders.values()]
        known = [(o.order_id, o.member_id, o.eligible) for o in orders] + [
            (b["orderId"], b["memberId"], Decimal(b["lines"][0]["unitPrice"]))
            for b in self.held_back
        ]
        order_id, member_id, eligible = known[index % len(known)]
        amount = max(
            {
                "full": eligible,
                "half": (eligible / 2).quantize(Decimal("0.01")),
                "cent": Decimal("0.01"),
                "over": eligible * 50 + 1,
            }[share],
            Decimal("0.01"),  # a refund's amount is positive
        )
        body = refunded(
            order_id,
            f"r-{next(self.sequence)}",
            member_id,
            f"{amount:.2f}",
            at=_iso(self.clock.now),
        )
        if order_id not in self.model.orders:
            assert not self.deliver(body)  # before its order: failed, SQS retries it
            self.waiting_refunds.append(body)
            return
        assert self.deliver(body), body
        self.model.refund(body)
        self.delivered.append(body)

    @precondition(lambda self: self.waiting_refunds)
    @rule()
    def sqs_retries_the_refunds_that_overtook_their_order(self) -> None:
        self.tick()
        for body in list(self.waiting_refunds):
            if body["orderId"] in self.model.orders:
                assert self.deliver(body), body
                self.model.refund(body)
                self.delivered.append(body)
                self.waiting_refunds.remove(body)
            else:
                assert not self.deliver(body)

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(0, 100))
    def a_message_is_delivered_again(self, index: int) -> None:
        self.tick()
        before = self.snapshot()
        assert self.deliver(self.delivered[index % len(self.delivered)])
        assert self.snapshot() == before

    @rule(member_id=st.sampled_from((*MEMBERS, REFERRER)), reward=st.sampled_from([*REWARDS]))
    def redeem(self, member_id: str, reward: str) -> None:
        self.tick()
        reply = redeem(member_id, reward, key=f"k-{next(self.sequence)}")
        member = self.model.members.get(member_id)
        if member is None or member.erased:
            assert reply.status == 404, reply.body
            return
        expected = 201 if self.model.spend(member, REWARDS[reward]) else 409
        assert reply.status == expected, reply.body
        if reply.status == 201:
            self.coupons.append(
                Coupon(
                    reply.body["couponCode"],
                    member_id,
                    REWARDS[reward],
                    self.clock.now,
                    validity_days=self.rules.coupon_validity_days,
                )
            )

    @precondition(lambda self: bool(self.coupons))
    @rule(index=st.integers(0, 30))
    def the_checkout_uses_a_coupon(self, index: int) -> None:
        self.tick()
        coupon = self.coupons[index % len(self.coupons)]
        order_id = f"co-{next(self.sequence)}"
        reply = coupon_request(
            USE_COUPON, coupon.code, body={"orderId": order_id, "memberId": coupon.member_id}
        )
        before = coupon.status
        if coupon.status == "issued" and self.clock.now < coupon.expires_at:
            assert reply.status == 200, reply.body
            coupon.status = "used"
        else:
            assert reply.status == 409, (before, reply.body)
        STATS["steps"] += 1

    @precondition(lambda self: bool(self.coupons))
    @rule(index=st.integers(0, 30), twice=st.booleans())
    def the_shop_voids_a_coupon(self, index: int, twice: bool) -> None:
        self.tick()
        coupon = self.coupons[index % len(self.coupons)]
        member = self.model.members[coupon.member_id]
        reply = coupon_request(VOID_COUPON, coupon.code, body={})
        if member.erased:
            # The closed account answers first, whatever the coupon's state.
            assert reply.status == 404, reply.body
        elif coupon.status == "voided":
            assert reply.status == 200, reply.body
            assert (reply.body["pointsReturned"], reply.body["pointsExpired"]) == coupon.voided
        elif coupon.status == "used" or self.clock.now >= coupon.expires_at:
            assert reply.status == 409, reply.body
        else:
            assert reply.status == 200, reply.body
            coupon.status = "voided"
            coupon.voided = self.model.void(member, coupon.points)
            assert (reply.body["pointsReturned"], reply.body["pointsExpired"]) == coupon.voided
            STATS["coupons voided"] += 1
            STATS["coupon points expired since"] += coupon.voided[1]
        if twice and reply.status == 200:
            before = self.snapshot()
            again = coupon_request(VOID_COUPON, coupon.code, body={})
            assert (again.status, again.body) == (200, reply.body)
            assert self.snapshot() == before
        STATS["steps"] += 1

    @rule(member_id=st.sampled_from(MEMBERS), product=st.sampled_from(["P-1", "P-2"]))
    def review(self, member_id: str, product: str) -> None:
        self.tick()
        reply = review(member_id, product, f"rv-{next(self.sequence)}")
        member = self.model.members.get(member_id)
        if member is None or member.erased:
            assert reply.status == 404, reply.body
            return
        if product in member.reviews:
            assert reply.status == 409, reply.body
            return
        assert reply.status == 201, reply.body
        member.reviews.add(product)
        self.model.earn(
            member, 50, self.clock.now, self.clock.now, f"review\x1f{product}", "review"
        )

    @rule(member_id=st.sampled_from(MEMBERS), page=st.integers(1, 7))
    def share(self, member_id: str, page: int) -> None:
        self.tick()
        url = f"https://shop.example/p/{page}"
        reply = share(member_id, url)
        member = self.model.members.get(member_id)
        if member is None or member.erased:
            assert reply.status == 404, reply.body
            return
        month = self.clock.now.strftime("%Y-%m")
        count = member.shares_count if member.shares_month == month else 0
        if url in member.shares or count >= 5:
            assert reply.status == 409, reply.body
            return
        assert reply.status == 201, reply.body
        member.shares.add(url)
        member.shares_month, member.shares_count = month, count + 1
        self.model.earn(member, 80, self.clock.now, self.clock.now, url, "social-share")

    @rule(member_id=st.sampled_from(MEMBERS), points=st.sampled_from([-700, -50, 40, 300]))
    def adjust(self, member_id: str, points: int) -> None:
        self.tick()
        event = http_event(
            "POST",
            "/admin/members/{memberId}/adjustments",
            {"memberId": member_id},
            body={"points": points, "reason": "goodwill"},
            claims=ADMIN,
            headers={"Idempotency-Key": f"adj-{next(self.sequence)}"},
        )
        reply = call(admin_app.handler, event)
        member = self.model.members.get(member_id)
        if member is None or member.erased:
            assert reply.status == 404, reply.body
            return
        if points < 0:
            expected = 201 if self.model.spend(member, -points) else 409
            assert reply.status == expected, reply.body
            return
        assert reply.status == 201, reply.body
        lot = self.model.earn(member, points, self.clock.now, self.clock.now, "", "adjust")
        if lot is not None:
            lot.lot_id = reply.body["entryId"]  # a lot is named after its entry

    @rule(twice=st.booleans())
    def the_badge_evaluator_reads_the_stream(self, twice: bool) -> None:
        """The badge evaluator gets the stream so far (its filter criteria applied), perhaps
        twice: a first review earns 50 and 3 orders placed in the challenge's window earn 300,
        each once per member, with the points at the evaluation's time."""
        self.tick()
        for _ in range(5):  # a grant changes the profile: a record of its own, read next
            event = delivered_to("BadgeEvaluatorFunction", self.badge_stream.read())
            if not event["Records"]:
                break
            for _ in range(2 if twice else 1):
                outcome = badge_evaluator.handler(event, FakeLambdaContext())
                assert outcome == {"batchItemFailures": []}
        start, end = CHALLENGE_WINDOW
        for member in self.model.members.values():
            if member.erased:
                continue  # an erased member earns nothing more
            placed = [
                o
                for o in self.model.orders.values()
                if o.member_id == member.member_id and start <= o.occurred_at < end
            ]
            for badge_id, points, met in (
                ("first-review", 50, bool(member.reviews)),
                ("nov-dec", 300, len(placed) >= 3),
            ):
                if met and (member.member_id, badge_id) not in self.badges:
                    self.badges.add((member.member_id, badge_id))
                    now = self.clock.now
                    self.model.earn(member, points, now, now, f"badge\x1f{badge_id}", "badge")
                    STATS["badges granted"] += 1
        STATS["steps"] += 1

    @rule(
        member_id=st.sampled_from((*MEMBERS, "m-imported")),
        points=st.sampled_from([0, 250, 1200]),
        days_back=st.sampled_from([0, 30, 400]),
        lifetime_extra=st.sampled_from([None, 0, 3000]),
        twice=st.booleans(),
    )
    def import_a_row(
        self, member_id: str, points: int, days_back: int, lifetime_extra: int | None, twice: bool
    ) -> None:
        """A bulk import's row (its own batch): opening points earned some days back (400:
        expired on arrival), perhaps lifetime points for the tier; run twice, it lands once."""
        self.tick()
        number = next(self.sequence)
        at = self.clock.now - timedelta(days=days_back, seconds=number % 59 + 1)
        lifetime = points + lifetime_extra if lifetime_extra is not None else None
        batch = f"b-{number}"
        row = ImportRow.model_validate(
            {"memberId": member_id, "points": points, "earnedAt": at, "lifetimePoints": lifetime}
        )
        report = self.imports.run(batch, [ParsedRow(1, 2, row, at)])
        landed = self.model.import_row(
            member_id, points, at, row.tier_basis(), self.clock.now, f"{batch}#1"
        )
        if landed is None:
            assert [r.reason for r in report.invalid] == ["the member was erased at their request"]
            return
        assert (report.imported, report.invalid) == (1, []), report
        self.imported[batch] = landed
        STATS["rows imported"] += 1
        if twice:
            before = self.snapshot()
            again = self.imports.run(batch, [ParsedRow(1, 2, row, at)])
            assert (again.imported, again.already_landed) == (0, 1)
            assert self.snapshot() == before

    @precondition(lambda self: self.imported)
    @rule(index=st.integers(0, 30))
    def undo_an_import(self, index: int) -> None:
        self.tick()
        batch = sorted(self.imported)[index % len(self.imported)]
        row = self.imported[batch]
        assert row is not None
        before = self.snapshot()
        report = self.imports.undo(batch)
        if row.undone:
            assert (report.undone, report.already_undone) == (0, 1)
            assert self.snapshot() == before
            return
        removed, debt = self.model.undo_import(row)
        assert (report.undone, report.points_removed, report.debt) == (1, removed, debt)
        STATS["imports undone"] += 1

    @rule(member_id=st.sampled_from(MEMBERS))
    def erase(self, member_id: str) -> None:
        self.tick()
        member = self.model.members.get(member_id)
        event = http_event("DELETE", "/members/{memberId}", {"memberId": member_id}, claims=ADMIN)
        reply = call(admin_app.handler, event)
        if member is None or member.erased:
            assert reply.status == 404, reply.body
            return
        assert reply.status == 204, reply.body
        self.model.erase(member)

    @rule(days=st.sampled_from([1, 3, 15, 40, 75, 200]), run_jobs=st.booleans())
    def time_passes(self, days: int, run_jobs: bool) -> None:
        """The days go by; the daily jobs run (or a run is missed, caught up later)."""
        self.clock.now += timedelta(days=days)
        if run_jobs:
            self.run_jobs()

    @rule()
    def the_daily_jobs_run_twice(self) -> None:
        self.run_jobs()
        before = self.snapshot()
        self.run_jobs(model=False)
        assert self.snapshot() == before

    def run_jobs(self, model: bool = True) -> None:
        for job in ("expiry", "birthday", "tenure", "coupons"):
            run_daily(self.queue, job, _iso(self.clock.now))
        if model:
            self.model.jobs(self.clock.now)
            if self.rules.coupon_expiry_returns_points:
                self.coupons_expire_with_their_points()
            self.check_coupons()
        STATS["steps"] += 1

    def coupons_expire_with_their_points(self) -> None:
        """The coupons job (after the expiry job) returns each unused coupon's points on its
        date as a void would, soonest-expiring first; an erased member's just expire."""
        due = sorted(
            (
                c
                for c in self.coupons
                if c.status == "issued" and not c.expired_by_job and c.expires_at <= self.clock.now
            ),
            key=lambda c: (c.expires_at, c.code),
        )
        for coupon in due:
            member = self.model.members[coupon.member_id]
            if not member.erased:
                self.model.void(member, coupon.points)
                STATS["coupon points returned on expiry"] += coupon.points

    def check_coupons(self) -> None:
        """After a run of the coupons job: an issued coupon is expired from its date (its
        points stay spent: the balances are checked against the model), and warned in the
        7 days before; a used or voided one is left as it is."""
        now = self.clock.now
        for coupon in self.coupons:
            stored = self.repository.get_coupon(coupon.code)
            assert stored is not None
            if coupon.status != "issued":
                assert stored.status == coupon.status, coupon
            elif now >= coupon.expires_at:
                assert stored.status == "expired", coupon
                coupon.expired_by_job = True
                STATS["coupons expired by the job"] += 1
            else:
                assert stored.status == "issued", coupon
                warning_due = now >= coupon.expires_at - timedelta(days=COUPON_WARNING_DAYS)
                assert (stored.warned_at is not None) == warning_due, coupon

    # ---- checks ------------------------------------------------------------------------

    def snapshot(self) -> list[tuple[Any, ...]]:
        """What a redelivery or a second run must not change."""
        members = sorted(
            (m.member_id, m.balance, m.pending_points, m.tier_points, m.debited, m.lot_total)
            for m in (self.repository.get_member(i) for i in self.model.members)
            if m is not None
        )
        return members + [(self.repository.get_coupon(c.code),) for c in self.coupons]

    @invariant()
    def every_member_matches_the_model_and_the_invariants(self) -> None:
        for member_id, expected in self.model.members.items():
            check_invariants(self.repository, member_id, expected, self.rules)
            STATS["member checks"] += 1


def check_invariants(
    repository: DynamoLedgerRepository, member_id: str, expected: Member, rules: ProgramRules
) -> None:
    """The ledger invariants (docs/design.md) for one member, and the model's figures."""
    member, live_range = repository.get_member_with_lots(member_id)
    assert member is not None
    lots = list_lots(repository, member_id)  # live and settled
    entries = list_entries(repository, member_id)
    context = f"member {member_id}"
    # Reads do not grow with history: the member view's range holds exactly the live lots.
    assert sorted(lot.lot_id for lot in live_range) == sorted(
        lot.lot_id for lot in lots if not lot.settled
    ), context
    # The expiry job finds every member with a live lot: the profile is listed on the
    # expiry index no later than the earliest next action of its live lots.
    if live_range:
        due = min(lot.next_action_at for lot in live_range)
        assert member.expiry_due_at is not None and member.expiry_due_at <= due, context
        profile = repository.client.get_item(
            TableName=repository.table_name,
            Key={"PK": {"S": keys.member_pk(member_id)}, "SK": {"S": keys.PROFILE_SK}},
            ConsistentRead=True,
        )["Item"]
        listed = keys.member_expiry_gsi_sk(member.expiry_due_at, member_id)
        assert profile["GSI2SK"]["S"] == listed, context
    # The history is the balance (pending included).
    assert sum(e.points for e in entries) == member.balance + member.pending_points, context
    assert member.balance == member.lot_total - member.debited, context
    assert member.lot_total == sum(lot.points for lot in lots if not lot.pending), context
    assert member.pending_points == sum(lot.points for lot in lots if lot.pending), context
    assert member.settled_earned == sum(lot.points for lot in lots if lot.settled), context
    # The model's figures.
    assert (member.balance, member.pending_points, member.tier_points) == (
        expected.balance,
        expected.pending,
        expected.tier_points,
    ), context
    assert member.enrolled_at == expected.enrolled_at, context
    assert member.tier == rules.tier_for(member.tier_points), context
    # Where every point goes: each lot's points are open, spent or expired; the rest of what
    # it earned was reversed (refunds, a moved bonus).
    for lot in lots:
        assert 0 <= lot.points <= lot.original_points, (context, lot)
        assert 0 <= lot.expired_points <= lot.points or not lot.settled, (context, lot)
    # Every expired point is in an `expire` entry: a settled lot's (the expiry job's, or a
    # voided coupon's points whose lot expired since), or one that expired on arrival.
    expired_entries = -sum(e.points for e in entries if e.type == "expire")
    on_arrival = -sum(e.points for e in entries if e.reason == "expired-on-arrival")
    assert expired_entries - on_arrival == sum(lot.expired_points for lot in lots if lot.settled), (
        context
    )
    reversed_points = -sum(e.points for e in entries if e.type == "reverse")
    assert reversed_points == sum(lot.original_points - lot.points for lot in lots), context
    # Tier basis = earned − reversed (+ the lifetime points imports added, − undone).
    earned = sum(
        e.points
        for e in entries
        if e.points > 0 and e.type in ("earn", "adjust") and e.reason != "erasure-forfeit"
    )
    assert member.tier_points == earned - reversed_points + tier_basis_of(entries), context
    # Open points == max(balance, 0): in debt, nothing is open or expiring.
    live = [lot for lot in lots if not lot.settled and not lot.pending]
    open_points = unspent_by_expiry(
        live, settled_earned=member.settled_earned, debited=member.debited
    )
    assert sum(e.points for e in open_points) == max(member.balance, 0), context
    assert {e.expires_at: e.points for e in open_points} == expected.open_by_expiry(), context
    # Debt only through reversal of spent points.
    if member.balance < 0:
        assert expected.went_negative_by_reversal, context


CONTEXT: dict[str, Any] = {}


class LedgerWithReturnWindow(LedgerMachine):
    hold_days = 14


class LedgerWithTierRates(LedgerMachine):
    """Silver and Gold earn more, and a sale that opens the day after START opens 24 h
    earlier for Silver and 48 h earlier for Gold: orders of today and yesterday earn by the
    member's tier before them. And coupons last 30 days, their points returned when they
    expire unused (`couponExpiryReturnsPoints`)."""

    extra_rules: ClassVar[dict[str, Any]] = {
        "seasonalMultipliers": [
            {"name": "model-sale", "start": "10-21", "end": "10-22", "multiplier": "3"}
        ],
        "tiers": [
            {"name": "Bronze", "minPoints": 0},
            {
                "name": "Silver",
                "minPoints": 1001,
                "earningMultiplier": "1.1",
                "earlyAccessHours": 24,
            },
            {
                "name": "Gold",
                "minPoints": 5001,
                "earningMultiplier": "1.25",
                "earlyAccessHours": 48,
            },
        ],
        "couponValidityDays": 30,
        "couponExpiryReturnsPoints": True,
    }


def _settings() -> settings:
    return settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=not os.environ.get("LEDGER_MODEL_RANDOM"),
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.mark.parametrize(
    "machine",
    [LedgerMachine, LedgerWithReturnWindow, LedgerWithTierRates],
    ids=["hold-0", "hold-14", "tier-rates"],
)
def test_the_ledger_keeps_its_rules_on_every_path(machine, dynamodb_client, dynamodb_endpoint):
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    CONTEXT["client"] = dynamodb_client
    STATS.clear()
    try:
        run_state_machine_as_test(machine, settings=_settings())
    finally:
        patch.undo()
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as report:
            report.write(json.dumps({"machine": machine.__name__, **STATS}) + "\n")
    print(f"\n{machine.__name__}: {dict(STATS)}")


# ---- the same messages in any delivery order --------------------------------------------

ORDER_INDEPENDENCE_EXAMPLES = int(os.environ.get("LEDGER_ORDER_EXAMPLES", "2" if _FAKED else "8"))


@st.composite
def message_sets(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int]]:
    """A member's orders (distinct dates within two months, the earliest perhaps with a
    referral code) and refunds of some of them; then a delivery order."""
    count = draw(st.integers(2, 5))
    days = draw(st.lists(st.integers(0, 60), min_size=count, max_size=count, unique=True))
    # A referral code comes with the customer's first checkout: the earliest order. (A code
    # on a later-dated order processed before the earliest one is a documented exception.)
    with_code = draw(st.sampled_from([None, days.index(max(days))]))
    messages: list[dict[str, Any]] = []
    for index, day in enumerate(days):
        cents = draw(st.sampled_from([0, 1333, 2599, 4000]))
        at = START - timedelta(days=day, seconds=index + 1)
        extra = {"referralCode": "CODE"} if with_code == index else {}
        messages.append(completed(f"o-{index}", "m-1", (_cents(cents), 1), at=_iso(at), **extra))
        share = draw(st.sampled_from([None, "full", "half", "over"]))
        if share is not None:
            amount = {"full": cents, "half": cents // 2, "over": cents * 3}[share]
            messages.append(
                refunded(
                    f"o-{index}",
                    f"r-{index}",
                    "m-1",
                    _cents(max(amount, 1)),
                    at=_iso(START + timedelta(hours=index)),
                )
            )
    order = draw(st.permutations(range(len(messages))))
    return messages, list(order)


def _play(messages: list[dict[str, Any]], code: str, table: str) -> None:
    """Deliver as SQS would: a refund that overtakes its order fails and comes back later."""
    stream = StreamReader(table)
    waiting = [m | ({"referralCode": code} if "referralCode" in m else {}) for m in messages]
    for _ in range(len(waiting) + 1):
        retry = []
        for body in waiting:
            response = purchase_award.handler(sqs_event(body), FakeLambdaContext())
            if response != {"batchItemFailures": []}:
                assert body["type"] == "order.refunded", body
                retry.append(body)
            event = delivered_to("ReferralCompletionFunction", stream.read())
            if event["Records"]:
                assert referral_completion.handler(event, FakeLambdaContext()) == {
                    "batchItemFailures": []
                }
        waiting = retry
        if not waiting:
            return
    raise AssertionError(f"never delivered: {waiting}")


def _ledger_of(table: str) -> dict[str, Any]:
    repository = DynamoLedgerRepository(table)
    figures: dict[str, Any] = {}
    for member_id in ("m-1", REFERRER):
        member, lots = repository.get_member_with_lots(member_id)
        assert member is not None
        live = [lot for lot in lots if not lot.settled and not lot.pending]
        expiring = unspent_by_expiry(
            live, settled_earned=member.settled_earned, debited=member.debited
        )
        figures[member_id] = (
            member.balance,
            member.pending_points,
            member.tier_points,
            member.enrolled_at,
            member.first_order_id,
            [(e.expires_at, e.points) for e in expiring],
        )
    return figures


@pytest.mark.parametrize("hold_days", [0, 14])
def test_the_same_messages_give_the_same_ledger_in_any_delivery_order(
    hold_days, dynamodb_client, dynamodb_endpoint, monkeypatch
):
    """Delivered in date order or in any other order (refunds that overtake their order are
    retried), a member's orders and refunds leave the same ledger: balance, pending points,
    tier basis, enrollment date, first order, the open points by expiry date, the referral."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    monkeypatch.setenv("PROGRAM_RULES", json.dumps({"pendingHoldDays": hold_days}))
    runtime.forget_rules()
    clock = Clock(START + timedelta(days=1))
    pin_clock(monkeypatch, clock)

    @settings(
        max_examples=ORDER_INDEPENDENCE_EXAMPLES,
        deadline=None,
        derandomize=not os.environ.get("LEDGER_MODEL_RANDOM"),
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(message_sets())
    def same_ledger(case: tuple[list[dict[str, Any]], list[int]]) -> None:
        messages, permutation = case
        in_date_order = sorted(
            messages,
            key=lambda m: (m["type"] == "order.refunded", m["occurredAt"], m["orderId"]),
        )
        figures = []
        for delivery in (in_date_order, [messages[i] for i in permutation]):
            table = f"loyalty-order-{uuid.uuid4().hex[:12]}"
            create_table(dynamodb_client, table)
            try:
                monkeypatch.setenv("TABLE_NAME", table)
                code = enroll(REFERRER).body["referralCode"]
                _play(delivery, code, table)
                figures.append(_ledger_of(table))
            finally:
                delete_table(dynamodb_client, table)
        assert figures[0] == figures[1], messages

    try:
        same_ledger()
    finally:
        runtime.forget_rules()
