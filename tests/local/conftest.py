"""Fixtures of the local stack's tests: stacks on the session's DynamoDB Local (fresh tables),
one per module, and a small HTTP client. Every stack's clock is pinned (`STACK_NOW`, running on
from there): the seeding and the functions see the same dates on any day."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError
from urllib.request import ProxyHandler, Request, build_opener

import pytest

from devtools.local.stack import LocalStack
from devtools.template import delete_table

_OPENER = build_opener(ProxyHandler({}))
# The stacks' "now": after the Black Friday weekend of 2026, outside any double-points window.
STACK_NOW = "2026-12-10T12:00:00Z"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def http(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Answer:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers |= headers or {}
    request = Request(url, data=data, method=method, headers=all_headers)
    try:
        with _OPENER.open(request, timeout=120) as response:
            status, payload, answer_headers = response.status, response.read(), response.headers
    except HTTPError as error:
        status, payload, answer_headers = error.code, error.read(), error.headers
    try:
        parsed: Any = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode("utf-8", errors="replace")
    return Answer(status, parsed, {k.lower(): v for k, v in answer_headers.items()})


def fresh_table() -> str:
    return f"loyalty-local-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def stack_factory(dynamodb_endpoint: str, dynamodb_client: Any) -> Iterator[Any]:
    """Starts LocalStacks on fresh tables; stops them and deletes the tables at module end."""
    started: list[LocalStack] = []

    def start(**options: Any) -> LocalStack:
        options.setdefault("table_name", fresh_table())
        options.setdefault("quiet", True)
        options.setdefault("seed", False)
        options.setdefault("now", STACK_NOW)
        stack = LocalStack(endpoint_url=dynamodb_endpoint, **options)
        started.append(stack)
        return stack.start()

    yield start
    for stack in started:
        stack.stop()
        delete_table(dynamodb_client, stack.table_name)


@pytest.fixture(scope="module")
def stack(stack_factory: Any) -> LocalStack:
    """An unseeded stack on the repo's template.yaml."""
    started: LocalStack = stack_factory()
    return started


@pytest.fixture(scope="session")
def seeded(dynamodb_endpoint: str, dynamodb_client: Any) -> Iterator[LocalStack]:
    """A stack with the demo shop, shared by the modules that need one (seeding takes a few
    seconds): tests add their own members and messages rather than change the demo's."""
    stack = LocalStack(
        endpoint_url=dynamodb_endpoint,
        table_name=fresh_table(),
        seed=True,
        quiet=True,
        now=STACK_NOW,
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        delete_table(dynamodb_client, stack.table_name)
