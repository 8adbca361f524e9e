"""The demo shop, seeded through the real handlers (the API with local tokens, the orders
queue, the stream): six members, orders across the last Black Friday weekend and the weeks
before today, a referral (bob, referred by alice, whose first order completes it), a review,
a social share, a partial refund and a redemption. `seed_members(n)` adds n synthetic members
with orders, with a progress bar.

Every date is in the past relative to the stack's clock (`stack.now()`: the wall clock, or the
instant the stack is pinned to; the handlers use the same), and recent enough that no point has
expired: the shop looks the same whatever day it is seeded."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from devtools.local.progress import Progress

if TYPE_CHECKING:
    from devtools.local.stack import LocalStack

DEMO_MEMBERS: tuple[dict[str, Any], ...] = (
    {"memberId": "alice", "name": "Alice Martin", "email": "alice@example.com",
     "birthday": "1990-06-14", "marketingConsent": True},
    {"memberId": "bob", "name": "Bob Okafor", "email": "bob@example.com"},
    {"memberId": "carol", "name": "Carol Jensen", "email": "carol@example.com",
     "phone": "+1 555 0100", "marketingConsent": True},
    {"memberId": "dave", "name": "Dave Rossi", "email": "dave@example.com"},
    {"memberId": "erin", "name": "Erin Walsh", "email": "erin@example.com",
     "birthday": "1992-03-09"},
)  # fmt: skip
# frank is enrolled by his first order (no profile), as an unknown customer would be.
# Who appears on the leaderboard, and under which name (the others have not opted in).
LEADERBOARD_NAMES = {"alice": "Alice M.", "carol": "CarolJ", "dave": "Dave the Brave"}
CATEGORIES = ("shoes", "apparel", "accessories", "home", "books")
SERVICE = ("loyalty/service",)
# No order older than this: points expire 12 months after they were earned.
MAX_AGE = timedelta(days=300)


def _black_friday(year: int) -> date:
    november_first = date(year, 11, 1)
    first_thursday = november_first + timedelta(days=(3 - november_first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _order(
    order_id: str, member: str, at: datetime, *lines: tuple[str, str, int]
) -> dict[str, Any]:
    return {
        "type": "order.completed",
        "orderId": order_id,
        "memberId": member,
        "occurredAt": _iso(at),
        "currency": "USD",
        "lines": [
            {"sku": f"SKU-{category.upper()}-{index}", "category": category,
             "quantity": quantity, "unitPrice": price}
            for index, (price, category, quantity) in enumerate(lines, start=1)
        ],
    }  # fmt: skip


def demo_orders(now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(order messages, refund message), oldest first, all in the past."""
    today = now.date()
    friday = _black_friday(today.year)
    if friday >= today:
        friday = _black_friday(today.year - 1)
    weekend = [friday + timedelta(days=offset) for offset in range(4)]  # Friday to Cyber Monday
    december = [date(friday.year, 12, day) for day in (2, 5)]

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)

    def ago(days: float, hour: int = 11) -> datetime:
        moment = now - timedelta(days=days)
        return moment.replace(hour=hour, minute=5, second=0, microsecond=0)

    orders: list[dict[str, Any]] = []
    # alice: a regular, an order every few days for two months
    prices = ("24.90", "12.50", "48.00", "19.99", "7.25", "33.10", "15.00", "62.40", "9.99",
              "27.75", "18.30", "41.00")  # fmt: skip
    for k, price in enumerate(prices, start=1):
        category = CATEGORIES[k % len(CATEGORIES)]
        orders.append(_order(f"demo-alice-{k:02d}", "alice", ago(5 * k + 1), (price, category, 1)))
    orders.append(_order("demo-alice-bf1", "alice", at(weekend[0], 9, 30), ("84.50", "shoes", 1)))
    orders.append(_order("demo-alice-bf2", "alice", at(weekend[1], 16), ("19.90", "books", 2)))
    orders.append(_order("demo-alice-cm", "alice", at(weekend[3], 20), ("120.00", "home", 1)))
    orders.append(_order("demo-alice-dec", "alice", at(december[1], 10), ("35.00", "apparel", 1)))
    # bob: referred by alice; his first order completes the referral
    orders.append(_order("demo-bob-1", "bob", at(weekend[1], 14), ("59.00", "apparel", 1)))
    orders.append(_order("demo-bob-2", "bob", ago(1), ("22.00", "accessories", 1)))
    # carol: a Black Friday shopper who redeems
    orders.append(_order("demo-carol-1", "carol", ago(40), ("35.00", "home", 1)))
    orders.append(_order("demo-carol-bf", "carol", at(weekend[0], 7), ("75.00", "shoes", 1),
                         ("12.00", "accessories", 2)))  # fmt: skip
    orders.append(_order("demo-carol-cm", "carol", at(weekend[3], 12), ("45.00", "apparel", 1)))
    # dave: returns part of an order
    orders.append(_order("demo-dave-1", "dave", ago(15), ("60.00", "shoes", 1),
                         ("20.00", "accessories", 1)))  # fmt: skip
    orders.append(_order("demo-dave-bf", "dave", at(weekend[2], 18), ("30.00", "books", 1)))
    orders.append(_order("demo-dave-dec", "dave", at(december[0], 9), ("14.00", "books", 1)))
    # erin: one order (her birthday is in March: `loyalty-local jobs --now <year>-03-01`)
    orders.append(_order("demo-erin-1", "erin", ago(20), ("18.00", "books", 1)))
    # frank: unknown to the program until his first order enrolls him
    orders.append(_order("demo-frank-1", "frank", ago(10), ("25.00", "apparel", 1)))
    orders.append(_order("demo-frank-bf", "frank", at(weekend[0], 21), ("40.00", "home", 1)))

    def usable(order: dict[str, Any]) -> bool:
        moment = datetime.fromisoformat(order["occurredAt"].replace("Z", "+00:00"))
        return now - MAX_AGE < moment < now - timedelta(minutes=10)

    orders = sorted(filter(usable, orders), key=lambda order: order["occurredAt"])
    refund = {
        "type": "order.refunded",
        "orderId": "demo-dave-1",
        "refundId": "demo-dave-1-r1",
        "memberId": "dave",
        "occurredAt": _iso(ago(3)),
        "currency": "USD",
        "amount": "20.00",
    }
    return orders, refund


