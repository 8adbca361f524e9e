"""The member portal in headless Chromium against the local stack, as alice (seeded with enough
points for both rewards and more than one page of activity). The tests of this module share one
stack and run in order: the redemptions spend alice's points."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, PHONE, Api, axe_violations, new_page

pytestmark = pytest.mark.integration

PAGE_SIZE = 10  # the portal's activity page size


def sign_in(page: Any, stack: Any, member_id: str = "alice") -> None:
    page.goto(stack.portal_url)
    page.get_by_label("Member id").fill(member_id)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#activity li").first).to_be_visible()


def reward_item(page: Any, reward_id: str) -> Any:
    return page.locator(f'li.reward[data-reward="{reward_id}"]')


def test_the_portal_shows_what_the_api_says(page: Any, stack: Any, member_api: Api) -> None:
    member = member_api.member("alice")
    rewards = member_api.get("rewards")["items"]
    referrals = member_api.get("members/alice/referrals")
    sign_in(page, stack)

    expect(page.get_by_test_id("balance")).to_have_text(f"{member['balance']:,}")
    expect(page.locator("#tier-name")).to_have_text(member["tier"])
    expect(page.locator("#benefits li").first).to_be_visible()
    assert member["nextTier"] is None, "the seed makes alice Gold"
    expect(page.locator("#tier-next")).to_have_text(
        f"You are in our top tier, with {member['tierPoints']:,} tier points."
    )
    expect(page.get_by_role("progressbar")).to_be_hidden()
    if member["expiring"]:
        expect(page.locator("#expiring-next")).to_contain_text(
            f"{member['expiring'][0]['points']:,} point"
        )
    for reward in rewards:
        expect(reward_item(page, reward["rewardId"])).to_contain_text(reward["name"])
        expect(reward_item(page, reward["rewardId"])).to_contain_text(f"{reward['cost']:,} points")
    expect(page.get_by_label(re.compile("Your referral (link|code)"))).to_have_value(
        re.compile(re.escape(referrals["referralCode"]))
    )
    first_entries = member_api.activity("alice", PAGE_SIZE)["items"]
    expect(page.locator("#activity li.entry")).to_have_count(len(first_entries))


def test_the_progress_bar_shows_the_way_to_the_next_tier(page: Any, stack: Any) -> None:
    erin = Api(stack.base_url, stack.mint_token("erin")).member("erin")
    assert erin["nextTier"], "the seed leaves erin below Gold"
    needed, name = erin["nextTier"]["pointsNeeded"], erin["nextTier"]["name"]
    sign_in(page, stack, "erin")

    progress = page.get_by_role("progressbar", name=re.compile(f"tier points towards {name}"))
    expect(progress).to_have_attribute("value", str(erin["tierPoints"]))
    expect(progress).to_have_attribute("max", str(erin["tierPoints"] + needed))
    expect(page.locator("#tier-next")).to_have_text(
        re.compile(rf"Earn {needed:,} points? more to reach {name}\.")
    )
    expect(page.locator("#tier-name")).to_have_text(erin["tier"])
    expect(page.locator("#benefits li").first).to_be_visible()


def test_redeeming_free_shipping_shows_a_coupon_and_the_lower_balance(
    page: Any, stack: Any, member_api: Api
) -> None:
    before = member_api.member("alice")["balance"]
    assert before >= 500, "the seed gives alice enough points for free shipping"
    sign_in(page, stack)

    page.get_by_role("button", name=re.compile("^Redeem Free shipping")).click()

    coupon = page.locator("#coupon-code")
    expect(coupon).to_have_text(re.compile(r"\S{4,}"))
    expect(page.get_by_test_id("balance")).to_have_text(f"{before - 500:,}")
    assert member_api.member("alice")["balance"] == before - 500
    newest = member_api.activity("alice", 1)["items"][0]
    assert (newest["type"], newest["points"]) == ("redeem", -500)
    # The refreshed activity starts with the redemption.
    expect(page.locator("#activity li.entry").first).to_have_attribute(
        "data-entry", newest["entryId"]
    )
    expect(page.locator("#activity li.entry").first).to_contain_text("-500")


def test_older_activity_pages_in_after_the_first(page: Any, stack: Any, member_api: Api) -> None:
    first = member_api.activity("alice", PAGE_SIZE)
    assert first["nextCursor"], "the seed gives alice more than one page of activity"
    second = member_api.activity("alice", PAGE_SIZE, first["nextCursor"])
    sign_in(page, stack)
    entries = page.locator("#activity li.entry")
    expect(entries).to_have_count(len(first["items"]))
    first_ids = [e.get_attribute("data-entry") for e in entries.all()]
    assert first_ids == [e["entryId"] for e in first["items"]]

    page.get_by_role("button", name="Show older activity").click()

    expect(entries).to_have_count(len(first["items"]) + len(second["items"]))
    shown = entries.all()[len(first_ids) :]
    assert [e.get_attribute("data-entry") for e in shown] == [e["entryId"] for e in second["items"]]
    oldest_first_page = first["items"][-1]["occurredAt"]
    times = [e.locator("time").get_attribute("datetime") for e in shown]
    assert all(t <= oldest_first_page for t in times), times
    # Keyboard users land on the first entry that appeared.
    expect(shown[0]).to_be_focused()
    more = page.get_by_role("button", name="Show older activity")
    if second["nextCursor"]:
        expect(more).to_be_visible()
    else:
        expect(more).to_be_hidden()


def test_a_refused_redemption_shows_the_api_message_and_the_real_balance(
    page: Any, stack: Any, member_api: Api
) -> None:
    assert member_api.member("alice")["balance"] >= 1000, "the seed gives alice 1,500 or more"
    sign_in(page, stack)
    discount = reward_item(page, "discount-10")
    button = discount.get_by_role("button", name=re.compile("^Redeem"))
    expect(button).to_be_enabled()
    # Behind the page's back (another tab, the shop's checkout) alice spends points until the
    # 1,000-point discount is out of reach; the page still shows the old balance.
    while member_api.member("alice")["balance"] >= 1000:
        status, body = member_api.redeem("alice", "discount-10")
        assert status == 201, body
    status, refusal = member_api.redeem("alice", "discount-10")
    assert status == 409, refusal
    balance = member_api.member("alice")["balance"]

    button.click()

    expect(page.get_by_role("alert")).to_have_text(refusal["message"])
    expect(page.locator("#coupon-code")).to_have_count(0)
    # The page then shows the real balance and why the discount is out of reach.
    expect(page.get_by_test_id("balance")).to_have_text(f"{balance:,}")
    expect(button).to_be_disabled()
    expect(discount).to_contain_text(re.compile(rf"You need {1000 - balance:,} points? more"))
    assert member_api.member("alice")["balance"] == balance


def test_the_token_handed_over_in_the_fragment_signs_in_and_leaves_the_address_bar(
    page: Any, stack: Any, member_api: Api
) -> None:
    page.goto(f"{stack.portal_url}#token={stack.mint_token('alice')}")
    expect(page.get_by_test_id("balance")).to_have_text(
        f"{member_api.member('alice')['balance']:,}"
    )
    assert "token" not in page.url
    expect(page.get_by_role("button", name="Sign in")).to_be_hidden()


def test_the_portal_fits_a_phone(browser: Any, stack: Any) -> None:
    phone = new_page(browser, PHONE)
    try:
        sign_in(phone, stack)
        overflow = phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
        for button in phone.get_by_role("button").all():
            if button.is_visible():
                box = button.bounding_box()
                assert box["height"] >= 44, (button.inner_text(), box)  # a thumb-sized target
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert phone.errors == []
    finally:
        phone.context.close()


AT_MEMBER = "pat@shop.io"  # the contract allows `@` in a member id; the page encodes it


def test_a_member_whose_id_has_an_at_sign_uses_the_portal(page: Any, stack: Any) -> None:
    service = Api(stack.base_url, stack.mint_token("storefront", ["loyalty/service"]))
    status, body = service.call(
        "POST", "members", {"memberId": AT_MEMBER, "name": "Pat", "email": "pat@example.com"}
    )
    assert status in (200, 201), body
    admin = Api(stack.base_url, stack.mint_token("operator", ["loyalty/admin"]))
    status, body = admin.call(
        "POST",
        f"admin/members/{quote(AT_MEMBER, safe='')}/adjustments",
        {"points": 600, "reason": "welcome gesture"},
        {"Idempotency-Key": "at-sign-welcome"},
    )
    assert status == 201, body
    pat = Api(stack.base_url, stack.mint_token(AT_MEMBER))
    before = pat.member(AT_MEMBER)["balance"]
    assert before >= 600

    sign_in(page, stack, AT_MEMBER)

    expect(page.get_by_test_id("balance")).to_have_text(f"{before:,}")
    expect(page.locator("#activity li.entry").first).to_contain_text("welcome gesture")
    page.get_by_role("button", name=re.compile("^Redeem Free shipping")).click()
    expect(page.locator("#coupon-code")).to_have_text(re.compile(r"\S{4,}"))
    expect(page.get_by_test_id("balance")).to_have_text(f"{before - 500:,}")
    assert pat.member(AT_MEMBER)["balance"] == before - 500


# ---- the program's rules: ways to earn, tiers, the referral reward ---------------------------

VIEWPORTS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
# Rules no default has, so that every number the page shows must come from GET /program.
ODD_RULES = {
    "pointsPerDollar": 37,
    "categoryMultipliers": {"shoes": 3},
    "seasonalMultipliers": [
        {"name": "spring-sale", "start": "03-01", "end": "03-15", "multiplier": 2},
        {
            "name": "black-friday-to-cyber-monday",
            "start": "black-friday",
            "end": "cyber-monday",
            "multiplier": 1.5,
        },
    ],
    "firstPurchaseBonus": 123,
    "reviewPoints": 45,
    "socialSharePoints": 67,
    "socialShareMonthlyCap": 4,
    "referral": {"referrerPoints": 111, "refereePoints": 222, "referrerMonthlyCap": 6},
    "orderMilestones": [{"orderCount": 25, "points": 321}],
    "tenureMilestones": [{"months": 7, "points": 432}],
    "birthdayBonus": 1234,
}


@pytest.fixture
def odd_rules(admin_api: Api) -> Any:
    """ODD_RULES saved by an operator for one test, then the rules it replaced saved back."""
    before = admin_api.get("admin/program")
    status, saved = admin_api.call("PUT", "admin/program", before | ODD_RULES)
    assert status == 200, saved
    try:
        yield saved
    finally:
        current = admin_api.get("admin/program")
        status, body = admin_api.call(
            "PUT", "admin/program", before | {"version": current["version"]}
        )
        assert status == 200, body


def open_page(browser: Any, viewport: dict[str, int]) -> Any:
    return new_page(browser, viewport)


def assert_no_axe_violations(page: Any, axe_script: Path) -> None:
    assert axe_violations(page, axe_script) == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_ways_to_earn_the_tiers_and_the_referral_reward_come_from_the_rules(
    browser: Any, stack: Any, odd_rules: Any, viewport: dict[str, int], axe_script: Path
) -> None:
    erin = Api(stack.base_url, stack.mint_token("erin"))
    program = erin.get("program")
    assert program["referral"]["refereePoints"] == 222
    page = open_page(browser, viewport)
    try:
        sign_in(page, stack, "erin")
        ways = page.locator("#ways-to-earn li.way")
        expected = [
            ("Shop with us", "37 points per $1", "triple points on shoes"),
            ("Your first order", "123 points bonus", "first order"),
            ("Review a product", "45 points", "each product"),
            ("Share on social media", "67 points per share", "Up to 4 shares a month"),
            ("Refer a friend", "111 points for you", "222 points for your friend"),
            ("Your birthday", "1,234 points", "birthday month"),
            ("Order milestone", "321 points", "25th order"),
            ("Membership milestone", "432 points", "7 months as a member"),
            ("Spring sale", "Double points", "from March 1 to March 15"),
            ("Black friday to cyber monday", "1.5× points", "from Black Friday to Cyber Monday"),
        ]
        expect(ways).to_have_count(len(expected))
        for way, (what, amount, detail) in zip(ways.all(), expected, strict=True):
            expect(way.locator(".way-what")).to_have_text(what)
            expect(way.locator(".way-amount")).to_have_text(amount)
            expect(way).to_contain_text(detail)
        expect(page.locator("#earn-notes")).to_contain_text(
            f"Points last {program['expiryMonths']} months"
        )

        rows = page.locator("#tier-rows tr")
        expect(rows).to_have_count(len(program["tiers"]))
        tiers = program["tiers"]
        for i, (row, tier) in enumerate(zip(rows.all(), tiers, strict=True)):
            expect(row.locator("th")).to_contain_text(tier["name"])
            if i + 1 < len(tiers):
                span = f"{tier['minPoints']:,} to {tiers[i + 1]['minPoints'] - 1:,}"
            else:
                span = f"{tier['minPoints']:,} and up"
            expect(row.locator("td").first).to_have_text(span)
            for benefit in tier["benefits"]:
                expect(row).to_contain_text(benefit)
        mine = erin.member("erin")["tier"]
        current = page.locator('#tier-rows tr[aria-current="true"]')
        expect(current).to_have_count(1)
        expect(current).to_have_attribute("data-tier", mine)
        expect(current).to_contain_text("Your tier")

        expect(page.get_by_test_id("referral-reward")).to_have_text(
            "When a friend you invite completes their first order, they get 222 points and you "
            "get 111 points. Up to 6 friends a month earn you points."
        )
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
        for card in ("earn-title", "tiers-title", "referral-title"):
            section = page.locator(f'section[aria-labelledby="{card}"]')
            spill = section.evaluate("node => node.scrollWidth - node.clientWidth")
            assert spill <= 0, f"{card}'s card overflows by {spill}px"
        assert_no_axe_violations(page, axe_script)
        assert page.errors == []
    finally:
        page.context.close()


def test_the_default_rules_read_as_the_program_says(page: Any, stack: Any, member_api: Api) -> None:
    program = member_api.get("program")
    sign_in(page, stack)
    referral = program["referral"]
    expect(page.get_by_test_id("referral-reward")).to_contain_text(
        f"they get {referral['refereePoints']:,} points and you get "
        f"{referral['referrerPoints']:,} points"
    )
    expect(page.locator("#ways-to-earn")).to_contain_text(
        f"{program['pointsPerDollar']:,} points per $1"
    )
    expect(page.locator("#ways-to-earn")).to_contain_text(f"{program['birthdayBonus']:,} points")


# ---- editing the profile ----------------------------------------------------------------------

PROFILE_MEMBERS = [
    pytest.param(DESKTOP, "carol", id="desktop"),
    pytest.param(PHONE, "dave", id="phone"),
]


def export_profile(stack: Any, member_id: str) -> dict[str, Any]:
    return dict(
        Api(stack.base_url, stack.mint_token(member_id)).get(f"members/{member_id}/export")[
            "profile"
        ]
    )


@pytest.mark.parametrize(("viewport", "member_id"), PROFILE_MEMBERS)
def test_editing_the_profile_saves_it_and_shows_refusals_beside_their_fields(
    browser: Any, stack: Any, viewport: dict[str, int], member_id: str, axe_script: Path
) -> None:
    before = export_profile(stack, member_id)
    page = open_page(browser, viewport)
    try:
        sign_in(page, stack, member_id)
        page.get_by_role("button", name="Edit profile").click()
        name = page.get_by_label("Name", exact=True)
        phone = page.get_by_label("Phone (optional)")
        birthday = page.get_by_label("Birthday (optional)")
        consent = page.get_by_label("Send me offers and news about my rewards")
        expect(name).to_have_value(before["name"])
        expect(phone).to_have_value(before["phone"] or "")
        expect(birthday).to_have_value(before["birthday"] or "")
        expect(name).to_be_focused()
        assert_no_axe_violations(page, axe_script)

        # Refused: every problem shows beside its field, and nothing changes.
        name.fill("")
        phone.fill("call me maybe")
        birthday.fill("2999-01-01")
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator("#profile-error")).to_contain_text("not saved")
        expect(page.locator("#profile-name-error")).to_have_text("Enter your name.")
        expect(page.locator("#profile-phone-error")).to_contain_text("phone number")
        expect(page.locator("#profile-birthday-error")).to_contain_text("in the past")
        for field in (name, phone, birthday):
            expect(field).to_have_attribute("aria-invalid", "true")
        expect(phone).to_have_accessible_description(re.compile("phone number of 5 to 32"))
        expect(name).to_be_focused()
        assert export_profile(stack, member_id) == before
        assert_no_axe_violations(page, axe_script)

        # Corrected: saved, said, and the page shows the new name.
        name.fill(f"{before['name']} Jr")
        phone.fill("+1 555 0199")
        birthday.fill("1991-04-05")
        consent.set_checked(not before["marketingConsent"])
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator("#profile-saved")).to_have_text("Your profile is saved.")
        expect(page.locator("#profile-form")).to_be_hidden()
        expect(page.get_by_role("button", name="Edit profile")).to_be_focused()
        expect(page.locator("#who")).to_have_text(f"Signed in as {before['name']} Jr")
        after = export_profile(stack, member_id)
        assert (after["name"], after["phone"], after["birthday"]) == (
            f"{before['name']} Jr",
            "+1 555 0199",
            "1991-04-05",
        )
        assert after["marketingConsent"] is (not before["marketingConsent"])
        assert_no_axe_violations(page, axe_script)

        # An emptied phone is removed.
        page.get_by_role("button", name="Edit profile").click()
        expect(phone).to_have_value("+1 555 0199")
        phone.fill("")
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator("#profile-saved")).to_have_text("Your profile is saved.")
        assert export_profile(stack, member_id)["phone"] is None
        assert page.errors == []
    finally:
        page.context.close()


# ---- accessibility beyond axe -----------------------------------------------------------------

CONTRAST_OF_FOCUS = """() => {
  // The contrast of the focused element's outline against what is drawn behind it: the
  // nearest opaque background at a point of the ring (for a ring drawn outside the element,
  // whatever the page shows there: the skip link's ring lies over the header).
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => v / 255).map((v) =>
      v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const offset = parseFloat(style.outlineOffset);
  const width = parseFloat(style.outlineWidth);
  let node = el;
  if (offset >= 0) {
    const box = el.getBoundingClientRect();
    const y = box.top + box.height / 2;
    let x = box.left - offset - width / 2;
    if (x < 0) x = box.right + offset + width / 2;
    node = document.elementsFromPoint(x, y).find((n) => n !== el && !el.contains(n));
  }
  let background = [255, 255, 255];
  for (; node; node = node.parentElement) {
    const parts = rgb(getComputedStyle(node).backgroundColor);
    if (parts.length === 3 || (parts.length === 4 && parts[3] === 1)) {
      background = parts.slice(0, 3);
      break;
    }
  }
  if (!node) background = rgb(getComputedStyle(document.documentElement).backgroundColor);
  const a = luminance(rgb(style.outlineColor).slice(0, 3));
  const b = luminance(background);
  return {
    element: el.id || el.textContent.trim().slice(0, 40) || el.tagName,
    outline: `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`,
    background: `rgb(${background.join(", ")})`,
    ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
  };
}"""


TABBABLE_COUNT = """() => [...document.querySelectorAll(
  "a[href], button, input, select, textarea, summary, [tabindex]")].filter((node) =>
  node.tabIndex >= 0 && !node.disabled && !node.closest("[inert]")
  && node.checkVisibility({ visibilityProperty: true })).length"""


def focus_ring_ratios(page: Any) -> list[dict[str, Any]]:
    """Tab once round the page as it is now; the focus ring of each stop. From wherever the
    focus is, as many presses as the page has tabbable elements, plus one for the stop outside
    the page where the focus wraps round, reach every one of them: no fixed count to outgrow as
    the page gains controls."""
    seen = []
    for _ in range(page.evaluate(TABBABLE_COUNT) + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            continue
        seen.append(page.evaluate(CONTRAST_OF_FOCUS))
    return seen


def test_the_focus_ring_stands_out_from_every_background(page: Any, stack: Any) -> None:
    member_id = member_with_points(stack, "ring-member", 600)
    page.goto(stack.portal_url)
    # The sign-in form shows once the page has read config.json, which the load event does not
    # wait for: tabbing before then reached only the skip link (a flaky run under load).
    expect(page.get_by_label("Member id")).to_be_visible()
    stops = focus_ring_ratios(page)  # the skip link (over the header) and the sign-in form
    page.get_by_label("Member id").fill(member_id)
    page.keyboard.press("Enter")
    # Signed in once every panel has loaded (the focus then moves to the first heading).
    expect(page.locator("#balance-title")).to_be_focused()
    page.get_by_role("button", name=re.compile("^Redeem Free shipping")).click()
    code = page.locator("#coupon-code")
    expect(code).to_be_visible()  # the green coupon box
    # The redemption refreshes the activity and My coupons (busy while they load): tab through
    # the page once they have, with the new coupon's Copy code in My coupons.
    expect(page.locator(f'#coupons li.coupon[data-code="{code.inner_text()}"]')).to_be_visible()
    expect(page.locator('#portal [aria-busy="true"]')).to_have_count(0)
    stops += focus_ring_ratios(page)
    assert len(stops) >= 10, stops
    for stop in stops:
        assert stop["outline"].startswith("solid 3px"), stop
        assert stop["ratio"] >= 3, stop
    # The header (dark), the page, the cards and the green coupon box were all measured.
    assert {"skip-link", "member-id", "sign-out", "Copy code", "profile-edit"} <= {
        stop["element"] for stop in stops
    }, stops


def member_with_points(stack: Any, member_id: str, points: int) -> str:
    """A new member with `points` from an operator's adjustment."""
    service = Api(stack.base_url, stack.mint_token("storefront", ["loyalty/service"]))
    status, body = service.call(
        "POST",
        "members",
        {"memberId": member_id, "name": "Sam Lee", "email": f"{member_id}@example.com"},
    )
    assert status in (200, 201), body
    admin = Api(stack.base_url, stack.mint_token("operator", ["loyalty/admin"]))
    status, body = admin.call(
        "POST",
        f"admin/members/{quote(member_id, safe='')}/adjustments",
        {"points": points, "reason": "welcome gesture"},
        {"Idempotency-Key": f"welcome-{member_id}"},
    )
    assert status == 201, body
    return member_id


