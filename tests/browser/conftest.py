"""Fixtures of the browser tests: the local stack on the session's DynamoDB Local, Debian's
Chromium driven by Playwright, and the API as alice and as an operator (tests/browser/helpers.py).

Without /usr/bin/chromium the tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.template import delete_table
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP, Api, ensure_axe, new_page


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe.min.js (axe-core pinned in tools/axe), for the accessibility checks."""
    return ensure_axe()


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # The system Chromium: Playwright never downloads a browser here.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint: str, dynamodb_client: Any) -> Iterator[Any]:
    """The local stack (API, pages, token endpoint) over a fresh seeded table, per module, its
    clock pinned like the local stack tests' (the demo shop is seeded from it)."""
    from devtools.local.stack import LocalStack
    from tests.local.conftest import STACK_NOW

    # The stack creates its table from template.yaml; a new name per module keeps them apart.
    name = f"loyalty-browser-{uuid.uuid4().hex[:12]}"
    try:
        with LocalStack(
            endpoint_url=dynamodb_endpoint, table_name=name, quiet=True, now=STACK_NOW
        ) as running:
            yield running
    finally:
        delete_table(dynamodb_client, name)


@pytest.fixture(scope="module")
def member_api(stack: Any) -> Api:
    """The API as alice, the seeded member the tests sign in as."""
    return Api(stack.base_url, stack.mint_token("alice"))


@pytest.fixture(scope="module")
def admin_api(stack: Any) -> Api:
    return Api(stack.base_url, stack.mint_token("operator", scopes=["loyalty/admin"]))


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page; fails the test if the page threw an uncaught script error."""
    opened = new_page(browser, DESKTOP)
    try:
        yield opened
        assert opened.errors == [], f"script errors in the page: {opened.errors}"
    finally:
        opened.context.close()
