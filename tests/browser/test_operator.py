"""The operator page in headless Chromium against the local stack, signed in with a local admin
token: member lookup by id and by email, the ledger, and the dashboard against GET /admin/kpis."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import Api

pytestmark = pytest.mark.integration

LEDGER_PAGE_SIZE = 20  # the operator page's ledger page size


def sign_in(page: Any, stack: Any) -> None:
    page.goto(stack.operator_url)
    page.get_by_label("Operator id").fill("operator")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Program dashboard")).to_be_visible()


def find(page: Any, by: str, query: str) -> None:
    page.get_by_role("radio", name=by).check()
    page.get_by_role("textbox", name=by).fill(query)
    page.get_by_role("button", name="Find").click()


def fact(page: Any, container: str, label: str) -> Any:
    """The value (dd) next to a label (dt) in a description list."""
    return page.locator(f"{container} dt", has_text=re.compile(f"^{re.escape(label)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def ledger_ids(page: Any) -> list[str]:
    return [row.get_attribute("data-entry") for row in page.locator("#ledger tbody tr").all()]


def test_looking_up_a_member_by_id_shows_the_member_and_the_ledger(
    page: Any, stack: Any, admin_api: Api, member_api: Api
) -> None:
    # More entries than one ledger page: alice redeems (through the API) until there are.
    while not admin_api.activity("alice", LEDGER_PAGE_SIZE)["nextCursor"]:
        status, body = member_api.redeem("alice", "free-shipping")
        assert status == 201, body
    member = admin_api.member("alice")
    first = admin_api.activity("alice", LEDGER_PAGE_SIZE)
    second = admin_api.activity("alice", LEDGER_PAGE_SIZE, first["nextCursor"])
    sign_in(page, stack)

    find(page, "Member id", "alice")

    expect(page.get_by_role("heading", name="Member alice")).to_be_visible()
    expect(fact(page, "#member-facts", "Balance")).to_have_text(f"{member['balance']:,}")
    expect(fact(page, "#member-facts", "Tier")).to_have_text(member["tier"])
    expect(fact(page, "#member-facts", "Email")).to_have_text(member["email"])
    rows = page.locator("#ledger tbody tr")
    expect(rows).to_have_count(len(first["items"]))
    assert ledger_ids(page) == [e["entryId"] for e in first["items"]]
    newest = first["items"][0]
    expect(rows.first).to_contain_text(newest["reason"])
    expect(rows.first).to_contain_text(f"{newest['points']:+,}")

    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()

    page.get_by_role("button", name="Next page").click()

    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(rows.first).to_have_attribute("data-entry", second["items"][0]["entryId"])
    assert ledger_ids(page) == [e["entryId"] for e in second["items"]]
    if not second["nextCursor"]:
        expect(page.get_by_role("button", name="Next page")).to_be_disabled()

    page.get_by_role("button", name="Previous page").click()

    expect(rows.first).to_have_attribute("data-entry", newest["entryId"])
    assert ledger_ids(page) == [e["entryId"] for e in first["items"]]


def test_looking_up_a_member_by_email(page: Any, stack: Any, admin_api: Api) -> None:
    email = admin_api.member("alice")["email"]
    assert admin_api.get(f"admin/members?email={email}")["items"][0]["memberId"] == "alice"
    sign_in(page, stack)

    find(page, "Email", email)

    expect(page.get_by_role("heading", name="Member alice")).to_be_visible()
    expect(page.locator("#ledger tbody tr").first).to_be_visible()


def test_an_unknown_member_shows_the_api_message(page: Any, stack: Any, admin_api: Api) -> None:
    status, body = admin_api.call("GET", "members/nobody-here")
    assert status == 404, body
    sign_in(page, stack)

    find(page, "Member id", "nobody-here")

    expect(page.locator("#lookup-message")).to_have_text(body["message"])
    expect(page.get_by_role("heading", name=re.compile("^Member "))).to_be_hidden()


def test_the_dashboard_draws_the_program_figures_and_charts(
    page: Any, stack: Any, admin_api: Api
) -> None:
    kpis = admin_api.get("admin/kpis")
    sign_in(page, stack)

    for label, key in [
        ("Members", "members"),
        ("Points issued", "pointsIssued"),
        ("Points redeemed", "pointsRedeemed"),
        ("Points expired", "pointsExpired"),
        ("Points outstanding", "pointsOutstanding"),
    ]:
        expect(fact(page, "#figures", label)).to_have_text(f"{kpis[key]:,}")
    expect(fact(page, "#figures", "Redemption rate")).to_have_text(
        f"{float(kpis['redemptionRate']) * 100:.1f}%"
    )

    tiers = page.locator("#chart-tiers svg[role=img] rect.bar")
    expect(tiers).to_have_count(3)
    for tier in ("Bronze", "Silver", "Gold"):
        expect(page.locator(f'#chart-tiers rect.bar[data-label="{tier}"] title')).to_have_text(
            f"{tier}: {kpis['membersByTier'][tier]:,}"
        )
    # Taller bars for more members.
    heights = {
        tier: float(
            page.locator(f'#chart-tiers rect.bar[data-label="{tier}"]').get_attribute("height")
        )
        for tier in ("Bronze", "Silver", "Gold")
    }
    by_count = sorted(heights, key=lambda t: kpis["membersByTier"][t])
    assert [heights[t] for t in by_count] == sorted(heights.values()), heights

    expiry = page.locator("#chart-expiry rect.bar")
    expect(expiry).to_have_count(len(kpis["outstandingByExpiryMonth"]))
    if kpis.get("daily"):
        expect(page.locator("#chart-daily svg polyline")).to_have_count(3)
        # The accessible data table has a row per day.
        expect(page.locator("#chart-daily table tbody tr")).to_have_count(len(kpis["daily"]))


def test_a_member_whose_id_has_an_at_sign_is_found_by_id_and_by_email(
    page: Any, stack: Any, admin_api: Api
) -> None:
    member_id, email = "pat@shop.io", "pat.operator@example.com"
    status, body = admin_api.call(
        "POST", "members", {"memberId": member_id, "name": "Pat", "email": email}
    )
    assert status in (200, 201), body
    member = admin_api.member(member_id)
    sign_in(page, stack)

    find(page, "Member id", member_id)

    expect(page.get_by_role("heading", name=f"Member {member_id}")).to_be_visible()
    expect(fact(page, "#member-facts", "Email")).to_have_text(email)
    expect(fact(page, "#member-facts", "Balance")).to_have_text(f"{member['balance']:,}")

    find(page, "Email", email)

    expect(page.get_by_role("heading", name=f"Member {member_id}")).to_be_visible()
    expect(fact(page, "#member-facts", "Email")).to_have_text(email)