FAILING_CLIPBOARD = """
navigator.clipboard.writeText = () => Promise.reject(new DOMException("denied", "NotAllowedError"));
document.execCommand = () => false;
"""
RECORDING_CLIPBOARD = """
window.copiedTexts = [];
navigator.clipboard.writeText = (text) => {
  window.copiedTexts.push(text);
  return Promise.resolve();
};
"""


def test_copy_code_says_what_to_do_when_copying_fails(
    page: Any, stack: Any, axe_script: Path
) -> None:
    member_id = member_with_points(stack, "copy-fails", 600)
    page.add_init_script(FAILING_CLIPBOARD)
    sign_in(page, stack, member_id)
    page.get_by_role("button", name=re.compile("^Redeem Free shipping")).click()
    code = page.locator("#coupon-code")
    expect(code).to_have_text(re.compile(r"\S{4,}"))

    # exact: the coupon's own "Copy code <code>" in My coupons is another button.
    page.get_by_role("button", name="Copy code", exact=True).click()

    said = page.locator("#redeem-result .coupon-row [aria-live]")
    expect(said).to_contain_text("Select the code and copy it")
    expect(said).not_to_contain_text("Copied")
    # The code is left selected, ready for a manual copy.
    assert page.evaluate("window.getSelection().toString()") == code.inner_text()
    assert_no_axe_violations(page, axe_script)

    page.get_by_role("button", name="Copy", exact=True).click()  # the referral link
    expect(page.locator("#referral-copied")).to_contain_text("Select the")
    expect(page.locator("#referral-copied")).not_to_contain_text("Copied")


