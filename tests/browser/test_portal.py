"""The member portal in headless Chromium against the local stack, as alice (seeded with enough
points for both rewards and more than one page of activity). The tests of this module share one
stack and run in order: the redemptions spend alice's points."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import PHONE, Api, new_page

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
