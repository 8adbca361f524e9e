"""Screenshots of the portal (desktop and phone) and the operator page, for the README.

    PYTHONPATH=.:layers/loyalty .venv/bin/python -m tests.browser.screenshots [OUT_DIR]

starts DynamoDB Local and the seeded local stack, drives the system Chromium and writes
portal.png (1280x900), portal-earn.png (1280x900: ways to earn and the tiers),
portal-leaderboard.png (1280x900: the all-time leaderboard beside the activity),
portal-badges.png (1280x900: alice's badges and a challenge's progress),
portal-mobile.png (390x844), operator.png (1280 wide: a member with the
adjustment confirmation) and operator-mobile.png (390x844: the ledger on a phone) to OUT_DIR
(default docs/screenshots). tests/browser/test_screenshots.py runs the same code on every test run.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "docs" / "screenshots"
PHONE_MEMBER = "erin"
SIZES = {
    "portal.png": {"width": 1280, "height": 900},
    "portal-mobile.png": {"width": 390, "height": 844},
    "portal-earn.png": {"width": 1280, "height": 900},
    "portal-leaderboard.png": {"width": 1280, "height": 900},
    "portal-badges.png": {"width": 1280, "height": 900},
    "operator.png": {"width": 1280, "height": 900},
    "operator-mobile.png": {"width": 390, "height": 844},
}


def _context(browser: Any, viewport: dict[str, int]) -> Any:
    return browser.new_context(
        viewport=viewport, locale="en-US", timezone_id="UTC", device_scale_factor=1
    )


def demo_badges(stack: Any) -> None:
    """Badges for the shots: defined by an operator, then alice reviews two products (she earns
    the first-review and Gold badges; the month's review challenge stands at 2 of 3)."""
    from tests.browser.helpers import Api

    admin = Api(stack.base_url, stack.mint_token("operator", scopes=["loyalty/admin"]))
    month = stack.now().strftime("%Y-%m")
    last_day = (stack.now().replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    badges = {
        "first-review": {
            "name": "First review",
            "description": "Review a product you bought.",
            "condition": {"kind": "reviews", "count": 1},
            "points": 50,
        },
        "gold-member": {
            "name": "Gold member",
            "description": "Reach the Gold tier.",
            "condition": {"kind": "tier", "tier": "Gold"},
        },
        "month-reviews": {
            "name": "Review challenge",
            "description": "Review 3 products this month.",
            "condition": {"kind": "reviews", "count": 3},
            "points": 200,
            "window": {"startsOn": f"{month}-01", "endsOn": last_day.date().isoformat()},
        },
        "explorer": {
            "name": "Explorer",
            "description": "Shop in 3 different categories.",
            "condition": {"kind": "categories", "count": 3},
            "points": 100,
        },
    }
    for badge_id, body in badges.items():
        status, answer = admin.call("PUT", f"admin/badges/{badge_id}", body)
        assert status in (200, 201), answer
    for product in ("SHOT-1", "SHOT-2"):
        body = {"productId": product, "reviewId": f"rv-{product}"}
        status, answer = admin.call("POST", "members/alice/reviews", body)
        assert status in (201, 409), answer
    deadline = time.monotonic() + 30  # the stream reaches the badge evaluator a moment later
    while time.monotonic() < deadline:
        if len(admin.get("members/alice/badges")["earned"]) >= 2:
            return
        time.sleep(0.2)
    raise AssertionError("alice's badges were not granted")


def take(browser: Any, stack: Any, out_dir: Path) -> dict[str, Path]:
    """Write the screenshots (SIZES); returns them by name. Redeems free shipping as alice (so the
    desktop portal shows a coupon): give it a stack whose state may change. The phone shot is
    erin's, whom the seed leaves on her way to the next tier (the progress bar shows)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in SIZES}
    demo_badges(stack)

    context = _context(browser, SIZES["portal.png"])
    page = context.new_page()
    page.goto(stack.portal_url)
    page.get_by_label("Member id").fill("alice")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#activity li").first).to_be_visible()
    redeem = page.get_by_role("button", name=re.compile("^Redeem Free shipping"))
    redeem.click()
    expect(page.locator("#coupon-code")).to_be_visible()
    expect(page.locator("#activity li.entry").first).to_contain_text("Redeemed")
    expect(redeem).to_be_enabled()
    page.locator("#redeem-result").blur()
    page.screenshot(path=paths["portal.png"])
    # Further down: the ways to earn and the tier table, from the program rules in force.
    expect(page.locator("#ways-to-earn li").first).to_be_visible()
    page.locator(".earn-card").evaluate("node => node.scrollIntoView()")
    page.screenshot(path=paths["portal-earn.png"])
    # The leaderboard, all time (alice, carol and dave opted in with display names in the seed).
    expect(page.locator("#leaderboard li").first).to_be_visible()
    page.get_by_role("button", name="All time").click()
    expect(page.get_by_role("button", name="All time")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#leaderboard li")).to_have_count(3)
    page.get_by_role("button", name="All time").blur()
    page.locator(".leaderboard-card").evaluate("node => node.scrollIntoView()")
    page.screenshot(path=paths["portal-leaderboard.png"])

    # The badges: earned ones and the challenge's progress.
    expect(page.get_by_test_id("badge-open").first).to_be_visible()
    page.locator(".badges-card").evaluate("node => node.scrollIntoView()")
    page.screenshot(path=paths["portal-badges.png"])
    context.close()

    context = _context(browser, SIZES["portal-mobile.png"])
    page = context.new_page()
    page.goto(f"{stack.portal_url}#token={stack.mint_token(PHONE_MEMBER)}")
    expect(page.locator("#activity li").first).to_be_visible()
    page.screenshot(path=paths["portal-mobile.png"])
    context.close()

    context = _context(browser, SIZES["operator.png"])
    page = context.new_page()
    page.goto(stack.operator_url)
    page.get_by_label("Operator id").fill("operator")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#chart-tiers > svg")).to_be_visible()
    page.get_by_role("textbox", name="Member id").fill("alice")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#ledger tbody tr").first).to_be_visible()
    page.get_by_label("Points (negative to take away)").fill("250")
    page.get_by_label("Reason (shown to the member; no personal data)").fill("late delivery")
    page.get_by_role("button", name="Review adjustment").click()
    expect(page.get_by_role("button", name="Confirm adjustment")).to_be_visible()
    page.get_by_role("button", name="Confirm adjustment").blur()
    # The member, from the top of the page to the adjustment's confirmation.
    bottom = page.locator("#adjust-confirm").evaluate(
        "node => node.getBoundingClientRect().bottom + window.scrollY"
    )
    height = max(SIZES["operator.png"]["height"], int(bottom) + 16)
    page.screenshot(
        path=paths["operator.png"],
        full_page=True,
        clip={"x": 0, "y": 0, "width": SIZES["operator.png"]["width"], "height": height},
    )
    context.close()

    context = _context(browser, SIZES["operator-mobile.png"])
    page = context.new_page()
    token = stack.mint_token("operator", scopes=["loyalty/admin"])
    page.goto(f"{stack.operator_url}#token={token}")
    page.get_by_role("textbox", name="Member id").fill("alice")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#ledger tbody tr").first).to_be_visible()
    page.locator("#ledger-title").evaluate("node => node.scrollIntoView()")
    page.locator("#member").blur()
    page.screenshot(path=paths["operator-mobile.png"])
    context.close()
    return paths


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    from devtools.dynamodb_local import DynamoDBLocal
    from devtools.local.stack import LocalStack
    from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS

    out_dir = Path(argv[0]) if argv else DEFAULT_OUT
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        os.environ.setdefault(name, value)
    with DynamoDBLocal() as ddb:
        table = f"loyalty-screenshots-{uuid.uuid4().hex[:8]}"
        with (
            LocalStack(endpoint_url=ddb.endpoint_url, table_name=table, quiet=True) as stack,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for path in take(browser, stack, out_dir).values():
                    print(f"{path} ({path.stat().st_size // 1024} KB)")
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