def test_signing_in_moves_focus_to_the_first_heading_and_says_so(page: Any, stack: Any) -> None:
    page.goto(stack.portal_url)
    page.get_by_label("Member id").fill("erin")
    page.get_by_role("button", name="Sign in").click()

    heading = page.get_by_role("heading", name="Your points")
    expect(heading).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(
        "Signed in as Erin Walsh. Your rewards are below."
    )
    expect(page.get_by_role("status")).to_have_attribute("aria-live", "polite")
    assert heading.evaluate("node => node.id") == "balance-title"


# The leaderboard's request waits until the test lets it go: signing in is then still under way.
HELD_LEADERBOARD = """
const realFetch = window.fetch;
const held = new Promise((release) => { window.releaseLeaderboard = release; });
window.fetch = (input, init) =>
  String(input instanceof Request ? input.url : input).includes("leaderboard")
    ? held.then(() => realFetch(input, init))
    : realFetch(input, init);
"""


def test_a_reward_redeemed_while_the_panels_load_keeps_the_focus(page: Any, stack: Any) -> None:
    """Signing in moves the focus to the first heading once every panel has loaded; a member who
    has redeemed meanwhile keeps it on their coupon."""
    member_id = member_with_points(stack, "early-redeemer", 600)
    page.add_init_script(HELD_LEADERBOARD)
    page.goto(stack.portal_url)
    page.get_by_label("Member id").fill(member_id)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=re.compile("^Redeem Free shipping")).click()
    result = page.locator("#redeem-result")
    expect(page.locator("#coupon-code")).to_be_visible()
    expect(result).to_be_focused()

    page.evaluate("window.releaseLeaderboard()")

    expect(page.get_by_role("status")).to_have_text(re.compile("^Signed in as Sam Lee"))
    expect(page.locator('#portal [aria-busy="true"]')).to_have_count(0)
    expect(result).to_be_focused()


