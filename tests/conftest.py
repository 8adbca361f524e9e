"""Shared fixtures: dummy AWS environment, DynamoDB Local per session, a fresh table per test.

- ``dynamodb_endpoint`` (session): starts DynamoDB Local once per session (per xdist worker), or
  uses ``DYNAMODB_ENDPOINT_URL`` when set.
- ``table_name`` (function): a new uniquely named table built from template.yaml's table, with
  ``TABLE_NAME`` and ``AWS_ENDPOINT_URL_DYNAMODB`` pointing at it; deleted afterwards.
- ``dynamodb_client``: a boto3 DynamoDB client on that endpoint.

Tests under tests/integration get the ``integration`` marker automatically.

Dates: every test that touches business dates (orders, refunds, expiry, jobs, seasonal windows,
birthdays, tenure, the local stack's seeding...) carries the ``calendar`` marker: the tests
under tests/integration, tests/local and tests/browser get it automatically, unit modules set
``pytestmark``. ``--fake-today=YYYY-MM-DD`` travels the whole session's wall clock (and the
processes it spawns; tests/support/timetravel.py) to noon UTC of that day, so
``pytest -m calendar --fake-today=2028-02-29`` proves those tests hold on any date.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.dynamodb_local import DynamoDBLocal
from devtools.template import create_table, delete_table
from tests.support.timetravel import FAKE_NOW_ENV, fake_now_of, stop_travel, travel

# Fixtures shared by unit and integration tests: `emitted` (EMF metrics), `logs`.
pytest_plugins = ["tests.support.observability"]

TESTS_DIR = Path(__file__).resolve().parent
INTEGRATION_DIR = TESTS_DIR / "integration"
# Every test in these folders runs handlers or a local stack, which stamp business dates.
CALENDAR_DIRS = (INTEGRATION_DIR, TESTS_DIR / "local", TESTS_DIR / "browser")

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "loyalty",
    "POWERTOOLS_METRICS_NAMESPACE": "Loyalty",
    "POWERTOOLS_TRACE_DISABLED": "true",
    # The tests run every shard of a job in process, again and again (the ledger model runs
    # the daily jobs at every step): 8 shards keep them quick. Production's default is 128
    # (tests/unit/test_job_shards.py checks it, and that a run fans out to the figure set).
    "DUE_INDEX_SHARDS": "8",
}
# Never let a developer's real AWS identity leak into tests.
UNSET_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE")


# At import too: the conftests below this one import handlers (whose Powertools Logger and
# Metrics read POWERTOOLS_* when built) before pytest_configure runs.
for _name in UNSET_ENV:
    os.environ.pop(_name, None)
os.environ.update(TEST_ENV)


def _apply_test_env(mp: pytest.MonkeyPatch) -> None:
    for name in UNSET_ENV:
        mp.delenv(name, raising=False)
    for name, value in TEST_ENV.items():
        mp.setenv(name, value)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fake-today",
        metavar="YYYY-MM-DD",
        default=None,
        help="travel the wall clock of the tests (and of the processes they spawn) to noon UTC "
        "of that day, ticking, for the whole session (time-machine); e.g. -m calendar "
        "--fake-today=2028-02-29",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Also before collection, so modules that build boto3 clients at import time see a region
    # and dummy credentials.
    for name in UNSET_ENV:
        os.environ.pop(name, None)
    os.environ.update(TEST_ENV)
    day = config.getoption("fake_today")
    if day:
        try:
            moment = fake_now_of(day)
        except ValueError:
            raise pytest.UsageError(f"--fake-today={day}: not a date (YYYY-MM-DD)") from None
        travel(moment)
    else:
        os.environ.pop(FAKE_NOW_ENV, None)  # never inherit a faked clock unasked


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_travel()


def pytest_report_header(config: pytest.Config) -> str | None:
    day = config.getoption("fake_today")
    return f"fake today: {day} (wall clock traveled to noon UTC, ticking)" if day else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)
        if any(item.path.is_relative_to(folder) for folder in CALENDAR_DIRS):
            item.add_marker(pytest.mark.calendar)


@pytest.fixture(scope="session", autouse=True)
def aws_test_env() -> Iterator[None]:
    """Dummy AWS credentials/region and Powertools settings for the whole session."""
    with pytest.MonkeyPatch.context() as mp:
        _apply_test_env(mp)
        yield


@pytest.fixture(scope="session")
def dynamodb_endpoint(aws_test_env: None) -> Iterator[str]:
    """Endpoint URL of DynamoDB Local, started once per session (or DYNAMODB_ENDPOINT_URL)."""
    with DynamoDBLocal() as ddb:
        yield ddb.endpoint_url


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_endpoint: str) -> Any:
    """A boto3 DynamoDB client on the test endpoint."""
    return boto3.client("dynamodb", endpoint_url=dynamodb_endpoint, region_name="us-east-1")


@pytest.fixture
def table_name(
    dynamodb_client: Any, dynamodb_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh table built from template.yaml; TABLE_NAME and the endpoint env point at it."""
    name = f"loyalty-test-{uuid.uuid4().hex[:12]}"
    create_table(dynamodb_client, name)
    monkeypatch.setenv("TABLE_NAME", name)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    try:
        yield name
    finally:
        delete_table(dynamodb_client, name)
