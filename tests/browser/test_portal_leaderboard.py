"""The portal's leaderboard (docs/leaderboard.md) in headless Chromium against the seeded local
stack: the board as GET /leaderboard answers it, its month / all-time toggle, and the opt-in
with a display name in the profile form. The seed lists alice, carol and dave under the names
they chose; bob has not opted in. The tests share one stack and run in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, PHONE, Api, axe_violations, new_page

pytestmark = pytest.mark.integration


def sign_in(page: Any, stack: Any, member_id: str) -> None:
    page.goto(stack.portal_url)
    page.get_by_label("Member id").fill(member_id)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#activity li").first).to_be_visible()


def rows_of(board: dict[str, Any]) -> list[str]:
    return [f"#{row['rank']}{row['displayName']}{row['points']:,} points" for row in board["items"]]


def test_the_board_shows_what_the_api_says_for_the_month_and_all_time(
    page: Any, stack: Any, member_api: Api, axe_script: Path
) -> None:
    month = member_api.get("leaderboard?period=month&limit=10")
    everything = member_api.get("leaderboard?period=all&limit=10")
    assert {row["displayName"] for row in everything["items"]} == {
        "Alice M.",
        "CarolJ",
        "Dave the Brave",
    }, "the seed lists the three members who opted in"

    sign_in(page, stack, "alice")

    board = page.locator("#leaderboard li")
    expect(board).to_have_text(rows_of(month))
    expect(page.get_by_role("button", name="This month")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#leaderboard-period")).to_contain_text("December 2026")
    expect(page.get_by_test_id("leaderboard-you")).to_contain_text("You appear as “Alice M.”")

    page.get_by_role("button", name="All time").click()

    expect(page.get_by_role("button", name="All time")).to_have_attribute("aria-pressed", "true")
    expect(board).to_have_text(rows_of(everything))
    expect(page.locator("#leaderboard-period")).to_contain_text("since joining")
    text = page.locator(".leaderboard-card").inner_text()
    for personal in ("Alice Martin", "alice@example.com", "Carol Jensen", "dave@example.com"):
        assert personal not in text
    assert axe_violations(page, axe_script) == []


@pytest.mark.parametrize(
    ("viewport", "member_id", "name"),
    [
        pytest.param(DESKTOP, "bob", "Bobby O", id="desktop"),
        pytest.param(PHONE, "erin", "Erin on a phone", id="phone"),
    ],
)
def test_opting_in_from_the_profile_lists_the_member_under_their_display_name(
    browser: Any, stack: Any, viewport: dict[str, int], member_id: str, name: str, axe_script: Path
) -> None:
    api = Api(stack.base_url, stack.mint_token(member_id))
    page = new_page(browser, viewport)
    try:
        sign_in(page, stack, member_id)
        expect(page.get_by_test_id("leaderboard-you")).to_contain_text("not on the leaderboard")
        page.get_by_role("button", name="Edit profile").click()
        opt_in = page.get_by_label("Show me on the leaderboard")
        display_name = page.get_by_label("Display name (shown on the leaderboard)")
        expect(opt_in).not_to_be_checked()

        # Refused: no name, then the member's email address as the name; nothing changes.
        opt_in.set_checked(True)
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator("#profile-display-name-error")).to_contain_text("Choose a display name")
        expect(display_name).to_have_attribute("aria-invalid", "true")
        display_name.fill(f"{member_id}@example.com")
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator("#profile-display-name-error")).to_contain_text("email address")
        expect(display_name).to_be_focused()
        assert api.member(member_id)["leaderboard"] == {"optIn": False, "displayName": None}
        assert axe_violations(page, axe_script) == []

        # Saved: the board lists the member under that name once refreshed (the local stack
        # runs the projector and the refresher after each change).
        display_name.fill(name)
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator("#profile-saved")).to_have_text("Your profile is saved.")
        expect(page.get_by_test_id("leaderboard-you")).to_contain_text(f"You appear as “{name}”")
        page.get_by_role("button", name="All time").click()
        expect(page.locator("#leaderboard")).to_contain_text(name)
        assert api.member(member_id)["leaderboard"] == {"optIn": True, "displayName": name}
        assert page.errors == []
    finally:
        page.context.close()


def test_opting_out_takes_the_member_off_the_board(page: Any, stack: Any) -> None:
    sign_in(page, stack, "bob")
    page.get_by_role("button", name="Edit profile").click()
    page.get_by_label("Show me on the leaderboard").set_checked(False)
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-saved")).to_have_text("Your profile is saved.")
    page.get_by_role("button", name="All time").click()

    expect(page.locator("#leaderboard li").first).to_be_visible()
    expect(page.locator("#leaderboard")).not_to_contain_text("Bob")
    expect(page.get_by_test_id("leaderboard-you")).to_contain_text("not on the leaderboard")