def tab_to(page: Any, accessible_name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's label starts with `accessible_name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        label = page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.getAttribute('aria-label') || e.textContent.trim(); }"
        )
        if label.startswith(accessible_name):
            return
    raise AssertionError(f"Tab never reached {accessible_name!r}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_redeeming_and_copying_a_coupon_with_the_keyboard_alone(
    browser: Any, stack: Any, viewport: dict[str, int], axe_script: Path
) -> None:
    member_id = member_with_points(stack, f"keys-{viewport['width']}", 600)
    page = open_page(browser, viewport)
    try:
        page.add_init_script(RECORDING_CLIPBOARD)
        page.goto(stack.portal_url)
        expect(page.get_by_label("Member id")).to_be_visible()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Member id")).to_be_focused()
        page.keyboard.press("Control+A")
        page.keyboard.type(member_id)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Your points")).to_be_focused()

        tab_to(page, "Redeem Free shipping")
        page.keyboard.press("Enter")
        code = page.locator("#coupon-code")
        expect(code).to_have_text(re.compile(r"\S{4,}"))
        expect(page.locator("#redeem-result")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Copy code", exact=True)).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#redeem-result .coupon-row [aria-live]")).to_have_text("Copied.")
        assert page.evaluate("window.copiedTexts") == [code.inner_text()]
        assert_no_axe_violations(page, axe_script)
        assert page.errors == []
    finally:
        page.context.close()