def seed_demo(stack: LocalStack) -> dict[str, Any]:
    """The demo shop; skipped when the table already has alice."""
    status, _ = stack.call_api("GET", "/members/alice", scopes=SERVICE)
    if status == 200:
        stack.log("seed: the demo shop is already there (alice exists); not seeded again")
        return {"demo": "already there"}
    now = stack.now()
    problems: list[str] = []

    def api(method: str, path: str, body: Any = None, **options: Any) -> Any:
        status, answer = stack.call_api(method, path, body, **options)
        if status >= 300:
            problems.append(f"{method} {path}: {status} {answer}")
        return answer

    with stack.stream_deferred():  # the stream's consumers get full batches at the end
        for profile in DEMO_MEMBERS:
            body = dict(profile)
            if profile["memberId"] == "bob":
                alice = stack.call_api("GET", "/members/alice", scopes=SERVICE)[1] or {}
                body["referralCode"] = alice.get("referralCode")
            api("POST", "/members", body, scopes=SERVICE)
        # The leaderboard is opt-in: three of them chose a display name (docs/leaderboard.md).
        for member_id, display_name in LEADERBOARD_NAMES.items():
            choice = {"leaderboard": {"optIn": True, "displayName": display_name}}
            api("PATCH", f"/members/{member_id}", choice, scopes=SERVICE)
        orders, refund = demo_orders(now)
        report = stack.send_orders([*orders, refund])
        failed = [r for r in report["results"] if r["status"] != "processed"]
        problems.extend(f"order {r['summary']}: {r['status']} ({r['error']})" for r in failed)
        api(
            "POST",
            "/members/alice/reviews",
            {"productId": "SKU-SHOES-1", "reviewId": "demo-review-1"},
        )
        api(
            "POST",
            "/members/alice/social-shares",
            {"platform": "instagram", "url": "https://www.instagram.com/p/demo-boots/"},
        )
        api(
            "POST",
            "/members/carol/redemptions",
            {"rewardId": "free-shipping"},
            sub="carol",
            scopes=(),
            headers={"Idempotency-Key": "demo-carol-free-shipping"},
        )
    for problem in problems:
        stack.log(f"seed: {problem}", error=True)
    alice = stack.call_api("GET", "/members/alice", scopes=SERVICE)[1] or {}
    return {
        "demo": "seeded",
        "members": len(DEMO_MEMBERS) + 1,
        "orders": len(orders),
        "refunds": 1,
        "reviews": 1,
        "shares": 1,
        "redemptions": 1,
        "aliceBalance": alice.get("balance"),
        "problems": problems,
    }


def seed_members(
    stack: LocalStack, count: int, *, chunk: int = 100, seed: int = 7
) -> dict[str, Any]:
    """`count` synthetic members (`m-00001`...), each enrolled by one to three orders in the
    last ten months."""
    rng = random.Random(seed)
    now = stack.now()
    messages: list[dict[str, Any]] = []
    owners: list[int] = []
    width = max(5, len(str(count)))
    for index in range(1, count + 1):
        member = f"m-{index:0{width}d}"
        for number in range(1, rng.randint(1, 3) + 1):
            moment = now - timedelta(days=rng.uniform(1, 290), minutes=rng.randint(0, 1440))
            price = f"{rng.randint(5, 150)}.{rng.randint(0, 99):02d}"
            category = rng.choice(CATEGORIES)
            messages.append(
                _order(f"synthetic-{member}-{number}", member, moment, (price, category, 1))
            )
            owners.append(index)
    failed = 0
    with Progress(count, f"seeding {count} members", enabled=not stack.quiet) as progress:
        done = 0
        for start in range(0, len(messages), chunk):
            report = stack.send_orders(messages[start : start + chunk])
            failed += sum(1 for r in report["results"] if r["status"] != "processed")
            reached = owners[min(start + chunk, len(messages)) - 1]
            progress.advance(reached - done)
            done = reached
    if failed:
        stack.log(f"seed: {failed} synthetic orders failed", error=True)
    return {"syntheticMembers": count, "syntheticOrders": len(messages)}
