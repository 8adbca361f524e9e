"""API Gateway HTTP API (payload 2.0) events with the JWT authorizer's claims, as API Gateway
sends them to the functions, and a small client that calls the real handlers."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tests.support.events import FakeLambdaContext

SERVICE = {"sub": "storefront-backend", "scope": "loyalty/service"}
ADMIN = {"sub": "ops-console", "scope": "openid loyalty/admin"}


def member_token(member_id: str) -> dict[str, str]:
    return {"sub": member_id, "scope": "openid profile"}


def http_event(
    method: str,
    route: str,
    path_parameters: dict[str, str] | None = None,
    *,
    body: Any = None,
    claims: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`route` is the template's route (`/members/{memberId}`); the path is filled in."""
    parameters = path_parameters or {}
    path = re.sub(r"\{(\w+)\}", lambda m: parameters[m.group(1)], route)
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {
            "accept": "application/json",
            "content-type": "application/json",
            "host": "api.example.com",
            **{name.lower(): value for name, value in (headers or {}).items()},
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "tests",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "28/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795860000000,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if parameters:
        event["pathParameters"] = parameters
    if text is not None:
        event["body"] = text
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def call(handler: Any, event: dict[str, Any]) -> Reply:
    response = handler(event, FakeLambdaContext())
    raw = response.get("body")
    body = json.loads(raw) if raw else None
    return Reply(response["statusCode"], body, response.get("headers") or {})