# ---- My coupons -------------------------------------------------------------------------------


def day(iso: str) -> str:
    """A date as the page shows it to an en-US member in UTC (dateStyle "medium")."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{moment:%b} {moment.day}, {moment.year}"


def coupon_words(coupon: dict[str, Any]) -> str:
    return {
        "active": lambda: f"Active until {day(coupon['expiresAt'])}",
        "used": lambda: f"Used on {day(coupon['usedAt'])}",
        "voided": lambda: f"Voided on {day(coupon['voidedAt'])}",
        "expired": lambda: f"Expired on {day(coupon['expiresAt'])}",
    }[coupon["status"]]()


@contextmanager
def days_later(stack: Any, days: int) -> Iterator[None]:
    """The stack's pinned clock moved on `days` days, then back (the tokens keep the wall clock)."""
    stack.clock.start += timedelta(days=days)
    try:
        yield
    finally:
        stack.clock.start -= timedelta(days=days)


def redeem_coupon(stack: Any, member_id: str, reward_id: str) -> str:
    status, body = Api(stack.base_url, stack.mint_token(member_id)).redeem(member_id, reward_id)
    assert status == 201, body
    return str(body["couponCode"])


def coupon_item(page: Any, code: str) -> Any:
    return page.locator(f'#coupons li.coupon[data-code="{code}"]')


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_my_coupons_lists_every_coupon_with_what_it_gives_and_its_status_in_words(
    browser: Any, stack: Any, admin_api: Api, viewport: dict[str, int], axe_script: Path
) -> None:
    member_id = member_with_points(stack, f"coupons-{viewport['width']}", 3000)
    program = admin_api.get("admin/program")
    validity = int(program.get("couponValidityDays", 90))
    expired = redeem_coupon(stack, member_id, "free-shipping")
    page = open_page(browser, viewport)
    # The first coupon's validity runs out: the other three are issued after it.
    with days_later(stack, validity + 1):
        try:
            discount = redeem_coupon(stack, member_id, "discount-10")
            used = redeem_coupon(stack, member_id, "free-shipping")
            voided = redeem_coupon(stack, member_id, "free-shipping")
            status, body = admin_api.call(
                "POST",
                f"coupons/{used}/redemptions",
                {"orderId": "o-coupons", "memberId": member_id},
            )
            assert status == 200, body
            status, body = admin_api.call("POST", f"coupons/{voided}/void", {"reason": "test"})
            assert status == 200, body
            coupons = Api(stack.base_url, stack.mint_token(member_id)).get(
                f"members/{member_id}/coupons"
            )["items"]
            by_code = {c["code"]: c for c in coupons}
            assert [by_code[c]["status"] for c in (expired, discount, used, voided)] == [
                "expired",
                "active",
                "used",
                "voided",
            ]

            sign_in(page, stack, member_id)

            items = page.locator("#coupons li.coupon")
            expect(items).to_have_count(len(coupons))
            # Newest first, as the API lists them.
            assert [i.get_attribute("data-code") for i in items.all()] == [
                c["code"] for c in coupons
            ]
            for coupon in coupons:
                item = coupon_item(page, coupon["code"])
                expect(item.locator("h3")).to_have_text(coupon["rewardName"])
                expect(item.locator(".coupon-status")).to_have_text(coupon_words(coupon))
                expect(item.locator("code")).to_have_text(coupon["code"])
                copy = item.get_by_role("button", name=f"Copy code {coupon['code']}")
                expect(copy).to_have_count(1 if coupon["status"] == "active" else 0)
            expect(coupon_item(page, discount).locator(".coupon-gives")).to_have_text("10% off")
            # "Free shipping" is the reward's name already: not said twice.
            expect(coupon_item(page, used).locator(".coupon-gives")).to_have_count(0)

            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
            card = page.locator('section[aria-labelledby="coupons-title"]')
            spill = card.evaluate("node => node.scrollWidth - node.clientWidth")
            assert spill <= 0, f"the coupons card overflows by {spill}px"
            for button in card.get_by_role("button").all():
                box = button.bounding_box()
                assert box["height"] >= 44, box
            assert_no_axe_violations(page, axe_script)
            assert page.errors == []
        finally:
            page.context.close()


