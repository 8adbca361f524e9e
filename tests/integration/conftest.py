"""Fixtures of the storefront API tests (none is autouse: the other integration tests are
not affected)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import Clock, pin_clock, table_items
from tests.support.schedules import queue  # noqa: F401 - a fixture for the job tests


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The services' clock, pinned to 2026-12-10T12:00:00Z (settable)."""
    pinned = Clock()
    pin_clock(monkeypatch, pinned)
    return pinned


@pytest.fixture
def snapshot(dynamodb_client: Any, table_name: str) -> Callable[[], list[dict[str, Any]]]:
    """Every item of the test table, in key order: compare before and after a refusal."""
    return lambda: table_items(dynamodb_client, table_name)