def test_my_coupons_says_when_there_are_none_and_shows_a_new_one_at_once(
    page: Any, stack: Any, axe_script: Path
) -> None:
    member_id = member_with_points(stack, "first-coupon", 600)
    sign_in(page, stack, member_id)
    coupons = page.locator("#coupons")
    expect(coupons).to_have_attribute("aria-busy", "false")
    expect(coupons).to_have_text(
        "You have no coupons yet. Redeem a reward and its coupon appears here."
    )
    assert_no_axe_violations(page, axe_script)
    page.evaluate("window.notReloaded = true")

    page.get_by_role("button", name=re.compile("^Redeem Free shipping")).click()

    code = page.locator("#coupon-code")
    expect(code).to_have_text(re.compile(r"\S{4,}"))
    items = page.locator("#coupons li.coupon")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-code", code.inner_text())
    coupon = Api(stack.base_url, stack.mint_token(member_id)).get(f"members/{member_id}/coupons")[
        "items"
    ][0]
    expect(items.first.locator(".coupon-status")).to_have_text(
        f"Active until {day(coupon['expiresAt'])}"
    )
    assert page.evaluate("window.notReloaded") is True
    assert_no_axe_violations(page, axe_script)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_copying_a_coupon_from_my_coupons_with_the_keyboard_alone(
    browser: Any, stack: Any, viewport: dict[str, int], axe_script: Path
) -> None:
    member_id = member_with_points(stack, f"list-keys-{viewport['width']}", 1200)
    older = redeem_coupon(stack, member_id, "free-shipping")
    newer = redeem_coupon(stack, member_id, "free-shipping")
    page = open_page(browser, viewport)
    try:
        page.add_init_script(RECORDING_CLIPBOARD)
        page.goto(stack.portal_url)
        expect(page.get_by_label("Member id")).to_be_visible()
        page.get_by_label("Member id").focus()
        page.keyboard.press("Control+A")
        page.keyboard.type(member_id)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Your points")).to_be_focused()

        tab_to(page, f"Copy code {older}")
        page.keyboard.press("Enter")

        said = coupon_item(page, older).locator("[aria-live]")
        expect(said).to_have_text("Copied.")
        assert page.evaluate("window.copiedTexts") == [older]
        expect(coupon_item(page, newer).locator("[aria-live]")).to_have_text("")
        assert_no_axe_violations(page, axe_script)
        assert page.errors == []
    finally:
        page.context.close()


def test_copying_from_my_coupons_says_what_to_do_when_copying_fails(page: Any, stack: Any) -> None:
    member_id = member_with_points(stack, "list-copy-fails", 600)
    code = redeem_coupon(stack, member_id, "free-shipping")
    page.add_init_script(FAILING_CLIPBOARD)
    sign_in(page, stack, member_id)

    coupon_item(page, code).get_by_role("button", name=f"Copy code {code}").click()

    said = coupon_item(page, code).locator("[aria-live]")
    expect(said).to_contain_text("Select the code and copy it")
    assert page.evaluate("window.getSelection().toString()") == code


def test_the_badges_panel_shows_earned_badges_and_a_challenges_progress(
    page: Any, stack: Any, admin_api: Api, member_api: Api
) -> None:
    badges = {
        "portal-first-review": {
            "name": "First review",
            "condition": {"kind": "reviews", "count": 1},
            "points": 50,
        },
        "portal-reviewer": {
            "name": "3 reviews in December",
            "condition": {"kind": "reviews", "count": 3},
            "points": 300,
            "window": {"startsOn": "2026-12-01", "endsOn": "2026-12-31"},
        },
    }
    try:
        for badge_id, body in badges.items():
            status, answer = admin_api.call("PUT", f"admin/badges/{badge_id}", body)
            assert status == 201, answer
        for product in ("BADGE-P-1", "BADGE-P-2"):
            body = {"productId": product, "reviewId": f"rv-{product}"}
            status, answer = admin_api.call("POST", "members/alice/reviews", body)
            assert status == 201, answer
        # The stream reaches the badge evaluator a moment later.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            mine = member_api.get("members/alice/badges")
            if any(b["badgeId"] == "portal-first-review" for b in mine["earned"]):
                break
            time.sleep(0.2)
        assert [b["progress"] for b in mine["progress"] if b["badgeId"] == "portal-reviewer"] == [2]
        sign_in(page, stack)

        earned = page.get_by_test_id("badge-earned").filter(has_text="First review")
        expect(earned).to_contain_text("50 points")
        challenge = page.get_by_test_id("badge-open").filter(has_text="3 reviews in December")
        expect(challenge).to_contain_text("2 of 3 so far.")
        expect(challenge.get_by_role("progressbar")).to_have_attribute("value", "2")
    finally:
        for badge_id, body in badges.items():  # the other tests see no open badge
            admin_api.call("PUT", f"admin/badges/{badge_id}", body | {"active": False})
